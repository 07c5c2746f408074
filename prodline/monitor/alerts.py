"""Alert rules from the model's policy, evaluated on the latest window, and their
actions. ``check`` is what ``prodline monitor check MODEL`` runs from cron or CI."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prodline.monitor.actions import run_action
from prodline.monitor.policy import AlertRule, MonitorPolicy, load_policy
from prodline.monitor.reference import monitor_dir
from prodline.monitor.service import MonitorResult, monitor
from prodline.monitor.windows import parse_window


@dataclass
class Alert:
    """One rule's outcome: ``fired`` or not, or not ``evaluated`` (too little data)."""

    rule: str
    kind: str
    fired: bool
    evaluated: bool
    message: str
    value: Any = None
    threshold: Any = None
    actions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CheckResult:
    """Every rule's outcome, the actions run, and the monitoring result behind them."""

    model: str
    window: str
    alerts: list[Alert]
    actions: list[dict[str, Any]]
    result: MonitorResult
    policy: str | None

    @property
    def fired(self) -> list[Alert]:
        return [a for a in self.alerts if a.fired]

    @property
    def ok(self) -> bool:
        return not self.fired

    def summary(self) -> str:
        fired = self.fired
        if not fired:
            return f"{self.model}: no alert ({len(self.alerts)} rule(s) checked)"
        return f"{self.model}: {len(fired)} alert(s): " + "; ".join(a.message for a in fired)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "window": self.window,
            "policy": self.policy,
            "ok": self.ok,
            "fired": [a.rule for a in self.fired],
            "alerts": [a.to_dict() for a in self.alerts],
            "actions": self.actions,
            "summary": self.summary(),
            "monitor": self.result.to_dict(),
        }


def check(
    model: str,
    window: str | None = None,
    *,
    alias: str = "production",
    policy: str | os.PathLike[str] | None = None,
    run_actions: bool = True,
    repeat: bool = False,
    now: int | None = None,
) -> CheckResult:
    """Evaluate the ``monitor.alerts`` rules of the model's policy on the latest window
    and run the actions of the rules that fire. An action runs once per rule and
    window: checking again within the same window reports the alert but does not call
    the webhook or request a retrain again (``repeat=True`` does)."""
    settings = load_policy(model, policy)
    result = monitor(model, window=window, alias=alias, policy=policy, now=now)
    alerts = evaluate(settings, result)
    actions: list[dict[str, Any]] = []
    if run_actions:
        actions = _run(settings, result, [a for a in alerts if a.fired], repeat=repeat)
    return CheckResult(model, result.window, alerts, actions, result, settings.path)


def evaluate(policy: MonitorPolicy, result: MonitorResult) -> list[Alert]:
    """Each rule of ``policy`` on ``result``."""
    return [_evaluate(rule, policy, result) for rule in policy.alerts]


def _evaluate(rule: AlertRule, policy: MonitorPolicy, res: MonitorResult) -> Alert:
    p = rule.params
    kind = rule.kind
    actions = list(rule.actions)

    def skip(why: str) -> Alert:
        return Alert(rule.name, kind, False, False, why, actions=actions)

    def verdict(fired: bool, message: str, value: Any, threshold: Any) -> Alert:
        return Alert(rule.name, kind, fired, True, message, value, threshold, actions)

    drift = res.drift
    if kind in ("drift_share", "features", "prediction_drift", "missing_values", "new_categories"):
        if drift is None:
            return skip(f"{rule.name}: no drift result for the window (no rows)")
        if drift.n_current < policy.min_rows:
            return skip(
                f"{rule.name}: {drift.n_current} rows in the window, fewer than min_rows "
                f"{policy.min_rows}"
            )
    if kind == "drift_share":
        assert drift is not None
        share = drift.drift_share
        fired = share >= p["above"] and bool(drift.drifted_columns)
        msg = (
            f"drift share {share:.2f} >= {p['above']:g} "
            f"({', '.join(drift.drifted_columns) or 'none'})"
        )
        return verdict(
            fired, msg if fired else f"drift share {share:.2f} < {p['above']:g}", share, p["above"]
        )
    if kind == "features":
        assert drift is not None
        hit = [n for n in p["names"] if n in drift.drifted_columns]
        unknown = [n for n in p["names"] if n not in drift.names]
        msg = f"feature(s) drifted: {', '.join(hit)}" if hit else "named features stable"
        if unknown:
            msg += f" (not in the data: {', '.join(unknown)})"
        return verdict(bool(hit), msg, hit, p["names"])
    if kind == "prediction_drift":
        assert drift is not None
        hit = [c.name for c in drift.prediction if c.drifted]
        if not drift.prediction:
            return skip("no prediction reference for this model version")
        fired = p["enabled"] and bool(hit)
        return verdict(
            fired, f"prediction drift: {', '.join(hit)}" if hit else "predictions stable", hit, True
        )
    if kind == "missing_values":
        assert drift is not None
        hit = drift.missing_changed
        fired = p["enabled"] and bool(hit)
        parts = [
            f"{c.name} {c.missing_rate_reference:.1%} -> {c.missing_rate_current:.1%}"
            for c in (*drift.columns, *drift.prediction)
            if c.missing_changed
        ]
        return verdict(
            fired,
            "missing rate changed: " + ", ".join(parts) if parts else "missing rates stable",
            hit,
            None,
        )
    if kind == "new_categories":
        assert drift is not None
        hit = drift.new_categories
        fired = p["enabled"] and bool(hit)
        parts = [f"{name}: {', '.join(list(v)[:5])}" for name, v in hit.items()]
        return verdict(
            fired,
            "new categories: " + "; ".join(parts) if parts else "no new categories",
            hit,
            None,
        )
    if kind == "performance":
        return _performance(rule, res, actions)
    ops = res.operations
    if kind == "error_rate":
        rate = ops.get("error_rate")
        if rate is None:
            return skip("no requests in the window")
        fired = rate > p["above"]
        return verdict(
            fired,
            f"error rate {rate:.2%} {'>' if fired else '<='} {p['above']:.2%}",
            rate,
            p["above"],
        )
    if kind == "latency":
        lat = ops.get("latency_ms") or {}
        if not lat:
            return skip("no requests in the window")
        over = {k: lat[k[:-3]] for k, limit in p.items() if lat.get(k[:-3], 0) > limit}
        parts = [f"{k[:-3]} {lat[k[:-3]]:.1f} ms > {p[k]:g} ms" for k in over]
        return verdict(
            bool(over),
            "latency " + ", ".join(parts) if parts else "latency ok",
            {k[:-3]: lat.get(k[:-3]) for k in p},
            dict(p),
        )
    # traffic_drop
    traffic = ops.get("traffic") or {}
    baseline = traffic.get("baseline_rows_per_hour")
    if not baseline:
        return skip("no finished windows yet to compare traffic with")
    drop = traffic.get("drop") or 0.0
    fired = drop > p["above"]
    rate = traffic.get("rows_per_hour") or 0.0
    msg = (
        f"traffic {rate:.1f} rows/h is {drop:.0%} below the mean of the last "
        f"{traffic.get('baseline_windows')} windows ({baseline:.1f} rows/h)"
    )
    return verdict(fired, msg, drop, p["above"])


