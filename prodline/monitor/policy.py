"""The ``monitor:`` section of a model's policy file (``policies/<model>.yaml``).

The governance stage owns the rest of the file and ignores ``monitor:``; this module
reads only that section::

    monitor:
      window: 1d                  # what `prodline monitor check` looks at
      min_rows: 100               # fewer rows in the window: drift rules do not fire
      thresholds: {wasserstein: 0.1, psi: 0.2, jensen_shannon: 0.1, drift_share: 0.5}
      columns: {income: {wasserstein: 0.2}, customer_id: {ignore: true}}
      feature_importance: {tenure: 3, plan: 1}
      alerts:
        - drift_share: 0.3                        # share of drifting features >= 0.3
          actions: [team, retrain]
        - features: [tenure, plan]                # any of these drifts
        - prediction_drift: true
        - missing_values: true                    # a missing rate moved past its threshold
        - new_categories: true
        - performance: {metric: f1, drop_above: 0.05}   # contract f1 - window f1 > 0.05
        - performance: {metric: recall, below: 0.6, min_labels: 50}
        - error_rate: 0.01                        # share of failed requests > 1%
        - latency: {p99_ms: 50}
        - traffic_drop: {above: 0.5, baseline: 7} # rows/hour fell > 50% below the mean
      actions:                                    # of the previous 7 windows
        team: {webhook: "http://127.0.0.1:9000/hooks/monitor"}
        page: {command: "echo \\"$PRODLINE_ALERT\\" >> alerts.log"}
        retrain: {retrain: {reason: drift}}       # built in; writes a retrain request
        degraded: {label: degraded}               # labels the monitored version (reason:
                                                  # the fired rules and their messages)

Errors name the file, the line and the key, and say what would be valid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline.errors import InvalidValueError
from prodline.monitor.thresholds import Thresholds
from prodline.monitor.windows import parse_window
from prodline.store.registry import check_tag_name

CONDITIONS = (
    "drift_share",
    "features",
    "prediction_drift",
    "missing_values",
    "new_categories",
    "performance",
    "error_rate",
    "latency",
    "traffic_drop",
)
LATENCY_KEYS = ("mean_ms", "p50_ms", "p95_ms", "p99_ms")
ACTION_KINDS = ("webhook", "command", "retrain", "label")
_RULE_KEYS = frozenset({"name", "actions", *CONDITIONS})
_SECTION_KEYS = frozenset(
    {"window", "min_rows", "thresholds", "columns", "feature_importance", "alerts", "actions"}
)


@dataclass(frozen=True)
class AlertRule:
    """One alert rule: a condition (``kind`` with its ``params``) and action names."""

    name: str
    kind: str
    params: dict[str, Any]
    actions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": dict(self.params),
            "actions": list(self.actions),
        }


@dataclass(frozen=True)
class Action:
    """A named action: ``kind`` webhook (``url``, ``headers``, ``timeout``), command
    (``command``, ``timeout``), retrain (free-form ``params`` copied into the request)
    or label (``label``: the registry label put on the monitored version)."""

    name: str
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class MonitorPolicy:
    """The parsed ``monitor:`` section."""

    path: str | None = None
    window: str | None = None
    min_rows: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)
    feature_importance: dict[str, float] | None = None
    alerts: tuple[AlertRule, ...] = ()
    actions: dict[str, Action] = field(default_factory=dict)


def policy_path(model: str, policy: str | os.PathLike[str] | None = None) -> Path | None:
    """The policy file to read: ``policy`` when given (it must exist), else
    ``policies/<model>.yaml`` (or ``.yml``) under the working directory, else None."""
    if policy is not None:
        path = Path(policy)
        if not path.is_file():
            raise InvalidValueError(f"policy file {path} does not exist")
        return path
    for suffix in (".yaml", ".yml"):
        path = Path("policies") / f"{model}{suffix}"
        if path.is_file():
            return path
    return None


def load_policy(model: str, policy: str | os.PathLike[str] | None = None) -> MonitorPolicy:
    """The model's monitoring policy (defaults when there is no file or no ``monitor:``)."""
    path = policy_path(model, policy)
    if path is None:
        return MonitorPolicy()
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidValueError(f"cannot read policy file {path}: {e}") from e
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InvalidValueError(f"{path}: not valid YAML: {e}".replace("\n", " ")) from e
    lines = _lines(node) if node is not None else {}
    section = (data or {}).get("monitor") if isinstance(data, Mapping) else None
    if section is None:
        return MonitorPolicy(path=str(path))
    return parse_section(section, source=str(path), lines=lines)


