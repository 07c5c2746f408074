"""Profiles: per-column statistics of a frame, exact, and the drift reference."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prodline.data._values import base_kind, json_scalar
from prodline.errors import InvalidValueError

#: the quantile levels of every numeric profile: 0.00, 0.01, ..., 1.00
QUANTILE_LEVELS: np.ndarray = np.arange(101) / 100
#: text columns with at most this many distinct values are "categorical" (as in schemas)
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Histogram:
    """``len(counts)`` equal-width bins; bin ``i`` holds ``edges[i] <= x < edges[i+1]``,
    the last bin also its right edge (as ``numpy.histogram``)."""

    edges: list[float]
    counts: list[int]

    def to_dict(self) -> dict[str, Any]:
        """The histogram as a JSON-safe dict."""
        return {"edges": list(self.edges), "counts": list(self.counts)}


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column. ``count`` is the number of non-missing values.

    Numeric (integer, float) columns: ``mean``, ``std`` (ddof=1), ``min``, ``max``,
    101 ``quantiles`` and a ``histogram``, all over the finite values (``n_infinite``
    counts the others). Text and boolean columns: ``n_unique``, ``frequencies`` (value ->
    count, most frequent first) and ``other_count`` (values outside the top). Datetime
    columns: ``min``/``max`` as ISO strings. Statistics without values are None.
    """

    name: str
    kind: str
    dtype: str
    count: int
    missing_rate: float
    mean: float | None = None
    std: float | None = None
    min: float | int | str | None = None
    max: float | int | str | None = None
    quantiles: list[float] | None = None
    histogram: Histogram | None = None
    n_infinite: int = 0
    n_unique: int | None = None
    frequencies: dict[Any, int] | None = None
    other_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The profile as a JSON-safe dict. ``frequencies`` becomes a list of
        ``[value, count]`` pairs, so values keep their JSON type."""
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "count": self.count,
            "missing_rate": self.missing_rate,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "quantiles": None if self.quantiles is None else list(self.quantiles),
            "histogram": None if self.histogram is None else self.histogram.to_dict(),
            "n_infinite": self.n_infinite,
            "n_unique": self.n_unique,
            "frequencies": (
                None if self.frequencies is None else [[k, v] for k, v in self.frequencies.items()]
            ),
            "other_count": self.other_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        """The column profile from ``to_dict()`` output."""
        try:
            hist = data.get("histogram")
            freqs = data.get("frequencies")
            return cls(
                name=str(data["name"]),
                kind=str(data["kind"]),
                dtype=str(data["dtype"]),
                count=int(data["count"]),
                missing_rate=float(data["missing_rate"]),
                mean=data.get("mean"),
                std=data.get("std"),
                min=data.get("min"),
                max=data.get("max"),
                quantiles=None if data.get("quantiles") is None else list(data["quantiles"]),
                histogram=None
                if hist is None
                else Histogram(list(hist["edges"]), list(hist["counts"])),
                n_infinite=int(data.get("n_infinite", 0)),
                n_unique=data.get("n_unique"),
                frequencies=None if freqs is None else {k: int(v) for k, v in freqs},
                other_count=data.get("other_count"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidValueError(f"not a column profile: {e}") from e


@dataclass(frozen=True)
class Profile:
    """The profiles of a frame's columns, in order, and its number of rows."""

    columns: list[ColumnProfile]
    n_rows: int
    _by_name: dict[str, ColumnProfile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in the profile; columns: {self.names}") from None

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """The profile as a JSON-safe dict."""
        return {"n_rows": self.n_rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """The profile from ``to_dict()`` output."""
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise InvalidValueError("not a profile: expected a dict with a 'columns' list")
        return cls(
            [ColumnProfile.from_dict(c) for c in data["columns"]], int(data.get("n_rows", 0))
        )


def profile(df: pd.DataFrame, *, bins: int = 20, top_categories: int = 100) -> Profile:
    """Profile every column of ``df``: numeric columns get moments, 101 quantiles and a
    ``bins``-bin histogram over [min, max]; text and boolean columns the counts of their
    ``top_categories`` most frequent values; datetime columns their range."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(f"profile() needs a pandas DataFrame, not {type(df).__name__}")
    if not isinstance(bins, int) or bins < 1:
        raise InvalidValueError(f"bins must be a positive integer, not {bins!r}")
    if not isinstance(top_categories, int) or top_categories < 0:
        raise InvalidValueError(f"top_categories must be an integer >= 0, not {top_categories!r}")
    columns = [
        profile_column(str(name), df.iloc[:, i], bins=bins, top_categories=top_categories)
        for i, name in enumerate(df.columns)
    ]
    return Profile(columns, len(df))


def profile_column(
    name: str, s: pd.Series, *, bins: int = 20, top_categories: int = 100
) -> ColumnProfile:
    """Profile one column (see ``profile``)."""
    kind = base_kind(s)
    if kind in ("integer", "float"):
        return _numeric(name, kind, s, bins)
    if kind == "datetime":
        return _datetime(name, s)
    return _frequencies(name, kind, s, top_categories)


def _missing_rate(n_missing: int, n: int) -> float:
    return n_missing / n if n else 0.0


# ---------------------------------------------------------------- numeric


def _numeric(name: str, kind: str, s: pd.Series, bins: int) -> ColumnProfile:
    x = _as_float(s)
    n = x.size
    finite = np.isfinite(x)
    n_missing = int(np.isnan(x).sum())
    values = x if finite.all() else x[finite]
    count = n - n_missing
    common = dict(
        name=name,
        kind=kind,
        dtype=str(s.dtype),
        count=count,
        missing_rate=_missing_rate(n_missing, n),
        n_infinite=count - values.size,
    )
    if values.size == 0:
        return ColumnProfile(**common)  # type: ignore[arg-type]
    ordered = np.sort(values)
    if kind == "integer" and not pd.api.types.is_object_dtype(s.dtype) and values.size == count:
        lo, hi = json_scalar(s.min()), json_scalar(s.max())  # exact, also beyond 2**53
    else:
        lo, hi = float(ordered[0]), float(ordered[-1])
    std = float(np.std(values, ddof=1)) if values.size > 1 else None
    return ColumnProfile(
        **common,  # type: ignore[arg-type]
        mean=json_scalar(np.mean(values)),
        std=json_scalar(std),
        min=lo,
        max=hi,
        quantiles=[float(q) for q in sorted_quantiles(ordered, QUANTILE_LEVELS)],
        histogram=sorted_histogram(ordered, bins),
    )


def _as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_object_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    if isinstance(s.dtype, np.dtype):
        return np.asarray(s.to_numpy(), dtype=np.float64)
    return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``numpy.quantile(ordered, levels)`` (method "linear"), bit for bit, for an already
    sorted, non-empty 1-D float array without NaN (no re-sort, no partition)."""
    n = ordered.size
    virtual = (n - 1) * levels
    prev = np.floor(virtual).astype(np.intp)
    nxt = prev + 1
    top = virtual >= n - 1
    prev[top] = n - 1
    nxt[top] = n - 1
    a = ordered[prev]
    b = ordered[nxt]
    gamma = virtual - np.floor(virtual)
    diff = b - a
    out = a + diff * gamma
    high = gamma >= 0.5
    out[high] = (b - diff * (1 - gamma))[high]
    return out


def sorted_histogram(ordered: np.ndarray, bins: int) -> Histogram:
    """``numpy.histogram(ordered, bins)`` for an already sorted, non-empty finite array:
    equal-width bins over [min, max] (a constant column gets [v - 0.5, v + 0.5]). Where
    numpy refuses (a range too narrow for ``bins`` distinct float edges) the edges repeat
    and the counts still add up to the number of values."""
    first, last = float(ordered[0]), float(ordered[-1])
    if first == last:
        first, last = first - 0.5, last + 0.5
    edges = np.linspace(first, last, bins + 1, endpoint=True)
    cuts = np.searchsorted(ordered, edges, side="left")
    cuts[-1] = np.searchsorted(ordered, edges[-1], side="right")
    counts = np.diff(cuts)
    return Histogram([float(e) for e in edges], [int(c) for c in counts])


# ---------------------------------------------------------------- datetime


def _datetime(name: str, s: pd.Series) -> ColumnProfile:
    n_missing = int(s.isna().sum())
    non_null = s.dropna()
    lo = hi = None
    if not non_null.empty:
        if pd.api.types.is_object_dtype(non_null.dtype):
            try:
                non_null = pd.Series(pd.to_datetime(list(non_null)))
            except (ValueError, TypeError):  # mixed time zones
                non_null = None
        if non_null is not None:
            lo, hi = json_scalar(non_null.min()), json_scalar(non_null.max())
    return ColumnProfile(
        name=name,
        kind="datetime",
        dtype=str(s.dtype),
        count=len(s) - n_missing,
        missing_rate=_missing_rate(n_missing, len(s)),
        min=lo,
        max=hi,
    )


# ---------------------------------------------------------------- text, boolean


def _frequencies(name: str, kind: str, s: pd.Series, top: int) -> ColumnProfile:
    n_missing = int(s.isna().sum())
    count = len(s) - n_missing
    try:
        counts = s.value_counts(dropna=True, sort=False)
    except TypeError:  # unhashable values (lists, dicts): count their text
        counts = s.dropna().map(str).value_counts(sort=False)
    counts = counts[counts.to_numpy() > 0]  # unobserved categories of a category dtype
    n_unique = len(counts)
    if kind == "text":
        if isinstance(s.dtype, pd.CategoricalDtype):
            kind = "categorical" if len(s.dtype.categories) <= MAX_CATEGORIES else "string"
        else:
            kind = "categorical" if n_unique <= MAX_CATEGORIES else "string"
    # most frequent first; ties keep the order of first appearance (stable sort)
    order = np.argsort(-counts.to_numpy(), kind="stable")[:top]
    freqs: dict[Any, int] = {}
    for value, c in zip(counts.index[order], counts.to_numpy()[order], strict=True):
        key = json_scalar(value)
        freqs[key] = freqs.get(key, 0) + int(c)
    return ColumnProfile(
        name=name,
        kind=kind,
        dtype=str(s.dtype),
        count=count,
        missing_rate=_missing_rate(n_missing, len(s)),
        n_unique=n_unique,
        frequencies=freqs,
        other_count=count - sum(freqs.values()),
    )
