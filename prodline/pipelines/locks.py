"""One retrain at a time per model: an exclusive file lock under the prodline home.

``<home>/locks/<key>.lock`` is locked with ``fcntl.flock`` (``msvcrt`` on Windows) for
as long as a pipeline run lasts. The operating system releases it when the process
ends, however it ends, so a crash never leaves a stale lock. The file also says who
holds it (pid, host, pipeline run) for the message the loser prints.

File locks protect one machine. Pipelines of one model started on several machines
against a shared PostgreSQL store are not serialised by this lock.
"""

from __future__ import annotations

import json
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from prodline.errors import PipelineError


class ModelLock:
    """A non-blocking exclusive lock named ``key`` (``model.churn``, ``pipeline.etl``)."""

    def __init__(self, key: str, home: Path | None = None) -> None:
        if home is None:
            from prodline import config

            home = config.settings().home
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        self.key = key
        self.path = Path(home) / "locks" / f"{safe}.lock"
        self._handle: IO[str] | None = None

    def __enter__(self) -> ModelLock:
        if not self.acquire():
            holder = self.holder() or {}
            raise PipelineError(
                f"{self.key} is locked by another run (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')})."
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self, **info: Any) -> bool:
        """Take the lock if it is free (True), or return False at once."""
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        if not _try_lock(handle):
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        body = {
            "key": self.key,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            **info,
        }
        handle.write(json.dumps(body))
        handle.flush()
        self._handle = handle
        return True

    def update(self, **info: Any) -> None:
        """Add details (the pipeline run id) to what the lock file says."""
        if self._handle is None:
            return
        body = self.holder() or {}
        body.update(info)
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(body))
        self._handle.flush()

    def release(self) -> None:
        """Let go of the lock (a no-op when not held)."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            _unlock(handle)
        finally:
            handle.close()

    def holder(self) -> dict[str, Any] | None:
        """What the holder wrote in the lock file, if anything."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def _try_lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


def _unlock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
