"""Plain read-only records the store returns. They hold data, never connections."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO 8601 strings, NaN as null)."""
        return _jsonable(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class ExperimentRecord(_Record):
    id: str
    name: str
    created_at: datetime
    run_count: int = 0
    last_run_at: datetime | None = None


@dataclass(frozen=True)
class MetricPoint(_Record):
    key: str
    value: float
    step: int
    timestamp: datetime


@dataclass(frozen=True)
class ArtifactRecord(_Record):
    path: str
    digest: str
    size: int
    created_at: datetime


@dataclass(frozen=True)
class RunDatasetRecord(_Record):
    dataset_id: str
    name: str
    version: int
    role: str
    fingerprint: str
    n_rows: int


@dataclass(frozen=True)
class RunRecord(_Record):
    id: str
    experiment_id: str
    experiment: str
    name: str
    status: str
    start_time: datetime
    end_time: datetime | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    code: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    reproduced_from: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    datasets: list[RunDatasetRecord] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end_time is None else (self.end_time - self.start_time).total_seconds()


@dataclass(frozen=True)
class DatasetUse(_Record):
    run_id: str
    role: str
    logged_at: datetime


@dataclass(frozen=True)
class DatasetRecord(_Record):
    id: str
    name: str
    version: int
    fingerprint: str
    digest: str
    n_rows: int
    n_cols: int
    source: dict[str, Any]
    schema: dict[str, Any]
    profile: dict[str, Any]
    created_at: datetime
    used_by: list[DatasetUse] = field(default_factory=list)


class RunList(list[RunRecord]):
    """A page of runs from a search; ``next_page_token`` fetches the next page."""

    next_page_token: str | None = None

    def to_pandas(self) -> Any:
        """One row per run: attributes plus ``metrics.*``, ``params.*``, ``tags.*`` columns."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "experiment": run.experiment,
                "name": run.name,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
            }
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class LabelRecord(_Record):
    label: str
    reason: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class ModelVersionRecord(_Record):
    id: str
    model: str
    version: int
    run_id: str | None
    files: dict[str, Any]
    contract: dict[str, Any]
    serving_path: str
    created_at: datetime
    aliases: list[str] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``name/version``, the reference accepted by ``prodline.load_model``."""
        return f"{self.model}/{self.version}"


@dataclass(frozen=True)
class ModelRecord(_Record):
    id: str
    name: str
    created_at: datetime
    latest_version: int | None
    version_count: int
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryEvent(_Record):
    id: int
    model: str
    version: int | None
    kind: str
    name: str | None
    previous_version: int | None
    reason: str | None
    actor: str
    details: dict[str, Any] | None
    created_at: datetime
