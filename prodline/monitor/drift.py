"""Data drift between a reference and a current sample: per column, per dataset.

``compare(reference, current)`` works on any two DataFrames (or Parquet/CSV paths), or
on a reference :class:`~prodline.data.profile.Profile` (the summary prodline stores
with every dataset snapshot) and a current DataFrame. Each numeric column is sorted
once per side and every statistic comes from the sorted arrays; each categorical column
is counted once per side. See ``docs/monitoring.md`` for the statistics and defaults.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prodline.data._values import base_kind, json_scalar
from prodline.data.profile import ColumnProfile, Profile, sorted_quantiles
from prodline.errors import InvalidValueError
from prodline.monitor import stats
from prodline.monitor.thresholds import Thresholds

if TYPE_CHECKING:
    from prodline.data.dataset import Dataset

#: categories of a raw reference column beyond the most frequent ones are pooled
MAX_CATEGORIES = 1000
#: a categorical column whose reference puts more than this share outside its listed
#: categories (identifiers, free text) is not compared
MAX_OTHER_SHARE = 0.5
#: bins of the numeric distribution plots
PLOT_BINS = 30
#: categories shown in the categorical plots
PLOT_CATEGORIES = 12
#: new categories listed by name in a column's result
LISTED_NEW = 10

NUMERIC, CATEGORICAL = "numeric", "categorical"
ReferenceLike = pd.DataFrame | Profile | str | os.PathLike[str] | Mapping[str, Any]


# ============================================================================ results


@dataclass
class ColumnDrift:
    """The drift of one column.

    ``statistics`` holds ``wasserstein`` (normalised), ``wasserstein_raw``, ``psi`` and,
    for small samples, ``ks_statistic``/``ks_p_value`` (numeric columns); or
    ``jensen_shannon``, ``psi`` and ``chi2_statistic``/``chi2_p_value`` (categorical).
    ``drifted`` is the verdict on the distribution, with ``reasons``. Missing-rate
    changes (``missing_changed``) and new categories (``new_categories_flag``) are
    reported apart from it. ``plot`` holds the two distributions on common bins.
    """

    name: str
    kind: str
    n_reference: int
    n_current: int
    missing_rate_reference: float
    missing_rate_current: float
    statistics: dict[str, float | None] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    drifted: bool = False
    reasons: list[str] = field(default_factory=list)
    small_sample: bool = False
    missing_changed: bool = False
    new_categories: dict[str, int] = field(default_factory=dict)
    new_category_share: float = 0.0
    new_categories_flag: bool = False
    weight: float = 1.0
    skipped: str | None = None
    scale: dict[str, Any] = field(default_factory=dict)
    plot: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """The headline distance: normalised Wasserstein (numeric) or Jensen-Shannon."""
        key = "wasserstein" if self.kind == NUMERIC else "jensen_shannon"
        return self.statistics.get(key)

    @property
    def score_name(self) -> str:
        return "wasserstein" if self.kind == NUMERIC else "jensen_shannon"

    def to_dict(self, *, plot: bool = True) -> dict[str, Any]:
        """JSON-safe (non-finite numbers as null)."""
        out = {
            "name": self.name,
            "kind": self.kind,
            "drifted": self.drifted,
            "reasons": list(self.reasons),
            "score": _finite(self.score),
            "score_name": self.score_name,
            "statistics": {k: _finite(v) for k, v in self.statistics.items()},
            "thresholds": dict(self.thresholds),
            "small_sample": self.small_sample,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_rate_reference": self.missing_rate_reference,
            "missing_rate_current": self.missing_rate_current,
            "missing_changed": self.missing_changed,
            "new_categories": dict(self.new_categories),
            "new_category_share": self.new_category_share,
            "new_categories_flag": self.new_categories_flag,
            "weight": self.weight,
            "skipped": self.skipped,
            "scale": dict(self.scale),
        }
        if plot:
            out["plot"] = self.plot
        return out


@dataclass
class DriftReport:
    """Drift of every compared column, and of the dataset as a whole.

    - ``columns``: the features (:class:`ColumnDrift`, in reference order);
    - ``prediction``: the model-output columns, judged the same way but not counted in
      the dataset's drift share;
    - ``drift_share``: the share of features that drift, weighted by importance when
      given; ``dataset_drift``: whether it reaches ``thresholds.drift_share``;
    - ``missing_columns``: reference columns absent from the current data;
    - ``n_reference``/``n_current``: rows on each side.
    """

    columns: list[ColumnDrift]
    prediction: list[ColumnDrift]
    thresholds: Thresholds
    n_reference: int
    n_current: int
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    reference_source: str = "data"

    def __getitem__(self, name: str) -> ColumnDrift:
        for col in (*self.columns, *self.prediction):
            if col.name == name:
                return col
        raise KeyError(f"no column {name!r} in the drift report; columns: {self.names}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def compared(self) -> list[ColumnDrift]:
        """The features that were compared (not skipped)."""
        return [c for c in self.columns if c.skipped is None]

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the features whose distribution drifted."""
        return [c.name for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        cols = self.compared
        total = sum(c.weight for c in cols)
        if total <= 0:
            return 0.0
        return float(sum(c.weight for c in cols if c.drifted) / total)

    @property
    def dataset_drift(self) -> bool:
        return bool(self.drifted_columns) and self.drift_share >= self.thresholds.drift_share

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.prediction)

    @property
    def missing_changed(self) -> list[str]:
        return [c.name for c in (*self.columns, *self.prediction) if c.missing_changed]

    @property
    def new_categories(self) -> dict[str, dict[str, int]]:
        return {c.name: c.new_categories for c in self.columns if c.new_categories_flag}

    def summary(self) -> str:
        """One line: how many features drift, which, and the share."""
        drifted = self.drifted_columns
        head = (
            f"{len(drifted)} of {len(self.compared)} features drifted "
            f"(share {self.drift_share:.2f}, threshold {self.thresholds.drift_share:.2f})"
        )
        if drifted:
            head += ": " + ", ".join(drifted)
        if self.prediction:
            head += "; prediction drift" if self.prediction_drift else "; predictions stable"
        return head

    def __repr__(self) -> str:
        return f"DriftReport({self.summary()})"

    def to_dict(self, *, plot: bool = True) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "prediction_drift": self.prediction_drift,
            "missing_changed": self.missing_changed,
            "new_categories": self.new_categories,
            "missing_columns": list(self.missing_columns),
            "extra_columns": list(self.extra_columns),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "reference_source": self.reference_source,
            "thresholds": self.thresholds.to_dict(),
            "columns": [c.to_dict(plot=plot) for c in self.columns],
            "prediction": [c.to_dict(plot=plot) for c in self.prediction],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per column: kind, score, PSI, drifted, missing rates, new categories."""
        rows = []
        for c in (*self.columns, *self.prediction):
            rows.append(
                {
                    "column": c.name,
                    "role": "prediction" if c in self.prediction else "feature",
                    "kind": c.kind,
                    "score_name": c.score_name,
                    "score": c.score,
                    "psi": c.statistics.get("psi"),
                    "p_value": c.statistics.get("ks_p_value", c.statistics.get("chi2_p_value")),
                    "drifted": c.drifted,
                    "missing_reference": c.missing_rate_reference,
                    "missing_current": c.missing_rate_current,
                    "new_category_share": c.new_category_share,
                    "skipped": c.skipped,
                }
            )
        return pd.DataFrame(rows)

    def write_html(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write a self-contained HTML report (inline SVG charts, no network)."""
        from prodline.monitor.report import write_compare_report

        return write_compare_report(self, path, title=title)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ============================================================================ sides


