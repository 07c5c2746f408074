"""The rule types of a policy: how each is read from YAML and how it judges a version.

Every rule is a small frozen dataclass with ``parse`` (from the policy's mapping, with
every problem recorded at its key and line) and ``evaluate`` (a pure function of one
version's evidence and the decision's context, returning a :class:`RuleResult` that
says what was observed, what was expected, and why it passed or failed).

Custom rules are plain functions registered by name with :func:`rule`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from prodline.govern._spec import KeyPath, Problems, describe, suggest
from prodline.govern.evidence import Evidence, VersionEvidence

#: metrics where a smaller value is better (for compare_to and choose.best_by)
LOWER_IS_BETTER = frozenset(
    {"log_loss", "mae", "rmse", "mse", "mape", "brier_score", "davies_bouldin", "loss"}
)
LATENCY_KEYS = ("p50_single_row_ms", "p99_single_row_ms", "p50_batch_ms")
SERVING_PATHS = ("onnx", "python")
_EPS = 1e-9  # differences of floats: 0.95 - 0.94 must count as 0.01


def fmt(value: Any) -> str:
    """Numbers to 4 significant digits (deterministic: label reasons are compared)."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "none"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def fmt_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size} B"  # pragma: no cover


def fmt_duration(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length and seconds % length == 0:
            return f"{int(seconds // length)}{unit}"
    return f"{seconds:g}s"


@dataclass(slots=True)
class RuleResult:
    """One rule's verdict on one version (treat as read-only)."""

    index: int | None  # position in the policy's ``rules`` (None: built-in checks)
    kind: str
    rule: str  # what the rule asks, in words
    passed: bool
    reason: str  # what was observed and why it passes or fails
    observed: Any = None
    expected: Any = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "rule": self.rule,
            "passed": self.passed,
            "reason": self.reason,
            "observed": self.observed,
            "expected": self.expected,
            "line": self.line,
        }


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at besides the version itself."""

    evidence: Evidence
    holder: VersionEvidence | None  # who holds the target alias in the state being judged

    def alias_holder(self, alias: str) -> VersionEvidence | None:
        if alias == self.evidence.target_alias:
            return self.holder
        number = self.evidence.aliases.get(alias)
        return None if number is None else self.evidence.versions.get(number)


@dataclass(frozen=True)
class Rule:
    """Base of every rule type."""

    index: int
    line: int | None
    name: str | None  # an optional label given in the policy

    kind: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()

    def describe(self) -> str:
        raise NotImplementedError

    @cached_property
    def title(self) -> str:
        """The rule as shown: its ``name`` from the policy, else its description."""
        return self.name or self.describe()

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        raise NotImplementedError

    def result(
        self, passed: bool, reason: str, observed: Any = None, expected: Any = None
    ) -> RuleResult:
        return RuleResult(
            index=self.index,
            kind=self.kind,
            rule=self.title,
            passed=passed,
            reason=reason,
            observed=observed,
            expected=expected,
            line=self.line,
        )


# ------------------------------------------------------------------------ metric lookup
def metric_of(version: VersionEvidence, metric: str, cls: str | None) -> tuple[float | None, str]:
    """``(value, label)`` or ``(None, why it is missing)``."""
    metrics = version.metrics
    label = metric if cls is None else f"{metric}[class {cls}]"
    source: Any = metrics
    if cls is not None:
        per_class = metrics.get("per_class")
        if not isinstance(per_class, dict) or cls not in per_class:
            known = ", ".join(per_class) if isinstance(per_class, dict) else "none"
            return None, f"no per-class metrics for class {cls!r} (classes: {known})"
        source = per_class[cls]
    if not isinstance(source, dict) or metric not in source:
        known = ", ".join(
            k
            for k, v in (source or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        )
        return None, f"{label} is not among the contract's eval metrics (has: {known or 'none'})"
    value = source[metric]
    if value is None:
        why = (metrics.get("undefined") or {}).get(metric)
        return None, f"{label} is undefined on the eval data" + (f": {why}" if why else "")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None, f"{label} is not a finite number ({value!r})"
    return float(value), label


def _lower_is_better(metric: str, given: bool | None) -> bool:
    return given if given is not None else metric in LOWER_IS_BETTER


def _thresholds(
    spec: dict[str, Any], path: KeyPath, problems: Problems, required: bool = True
) -> tuple[float | None, float | None]:
    at_least = at_most = None
    if "at_least" in spec:
        at_least = problems.number(spec["at_least"], path + ("at_least",))
    if "at_most" in spec:
        at_most = problems.number(spec["at_most"], path + ("at_most",))
    if required and "at_least" not in spec and "at_most" not in spec:
        problems.add(path, "needs a threshold: at_least, at_most or both")
    return at_least, at_most


def _check_bounds(
    value: float, at_least: float | None, at_most: float | None, label: str
) -> tuple[bool, str]:
    if at_least is not None and value < at_least:
        return False, f"{label} {fmt(value)} is below the minimum {fmt(at_least)}"
    if at_most is not None and value > at_most:
        return False, f"{label} {fmt(value)} is above the maximum {fmt(at_most)}"
    bounds = []
    if at_least is not None:
        bounds.append(f">= {fmt(at_least)}")
    if at_most is not None:
        bounds.append(f"<= {fmt(at_most)}")
    return True, f"{label} {fmt(value)} {' and '.join(bounds)}"


def _bounds_text(at_least: float | None, at_most: float | None) -> str:
    parts = []
    if at_least is not None:
        parts.append(f"at least {fmt(at_least)}")
    if at_most is not None:
        parts.append(f"at most {fmt(at_most)}")
    return " and ".join(parts)


def _class_key(value: Any, path: KeyPath, problems: Problems) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.add(path, f'must be a class label such as "1" or churned, got {describe(value)}')
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# ------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class MetricRule(Rule):
    """``metric: f1`` with ``at_least``/``at_most`` (and ``class`` for a per-class metric)."""

    metric: str = ""
    cls: str | None = None
    at_least: float | None = None
    at_most: float | None = None

    kind: ClassVar[str] = "metric"
    keys: ClassVar[tuple[str, ...]] = ("metric", "class", "at_least", "at_most")

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> MetricRule:
        metric = problems.text(spec.get("metric"), path + ("metric",)) or ""
        klass = _class_key(spec["class"], path + ("class",), problems) if "class" in spec else None
        at_least, at_most = _thresholds(spec, path, problems)
        return cls(**base, metric=metric, cls=klass, at_least=at_least, at_most=at_most)

    def describe(self) -> str:
        label = self.metric if self.cls is None else f"{self.metric}[class {self.cls}]"
        return f"{label} {_bounds_text(self.at_least, self.at_most)}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        value, label = metric_of(version, self.metric, self.cls)
        expected = {"at_least": self.at_least, "at_most": self.at_most}
        if value is None:
            return self.result(False, label, None, expected)
        passed, reason = _check_bounds(value, self.at_least, self.at_most, label)
        return self.result(passed, reason, value, expected)


COMPARISONS = ("min_improvement", "min_relative_improvement", "not_worse_by_more_than")


@dataclass(frozen=True)
class CompareRule(Rule):
    """``compare_to: production`` with ``metric`` and one of ``min_improvement``,
    ``min_relative_improvement`` or ``not_worse_by_more_than``."""

    alias: str = ""
    metric: str = ""
    cls: str | None = None
    comparison: str = "min_improvement"
    amount: float = 0.0
    lower_is_better: bool = False

    kind: ClassVar[str] = "compare_to"
    keys: ClassVar[tuple[str, ...]] = (
        "compare_to",
        "metric",
        "class",
        "lower_is_better",
        *COMPARISONS,
    )

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> CompareRule:
        alias = (
            problems.text(
                spec.get("compare_to"),
                path + ("compare_to",),
                pattern=ALIAS,
                hint=" (an alias such as production)",
            )
            or ""
        )
        if "metric" not in spec:
            problems.add(path, "compare_to needs the metric to compare, e.g. metric: f1")
        metric = problems.text(spec.get("metric"), path + ("metric",)) if "metric" in spec else ""
        klass = _class_key(spec["class"], path + ("class",), problems) if "class" in spec else None
        given = [k for k in COMPARISONS if k in spec]
        comparison, amount = "min_improvement", 0.0
        if len(given) != 1:
            problems.add(
                path,
                f"compare_to needs exactly one of {', '.join(COMPARISONS)}"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        else:
            comparison = given[0]
            amount = problems.number(spec[comparison], path + (comparison,), minimum=None) or 0.0
        lower = None
        if "lower_is_better" in spec:
            lower = problems.boolean(spec["lower_is_better"], path + ("lower_is_better",))
        return cls(
            **base,
            alias=alias,
            metric=metric or "",
            cls=klass,
            comparison=comparison,
            amount=amount,
            lower_is_better=_lower_is_better(metric or "", lower),
        )

    def describe(self) -> str:
        label = self.metric if self.cls is None else f"{self.metric}[class {self.cls}]"
        words = {
            "min_improvement": f"improves on {self.alias} by at least {fmt(self.amount)}",
            "min_relative_improvement": f"improves on {self.alias} by at least "
            f"{fmt(self.amount * 100)}%",
            "not_worse_by_more_than": f"is not worse than {self.alias} by more than "
            f"{fmt(self.amount)}",
        }[self.comparison]
        return f"{label} {words}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        expected = {self.comparison: self.amount, "compare_to": self.alias}
        baseline = ctx.alias_holder(self.alias)
        if baseline is None:
            return self.result(
                True, f"no version holds {self.alias}: nothing to compare with", None, expected
            )
        if baseline.version == version.version:
            return self.result(True, f"holds {self.alias} itself", None, expected)
        value, label = metric_of(version, self.metric, self.cls)
        if value is None:
            return self.result(False, label, None, expected)
        base, base_label = metric_of(baseline, self.metric, self.cls)
        if base is None:
            return self.result(
                False,
                f"cannot compare with {self.alias} (v{baseline.version}): {base_label}",
                {"value": value},
                expected,
            )
        gain = (base - value) if self.lower_is_better else (value - base)
        observed = {
            "value": value,
            self.alias: base,
            f"{self.alias}_version": baseline.version,
            "improvement": gain,
        }
        head = f"{label} {fmt(value)} vs {self.alias} (v{baseline.version}) {fmt(base)}"
        if self.comparison == "min_improvement":
            passed = gain >= self.amount - _EPS
            tail = f"improvement {gain:+.4g}, needs at least {fmt(self.amount)}"
        elif self.comparison == "min_relative_improvement":
            relative = gain / abs(base) if base != 0 else (math.inf if gain > 0 else 0.0)
            observed["relative_improvement"] = relative if math.isfinite(relative) else None
            passed = relative >= self.amount - _EPS
            tail = (
                f"relative improvement {relative * 100:+.3g}%, needs at least "
                f"{fmt(self.amount * 100)}%"
            )
        else:
            passed = -gain <= self.amount + _EPS
            tail = f"worse by {max(-gain, 0.0):.4g}, at most {fmt(self.amount)} allowed"
        return self.result(passed, f"{head}: {tail}", observed, expected)


@dataclass(frozen=True)
class LatencyRule(Rule):
    """``latency: p99_single_row_ms`` with ``at_most`` (ms) on the version's serving path,
    or on ``path: onnx|python``."""

    key: str = ""
    at_most: float = 0.0
    path: str | None = None

    kind: ClassVar[str] = "latency"
    keys: ClassVar[tuple[str, ...]] = ("latency", "at_most", "path")

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> LatencyRule:
        key = problems.choice(spec.get("latency"), path + ("latency",), LATENCY_KEYS) or ""
        at_most = 0.0
        if "at_most" not in spec:
            problems.add(path, "latency needs at_most (milliseconds)")
        else:
            at_most = problems.number(spec["at_most"], path + ("at_most",), minimum=0) or 0.0
        serving = None
        if "path" in spec:
            serving = problems.choice(spec["path"], path + ("path",), SERVING_PATHS)
        return cls(**base, key=key, at_most=at_most, path=serving)

    def describe(self) -> str:
        where = self.path or "serving path"
        return f"{self.key} ({where}) at most {fmt(self.at_most)} ms"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        serving = self.path or version.contract.get("serving_path") or "python"
        measured = (version.contract.get("latency") or {}).get(serving) or {}
        value = measured.get(self.key)
        expected = {"at_most": self.at_most, "path": serving}
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.result(
                False, f"no {self.key} measured for the {serving} path", None, expected
            )
        passed = value <= self.at_most
        verb = "within" if passed else "over"
        return self.result(
            passed,
            f"{self.key} on {serving} {fmt(float(value))} ms is {verb} "
            f"the budget of {fmt(self.at_most)} ms",
            value,
            expected,
        )


@dataclass(frozen=True)
class SizeRule(Rule):
    """``package_size: {at_most: 50MB}``: the model package's size on disk."""

    at_most: int = 0

    kind: ClassVar[str] = "package_size"
    keys: ClassVar[tuple[str, ...]] = ("package_size",)

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> SizeRule:
        inner_path = path + ("package_size",)
        inner = problems.mapping(spec.get("package_size"), inner_path, " like {at_most: 50MB}")
        at_most = 0
        if inner is not None:
            problems.known_keys(inner, inner_path, ("at_most",), "package_size")
            if "at_most" not in inner:
                problems.add(inner_path, "needs at_most, e.g. {at_most: 50MB}")
            else:
                at_most = problems.size(inner["at_most"], inner_path + ("at_most",)) or 0
        return cls(**base, at_most=at_most)

    def describe(self) -> str:
        return f"package size at most {fmt_bytes(self.at_most)}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        size = (version.contract.get("package") or {}).get("size_bytes")
        expected = {"at_most": self.at_most}
        if isinstance(size, bool) or not isinstance(size, int | float):
            return self.result(False, "the contract records no package size", None, expected)
        passed = size <= self.at_most
        verb = "within" if passed else "over"
        return self.result(
            passed,
            f"package {fmt_bytes(size)} is {verb} the budget of {fmt_bytes(self.at_most)}",
            size,
            expected,
        )


