"""Evidence: everything a governance decision may look at, read from the registry once.

:func:`gather` is the only part of governance that reads the store (and, for slice
rules, loads models and eval data). What it returns is a plain :class:`Evidence`
dataclass; :func:`prodline.govern.engine.decide` is a pure function of a policy and an
evidence, so a decision can be replayed, tested and explained without a database.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prodline.govern.policy import Policy
    from prodline.govern.rules import SliceRule
    from prodline.store.store import Store


@dataclass(frozen=True)
class Approval:
    """A named person's approval of a version (a registry event of kind ``approval``)."""

    by: str
    at: datetime
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "at": self.at.isoformat(), "comment": self.comment}


@dataclass(frozen=True)
class SliceGroup:
    """One slice of the eval data: its value (or condition), rows, and metric there."""

    value: str
    n_rows: int
    metric: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "n_rows": self.n_rows, "metric": self.metric}


@dataclass(frozen=True)
class SliceEvidence:
    """A metric recomputed on slices of a version's eval data; ``error`` when it could
    not be (no eval dataset, unknown column...)."""

    groups: tuple[SliceGroup, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"groups": [g.to_dict() for g in self.groups], "error": self.error}


@dataclass
class VersionEvidence:
    """What the registry knows about one version. ``contract`` lacks the bulky fields
    ``input_schema``, ``examples`` and ``dependencies`` unless the policy needs them
    (custom rules, slice rules, or ``contract_fields`` naming them)."""

    version: int
    id: str
    created_at: datetime
    run_id: str | None
    contract: dict[str, Any]
    aliases: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # label -> reason
    approvals: tuple[Approval, ...] = ()
    train_snapshot_at: datetime | None = None
    slices: dict[str, SliceEvidence] = field(default_factory=dict)  # SliceRule.key -> result

    @property
    def metrics(self) -> dict[str, Any]:
        value = self.contract.get("metrics")
        return value if isinstance(value, dict) else {}

    @cached_property
    def evidence_hash(self) -> str:
        """sha256 of what can justify promoting this version: its contract, its run and
        its approvals. A rolled-back version is promoted again only when this changes."""
        return version_evidence_hash(self.contract, self.run_id, self.approvals)

    def to_dict(self) -> dict[str, Any]:
        """A compact, JSON-safe summary (the audit trail keeps this, not whole contracts)."""
        c = self.contract
        metrics = {
            k: v for k, v in self.metrics.items() if isinstance(v, int | float) or k == "per_class"
        }
        datasets = {
            role: {k: v for k, v in (info or {}).items() if k in _DATASET_KEYS}
            for role, info in (c.get("datasets") or {}).items()
            if isinstance(info, dict)
        }
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "aliases": list(self.aliases),
            "labels": dict(sorted(self.labels.items())),
            "serving_path": c.get("serving_path"),
            "metrics": metrics,
            "latency": c.get("latency") or {},
            "package_size_bytes": (c.get("package") or {}).get("size_bytes"),
            "owner": c.get("owner"),
            "intended_use": c.get("intended_use"),
            "datasets": datasets,
            "train_snapshot_at": None
            if self.train_snapshot_at is None
            else self.train_snapshot_at.isoformat(),
            "approvals": [a.to_dict() for a in self.approvals],
            "slices": {k: s.to_dict() for k, s in sorted(self.slices.items())},
            "evidence_hash": self.evidence_hash,
        }


_DATASET_KEYS = ("name", "version", "fingerprint", "n_rows")


@dataclass
class Evidence:
    """Everything one decision looks at: every version of the model, which version holds
    each alias, and the time the evidence was read (``now``, used by time rules)."""

    model: str
    target_alias: str
    versions: dict[int, VersionEvidence]
    aliases: dict[str, int]
    now: datetime

    @property
    def holder(self) -> int | None:
        """The version holding the target alias now, if any."""
        return self.aliases.get(self.target_alias)

    def to_dict(self, versions: list[int] | None = None) -> dict[str, Any]:
        """JSON-safe; only ``versions`` (default: all) are described."""
        chosen = sorted(self.versions) if versions is None else sorted(set(versions))
        return {
            "model": self.model,
            "target_alias": self.target_alias,
            "aliases": dict(sorted(self.aliases.items())),
            "now": self.now.isoformat(),
            "versions": [self.versions[v].to_dict() for v in chosen if v in self.versions],
        }