@dataclass
class NumericSide:
    """One side of a numeric column: its finite values sorted (None for a profile),
    101 quantiles, counts and standard deviation."""

    quantiles: np.ndarray | None
    n: int
    n_missing: int
    n_rows: int
    std: float | None
    ordered: np.ndarray | None = None

    @classmethod
    def from_values(cls, x: np.ndarray, n_missing: int | None = None) -> NumericSide:
        ordered = np.sort(x)  # NaN last, -inf first, +inf before NaN
        end = int(np.searchsorted(ordered, np.inf, side="left"))  # first +inf or NaN
        n_nan = int(ordered.size - np.searchsorted(ordered, np.nan, side="left"))
        start = int(np.searchsorted(ordered, -np.inf, side="right"))
        finite = ordered[start:end]
        std = float(np.std(finite, ddof=1)) if finite.size > 1 else None
        q = sorted_quantiles(finite, stats.LEVELS) if finite.size else None
        return cls(
            quantiles=q,
            n=int(finite.size),
            n_missing=n_nan if n_missing is None else n_missing,
            n_rows=int(x.size),
            std=std,
            ordered=finite,
        )

    @classmethod
    def from_profile(cls, col: ColumnProfile, n_rows: int) -> NumericSide:
        q = None if col.quantiles is None else np.asarray(col.quantiles, dtype=np.float64)
        n = max(int(col.count) - int(col.n_infinite or 0), 0)
        return cls(
            quantiles=q,
            n=n if q is not None else 0,
            n_missing=int(round(col.missing_rate * n_rows)),
            n_rows=n_rows,
            std=None if col.std is None else float(col.std),
        )

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n_rows if self.n_rows else 0.0

    def cdf_left(self, x: np.ndarray) -> np.ndarray:
        if self.ordered is not None:
            return stats.cdf_left_sorted(self.ordered, x)
        assert self.quantiles is not None
        return stats.cdf_left_quantiles(self.quantiles, x)


