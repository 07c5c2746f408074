"""Monitoring a served model: its logged predictions against the training profile of
the version(s) that served them, its performance once labels arrive, champion against
challenger, and the history of both, window by window."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prodline import _context
from prodline.contract._metrics import class_key
from prodline.data.profile import Profile
from prodline.errors import MonitorError, NotFoundError
from prodline.monitor import history as hist
from prodline.monitor.drift import DriftReport, compare
from prodline.monitor.logs import Batch, flatten
from prodline.monitor.performance import ABTest, Performance, ab_test, performance
from prodline.monitor.policy import MonitorPolicy, load_policy
from prodline.monitor.reference import PREDICTION, References, VersionReference, monitor_dir
from prodline.monitor.thresholds import Thresholds
from prodline.monitor.windows import Window, iso, now_ms, parse_since, parse_window
from prodline.store.predictions import PredictionLog

CHALLENGER_ROLES = ("challenger", "shadow", "canary")
#: finished windows the traffic baseline averages by default
TRAFFIC_BASELINE = 7


@dataclass
class VersionWindow:
    """One version's rows in a window: drift against its own training data, and its
    performance on the labelled rows."""

    version: int
    roles: dict[str, int]
    n_rows: int
    drift: DriftReport | None = None
    performance: Performance | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    def to_dict(self, *, plot: bool = False) -> dict[str, Any]:
        return {
            "version": self.version,
            "roles": dict(self.roles),
            "n_rows": self.n_rows,
            "reference": dict(self.reference),
            "problem": self.problem,
            "drift": None if self.drift is None else self.drift.to_dict(plot=plot),
            "performance": None if self.performance is None else self.performance.to_dict(),
        }


@dataclass
class MonitorResult:
    """What ``prodline.monitor.monitor`` found.

    ``versions`` has one entry per version that served rows in the window, ``version``
    is the one the report is about (the alias holder, else the busiest champion) and
    ``drift``/``performance`` are its results. ``ab`` compares champion and challenger
    when both served. ``operations`` counts requests, errors, latency and traffic.
    ``history`` lists the finished windows (oldest first) and then the open one.
    """

    model: str
    alias: str
    window: str
    start_ms: int | None
    end_ms: int
    version: int | None
    versions: list[VersionWindow]
    ab: ABTest | None
    operations: dict[str, Any]
    history: list[dict[str, Any]]
    thresholds: Thresholds
    notes: list[str] = field(default_factory=list)
    policy: MonitorPolicy | None = None

    @property
    def primary(self) -> VersionWindow | None:
        for v in self.versions:
            if v.version == self.version:
                return v
        return None

    @property
    def drift(self) -> DriftReport | None:
        p = self.primary
        return None if p is None else p.drift

    @property
    def performance(self) -> Performance | None:
        p = self.primary
        return None if p is None else p.performance

    @property
    def n_rows(self) -> int:
        return int(self.operations.get("n_rows") or 0)

    def summary(self) -> str:
        head = f"{self.model}: {self.n_rows} rows in window {self.window}"
        if self.version is not None:
            head += f", version {self.version}"
        if self.drift is not None:
            head += f"; {self.drift.summary()}"
        return head

    def to_dict(self, *, plot: bool = False) -> dict[str, Any]:
        drift = self.drift
        return {
            "model": self.model,
            "alias": self.alias,
            "window": self.window,
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "version": self.version,
            "n_rows": self.n_rows,
            "dataset_drift": None if drift is None else drift.dataset_drift,
            "drift_share": None if drift is None else drift.drift_share,
            "drifted_columns": [] if drift is None else drift.drifted_columns,
            "prediction_drift": None if drift is None else drift.prediction_drift,
            "versions": [v.to_dict(plot=plot) for v in self.versions],
            "ab": None if self.ab is None else self.ab.to_dict(),
            "operations": self.operations,
            "history": self.history,
            "thresholds": self.thresholds.to_dict(),
            "notes": list(self.notes),
        }

    def write_html(self, path: str | os.PathLike[str]) -> Any:
        """Write the self-contained HTML report (distributions, drift and performance
        over time, champion/challenger)."""
        from prodline.monitor.report import write_monitor_report

        return write_monitor_report(self, path)


# ============================================================================ monitor


def monitor(
    model: str,
    window: str | Window | None = None,
    since: Any = None,
    alias: str = "production",
    *,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    feature_importance: Mapping[str, float] | None = None,
    policy: str | os.PathLike[str] | None = None,
    now: int | None = None,
    update_history: bool = True,
    rebuild: bool = False,
    label_horizon: int = 2,
) -> MonitorResult:
    """Monitor ``model`` from its logged predictions.

    - ``window``: ``"1d"``, ``"6h"``... (time) or ``"5000rows"``; default: the policy's
      ``monitor.window``, else ``"1d"``. The report covers the latest window (the last
      day, the last 5000 rows) or, with ``since``, everything logged since then;
      ``history`` has one entry per finished window.
    - ``since``: ``"7d"`` (back from now), an ISO date/time, a datetime or epoch ms.
    - ``alias``: the version the report is about when several served.
    - ``thresholds``/``feature_importance``: override the policy's (and the defaults).
    - ``policy``: the policy file (default ``policies/<model>.yaml`` when it exists).
    - ``now``: epoch ms to treat as now (tests, replays).
    - ``update_history``: keep the incremental window state under the prodline home
      (``rebuild`` recomputes it from the first log); ``label_horizon`` finished
      windows are re-read when they still lack labels.
    """
    settings = load_policy(model, policy)
    spec = parse_window(window or settings.window or "1d")
    end = now_ms() if now is None else int(now)
    since_ms = parse_since(since, end)
    limits = settings.thresholds.merged(thresholds)
    importance = dict(feature_importance) if feature_importance is not None else None
    if importance is None:
        importance = settings.feature_importance
    store = _context.store()
    refs = References(model)
    analyser = _Analyser(refs, limits, importance)

    def read(**kwargs: Any) -> list[PredictionLog]:
        return store.read_predictions(model, **kwargs)

    notes: list[str] = []
    holder = _alias_holder(model, alias, store)
    # --- history, incrementally
    windows: list[dict[str, Any]] = []
    if update_history:
        path = hist.state_path(monitor_dir(model), spec)
        state = None if rebuild else hist.load_state(path, spec)
        if state is not None and since_ms is not None:
            start = state.get("since_ms")
            if start is not None and since_ms < start:
                state = None  # asked for more history than the state holds
        if state is None:
            state = hist.new_state(spec, since_ms)
        state = hist.update(
            read,
            state,
            spec,
            now_ms=end,
            summarise=analyser.summarise,
            refresh=analyser.refresh,
            label_horizon=label_horizon,
            rows_of=analyser.rows_of,
        )
        hist.save_state(path, state)
        windows = [
            w for w in state["windows"] if since_ms is None or (w.get("end_ms") or 0) > since_ms
        ]
    # --- the latest window, in detail
    if since_ms is not None:
        logs = list(hist.read_all(read, 0, since_ms))
        start_ms: int | None = since_ms
    elif spec.is_time:
        start_ms = end - spec.size
        logs = list(hist.read_all(read, 0, start_ms))
    else:
        logs = read(limit=spec.size, newest=True)
        start_ms = logs[0].timestamp_ms if logs else None
    logs = [log for log in logs if log.timestamp_ms <= end]
    batch = analyser.flatten(logs)
    versions, problems = analyser.analyse(batch)
    notes.extend(problems)
    if not logs:
        notes.append(f"no predictions of {model} were logged in the window")
    primary = _primary(versions, holder)
    ab = _ab(batch, versions, refs, notes)
    operations = batch.request_stats()
    operations["traffic"] = _traffic(operations["n_rows"], spec, start_ms, end, windows)
    current = None
    if logs:
        current = analyser.compact(
            batch,
            versions,
            {
                "key": None,
                "start_ms": start_ms,
                "end_ms": end,
                "first_id": batch.first_id,
                "last_id": batch.last_id,
                "n_logs": batch.n_logs,
                "complete": False,
            },
        )
    result = MonitorResult(
        model=model,
        alias=alias,
        window=spec.text,
        start_ms=start_ms,
        end_ms=end,
        version=primary,
        versions=versions,
        ab=ab,
        operations=operations,
        history=[*windows, *([current] if current else [])],
        thresholds=limits,
        notes=notes,
        policy=settings,
    )
    return result


def _alias_holder(model: str, alias: str, store: Any) -> int | None:
    """The version holding ``alias``; a model neither registered nor logged is an error."""
    import prodline

    try:
        prodline.list_model_versions(model)
    except NotFoundError:
        if not store.prediction_count(model):
            raise
        return None
    try:
        return int(prodline.get_model_version(f"{model}@{alias}").version)
    except NotFoundError:
        return None


def _primary(versions: Sequence[VersionWindow], holder: int | None) -> int | None:
    if not versions:
        return holder
    if holder is not None and any(v.version == holder for v in versions):
        return holder
    return max(versions, key=lambda v: (v.roles.get("champion", 0), v.n_rows)).version


def _ab(
    batch: Batch, versions: Sequence[VersionWindow], refs: References, notes: list[str]
) -> ABTest | None:
    champions = Counter(batch.versions[batch.roles == "champion"].tolist())
    challengers = Counter(batch.versions[np.isin(batch.roles, CHALLENGER_ROLES)].tolist())
    if not champions or not challengers:
        return None
    champion = champions.most_common(1)[0][0]
    others = [(v, n) for v, n in challengers.most_common() if v != champion]
    if not others:
        return None
    challenger = others[0][0]
    try:
        task = refs.get(int(champion)).task
    except MonitorError:
        return None
    result = ab_test(batch, int(champion), int(challenger), task)
    if result is None:
        notes.append(
            f"champion v{champion} and challenger v{challenger} both served, but without "
            "labelled rows on both sides they cannot be compared yet"
        )
    return result


def _traffic(
    n_rows: int, spec: Window, start_ms: int | None, end_ms: int, windows: list[dict[str, Any]]
) -> dict[str, Any]:
    hours = None
    if start_ms is not None and end_ms > start_ms:
        hours = (end_ms - start_ms) / 3_600_000
    rate = n_rows / hours if hours else None
    recent = [w for w in windows if w.get("complete")][-TRAFFIC_BASELINE:]
    rates = [_rate(w) for w in recent]
    rates = [r for r in rates if r is not None]
    baseline = float(np.mean(rates)) if rates else None
    drop = None
    if baseline and rate is not None:
        drop = max(0.0, 1 - rate / baseline)
    return {
        "rows_per_hour": rate,
        "baseline_rows_per_hour": baseline,
        "drop": drop,
        "baseline_windows": len(rates),
    }


def _rate(window: dict[str, Any]) -> float | None:
    start, end = window.get("start_ms"), window.get("end_ms")
    if start is None or end is None or end <= start:
        return None
    return window.get("n_rows", 0) / ((end - start) / 3_600_000)


# ============================================================================ analysis


class _Analyser:
    """Turns a batch of logs into per-version results and compact window summaries."""

    def __init__(
        self,
        refs: References,
        thresholds: Thresholds,
        importance: Mapping[str, float] | None,
    ) -> None:
        self.refs = refs
        self.thresholds = thresholds
        self.importance = importance
        self._problems: dict[int, str] = {}

    def reference(self, version: int) -> VersionReference | None:
        if version in self._problems:
            return None
        try:
            return self.refs.get(version)
        except MonitorError as e:
            self._problems[version] = str(e)
            return None

    def flatten(self, logs: Sequence[PredictionLog]) -> Batch:
        columns: list[str] = []
        if logs:
            ref = self.reference(logs[-1].version)
            columns = ref.input_columns if ref is not None else []
        return flatten(logs, columns)

    def rows_of(self, log: PredictionLog) -> int:
        return max(len(flatten([log]).rows), 1)

    def analyse(self, batch: Batch) -> tuple[list[VersionWindow], list[str]]:
        out: list[VersionWindow] = []
        problems: list[str] = []
        counts = Counter(batch.versions.tolist())
        for version, n in counts.most_common():
            sub = batch.select(batch.versions == version)
            roles = dict(Counter(sub.roles.tolist()))
            vw = VersionWindow(int(version), roles, int(n))
            ref = self.reference(int(version))
            if ref is None:
                vw.problem = self._problems.get(int(version))
                if vw.problem:
                    problems.append(vw.problem)
                out.append(vw)
                continue
            vw.reference = {**ref.train, "predictions": ref.prediction_source}
            vw.drift = self.drift(sub, ref)
            vw.performance = performance(sub, ref)
            out.append(vw)
        return out, problems

    def drift(self, batch: Batch, ref: VersionReference) -> DriftReport | None:
        frame = batch.features(ref.input_columns)
        if frame.empty:
            return None
        reference = ref.features
        predictions: list[str] = []
        if ref.predictions is not None:
            ok = [i for i, e in enumerate(batch.errors) if not e]
            values = [batch.predictions[i] for i in ok]
            frame = frame.copy()
            if PREDICTION in ref.predictions.names:
                if ref.task == "regression":
                    frame[PREDICTION] = pd.to_numeric(
                        pd.Series(values, dtype=object), errors="coerce"
                    ).to_numpy()
                else:
                    frame[PREDICTION] = [None if v is None else class_key(v) for v in values]
                predictions.append(PREDICTION)
            column = ref.proba_column
            if column and column in ref.predictions.names:
                positive = ref.classes[1]
                frame[column] = [_positive(batch.probas[i], positive) for i in ok]
                predictions.append(column)
            reference = Profile(
                [*ref.features.columns, *(ref.predictions[c] for c in predictions)],
                ref.features.n_rows,
            )
        return compare(
            reference,
            frame,
            thresholds=self.thresholds,
            feature_importance=self.importance,
            prediction=predictions,
        )

    # -------------------------------------------------------------- summaries

    def summarise(self, logs: list[PredictionLog], info: dict[str, Any]) -> dict[str, Any]:
        batch = self.flatten(logs)
        versions, _ = self.analyse(batch)
        return self.compact(batch, versions, info)

    def compact(
        self, batch: Batch, versions: Sequence[VersionWindow], info: dict[str, Any]
    ) -> dict[str, Any]:
        ops = batch.request_stats()
        out = dict(info)
        out.update(
            n_rows=ops["n_rows"],
            n_requests=ops["n_requests"],
            n_errors=ops["n_errors"],
            error_rate=ops["error_rate"],
            latency_ms=ops["latency_ms"],
            start=iso(info.get("start_ms")),
            end=iso(info.get("end_ms")),
        )
        out["versions"] = {str(v.version): _compact_version(v) for v in versions}
        champions = [v for v in versions if v.roles.get("champion")] or list(versions)
        out["primary"] = (
            max(champions, key=lambda v: v.roles.get("champion", v.n_rows)).version
            if champions
            else None
        )
        out["needs_labels"] = any(
            v.performance is not None
            and v.performance.task != "clustering"
            and v.performance.n_labelled < v.performance.n_rows
            for v in versions
        )
        return out

    def refresh(self, logs: list[PredictionLog], summary: dict[str, Any]) -> dict[str, Any]:
        """Recompute a finished window's performance (labels arrived since it closed)."""
        batch = self.flatten(logs)
        out = dict(summary)
        out["versions"] = {k: dict(v) for k, v in summary.get("versions", {}).items()}
        needs = False
        for version in np.unique(batch.versions).tolist():
            ref = self.reference(int(version))
            entry = out["versions"].get(str(version))
            if ref is None or entry is None:
                continue
            perf = performance(batch.select(batch.versions == version), ref)
            entry["metrics"] = perf.to_dict()["metrics"]
            entry["n_labelled"] = perf.n_labelled
            needs = needs or (perf.task != "clustering" and perf.n_labelled < perf.n_rows)
        out["needs_labels"] = needs
        return out


def _compact_version(v: VersionWindow) -> dict[str, Any]:
    out: dict[str, Any] = {"n_rows": v.n_rows, "roles": dict(v.roles)}
    if v.drift is not None:
        d = v.drift
        out.update(
            drift_share=d.drift_share,
            dataset_drift=d.dataset_drift,
            drifted=d.drifted_columns,
            scores={c.name: _finite(c.score) for c in d.compared},
            missing_changed=d.missing_changed,
            prediction_drift=d.prediction_drift,
            prediction_score=_finite(d.prediction[0].score) if d.prediction else None,
        )
    if v.performance is not None:
        out["metrics"] = v.performance.to_dict()["metrics"]
        out["n_labelled"] = v.performance.n_labelled
    if v.problem:
        out["problem"] = v.problem
    return out


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _positive(proba: dict[str, float] | None, positive: str) -> float | None:
    if not proba:
        return None
    if positive in proba:
        return proba[positive]
    if "#1" in proba:
        return proba["#1"]
    if len(proba) == 1:
        return next(iter(proba.values()))
    return None