@dataclass(frozen=True)
class FieldsRule(Rule):
    """``contract_fields: [owner, intended_use]``: present and non-empty (dotted paths
    such as ``code.git_commit`` reach inside)."""

    fields: tuple[str, ...] = ()

    kind: ClassVar[str] = "contract_fields"
    keys: ClassVar[tuple[str, ...]] = ("contract_fields",)

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> FieldsRule:
        names = (
            problems.texts(
                spec.get("contract_fields"),
                path + ("contract_fields",),
                hint=" (contract field names)",
            )
            or []
        )
        return cls(**base, fields=tuple(names))

    def describe(self) -> str:
        return f"contract fields present: {', '.join(self.fields)}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        missing = [name for name in self.fields if _empty(_dig(version.contract, name))]
        expected = list(self.fields)
        if missing:
            return self.result(
                False,
                f"contract fields missing or empty: {', '.join(missing)}",
                {"missing": missing},
                expected,
            )
        return self.result(
            True, f"contract has {', '.join(self.fields)}", {"missing": []}, expected
        )


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _empty(value: Any) -> bool:
    return value is None or (
        isinstance(value, str | list | dict)
        and not (value.strip() if isinstance(value, str) else value)
    )


DATA_KEYS = ("train_rows_at_least", "eval_rows_at_least", "eval_differs_from_train", "fresh")


