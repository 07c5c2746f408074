"""The model registry: versions with their handover contracts, aliases, labels, lineage."""
