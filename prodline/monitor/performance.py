"""Model performance from logged predictions and feedback labels, against the contract,
and champion/challenger comparisons with a confidence interval for the difference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prodline.contract._metrics import class_key
from prodline.monitor import stats
from prodline.monitor.logs import Batch
from prodline.monitor.reference import VersionReference

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse", "r2")
LOWER_IS_BETTER = frozenset({"mae", "rmse", "log_loss"})


@dataclass
class Performance:
    """Metrics on the labelled rows of a window, and the contract's eval metrics."""

    task: str
    n_rows: int
    n_labelled: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    contract: dict[str, float | None] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def deltas(self) -> dict[str, float]:
        """window - contract, for each metric both have."""
        out = {}
        for key, value in self.metrics.items():
            base = self.contract.get(key)
            if value is not None and base is not None:
                out[key] = value - base
        return out

    def drop(self, metric: str) -> float | None:
        """How much worse than the contract the window is (positive = worse)."""
        delta = self.deltas.get(metric)
        if delta is None:
            return None
        return delta if metric in LOWER_IS_BETTER else -delta

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "n_rows": self.n_rows,
            "n_labelled": self.n_labelled,
            "label_coverage": self.n_labelled / self.n_rows if self.n_rows else None,
            "metrics": _clean(self.metrics),
            "contract": _clean(self.contract),
            "deltas": _clean(self.deltas),
            "undefined": dict(self.undefined),
        }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def metric_names(task: str) -> tuple[str, ...]:
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def performance(batch: Batch, ref: VersionReference) -> Performance:
    """Metrics of ``ref``'s task on the labelled, successful rows of ``batch``."""
    names = metric_names(ref.task)
    contract = {k: _num(ref.contract.metrics.get(k)) for k in names}
    labelled = [
        i
        for i, (y, p, e) in enumerate(
            zip(batch.labels, batch.predictions, batch.errors, strict=True)
        )
        if y is not None and p is not None and not e
    ]
    out = Performance(ref.task, int((~batch.errors).sum()), len(labelled), contract=contract)
    if not labelled or ref.task == "clustering":
        return out
    if ref.task == "regression":
        y = _floats([batch.labels[i] for i in labelled])
        p = _floats([batch.predictions[i] for i in labelled])
        ok = np.isfinite(y) & np.isfinite(p)
        if not ok.any():
            return out
        from prodline.contract._metrics import regression_metrics

        m = regression_metrics(y[ok], p[ok])
    else:
        from prodline.contract._metrics import classification_metrics

        classes = ref.classes or sorted(
            {class_key(batch.labels[i]) for i in labelled}
            | {class_key(batch.predictions[i]) for i in labelled}
        )
        y = np.asarray([class_key(batch.labels[i]) for i in labelled], dtype=object)
        p = np.asarray([class_key(batch.predictions[i]) for i in labelled], dtype=object)
        proba = _proba_matrix([batch.probas[i] for i in labelled], classes)
        if len(classes) < 2:
            return out
        m = classification_metrics(y, p, proba, np.asarray(classes, dtype=object))
    out.metrics = {k: _num(m.get(k)) for k in names}
    out.undefined = dict(m.get("undefined") or {})
    return out


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _floats(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            out[i] = np.nan
    return out


def _proba_matrix(probas: list[dict[str, float] | None], classes: list[str]) -> np.ndarray | None:
    """Rows of class probabilities in ``classes`` order, when every row has them."""
    if not probas or any(p is None for p in probas):
        return None
    matrix = np.empty((len(probas), len(classes)))
    for r, p in enumerate(probas):
        assert p is not None
        for c, cls in enumerate(classes):
            value = p.get(cls, p.get(f"#{c}"))
            if value is None:
                if len(classes) == 2 and len(p) == 1:  # only the positive class logged
                    only = next(iter(p.values()))
                    value = only if c == 1 else 1 - only
                else:
                    return None
            matrix[r, c] = value
    return matrix


# ============================================================================ A/B


@dataclass
class ABTest:
    """Champion against challenger on the same window.

    ``difference`` is challenger - champion on ``metric`` with a ``confidence``
    interval [``low``, ``high``]: Newcombe's hybrid score interval for a difference of
    accuracies of independent traffic (A/B split, canary), the t interval of the
    per-request differences for paired traffic (shadow: both versions saw the same
    requests), and Welch's t interval for a difference of mean absolute errors.
    ``verdict`` says which version is better, or that the data cannot tell yet, and
    ``rows_needed`` how many labelled rows per version would settle a difference of
    the observed size (80% power).
    """

    metric: str
    champion: int
    challenger: int
    paired: bool
    n_champion: int
    n_challenger: int
    champion_value: float
    challenger_value: float
    difference: float
    low: float
    high: float
    confidence: float
    verdict: str
    winner: str | None
    rows_needed: int | None = None

    def summary(self) -> str:
        pct = f"{self.confidence:.0%}"
        text = (
            f"{self.metric}: challenger v{self.challenger} {self.challenger_value:.4g} vs "
            f"champion v{self.champion} {self.champion_value:.4g}, difference "
            f"{self.difference:+.4g} ({pct} CI {self.low:+.4g} to {self.high:+.4g}) - "
            f"{self.verdict}"
        )
        if self.winner is None and self.rows_needed:
            text += f"; about {self.rows_needed:,} labelled rows per version would settle it"
        return text

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["summary"] = self.summary()
        return _clean(out)


def ab_test(
    batch: Batch, champion: int, challenger: int, task: str, *, confidence: float = 0.95
) -> ABTest | None:
    """Compare the two versions on the labelled rows of ``batch`` (None without
    labelled rows on both sides)."""
    if task not in ("classification", "regression"):
        return None
    score = _scores(batch, task)
    ok = np.isfinite(score) & ~batch.errors
    a = ok & (batch.versions == champion)
    b = ok & (batch.versions == challenger)
    if not a.any() or not b.any():
        return None
    roles_b = set(batch.roles[b].tolist())
    paired = "shadow" in roles_b
    metric = "accuracy" if task == "classification" else "mae"
    if paired:
        ia, ib = _pairs(batch, a, b)
        if ia.size < 2:
            return None
        sa, sb = score[ia], score[ib]
        diff, low, high = stats.mean_difference(sa, sb, paired=True, confidence=confidence)
        n_a = n_b = int(ia.size)
    else:
        sa, sb = score[a], score[b]
        n_a, n_b = int(sa.size), int(sb.size)
        if task == "classification":
            diff, low, high = stats.newcombe_difference(
                int(sa.sum()), n_a, int(sb.sum()), n_b, confidence
            )
        else:
            diff, low, high = stats.mean_difference(sa, sb, paired=False, confidence=confidence)
    va, vb = float(sa.mean()), float(sb.mean())
    better_high = metric not in LOWER_IS_BETTER  # for accuracy a positive difference is good
    if low > 0:
        winner = "challenger" if better_high else "champion"
    elif high < 0:
        winner = "champion" if better_high else "challenger"
    else:
        winner = None
    verdict = {
        "challenger": "the challenger is better",
        "champion": "the champion is better",
        None: "no significant difference yet",
    }[winner]
    needed = None
    if winner is None and diff != 0 and math.isfinite(high - low):
        if task == "classification" and not paired:
            needed = stats.rows_to_detect(va, vb, confidence)
        else:  # the interval shrinks as 1/sqrt(n)
            se = (high - low) / (2 * stats.z_value(confidence))
            z = stats.z_value(confidence) + stats.z_value(0.6)  # 80% power
            needed = int(math.ceil(min(n_a, n_b) * (z * se / abs(diff)) ** 2))
    return ABTest(
        metric=metric,
        champion=int(champion),
        challenger=int(challenger),
        paired=paired,
        n_champion=n_a,
        n_challenger=n_b,
        champion_value=va,
        challenger_value=vb,
        difference=float(diff),
        low=float(low),
        high=float(high),
        confidence=confidence,
        verdict=verdict,
        winner=winner,
        rows_needed=needed,
    )


def _scores(batch: Batch, task: str) -> np.ndarray:
    """Per row: 1/0 correct (classification) or the absolute error (regression)."""
    out = np.full(len(batch), np.nan)
    for i, (y, p) in enumerate(zip(batch.labels, batch.predictions, strict=True)):
        if y is None or p is None:
            continue
        if task == "classification":
            out[i] = float(class_key(y) == class_key(p))
        else:
            try:
                out[i] = abs(float(y) - float(p))
            except (TypeError, ValueError):
                pass
    return out


def _pairs(batch: Batch, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of champion and challenger rows answering the same single-row
    request."""
    ids, counts = np.unique(batch.ids, return_counts=True)
    single = set(ids[counts == 1].tolist())
    first_a: dict[str, int] = {}
    for i in np.flatnonzero(a):
        if int(batch.ids[i]) in single:
            first_a.setdefault(batch.request_ids[i], int(i))
    ia, ib = [], []
    for i in np.flatnonzero(b):
        j = first_a.get(batch.request_ids[i])
        if j is not None and int(batch.ids[i]) in single:
            ia.append(j)
            ib.append(int(i))
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