def parse_section(
    section: Any, *, source: str = "<policy>", lines: Mapping[tuple[Any, ...], int] | None = None
) -> MonitorPolicy:
    """Validate and parse a ``monitor:`` mapping."""
    lines = lines or {}

    def fail(path: tuple[Any, ...], message: str) -> InvalidValueError:
        line = None
        for cut in range(len(path), 0, -1):
            line = lines.get(("monitor", *path[:cut]))
            if line is not None:
                break
        where = f"{source}:{line}" if line is not None else source
        key = "monitor" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        return InvalidValueError(f"{where}: {key}: {message}")

    if not isinstance(section, Mapping):
        raise fail((), "must be a mapping of monitoring settings")
    unknown = sorted(set(map(str, section)) - _SECTION_KEYS)
    if unknown:
        raise fail((unknown[0],), f"unknown key; use {', '.join(sorted(_SECTION_KEYS))}")
    window = section.get("window")
    if window is not None:
        try:
            parse_window(str(window))
        except InvalidValueError as e:
            raise fail(("window",), str(e)) from None
    min_rows = section.get("min_rows", 0)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise fail(("min_rows",), f"must be an integer >= 0, not {min_rows!r}")
    raw_thresholds = dict(section.get("thresholds") or {})
    if "columns" in section:
        raw_thresholds["columns"] = section["columns"]
    try:
        thresholds = Thresholds.of(raw_thresholds)
    except InvalidValueError as e:
        key = "columns" if "column" in str(e) and "columns" in section else "thresholds"
        raise fail((key,), str(e)) from None
    importance = section.get("feature_importance")
    if importance is not None:
        if not isinstance(importance, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            for v in importance.values()
        ):
            raise fail(("feature_importance",), "must map feature names to weights >= 0")
        importance = {str(k): float(v) for k, v in importance.items()}
    actions = _actions(section.get("actions") or {}, fail)
    alerts = _alerts(section.get("alerts") or [], actions, fail)
    return MonitorPolicy(
        path=source,
        window=None if window is None else str(window),
        min_rows=min_rows,
        thresholds=thresholds,
        feature_importance=importance,
        alerts=tuple(alerts),
        actions=actions,
    )


def _actions(raw: Any, fail: Any) -> dict[str, Action]:
    if not isinstance(raw, Mapping):
        raise fail(
            ("actions",),
            "must map action names to {webhook: URL}, {command: ...}, {retrain: ...} or "
            "{label: NAME}",
        )
    out: dict[str, Action] = {"retrain": Action("retrain", "retrain", {})}
    for name, spec in raw.items():
        path = ("actions", str(name))
        if not isinstance(spec, Mapping):
            raise fail(path, "must be a mapping such as {webhook: URL}")
        kinds = [k for k in ACTION_KINDS if k in spec]
        if len(kinds) != 1:
            raise fail(path, f"needs exactly one of {', '.join(ACTION_KINDS)}")
        kind = kinds[0]
        params = {str(k): v for k, v in spec.items() if k != kind}
        if kind == "webhook":
            url = spec["webhook"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise fail((*path, "webhook"), f"must be an http(s) URL, not {url!r}")
            params["url"] = url
            headers = params.get("headers", {})
            if not isinstance(headers, Mapping):
                raise fail((*path, "headers"), "must be a mapping of header names to values")
        elif kind == "command":
            command = spec["command"]
            if not isinstance(command, str | list) or not command:
                raise fail((*path, "command"), "must be a shell command (a string) or argv list")
            params["command"] = command
        elif kind == "retrain":
            extra = spec["retrain"]
            if extra not in (None, True) and not isinstance(extra, Mapping):
                raise fail((*path, "retrain"), "must be true or a mapping of request fields")
            params = dict(extra) if isinstance(extra, Mapping) else {}
        else:
            try:
                params = {"label": check_tag_name(spec["label"], "label")}
            except InvalidValueError as exc:
                raise fail((*path, "label"), str(exc)) from None
        timeout = params.get("timeout", 10 if kind == "webhook" else 60)
        if kind in ("webhook", "command"):
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
                raise fail((*path, "timeout"), "must be a number of seconds > 0")
            params["timeout"] = float(timeout)
        out[str(name)] = Action(str(name), kind, params)
    return out


def _alerts(raw: Any, actions: dict[str, Action], fail: Any) -> list[AlertRule]:
    if not isinstance(raw, list):
        raise fail(("alerts",), "must be a list of rules, e.g. - drift_share: 0.3")
    out: list[AlertRule] = []
    names: set[str] = set()
    for i, rule in enumerate(raw):
        path = ("alerts", i)
        if not isinstance(rule, Mapping):
            raise fail(path, f"must be a mapping with one of {', '.join(CONDITIONS)}")
        unknown = sorted(set(map(str, rule)) - _RULE_KEYS)
        if unknown:
            raise fail(
                (*path, unknown[0]),
                f"unknown key; a rule has one of {', '.join(CONDITIONS)}, "
                "and optionally name and actions",
            )
        kinds = [k for k in CONDITIONS if k in rule]
        if len(kinds) != 1:
            raise fail(path, f"needs exactly one condition of {', '.join(CONDITIONS)}")
        kind = kinds[0]
        params = _condition(kind, rule[kind], (*path, kind), fail)
        name = str(rule.get("name") or f"{kind}-{i + 1}")
        if name in names:
            raise fail((*path, "name"), f"rule name {name!r} is used twice")
        names.add(name)
        listed = rule.get("actions") or []
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list):
            raise fail((*path, "actions"), "must be a list of action names")
        for a in listed:
            if str(a) not in actions:
                raise fail(
                    (*path, "actions"),
                    f"names action {a!r}, which the actions section does not define "
                    f"(defined: {', '.join(sorted(actions))})",
                )
        out.append(AlertRule(name, kind, params, tuple(str(a) for a in listed)))
    return out


