"""The process-wide store and artifact store, opened lazily from ``prodline.config``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from prodline import config

if TYPE_CHECKING:
    from prodline.artifacts.store import ArtifactStore
    from prodline.store.store import Store

_lock = threading.RLock()
_store: Store | None = None
_artifacts: ArtifactStore | None = None


def store() -> Store:
    """The metadata store for the current configuration (opened and migrated once)."""
    global _store
    with _lock:
        if _store is None:
            from prodline.store.store import open_store

            _store = open_store(config.settings().store_url)
        return _store


def artifacts() -> ArtifactStore:
    """The artifact store for the current configuration."""
    global _artifacts
    with _lock:
        if _artifacts is None:
            from prodline.artifacts.store import ArtifactStore

            _artifacts = ArtifactStore(config.settings().artifacts_url)
        return _artifacts


def reset() -> None:
    """Forget the open stores (after ``prodline.init`` changes the configuration)."""
    global _store, _artifacts
    with _lock:
        if _store is not None:
            _store.close()
        _store = None
        _artifacts = None