def _performance(rule: AlertRule, res: MonitorResult, actions: list[str]) -> Alert:
    p = rule.params
    metric = p["metric"]
    perf = res.performance
    if perf is None:
        return Alert(
            rule.name, "performance", False, False, "no performance for the window", actions=actions
        )
    if perf.n_labelled < p["min_labels"]:
        return Alert(
            rule.name,
            "performance",
            False,
            False,
            f"{perf.n_labelled} labelled rows, fewer than min_labels {p['min_labels']}",
            actions=actions,
        )
    value = perf.metrics.get(metric)
    if value is None:
        why = perf.undefined.get(metric) or f"metric {metric!r} is not computed for {perf.task}"
        return Alert(rule.name, "performance", False, False, why, actions=actions)
    problems = []
    if "drop_above" in p:
        drop = perf.drop(metric)
        base = perf.contract.get(metric)
        if drop is None or base is None:
            return Alert(
                rule.name,
                "performance",
                False,
                False,
                f"the contract has no {metric} to compare with",
                actions=actions,
            )
        size = drop / abs(base) if p["relative"] and base else drop
        if size > p["drop_above"]:
            unit = "relative " if p["relative"] else ""
            problems.append(
                f"{metric} {value:.4g} is {size:.3g} {unit}below the contract's {base:.4g} "
                f"(allowed {p['drop_above']:g})"
            )
    if "below" in p and value < p["below"]:
        problems.append(f"{metric} {value:.4g} < {p['below']:g}")
    if "above" in p and value > p["above"]:
        problems.append(f"{metric} {value:.4g} > {p['above']:g}")
    msg = "; ".join(problems) if problems else f"{metric} {value:.4g} ok"
    threshold = {k: p[k] for k in ("drop_above", "below", "above") if k in p}
    return Alert(rule.name, "performance", bool(problems), True, msg, value, threshold, actions)


# ============================================================================ actions


def _period(res: MonitorResult) -> str:
    spec = parse_window(res.window)
    if spec.is_time:
        return f"{spec.text}:{res.end_ms // spec.size}"
    rows = sum(w.get("n_rows", 0) for w in res.history)
    return f"{spec.text}:{rows // spec.size}"


def _run(
    policy: MonitorPolicy, res: MonitorResult, fired: Sequence[Alert], *, repeat: bool
) -> list[dict[str, Any]]:
    if not fired:
        return []
    path = monitor_dir(res.model) / "alerts.json"
    try:
        seen = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = {}
    period = _period(res)
    fresh = [a for a in fired if repeat or seen.get(a.rule, {}).get("period") != period]
    by_action: dict[str, list[Alert]] = {}
    for alert in fresh:
        for name in alert.actions:
            by_action.setdefault(name, []).append(alert)
    out = []
    for name, alerts in by_action.items():
        action = policy.actions[name]
        payload = {
            "model": res.model,
            "alias": res.alias,
            "version": res.version,
            "window": {"spec": res.window, "start_ms": res.start_ms, "end_ms": res.end_ms},
            "alerts": [a.to_dict() for a in alerts],
            "summary": f"{res.model}: " + "; ".join(a.message for a in alerts),
        }
        done = run_action(action.kind, action.params, payload)
        done["action"] = name
        done["rules"] = [a.rule for a in alerts]
        out.append(done)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for alert in fresh:
        seen[alert.rule] = {"period": period, "at": stamp}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".alerts.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(seen, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return out