@dataclass
class CategoricalSide:
    """One side of a categorical column: counts by value (JSON scalars), the count of
    values not listed (``other``), and missing values."""

    counts: dict[Any, int]
    other: int
    n_missing: int
    n_rows: int

    @property
    def n(self) -> int:
        return sum(self.counts.values()) + self.other

    @property
    def missing_rate(self) -> float:
        return self.n_missing / self.n_rows if self.n_rows else 0.0

    @classmethod
    def from_series(cls, s: pd.Series, *, limit: int | None = MAX_CATEGORIES) -> CategoricalSide:
        try:
            vc = s.value_counts(dropna=False, sort=False)
        except TypeError:  # unhashable values: count their text
            vc = s.map(lambda v: v if v is None else str(v)).value_counts(dropna=False, sort=False)
        counts: dict[Any, int] = {}
        n_missing = 0
        for value, c in zip(vc.index, vc.to_numpy(), strict=True):
            key = json_scalar(value)
            if key is None:
                n_missing += int(c)
            elif c:
                counts[key] = counts.get(key, 0) + int(c)
        other = 0
        if limit is not None and len(counts) > limit:
            ranked = sorted(counts.items(), key=lambda kv: -kv[1])
            counts = dict(ranked[:limit])
            other = sum(c for _, c in ranked[limit:])
        return cls(counts=counts, other=other, n_missing=n_missing, n_rows=len(s))

    @classmethod
    def from_profile(cls, col: ColumnProfile, n_rows: int) -> CategoricalSide:
        return cls(
            counts={k: int(v) for k, v in (col.frequencies or {}).items()},
            other=int(col.other_count or 0),
            n_missing=int(round(col.missing_rate * n_rows)),
            n_rows=n_rows,
        )


# ============================================================================ compare