@dataclass(frozen=True)
class DataRule(Rule):
    """``data: {train_rows_at_least, eval_rows_at_least, eval_differs_from_train, fresh}``
    on the datasets recorded in the contract (``fresh``: the training snapshot is at
    most this old, e.g. ``90d``)."""

    train_rows_at_least: int | None = None
    eval_rows_at_least: int | None = None
    eval_differs_from_train: bool | None = None
    fresh_seconds: float | None = None

    kind: ClassVar[str] = "data"
    keys: ClassVar[tuple[str, ...]] = ("data",)

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> DataRule:
        inner_path = path + ("data",)
        inner = (
            problems.mapping(spec.get("data"), inner_path, " like {train_rows_at_least: 1000}")
            or {}
        )
        problems.known_keys(inner, inner_path, DATA_KEYS, "data")
        if isinstance(spec.get("data"), dict) and not inner:
            problems.add(inner_path, f"needs at least one of {', '.join(DATA_KEYS)}")
        out: dict[str, Any] = {}
        for key in ("train_rows_at_least", "eval_rows_at_least"):
            if key in inner:
                out[key] = problems.integer(inner[key], inner_path + (key,))
        if "eval_differs_from_train" in inner:
            out["eval_differs_from_train"] = problems.boolean(
                inner["eval_differs_from_train"], inner_path + ("eval_differs_from_train",)
            )
        if "fresh" in inner:
            out["fresh_seconds"] = problems.duration(inner["fresh"], inner_path + ("fresh",))
        return cls(**base, **out)

    def describe(self) -> str:
        parts = []
        if self.train_rows_at_least is not None:
            parts.append(f"train rows >= {self.train_rows_at_least}")
        if self.eval_rows_at_least is not None:
            parts.append(f"eval rows >= {self.eval_rows_at_least}")
        if self.eval_differs_from_train:
            parts.append("eval data differs from train data")
        if self.fresh_seconds is not None:
            parts.append(f"train snapshot at most {fmt_duration(self.fresh_seconds)} old")
        return "data: " + ", ".join(parts)

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        datasets = version.contract.get("datasets") or {}
        train = datasets.get("train") or {}
        evaluation = datasets.get("eval") or {}
        failures: list[str] = []
        passes: list[str] = []
        observed: dict[str, Any] = {}
        for role, info, minimum in (
            ("train", train, self.train_rows_at_least),
            ("eval", evaluation, self.eval_rows_at_least),
        ):
            if minimum is None:
                continue
            rows = info.get("n_rows")
            observed[f"{role}_rows"] = rows
            if not isinstance(rows, int):
                failures.append(f"no {role} row count in the contract")
            elif rows < minimum:
                failures.append(f"{role} data has {rows} rows, fewer than {minimum}")
            else:
                passes.append(f"{role} rows {rows} >= {minimum}")
        if self.eval_differs_from_train:
            a, b = train.get("fingerprint"), evaluation.get("fingerprint")
            observed["train_fingerprint"], observed["eval_fingerprint"] = a, b
            if not a or not b:
                failures.append("the contract lacks a train or eval fingerprint")
            elif a == b:
                failures.append(f"eval data is the training data (fingerprint {str(a)[:12]})")
            else:
                passes.append("eval data differs from train data")
        if self.fresh_seconds is not None:
            taken = version.train_snapshot_at
            observed["train_snapshot_at"] = None if taken is None else taken.isoformat()
            limit = fmt_duration(self.fresh_seconds)
            if taken is None:
                failures.append(
                    "no stored training snapshot to date (the contract names no "
                    "train dataset name and version)"
                )
            else:
                age = (ctx.evidence.now - taken).total_seconds()
                observed["train_age_days"] = round(age / 86400, 3)
                day = taken.date().isoformat()
                if age > self.fresh_seconds:
                    failures.append(f"training snapshot of {day} is older than {limit}")
                else:
                    passes.append(f"training snapshot of {day} is within {limit}")
        expected = {
            k: v
            for k, v in (
                ("train_rows_at_least", self.train_rows_at_least),
                ("eval_rows_at_least", self.eval_rows_at_least),
                ("eval_differs_from_train", self.eval_differs_from_train),
                ("fresh", None if self.fresh_seconds is None else fmt_duration(self.fresh_seconds)),
            )
            if v is not None
        }
        if failures:
            return self.result(False, "; ".join(failures), observed, expected)
        return self.result(True, "; ".join(passes), observed, expected)