def canonical_hash(value: Any) -> str:
    """sha256 of a JSON-like value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def version_evidence_hash(
    contract: dict[str, Any], run_id: str | None, approvals: tuple[Approval, ...]
) -> str:
    """sha256 of a version's contract (without the fields governance never reads), its
    run and its approvals."""
    from prodline.store.governance import BULKY_CONTRACT_FIELDS

    return canonical_hash(
        {
            "contract": {k: v for k, v in contract.items() if k not in BULKY_CONTRACT_FIELDS},
            "run_id": run_id,
            "approvals": sorted([a.by, a.at.isoformat()] for a in approvals),
        }
    )


# ------------------------------------------------------------------------------ gather
def gather(
    policy: Policy, model: str, *, store: Store | None = None, now: datetime | None = None
) -> Evidence:
    """Read the evidence ``policy`` needs about ``model`` from the registry."""
    from prodline import _context
    from prodline.govern.engine import select_candidates

    store = store or _context.store()
    records = store.governed_versions(model, full=policy.needs_full_contracts)
    approvals: dict[int, list[Approval]] = {}
    for event in store.registry_history(model, ["approval"]):
        if event.version is not None:
            approvals.setdefault(event.version, []).append(
                Approval(by=event.actor, at=event.created_at, comment=event.reason)
            )
    versions = {
        r.version: VersionEvidence(
            version=r.version,
            id=r.id,
            created_at=r.created_at,
            run_id=r.run_id,
            contract=r.contract if isinstance(r.contract, dict) else {},
            aliases=r.aliases,
            labels=r.labels,
            approvals=tuple(approvals.get(r.version, ())),
        )
        for r in records
    }
    aliases = {alias: r.version for r in records for alias in r.aliases}
    evidence = Evidence(
        model=model,
        target_alias=policy.target_alias,
        versions=versions,
        aliases=aliases,
        now=(now or datetime.now(UTC)),
    )
    if policy.needs_train_snapshot_time:
        keys = {}
        for v in versions.values():
            train = (v.contract.get("datasets") or {}).get("train") or {}
            name, number = train.get("name"), train.get("version")
            if isinstance(name, str) and isinstance(number, int):
                keys[v.version] = (name, number)
        times = store.dataset_times(keys.values())
        for number, key in keys.items():
            versions[number].train_snapshot_at = times.get(key)
    slice_rules = policy.slice_rules
    if slice_rules:
        scope = set(select_candidates(policy, evidence))
        if evidence.holder is not None:
            scope.add(evidence.holder)
        for number in sorted(scope):
            versions[number].slices = compute_slices(store, model, versions[number], slice_rules)
    return evidence


# ------------------------------------------------------------------------------ slices
_slice_cache: dict[tuple[str, str], SliceEvidence] = {}
_slice_lock = threading.Lock()
_SLICE_CACHE_SIZE = 10_000


def compute_slices(
    store: Store, model: str, version: VersionEvidence, rules: list[SliceRule]
) -> dict[str, SliceEvidence]:
    """Each slice rule's metric on this version's eval data (a version and its eval data
    never change, so results are cached per process)."""
    out: dict[str, SliceEvidence] = {}
    missing = []
    with _slice_lock:
        for rule in rules:
            cached = _slice_cache.get((version.id, rule.key))
            if cached is not None:
                out[rule.key] = cached
            else:
                missing.append(rule)
    if not missing:
        return out
    try:
        frame, y_true, y_pred, predict_proba = _eval_predictions(store, model, version)
    except Exception as exc:  # reported as the rule's evidence, never raised
        error = _error_text(exc)
        for rule in missing:
            out[rule.key] = SliceEvidence(error=error)
        return out  # not cached: the cause (a missing file...) may be fixed
    for rule in missing:
        try:
            result = _slice(rule, version, frame, y_true, y_pred, predict_proba)
        except Exception as exc:
            result = SliceEvidence(error=_error_text(exc))
        out[rule.key] = result
        with _slice_lock:
            if len(_slice_cache) >= _SLICE_CACHE_SIZE:
                _slice_cache.clear()
            _slice_cache[(version.id, rule.key)] = result
    return out


def _error_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _eval_predictions(store: Store, model: str, version: VersionEvidence) -> tuple[Any, ...]:
    from prodline import _context
    from prodline.data.dataset import Dataset
    from prodline.errors import NotFoundError
    from prodline.registry.api import load_model

    record = None
    if version.run_id is not None:
        for used in store.run_datasets([version.run_id])[version.run_id]:
            if used.role == "eval":
                record = store.get_dataset_by_id(used.dataset_id)
    if record is None:
        info = (version.contract.get("datasets") or {}).get("eval") or {}
        if isinstance(info.get("name"), str) and isinstance(info.get("version"), int):
            record = store.get_dataset(info["name"], info["version"])
    if record is None:
        raise NotFoundError(
            f"{model}/{version.version} has no eval dataset recorded (no dataset with role "
            "'eval' on its run, none named in its contract): slices need one"
        )
    frame = Dataset(record, _context.artifacts()).frame
    target = (version.contract.get("output_schema") or {}).get("target")
    if not target or target not in frame.columns:
        raise NotFoundError(
            f"the eval dataset {record.name} v{record.version} of {model}/{version.version} "
            f"lacks the target column {target!r}"
        )
    inputs = [c["name"] for c in (version.contract.get("input_schema") or {}).get("columns", [])]
    X = frame[inputs] if inputs else frame.drop(columns=[target])
    loaded = load_model(f"{model}/{version.version}", validate=False)
    y_pred = loaded.predict(X)
    proba: list[Any] = []

    def predict_proba() -> Any:
        if not proba:
            proba.append(loaded.predict_proba(X))
        return proba[0]

    return frame, frame[target].to_numpy(), y_pred, predict_proba


def _slice(
    rule: SliceRule,
    version: VersionEvidence,
    frame: Any,
    y_true: Any,
    y_pred: Any,
    predict_proba: Any,
) -> SliceEvidence:
    import numpy as np

    if rule.column not in frame.columns:
        raise ValueError(
            f"column {rule.column!r} is not in the eval data (columns: "
            f"{', '.join(map(str, frame.columns[:30]))})"
        )
    column = frame[rule.column]
    masks: list[tuple[str, Any]] = []
    if rule.where is not None:
        masks.append((f"{rule.column} {rule.where_text}", rule.where_mask(column)))
    else:
        null = column.isna().to_numpy()
        if null.any():
            masks.append(("null", null))
        for value in sorted(column.dropna().unique().tolist(), key=_sort_key):
            masks.append((_group_name(value), (column == value).to_numpy()))
    task = version.contract.get("task")
    groups = []
    for name, mask in masks:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        value = (
            None
            if n == 0
            else _metric(rule, task, version, y_true[mask], y_pred[mask], mask, predict_proba)
        )
        groups.append(SliceGroup(name, n, value))
    return SliceEvidence(groups=tuple(groups))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _group_name(value: Any) -> str:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metric(
    rule: SliceRule,
    task: Any,
    version: VersionEvidence,
    y_true: Any,
    y_pred: Any,
    mask: Any,
    predict_proba: Any,
) -> float | None:
    import numpy as np

    from prodline.contract._metrics import classification_metrics, regression_metrics

    if task == "classification":
        classes = np.asarray((version.contract.get("output_schema") or {}).get("classes") or [])
        proba = predict_proba()[mask] if rule.metric in ("roc_auc", "log_loss") else None
        out = classification_metrics(y_true, y_pred, proba, classes)
    elif task == "regression":
        out = regression_metrics(y_true, y_pred)
    else:
        raise ValueError(f"slice rules need a classifier or a regressor, not a {task} model")
    source = out
    if rule.cls is not None:
        source = (out.get("per_class") or {}).get(rule.cls)
        if source is None:
            raise ValueError(f"class {rule.cls!r} is not one of the model's classes")
    if rule.metric not in source:
        known = ", ".join(k for k, v in source.items() if isinstance(v, int | float))
        raise ValueError(f"metric {rule.metric!r} cannot be computed on a slice (known: {known})")
    value = source[rule.metric]
    return None if value is None else float(value)