def compare(
    reference: ReferenceLike | Dataset,
    current: pd.DataFrame | str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    feature_importance: Mapping[str, float] | None = None,
    prediction: str | Sequence[str] | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference``, column by column.

    - ``reference``: a DataFrame, a Parquet/CSV/JSON path, a prodline ``Profile`` (or
      its ``to_dict()``), or a prodline ``Dataset`` (its stored profile is used).
    - ``current``: a DataFrame or a path.
    - ``columns``: the columns to compare (default: every column both sides have).
    - ``thresholds``: a :class:`Thresholds` or a mapping of the fields to change, with
      per-column overrides under ``columns``.
    - ``feature_importance``: ``{column: weight}``; the dataset's drift share then
      weighs each drifting feature by it (columns not named weigh 0).
    - ``prediction``: the column(s) holding the model's output: judged the same way,
      reported as prediction drift, not counted in the features' drift share.
    """
    limits = Thresholds.of(thresholds)
    ref_frame, ref_profile, source = _reference(reference)
    cur = _frame(current, "current")
    ref_names = ref_profile.names if ref_profile is not None else [str(c) for c in ref_frame]
    cur_names = [str(c) for c in cur.columns]
    predictions = [prediction] if isinstance(prediction, str) else list(prediction or [])
    if columns is None:
        wanted = [c for c in ref_names if c in cur_names or c in predictions]
    else:
        wanted = [str(c) for c in columns]
        unknown = [c for c in wanted if c not in ref_names]
        if unknown:
            raise InvalidValueError(
                f"column(s) {unknown} are not in the reference (it has {ref_names})"
            )
    for p in predictions:
        if p not in ref_names:
            raise InvalidValueError(
                f"prediction column {p!r} is not in the reference (it has {ref_names})"
            )
        if p not in wanted:
            wanted.append(p)
    missing = [c for c in wanted if c not in cur_names]
    extra = [c for c in cur_names if c not in ref_names]
    weights = _weights(feature_importance, wanted)

    def one(name: str) -> ColumnDrift:
        limit = limits.column(name)
        if ref_profile is not None:
            side = _profile_side(ref_profile[name], ref_profile.n_rows)
        else:
            side = _frame_side(ref_frame[name])
        if name in cur_names:
            cur_series = cur[name]
        else:  # absent: every value missing
            cur_series = pd.Series([None] * len(cur), dtype=object)
        result = compare_column(name, side, cur_series, limit)
        result.weight = weights.get(name, 1.0)
        return result

    results = _map(one, wanted)
    features = [r for r in results if r.name not in predictions]
    preds = [r for r in results if r.name in predictions]
    n_ref = ref_profile.n_rows if ref_profile is not None else len(ref_frame)
    return DriftReport(
        columns=features,
        prediction=preds,
        thresholds=limits,
        n_reference=int(n_ref),
        n_current=len(cur),
        missing_columns=[c for c in missing if c not in predictions],
        extra_columns=extra,
        reference_source=source,
    )


def _map(fn: Callable[[str], ColumnDrift], names: list[str]) -> list[ColumnDrift]:
    """Columns in parallel threads (NumPy's sorts and pandas' counting release the
    GIL), results in input order."""
    workers = min(len(names), os.cpu_count() or 1, 4)
    if workers <= 1:
        return [fn(n) for n in names]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prodline-drift") as pool:
        return list(pool.map(fn, names))


def _weights(importance: Mapping[str, float] | None, names: Iterable[str]) -> dict[str, float]:
    if importance is None:
        return {}
    if not isinstance(importance, Mapping):
        raise InvalidValueError(
            "feature_importance must map column names to weights, e.g. {'tenure': 0.4}"
        )
    out: dict[str, float] = {}
    for name in names:
        w = importance.get(name, 0.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0:
            raise InvalidValueError(
                f"feature_importance of {name!r} must be a number >= 0, not {w!r}"
            )
        out[name] = float(w)
    return out


def _reference(ref: Any) -> tuple[pd.DataFrame | None, Profile | None, str]:
    if isinstance(ref, Profile):
        return None, ref, "profile"
    if isinstance(ref, Mapping) and "columns" in ref:
        return None, Profile.from_dict(dict(ref)), "profile"
    if hasattr(ref, "profile") and hasattr(ref, "record"):  # a prodline Dataset
        return None, ref.profile, "profile"
    return _frame(ref, "reference"), None, "data"


def _frame(data: Any, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        if len(set(map(str, data.columns))) != data.shape[1]:
            raise InvalidValueError(f"the {what} frame names a column twice; rename it")
        if any(not isinstance(c, str) for c in data.columns):
            data = data.set_axis([str(c) for c in data.columns], axis=1)
        return data
    if isinstance(data, str | os.PathLike):
        from prodline.data.readers import read_source

        frame, _ = read_source(data)
        return _frame(frame, what)
    raise InvalidValueError(
        f"the {what} data must be a pandas DataFrame or a CSV/Parquet/JSON path, not "
        f"{type(data).__name__}"
    )


def _profile_side(col: ColumnProfile, n_rows: int) -> NumericSide | CategoricalSide | str:
    if col.kind in ("integer", "float"):
        return NumericSide.from_profile(col, n_rows)
    if col.kind == "datetime":
        return "datetime columns are not compared (time moves on by itself)"
    return CategoricalSide.from_profile(col, n_rows)


def _frame_side(s: pd.Series) -> NumericSide | CategoricalSide | str:
    kind = base_kind(s)
    if kind in ("integer", "float"):
        return NumericSide.from_values(_as_float(s))
    if kind == "datetime":
        return "datetime columns are not compared (time moves on by itself)"
    return CategoricalSide.from_series(s)


def _as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("float64")
    if isinstance(s.dtype, np.dtype):
        return np.asarray(s.to_numpy(), dtype=np.float64)
    return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


# ============================================================================ one column


def compare_column(
    name: str,
    reference: NumericSide | CategoricalSide | str,
    current: pd.Series,
    limit: Mapping[str, Any],
) -> ColumnDrift:
    """Compare one current column with a prepared reference side."""
    if isinstance(reference, str):
        return ColumnDrift(
            name,
            "skipped",
            0,
            int(current.notna().sum()),
            0.0,
            _missing(current),
            skipped=reference,
        )
    if isinstance(reference, NumericSide):
        out = _numeric(name, reference, NumericSide.from_values(_as_float(current)), limit)
    else:
        out = _categorical(name, reference, current, limit)
    delta = out.missing_rate_current - out.missing_rate_reference
    out.missing_changed = abs(delta) > limit["missing_rate"]
    if limit.get("ignore"):
        out.skipped = "ignored by a threshold override"
        out.drifted = False
        out.reasons = []
    return out


def _missing(s: pd.Series) -> float:
    return float(s.isna().mean()) if len(s) else 0.0


def _numeric(
    name: str, ref: NumericSide, cur: NumericSide, limit: Mapping[str, Any]
) -> ColumnDrift:
    out = ColumnDrift(
        name=name,
        kind=NUMERIC,
        n_reference=ref.n,
        n_current=cur.n,
        missing_rate_reference=ref.missing_rate,
        missing_rate_current=cur.missing_rate,
        thresholds={k: limit[k] for k in ("wasserstein", "psi", "p_value", "missing_rate")},
    )
    if ref.n == 0 or cur.n == 0 or ref.quantiles is None:
        side = "reference" if ref.n == 0 else "current data"
        out.skipped = f"no numeric values in the {side}"
        return out
    assert cur.ordered is not None and cur.quantiles is not None
    scale, scale_kind = stats.reference_scale(ref.quantiles, ref.std)
    if ref.ordered is not None:
        w_raw = stats.wasserstein_sorted(ref.ordered, cur.ordered)
    else:
        w_raw = stats.wasserstein_quantile_functions(ref.quantiles, cur.quantiles)
    w = w_raw / scale
    edges = stats.decile_edges(ref.quantiles)
    ref_bins = stats.bin_shares(ref.cdf_left(edges))
    cur_bins = stats.bin_shares(stats.cdf_left_sorted(cur.ordered, edges))
    psi = stats.psi(ref_bins, cur_bins)
    out.statistics = {"wasserstein": w, "wasserstein_raw": w_raw, "psi": psi}
    out.scale = {"value": scale, "kind": scale_kind}
    reasons = []
    if w > limit["wasserstein"]:
        reasons.append(f"wasserstein {w:.3g} > {limit['wasserstein']:g}")
    if psi > limit["psi"]:
        reasons.append(f"psi {psi:.3g} > {limit['psi']:g}")
    out.small_sample = min(ref.n, cur.n) < limit["small_sample"]
    if out.small_sample:
        if ref.ordered is not None:
            d, p = stats.ks_sorted(ref.ordered, cur.ordered)
        else:
            d, p = stats.ks_quantiles(ref.quantiles, ref.n, cur.ordered)
        out.statistics.update(ks_statistic=d, ks_p_value=p)
        if reasons and p >= limit["p_value"]:
            reasons = []  # over threshold, but within what sampling noise gives
        elif reasons:
            reasons.append(f"ks p {p:.2g} < {limit['p_value']:g}")
    out.drifted = bool(reasons)
    out.reasons = reasons
    out.plot = _numeric_plot(ref, cur)
    return out


def _numeric_plot(ref: NumericSide, cur: NumericSide) -> dict[str, Any]:
    assert ref.quantiles is not None and cur.quantiles is not None
    lo = float(min(ref.quantiles[1], cur.quantiles[1]))
    hi = float(max(ref.quantiles[99], cur.quantiles[99]))
    if not hi > lo:
        lo = float(min(ref.quantiles[0], cur.quantiles[0]))
        hi = float(max(ref.quantiles[100], cur.quantiles[100]))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.02
    edges = np.linspace(lo - pad, hi + pad, PLOT_BINS + 1)
    inner = edges[1:-1]  # the outer bins also hold what lies beyond the edges
    assert cur.ordered is not None
    ref_share = stats.bin_shares(ref.cdf_left(inner))
    cur_share = stats.bin_shares(stats.cdf_left_sorted(cur.ordered, inner))
    return {
        "type": "histogram",
        "edges": [float(e) for e in edges],
        "reference": [float(v) for v in ref_share],
        "current": [float(v) for v in cur_share],
    }


class _New:
    """The bin of values the reference never had."""

    def __repr__(self) -> str:
        return "<new>"


_OTHER, _NEW = "(other)", _New()


def _categorical(
    name: str, ref: CategoricalSide, current: pd.Series, limit: Mapping[str, Any]
) -> ColumnDrift:
    cur = CategoricalSide.from_series(current, limit=None)
    out = ColumnDrift(
        name=name,
        kind=CATEGORICAL,
        n_reference=ref.n,
        n_current=cur.n,
        missing_rate_reference=ref.missing_rate,
        missing_rate_current=cur.missing_rate,
        thresholds={
            k: limit[k]
            for k in ("jensen_shannon", "psi", "p_value", "missing_rate", "new_category_share")
        },
    )
    if ref.n == 0 or cur.n == 0:
        out.skipped = f"no values in the {'reference' if ref.n == 0 else 'current data'}"
        return out
    if ref.other > MAX_OTHER_SHARE * ref.n:
        out.skipped = (
            f"too many distinct values to compare as categories ({ref.other / ref.n:.0%} of "
            "the reference lies outside its most frequent values): an identifier or free text"
        )
        return out
    complete = ref.other == 0  # every reference value is listed: unseen ones are new
    keys = list(ref.counts)
    index = {k: i for i, k in enumerate(keys)}
    n_bins = len(keys) + 2  # + other + new
    ref_vec = np.zeros(n_bins)
    cur_vec = np.zeros(n_bins)
    ref_vec[: len(keys)] = [ref.counts[k] for k in keys]
    ref_vec[-2] = ref.other
    new: dict[Any, int] = {}
    for value, c in cur.counts.items():
        i = index.get(value)
        if i is not None:
            cur_vec[i] += c
        elif complete:
            cur_vec[-1] += c
            new[value] = c
        else:
            cur_vec[-2] += c
    keep = (ref_vec + cur_vec) > 0
    r, c = ref_vec[keep], cur_vec[keep]
    js = stats.js_distance(r, c)
    psi = stats.psi(r, c)
    out.statistics = {"jensen_shannon": js, "psi": psi}
    reasons = []
    if js > limit["jensen_shannon"]:
        reasons.append(f"jensen_shannon {js:.3g} > {limit['jensen_shannon']:g}")
    if psi > limit["psi"]:
        reasons.append(f"psi {psi:.3g} > {limit['psi']:g}")
    out.small_sample = min(ref.n, cur.n) < limit["small_sample"]
    if out.small_sample:
        chi2, _dof, p = stats.chi2_homogeneity(r, c)
        out.statistics.update(chi2_statistic=chi2, chi2_p_value=p)
        if reasons and p >= limit["p_value"]:
            reasons = []
        elif reasons:
            reasons.append(f"chi2 p {p:.2g} < {limit['p_value']:g}")
    out.drifted = bool(reasons)
    out.reasons = reasons
    n_new = int(sum(new.values()))
    out.new_category_share = n_new / cur.n if cur.n else 0.0
    ranked = sorted(new.items(), key=lambda kv: -kv[1])[:LISTED_NEW]
    out.new_categories = {_label(k): int(v) for k, v in ranked}
    out.new_categories_flag = out.new_category_share > limit["new_category_share"]
    out.plot = _categorical_plot(keys, ref_vec, cur_vec, ref.n, cur.n)
    return out


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _categorical_plot(
    keys: list[Any], ref_vec: np.ndarray, cur_vec: np.ndarray, n_ref: int, n_cur: int
) -> dict[str, Any]:
    ref_share = ref_vec / max(n_ref, 1)
    cur_share = cur_vec / max(n_cur, 1)
    listed = np.argsort(-np.maximum(ref_share[: len(keys)], cur_share[: len(keys)]), kind="stable")
    shown = sorted((int(i) for i in listed[:PLOT_CATEGORIES]), key=lambda i: -ref_share[i])
    labels = [_label(keys[i]) for i in shown]
    ref_out = [float(ref_share[i]) for i in shown]
    cur_out = [float(cur_share[i]) for i in shown]
    rest_ref = float(ref_share[: len(keys)].sum() - sum(ref_out) + ref_share[-2])
    rest_cur = float(cur_share[: len(keys)].sum() - sum(cur_out) + cur_share[-2])
    if rest_ref > 1e-12 or rest_cur > 1e-12:
        labels.append(_OTHER)
        ref_out.append(max(rest_ref, 0.0))
        cur_out.append(max(rest_cur, 0.0))
    if cur_share[-1] > 0:
        labels.append("(new)")
        ref_out.append(0.0)
        cur_out.append(float(cur_share[-1]))
    return {"type": "bars", "labels": labels, "reference": ref_out, "current": cur_out}
