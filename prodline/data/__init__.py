"""Data: read sources, fingerprint, snapshot, infer schemas, profile and validate frames.

Submodules are imported on demand (``prodline.data.readers``, ``.fingerprint``,
``.schema``, ``.profile``, ``.validate``), so ``import prodline.data`` stays cheap.
"""
