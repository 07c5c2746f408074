"""What a pipeline run leaves behind: its steps, its trigger, its governance result.

A pipeline run is a tracked run in the experiment ``pipeline.<name>``, tagged with its
status, trigger and runner; ``pipeline_run.json`` (an artifact of that run) holds
everything below, which :func:`history` reads back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from prodline.errors import PipelineError

RUN_ARTIFACT = "pipeline_run.json"
GRAPH_ARTIFACT = "pipeline/graph.json"
TAG_STATUS = "prodline.status"
TAG_TRIGGER = "prodline.trigger"
TAG_TRIGGER_DETAIL = "prodline.trigger_detail"
TAG_RUNNER = "prodline.runner"
TAG_MODEL = "prodline.model"
TAG_GOVERNANCE = "prodline.governance"
TAG_VERSIONS = "prodline.model_versions"
TAG_KIND = "prodline.kind"
PIPELINE_EXPERIMENT_PREFIX = "pipeline."

#: pipeline run statuses
SUCCEEDED, FAILED, SKIPPED, RUNNING = "succeeded", "failed", "skipped", "running"


def pipeline_experiment(name: str) -> str:
    """The experiment that holds the runs of pipeline ``name``."""
    return f"{PIPELINE_EXPERIMENT_PREFIX}{name}"


@dataclass
class StepRun:
    """One node of one pipeline run."""

    node: str
    step: str
    status: str = "pending"  # pending | running | finished | failed | blocked
    cached: bool = False
    run_id: str | None = None
    duration_s: float | None = None
    depends_on: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    blocked_by: str | None = None
    cache_key: str | None = None
    outputs: dict[str, Any] | None = None
    worker: str | None = None
    started: str | None = None
    ended: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PipelineRun:
    """The outcome of running a pipeline once."""

    id: str
    pipeline: str
    status: str
    trigger: dict[str, Any]
    runner: str
    started: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    governance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"PipelineRun({self.pipeline!r}, id={self.id[:8]!r}, status={self.status!r}, "
            f"executed={counts['executed']}, cached={counts['cached']}, "
            f"failed={counts['failed']}, blocked={counts['blocked']})"
        )

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    def step(self, node: str) -> StepRun:
        """The record of node ``node`` (a step name, or ``train-2`` for a repeated call)."""
        for item in self.steps:
            if item.node == node:
                return item
        known = ", ".join(item.node for item in self.steps) or "none"
        raise PipelineError(f"Pipeline run {self.id[:8]} has no step {node!r}; steps: {known}.")

    def __getitem__(self, node: str) -> StepRun:
        return self.step(node)

    def output(self, node: str, *, allow_pickle: bool = False) -> Any:
        """Load the stored output of a finished step (a tuple for several outputs).
        ``allow_pickle=True`` is needed for outputs of ``@step(allow_pickle=True)``."""
        from prodline import _context
        from prodline.pipelines import codec

        item = self.step(node)
        if item.status != "finished" or not item.outputs:
            raise PipelineError(
                f"Step {node!r} of pipeline run {self.id[:8]} has no output (status {item.status})."
            )
        artifacts = _context.artifacts()
        values = [
            codec.decode(
                entry["kind"],
                artifacts.get_bytes(entry["digest"]),
                where=f"output of step {node!r}",
                allow_pickle=allow_pickle,
            )  # fmt: skip
            for entry in item.outputs["items"]
        ]
        return tuple(values) if item.outputs["multi"] else values[0]

    def governance_summary(self) -> str:
        """One line: what governance said about each model, or why it did not run."""
        governance = self.governance
        status = str(governance.get("status", "none"))
        if governance.get("reason"):
            return f"{status} ({governance['reason']})"
        models = governance.get("models")
        if isinstance(models, dict) and models:
            parts = []
            for name, value in models.items():
                said = str(value.get("summary") or value.get("error") or value.get("status"))
                parts.append(said if said.startswith(f"{name}:") else f"{name}: {said}")
            return f"{status}; " + "; ".join(parts)
        if governance.get("error"):
            return f"{status}: {governance['error']}"
        return status

    def counts(self) -> dict[str, int]:
        """How many steps were executed, cached, failed and blocked."""
        return {
            "steps": len(self.steps),
            "executed": sum(
                s.status in ("finished", "failed") and not s.cached for s in self.steps
            ),
            "cached": sum(s.cached for s in self.steps),
            "failed": sum(s.status == "failed" for s in self.steps),
            "blocked": sum(s.status == "blocked" for s in self.steps),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineRun:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["steps"] = [
            StepRun(**{k: v for k, v in s.items() if k in StepRun.__dataclass_fields__})
            for s in data.get("steps", [])
        ]
        return cls(**values)


def history(name: str, limit: int = 20) -> list[PipelineRun]:
    """The most recent runs of pipeline ``name``, newest first (empty if it never ran)."""
    from prodline import _context
    from prodline.errors import NotFoundError
    from prodline.store.checks import check_name

    check_name(name, "pipeline")
    store = _context.store()
    try:
        runs = store.search_runs(
            [pipeline_experiment(name)], None, ["start_time DESC"], max(1, limit), None
        )
    except NotFoundError:
        return []
    return [_from_record(record) for record in runs]


def get_pipeline_run(run_id: str) -> PipelineRun:
    """One pipeline run by id (or a unique prefix)."""
    from prodline import _context

    store = _context.store()
    record = store.get_run(store.resolve_run_id(run_id))
    if record.tags.get(TAG_KIND) != "pipeline":
        raise PipelineError(
            f"Run {record.id[:8]} is not a pipeline run; see `prodline pipelines history NAME`."
        )
    return _from_record(record)


def _from_record(record: Any) -> PipelineRun:
    from prodline import _context

    store = _context.store()
    for artifact in store.list_artifacts(record.id):
        if artifact.path == RUN_ARTIFACT:
            data = json.loads(_context.artifacts().get_bytes(artifact.digest))
            return PipelineRun.from_dict(data)
    # still running, or interrupted before it could write its summary
    tags = record.tags
    status = tags.get(TAG_STATUS, RUNNING)
    if record.status in ("failed", "killed") and status == RUNNING:
        status = FAILED
    return PipelineRun(
        id=record.id,
        pipeline=tags.get("prodline.pipeline", record.experiment),
        status=status,
        trigger={"kind": tags.get(TAG_TRIGGER, "manual"), "detail": tags.get(TAG_TRIGGER_DETAIL)},
        runner=tags.get(TAG_RUNNER, "local"),
        started=record.start_time.isoformat(),
        ended=record.end_time.isoformat() if record.end_time else None,
        duration_s=record.duration_s,
        model=tags.get(TAG_MODEL),
        error=record.error,
    )