ALIAS = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_WHERE = re.compile(r"^\s*(==|!=|>=|<=|>|<|=|not in|in)\s*(.+?)\s*$", re.S)


@dataclass(frozen=True)
class SliceRule(Rule):
    """``slice: {column, metric, at_least/at_most}``: the metric recomputed on the eval
    data for every value of ``column`` (or, with ``where: "> 60"``, for the rows meeting
    the condition) must meet the threshold. Slices under ``min_rows`` rows are skipped."""

    column: str = ""
    metric: str = ""
    cls: str | None = None
    at_least: float | None = None
    at_most: float | None = None
    op: str | None = None
    operand: Any = None
    min_rows: int = 1

    kind: ClassVar[str] = "slice"
    keys: ClassVar[tuple[str, ...]] = ("slice",)
    inner_keys: ClassVar[tuple[str, ...]] = (
        "column",
        "metric",
        "class",
        "at_least",
        "at_most",
        "where",
        "min_rows",
    )

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> SliceRule:
        import yaml

        inner_path = path + ("slice",)
        inner = (
            problems.mapping(
                spec.get("slice"),
                inner_path,
                " like {column: region, metric: recall, at_least: 0.6}",
            )
            or {}
        )
        problems.known_keys(inner, inner_path, cls.inner_keys, "slice")
        column = metric = ""
        if isinstance(spec.get("slice"), dict):
            for key in ("column", "metric"):
                if key not in inner:
                    problems.add(inner_path, f"slice needs {key}")
            if "column" in inner:
                column = problems.text(inner["column"], inner_path + ("column",)) or ""
            if "metric" in inner:
                metric = problems.text(inner["metric"], inner_path + ("metric",)) or ""
        klass = (
            _class_key(inner["class"], inner_path + ("class",), problems)
            if "class" in inner
            else None
        )
        at_least, at_most = (
            _thresholds(inner, inner_path, problems)
            if isinstance(spec.get("slice"), dict)
            else (None, None)
        )
        op = operand = None
        if "where" in inner:
            where = inner["where"]
            match = _WHERE.match(where) if isinstance(where, str) else None
            if match is None:
                problems.add(
                    inner_path + ("where",),
                    'must be a condition such as "> 60", "== \'north\'" or '
                    f'"in [a, b]" (quote it in YAML), got {describe(where)}',
                )
            else:
                op = "==" if match.group(1) == "=" else match.group(1)
                try:
                    operand = yaml.safe_load(match.group(2))
                except yaml.YAMLError:
                    operand = match.group(2)
                if op in ("in", "not in") and not isinstance(operand, list):
                    problems.add(
                        inner_path + ("where",), f"'{op}' needs a list, e.g. \"in [north, south]\""
                    )
                elif op in (">", ">=", "<", "<=") and (
                    isinstance(operand, bool) or not isinstance(operand, int | float | str)
                ):
                    problems.add(inner_path + ("where",), f"'{op}' needs a number or a text")
        min_rows = 1
        if "min_rows" in inner:
            min_rows = (
                problems.integer(inner["min_rows"], inner_path + ("min_rows",), minimum=1) or 1
            )
        return cls(
            **base,
            column=column,
            metric=metric,
            cls=klass,
            at_least=at_least,
            at_most=at_most,
            op=op,
            operand=operand,
            min_rows=min_rows,
        )

    @property
    def where(self) -> str | None:
        return None if self.op is None else self.where_text

    @property
    def where_text(self) -> str:
        operand = self.operand
        if isinstance(operand, list):
            shown = "[" + ", ".join(map(str, operand)) + "]"
        else:
            shown = str(operand)
        return f"{self.op} {shown}"

    @property
    def key(self) -> str:
        """Identifies what is computed (shared by rules asking for the same slices)."""
        return "|".join([self.column, self.where or "*", self.metric, self.cls or ""])

    def where_mask(self, column: Any) -> Any:
        op, value = self.op, self.operand
        if op in ("in", "not in"):
            mask = column.isin(value)
            return ~mask if op == "not in" else mask
        return {
            "==": lambda: column == value,
            "!=": lambda: column != value,
            ">": lambda: column > value,
            ">=": lambda: column >= value,
            "<": lambda: column < value,
            "<=": lambda: column <= value,
        }[str(op)]().fillna(False)

    def describe(self) -> str:
        label = self.metric if self.cls is None else f"{self.metric}[class {self.cls}]"
        where = f"where {self.column} {self.where_text}" if self.op else f"for every {self.column}"
        return f"{label} {where} {_bounds_text(self.at_least, self.at_most)}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        expected = {"at_least": self.at_least, "at_most": self.at_most, "min_rows": self.min_rows}
        found = version.slices.get(self.key)
        if found is None:
            return self.result(False, "slice not computed (no evidence)", None, expected)
        if found.error is not None:
            return self.result(False, f"slice could not be computed: {found.error}", None, expected)
        observed = {g.value: {"metric": g.metric, "n_rows": g.n_rows} for g in found.groups}
        checked = [g for g in found.groups if g.n_rows >= self.min_rows]
        if not checked:
            return self.result(
                False, f"no slice of {self.column} has {self.min_rows}+ rows", observed, expected
            )
        failures, shown = [], []
        for group in checked:
            name = (
                f"{self.metric} where {group.value}"
                if self.op
                else f"{self.metric} for {self.column}={group.value}"
            )
            if group.metric is None:
                failures.append(f"{name} is undefined (n={group.n_rows})")
                continue
            passed, reason = _check_bounds(group.metric, self.at_least, self.at_most, name)
            (shown if passed else failures).append(f"{reason} (n={group.n_rows})")
        skipped = len(found.groups) - len(checked)
        note = f"; {skipped} slice(s) under {self.min_rows} rows skipped" if skipped else ""
        if failures:
            return self.result(False, "; ".join(failures) + note, observed, expected)
        return self.result(True, "; ".join(shown) + note, observed, expected)


