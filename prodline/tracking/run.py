"""A live run: the handle a script or notebook logs through."""

from __future__ import annotations

import io
import json
import os
import posixpath
import threading
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prodline.errors import ArtifactError, InvalidValueError, RunStateError
from prodline.store.records import ArtifactRecord, RunRecord

if TYPE_CHECKING:
    from prodline.artifacts.store import ArtifactStore
    from prodline.data.dataset import Dataset
    from prodline.store.store import Store


class Run:
    """A run in progress. Use it as a context manager: an exception inside ``with``
    marks the run failed and records the traceback; a normal exit marks it finished."""

    def __init__(
        self,
        store: Store,
        artifacts: ArtifactStore,
        *,
        run_id: str,
        name: str,
        experiment: str,
        experiment_id: str,
        start_time: datetime,
        reproducing: str | None = None,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self.experiment_id = experiment_id
        self.start_time = start_time
        self.reproducing = reproducing
        self.status = "running"
        self._next_step: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Run(id={self.id[:8]!r}, name={self.name!r}, "
            f"experiment={self.experiment!r}, status={self.status!r})"
        )

    # lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.status != "running":
            return
        if error is None:
            self.end("finished")
        elif isinstance(error, KeyboardInterrupt):
            self.end("killed", "".join(traceback.format_exception(kind, error, tb)))
        else:
            self.end("failed", "".join(traceback.format_exception(kind, error, tb)))

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """End the run as ``finished``, ``failed`` or ``killed``."""
        self._require_running()
        self._store.end_run(self.id, status, error)
        self.status = status
        from prodline.tracking import api

        api.forget(self)

    def _require_running(self) -> None:
        if self.status != "running":
            raise RunStateError(
                f"Run {self.id[:8]} ({self.name}) has ended with status {self.status!r}; "
                "start a new run with prodline.start_run() to log more."
            )

    # params, tags, notes ---------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record one param (stored as text; immutable once logged)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record params; a different value for an already-logged key is an error."""
        self._require_running()
        self._store.log_params(self.id, params)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (tags can change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags."""
        self._require_running()
        self._store.set_tags(self.id, tags)

    def add_note(self, text: str) -> None:
        """Append a free-text note."""
        self._require_running()
        self._store.add_note(self.id, text)

    # metrics ---------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record one metric point. Without ``step``, steps count 0, 1, 2... per key."""
        self._require_running()
        with self._lock:
            if step is None:
                step = self._next_step.get(key, 0)
            self._log_points([(key, value, step)])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at one step, in one transaction."""
        if not isinstance(metrics, Mapping):
            raise InvalidValueError("log_metrics takes a mapping of metric name to value.")
        self._require_running()
        with self._lock:
            points = [
                (key, value, self._next_step.get(key, 0) if step is None else step)
                for key, value in metrics.items()
            ]
            self._log_points(points)

    def log_batch(
        self,
        metrics: Iterable[tuple[str, float, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record many ``(key, value, step)`` points (and params, tags) at once."""
        self._require_running()
        if params:
            self._store.log_params(self.id, params)
        if tags:
            self._store.set_tags(self.id, tags)
        with self._lock:
            self._log_points(list(metrics))

    def _log_points(self, points: list[tuple[str, Any, Any]]) -> None:
        for key, step in self._store.log_metric_points(self.id, points).items():
            if step >= self._next_step.get(key, 0):
                self._next_step[key] = step + 1

    # artifacts -------------------------------------------------------------------------
    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactRecord:
        """Store a local file under ``artifact_path`` (default: its file name)."""
        self._require_running()
        source = Path(local_path)
        path = check_artifact_path(artifact_path or source.name)
        digest, size = self._artifacts.put_file(source)
        return self._store.record_artifact(self.id, path, digest, size)

    def log_bytes(self, data: bytes, artifact_path: str) -> ArtifactRecord:
        """Store bytes under ``artifact_path``."""
        self._require_running()
        if not isinstance(data, bytes | bytearray):
            raise InvalidValueError(f"log_bytes takes bytes, got {type(data).__name__}.")
        path = check_artifact_path(artifact_path)
        digest = self._artifacts.put_bytes(bytes(data))
        return self._store.record_artifact(self.id, path, digest, len(data))

    def log_text(self, text: str, artifact_path: str) -> ArtifactRecord:
        """Store text (UTF-8) under ``artifact_path``."""
        return self.log_bytes(text.encode(), artifact_path)

    def log_dict(self, value: Mapping[str, Any], artifact_path: str) -> ArtifactRecord:
        """Store a mapping as JSON under ``artifact_path``."""
        try:
            text = json.dumps(value, indent=2, sort_keys=True, default=str)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"Cannot serialise {artifact_path!r} as JSON: {exc}.") from None
        return self.log_text(text, artifact_path)

    def log_figure(self, figure: Any, artifact_path: str, **savefig: Any) -> ArtifactRecord:
        """Store a matplotlib figure as an image (format from the extension, e.g. .png)."""
        if not hasattr(figure, "savefig"):
            raise InvalidValueError(
                f"log_figure takes a matplotlib Figure, got {type(figure).__name__}."
            )
        path = check_artifact_path(artifact_path)
        extension = posixpath.splitext(path)[1].lstrip(".").lower() or "png"
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, **{"bbox_inches": "tight", **savefig})
        return self.log_bytes(buffer.getvalue(), path)

    def artifacts(self) -> list[ArtifactRecord]:
        """What has been logged so far."""
        return self._store.list_artifacts(self.id)

    # datasets --------------------------------------------------------------------------
    def log_dataset(
        self,
        source: Any = None,
        *,
        name: str,
        role: str = "train",
        query: str | None = None,
        url: str | None = None,
        sheet: str | int | None = None,
    ) -> Dataset:
        """Snapshot a DataFrame, a CSV/JSON/Parquet/Excel file, or a SQL query (``query=``
        and a SQLAlchemy ``url=``), and record that this run used it in ``role``.

        When this run reproduces another, the original run's snapshot of the same name
        and role is used instead of reading the source again.
        """
        self._require_running()
        from prodline.data import api

        if self.reproducing:
            original = api.dataset_used_by(self._store, self.reproducing, name, role)
            if original is not None:
                dataset = api.load(self._store, self._artifacts, original)
                self._store.link_dataset(self.id, dataset.id, role)
                return dataset
        dataset = api.snapshot(
            self._store, self._artifacts, source, name=name, query=query, url=url, sheet=sheet
        )
        self._store.link_dataset(self.id, dataset.id, role)
        return dataset

    # models ----------------------------------------------------------------------------
    def log_model(self, estimator: Any, name: str, **contract: Any) -> Any:
        """Package ``estimator``, build its handover contract and register the next
        version of model ``name``. Keywords: ``train``, ``target``, ``eval``, ``owner``,
        ``intended_use`` (see ``prodline.registry.api.log_model``)."""
        from prodline.registry.api import log_model

        return log_model(self, estimator, name, **contract)

    # reading back ----------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        """Everything recorded so far, read from the store."""
        return self._store.get_run(self.id)


def check_artifact_path(path: str) -> str:
    """A relative POSIX path inside the run: no absolute paths, no ``..``, no backslashes."""
    if not isinstance(path, str) or not path.strip():
        raise ArtifactError("An artifact path must be a non-empty string such as 'plots/roc.png'.")
    normal = posixpath.normpath(path)
    if (
        path.startswith(("/", "~"))
        or "\\" in path
        or normal == ".."
        or normal.startswith("../")
        or ":" in path.split("/")[0]
        or normal == "."
        or len(path) > 1000
    ):
        raise ArtifactError(
            f"Artifact path {path!r} escapes the run: use a relative path inside it, "
            "such as 'plots/roc.png' (no leading '/', no '..')."
        )
    return normal
