"""Content-addressed artifact storage (sha256) over fsspec."""