@dataclass(frozen=True)
class ApprovalRule(Rule):
    """``approval: required`` (or ``{required: true, by: [ana, bo], count: 2}``): named
    people approve a version (``prodline govern approve``) before the alias moves to it."""

    by: tuple[str, ...] = ()
    count: int = 1

    kind: ClassVar[str] = "approval"
    keys: ClassVar[tuple[str, ...]] = ("approval",)

    @classmethod
    def parse(
        cls, spec: dict[str, Any], path: KeyPath, problems: Problems, base: dict[str, Any]
    ) -> ApprovalRule:
        value = spec.get("approval")
        inner_path = path + ("approval",)
        if value == "required" or value is True:
            return cls(**base)
        if not isinstance(value, dict):
            problems.add(
                inner_path,
                "must be 'required' or a mapping like {required: true, by: "
                f"[ana, bo], count: 1}}, got {describe(value)}",
            )
            return cls(**base)
        problems.known_keys(value, inner_path, ("required", "by", "count"), "approval")
        if value.get("required") is not True:
            problems.add(
                inner_path + ("required",), "must be true (remove the rule to not require approval)"
            )
        by: list[str] = []
        if "by" in value:
            by = problems.texts(value["by"], inner_path + ("by",), hint=" (approver names)") or []
        count = 1
        if "count" in value:
            count = problems.integer(value["count"], inner_path + ("count",), minimum=1) or 1
        return cls(**base, by=tuple(by), count=count)

    def describe(self) -> str:
        who = f" by {' or '.join(self.by)}" if self.by else ""
        many = f"{self.count} approvals" if self.count > 1 else "approval"
        return f"{many}{who} required"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        expected = {"count": self.count, "by": list(self.by) or None}
        if ctx.holder is not None and ctx.holder.version == version.version:
            return self.result(True, f"already holds {ctx.evidence.target_alias}", None, expected)
        valid = sorted({a.by for a in version.approvals if not self.by or a.by in self.by})
        observed = {"approved_by": valid}
        if len(valid) >= self.count:
            return self.result(True, f"approved by {', '.join(valid)}", observed, expected)
        have = f" (approved by {', '.join(valid)})" if valid else ""
        who = f" by {' or '.join(self.by)}" if self.by else ""
        need = "an approval" if self.count == 1 else f"{self.count} approvals"
        return self.result(
            False,
            f"needs {need}{who}{have}: prodline govern approve {ctx.evidence.model} "
            f"{version.version} --by NAME",
            observed,
            expected,
        )