def _number(value: Any, path: tuple[Any, ...], fail: Any, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise fail(path, f"must be a number >= {low:g}, not {value!r}")
    return float(value)


def _condition(kind: str, value: Any, path: tuple[Any, ...], fail: Any) -> dict[str, Any]:
    if kind in ("drift_share", "error_rate"):
        if isinstance(value, Mapping):
            if set(value) != {"above"}:
                raise fail(path, "write a share, e.g. 0.3, or {above: 0.3}")
            value = value["above"]
        share = _number(value, path, fail)
        if share > 1:
            raise fail(path, f"is a share between 0 and 1, not {share}")
        return {"above": share}
    if kind == "features":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise fail(path, "must list feature names, e.g. [tenure, plan]")
        return {"names": [str(v) for v in value]}
    if kind in ("prediction_drift", "missing_values", "new_categories"):
        if not isinstance(value, bool):
            raise fail(path, "must be true or false")
        return {"enabled": value}
    if kind == "performance":
        if not isinstance(value, Mapping) or "metric" not in value:
            raise fail(
                path,
                "needs a metric and drop_above and/or below, e.g. {metric: f1, drop_above: 0.05}",
            )
        allowed = {"metric", "drop_above", "below", "above", "relative", "min_labels"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise fail((*path, unknown[0]), f"unknown key; use {', '.join(sorted(allowed))}")
        if not any(k in value for k in ("drop_above", "below", "above")):
            raise fail(path, "needs drop_above (against the contract), below or above")
        out: dict[str, Any] = {"metric": str(value["metric"])}
        for key in ("drop_above", "below", "above"):
            if key in value:
                out[key] = _number(value[key], (*path, key), fail, low=-1e300)
        out["relative"] = bool(value.get("relative", False))
        out["min_labels"] = int(_number(value.get("min_labels", 30), (*path, "min_labels"), fail))
        return out
    if kind == "latency":
        if not isinstance(value, Mapping) or not value:
            raise fail(path, f"needs one or more of {', '.join(LATENCY_KEYS)}, e.g. {{p99_ms: 50}}")
        unknown = sorted(set(value) - set(LATENCY_KEYS))
        if unknown:
            raise fail((*path, unknown[0]), f"unknown key; use {', '.join(LATENCY_KEYS)}")
        return {k: _number(v, (*path, k), fail) for k, v in value.items()}
    # traffic_drop
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"above", "baseline"})
        if unknown or "above" not in value:
            raise fail(path, "write a share, e.g. 0.5, or {above: 0.5, baseline: 7}")
        drop = _number(value["above"], (*path, "above"), fail)
        baseline = int(_number(value.get("baseline", 7), (*path, "baseline"), fail, low=1))
    else:
        drop, baseline = _number(value, path, fail), 7
    if drop > 1:
        raise fail(path, f"is a share between 0 and 1, not {drop}")
    return {"above": drop, "baseline": baseline}


def _lines(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """1-based line of every key and list item in a composed YAML document."""
    import yaml

    out: dict[tuple[Any, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            sub = (*path, key.value)
            out[sub] = key.start_mark.line + 1
            out.update(_lines(child, sub))
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            sub = (*path, i)
            out[sub] = child.start_mark.line + 1
            out.update(_lines(child, sub))
    return out
