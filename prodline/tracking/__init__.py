"""Experiment tracking: runs, their params, metrics, artifacts, datasets, code and environment."""
