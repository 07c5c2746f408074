"""``prodline.reproduce(run_id)``: re-run a run's captured code on its data snapshots and
report how the results differ.

The captured script (or notebook cells) runs in a fresh interpreter, from the original
working folder, with the original arguments. Inside it, ``run.log_dataset(...)`` returns
the original run's snapshot of the same name and role instead of reading the source
again, so changed files or tables do not change the inputs. Params are whatever the
script logs; a difference from the original is reported.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline import _context, config
from prodline.errors import ReproduceError
from prodline.store.records import RunRecord


@dataclass
class MetricDifference:
    key: str
    original: float | None
    reproduced: float | None

    @property
    def delta(self) -> float | None:
        if self.original is None or self.reproduced is None:
            return None
        return self.reproduced - self.original


@dataclass
class ReproduceReport:
    """The original run, its reproduction, and what differs between them."""

    original: RunRecord
    reproduction: RunRecord
    metrics: list[MetricDifference] = field(default_factory=list)
    params: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def identical(self, tolerance: float = 1e-9) -> bool:
        """Whether every param matches and every metric is within ``tolerance``."""
        return not self.params and all(
            m.delta is not None
            and abs(m.delta) <= tolerance
            or (m.original is not None and m.reproduced is not None and _both_nan(m))
            for m in self.metrics
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "original": self.original.id,
            "reproduction": self.reproduction.id,
            "identical": self.identical(),
            "metrics": [
                {"key": m.key, "original": m.original, "reproduced": m.reproduced, "delta": m.delta}
                for m in self.metrics
            ],
            "param_differences": {k: list(v) for k, v in self.params.items()},
        }

    def __str__(self) -> str:
        lines = [
            f"run {self.original.id[:8]} reproduced as {self.reproduction.id[:8]} "
            f"({self.reproduction.status}): {'identical' if self.identical() else 'DIFFERENT'}"
        ]
        for m in self.metrics:
            delta = "n/a" if m.delta is None else f"{m.delta:+.6g}"
            lines.append(f"  metric {m.key}: {m.original} -> {m.reproduced} (delta {delta})")
        for key, (old, new) in self.params.items():
            lines.append(f"  param {key}: {old!r} -> {new!r}")
        return "\n".join(lines)


def _both_nan(m: MetricDifference) -> bool:
    return math.isnan(m.original or 0.0) and math.isnan(m.reproduced or 0.0)


def reproduce(run_id: str, *, timeout: float | None = None) -> ReproduceReport:
    """Re-run run ``run_id``'s captured code and compare params and final metrics."""
    store = _context.store()
    original = store.get_run(store.resolve_run_id(run_id))
    code = original.code or {}
    source_path = code.get("source_artifact")
    if code.get("kind") == "notebook":
        source_path = "code/notebook_cells.py"
    if not source_path:
        raise ReproduceError(
            f"Run {original.id[:8]} has no captured script or notebook source "
            f"(code capture kind: {code.get('kind', 'none')!r}), so it cannot be re-run."
        )
    artifact = next((a for a in original.artifacts if a.path == source_path), None)
    if artifact is None:
        raise ReproduceError(f"Run {original.id[:8]} lost its captured source {source_path!r}.")
    settings = config.settings()
    workdir = Path(code.get("cwd") or ".")
    if not workdir.is_dir():
        workdir = Path.cwd()
    entry = Path(code.get("entrypoint") or workdir / "notebook_cells.py")
    with tempfile.TemporaryDirectory(prefix="prodline-reproduce-") as scratch:
        script = Path(scratch) / entry.name
        script.write_bytes(_context.artifacts().get_bytes(artifact.digest))
        env = dict(os.environ)
        env.update(
            {
                config.ENV_REPRODUCE_OF: original.id,
                config.ENV_STORE_URL: settings.store_url,
                config.ENV_ARTIFACTS_URL: settings.artifacts_url,
                config.ENV_HOME: str(settings.home),
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(entry.parent), env.get("PYTHONPATH", "")) if p
                ),
            }
        )
        command = [sys.executable, str(script), *code.get("argv", [])]
        try:
            finished = subprocess.run(
                command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise ReproduceError(f"Reproducing run {original.id[:8]} timed out.") from None
    reproductions = store.search_runs(
        filter=f"reproduced_from = '{original.id}'", order_by=["start_time DESC"], max_results=1
    )
    if not reproductions:
        raise ReproduceError(
            f"The re-run of {original.id[:8]} exited with code {finished.returncode} and "
            f"started no run. Its output ended with:\n{finished.stderr[-2000:]}"
        )
    reproduction = store.get_run(reproductions[0].id)
    return compare(original, reproduction)


def compare(original: RunRecord, reproduction: RunRecord) -> ReproduceReport:
    """Param and final-metric differences between two runs."""
    keys = sorted(set(original.metrics) | set(reproduction.metrics))
    metrics = [
        MetricDifference(key, original.metrics.get(key), reproduction.metrics.get(key))
        for key in keys
    ]
    params = {
        key: (original.params.get(key), reproduction.params.get(key))
        for key in sorted(set(original.params) | set(reproduction.params))
        if original.params.get(key) != reproduction.params.get(key)
    }
    return ReproduceReport(original, reproduction, metrics, params)