# ------------------------------------------------------------------------- custom rules
CustomFn = Callable[..., Any]
_custom: dict[str, CustomFn] = {}
_custom_lock = threading.Lock()


def rule(name: str) -> Callable[[CustomFn], CustomFn]:
    """Register a custom rule under ``name`` for policies to use::

        @prodline.govern.rule("no_friday_deploys")
        def no_friday_deploys(version, evidence, **params):
            if evidence.now.weekday() == 4:
                return False, "no promotions on Fridays"
            return True

    The function gets the candidate's :class:`VersionEvidence`, the whole
    :class:`Evidence` and the rule's ``params`` from the policy, and returns ``True`` /
    ``False``, or ``(passed, reason)``. It must not read the store: everything it may
    look at is in the evidence, so decisions stay reproducible.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a custom rule needs a non-empty name")

    def register(fn: CustomFn) -> CustomFn:
        if not callable(fn):
            raise TypeError(f"@rule({name!r}) must decorate a function")
        with _custom_lock:
            _custom[name] = fn
        return fn

    return register


def registered_rules() -> dict[str, CustomFn]:
    """The custom rules registered in this process, by name."""
    with _custom_lock:
        return dict(_custom)


def import_rules_module(module: str, base_dir: Path | None) -> None:
    """Import ``module`` (a dotted name, or a ``.py`` path relative to the policy file)
    so its ``@rule`` decorators run. Looks in the policy's folder and the working
    directory too."""
    if module.endswith(".py"):
        file = Path(module)
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        if not file.is_file():
            raise ModuleNotFoundError(f"no file {file}")
        name = f"prodline_policy_rules_{abs(hash(str(file.resolve())))}"
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:  # pragma: no cover - .py files always load
            raise ModuleNotFoundError(f"cannot load {file}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return
    try:
        importlib.import_module(module)
        return
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # the module itself imports something missing
    extra = [str(p) for p in (base_dir, Path.cwd()) if p is not None]
    added = [p for p in extra if p not in sys.path]
    sys.path[:0] = added
    try:
        importlib.import_module(module)
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)


@dataclass(frozen=True)
class CustomRule(Rule):
    """``custom: {module: my_rules, rule: no_friday_deploys, params: {...}}``, or
    ``custom: no_friday_deploys`` for a rule registered by code already imported."""

    rule_name: str = ""
    module: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "custom"
    keys: ClassVar[tuple[str, ...]] = ("custom",)

    @classmethod
    def parse(
        cls,
        spec: dict[str, Any],
        path: KeyPath,
        problems: Problems,
        base: dict[str, Any],
        base_dir: Path | None = None,
    ) -> CustomRule:
        value = spec.get("custom")
        inner_path = path + ("custom",)
        module = None
        params: dict[str, Any] = {}
        name_path = inner_path
        if isinstance(value, str):
            name = problems.text(value, inner_path)
        elif isinstance(value, dict):
            problems.known_keys(value, inner_path, ("module", "rule", "params"), "custom")
            if "rule" not in value:
                problems.add(inner_path, "custom needs rule: the registered rule name")
            name_path = inner_path + ("rule",)
            name = problems.text(value.get("rule"), name_path) if "rule" in value else None
            if "module" in value:
                module = problems.text(value["module"], inner_path + ("module",))
            if "params" in value:
                params = problems.mapping(value["params"], inner_path + ("params",)) or {}
        else:
            problems.add(
                inner_path,
                "must be a rule name or {module: ..., rule: ..., params: "
                f"{{...}}}}, got {describe(value)}",
            )
            name = None
        if module is not None:
            try:
                import_rules_module(module, base_dir)
            except Exception as exc:
                problems.add(
                    inner_path + ("module",),
                    f"cannot import {module!r}: {type(exc).__name__}: {exc}",
                )
                name = None
        if name is not None and name not in registered_rules():
            known = list(registered_rules())
            where = f" after importing {module!r}" if module else ""
            hint = suggest(name, known) if known else " (no custom rules are registered)"
            problems.add(
                name_path,
                f"no custom rule {name!r} is registered{where}{hint}; "
                "register it with @prodline.govern.rule(NAME)",
            )
        return cls(**base, rule_name=name or "", module=module, params=params)

    def describe(self) -> str:
        return f"custom rule {self.rule_name}"

    def evaluate(self, version: VersionEvidence, ctx: RuleContext) -> RuleResult:
        fn = registered_rules().get(self.rule_name)
        if fn is None:
            return self.result(False, f"custom rule {self.rule_name!r} is not registered")
        try:
            verdict = fn(version, ctx.evidence, **self.params)
        except Exception as exc:
            return self.result(
                False, f"custom rule {self.rule_name} raised {type(exc).__name__}: {exc}"
            )
        if isinstance(verdict, RuleResult):
            return verdict
        reason = None
        if isinstance(verdict, tuple) and len(verdict) == 2:
            verdict, reason = verdict
        passed = bool(verdict)
        text = (
            str(reason)
            if reason
            else f"custom rule {self.rule_name} " + ("passes" if passed else "fails")
        )
        return self.result(passed, text, None, self.params or None)


RULE_TYPES: dict[str, type[Rule]] = {
    "compare_to": CompareRule,
    "metric": MetricRule,
    "latency": LatencyRule,
    "package_size": SizeRule,
    "contract_fields": FieldsRule,
    "data": DataRule,
    "slice": SliceRule,
    "approval": ApprovalRule,
    "custom": CustomRule,
}
COMMON_KEYS = ("name", "description")


def parse_rule(
    value: Any, path: KeyPath, problems: Problems, index: int, base_dir: Path | None
) -> Rule | None:
    """One entry of ``rules``: its type is the first of RULE_TYPES' keys it has."""
    spec = problems.mapping(value, path, " (one rule, e.g. {metric: f1, at_least: 0.8})")
    if spec is None:
        return None
    heads = [key for key in RULE_TYPES if key in spec]
    if not heads:
        problems.add(
            path,
            "is not a rule: it needs one of "
            f"{', '.join(RULE_TYPES)}" + (f"{_near(spec)}" if spec else ""),
        )
        return None
    kind = heads[0]
    if kind != "compare_to" and len(heads) > 1:
        problems.add(path, f"mixes rule types {', '.join(heads)}: write one rule each")
        return None
    rule_type = RULE_TYPES[kind]
    problems.known_keys(spec, path, (*rule_type.keys, *COMMON_KEYS), f"{kind} rule")
    name = None
    if "name" in spec:
        name = problems.text(spec["name"], path + ("name",))
    if "description" in spec:
        problems.text(spec["description"], path + ("description",))
    base = {"index": index, "line": problems.line(path), "name": name}
    if rule_type is CustomRule:
        return CustomRule.parse(spec, path, problems, base, base_dir)
    return rule_type.parse(spec, path, problems, base)  # type: ignore[attr-defined,no-any-return]


def _near(spec: dict[str, Any]) -> str:
    for key in spec:
        close = suggest(key, RULE_TYPES, known=False)
        if close:
            return f"; found {key!r}{close}"
    return f"; found keys: {', '.join(spec)}"
