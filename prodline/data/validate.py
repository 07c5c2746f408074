"""Validate a frame against a schema, listing every violation."""

from __future__ import annotations

import datetime as _dt
import decimal
import fractions
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prodline.data._values import distinct_json, json_scalar
from prodline.data.schema import ColumnSchema, Schema
from prodline.errors import InvalidValueError, SchemaValidationError

PROBLEMS = (
    "missing_column",
    "unexpected_column",
    "wrong_type",
    "null_not_allowed",
    "below_min",
    "above_max",
    "unknown_category",
)
MAX_ROWS = 20
MAX_EXAMPLES = 5

_NUMBER_TYPES = (int, float, np.integer, np.floating, decimal.Decimal, fractions.Fraction)
_BOOL_TYPES = (bool, np.bool_)
_DATETIME_TYPES = (_dt.datetime, _dt.date, np.datetime64)


@dataclass(frozen=True)
class Violation:
    """One problem in one column: ``count`` affected rows, the first ``rows`` (positional,
    at most 20), up to 5 distinct offending ``examples`` (JSON-safe) and what was
    ``expected`` (a short text). Column-level problems (missing or unexpected column)
    count every row and list none."""

    column: str
    problem: str
    count: int
    examples: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    expected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The violation as a JSON-safe dict."""
        return {
            "column": self.column,
            "problem": self.problem,
            "count": self.count,
            "examples": list(self.examples),
            "rows": list(self.rows),
            "expected": self.expected,
        }

    def __str__(self) -> str:
        text = f"column {self.column!r}: {self.problem}"
        if self.problem in ("missing_column", "unexpected_column"):
            return f"{text} ({self.expected})" if self.expected else text
        noun = "row" if self.count == 1 else "rows"
        text += f" in {self.count} {noun}"
        if self.rows:
            more = ", ..." if self.count > len(self.rows) else ""
            label = "row" if len(self.rows) == 1 and not more else "rows"
            text += f" ({label} {', '.join(map(str, self.rows))}{more})"
        if self.expected:
            text += f"; expected {self.expected}"
        if self.examples:
            text += f"; got {', '.join(repr(e) for e in self.examples)}"
        return text


@dataclass(frozen=True)
class ValidationReport:
    """Every violation found in a frame of ``n_rows`` rows; ``ok`` when there is none."""

    violations: list[Violation]
    n_rows: int

    @property
    def ok(self) -> bool:
        """True when the frame satisfies the schema."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-safe dict."""
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "violations": [v.to_dict() for v in self.violations],
        }

    def __str__(self) -> str:
        if self.ok:
            return f"the frame ({self.n_rows} rows) satisfies the schema"
        n = len(self.violations)
        head = f"the frame ({self.n_rows} rows) violates the schema: {n} problem{'s' * (n != 1)}"
        return "\n".join([head, *(f"  - {v}" for v in self.violations)])

    def raise_if_invalid(self) -> None:
        """Raise ``SchemaValidationError`` (with ``.report``) unless the frame is valid."""
        if not self.ok:
            raise SchemaValidationError(str(self), report=self)


def validate(
    df: pd.DataFrame, schema: Schema | dict[str, Any], *, allow_extra_columns: bool = True
) -> ValidationReport:
    """Check ``df`` against ``schema`` and report every violation: missing (and, unless
    ``allow_extra_columns``, unexpected) columns, values of the wrong type, missing values
    in non-nullable columns, values outside [min, max] and unknown categories."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(f"validate() needs a pandas DataFrame, not {type(df).__name__}")
    if isinstance(schema, dict):
        schema = Schema.from_dict(schema)
    if not isinstance(schema, Schema):
        raise InvalidValueError(f"validate() needs a Schema, not {type(schema).__name__}")
    names = [str(c) for c in df.columns]
    position = {name: i for i, name in enumerate(names)}
    if len(position) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidValueError(f"the frame names columns {dupes!r} more than once; rename them")
    n = len(df)
    violations: list[Violation] = []
    for col in schema.columns:
        if col.name not in position:
            violations.append(
                Violation(col.name, "missing_column", n, expected=f"a {col.kind} column")
            )
            continue
        violations.extend(check_column(col, df.iloc[:, position[col.name]]))
    if not allow_extra_columns:
        for name in names:
            if name not in schema:
                violations.append(
                    Violation(name, "unexpected_column", n, expected="not in the schema")
                )
    return ValidationReport(violations, n)


def check_column(col: ColumnSchema, s: pd.Series) -> list[Violation]:
    """Every violation of ``col`` in the values of ``s``."""
    null = np.asarray(s.isna(), dtype=bool)
    found: list[Violation | None] = []
    if not col.nullable:
        found.append(_violation(col.name, "null_not_allowed", null, None, "no missing values"))
    if col.kind in ("integer", "float"):
        bad, values = _numeric(s, null, integer=col.kind == "integer")
        found.append(_violation(col.name, "wrong_type", bad, s, _type_text(col.kind)))
        found.extend(_range(col, s, values, ~null & ~bad, _as_number))
    elif col.kind == "boolean":
        found.append(_violation(col.name, "wrong_type", _boolean(s, null), s, "boolean"))
    elif col.kind == "datetime":
        bad, values = _datetime(s, null, col)
        found.append(_violation(col.name, "wrong_type", bad, s, _type_text(col.kind, col)))
        if values is not None:
            found.extend(_range(col, s, values, ~null & ~bad, pd.Timestamp))
    elif col.kind == "categorical" and col.categories is not None:
        unknown = _unknown(s, null, col.categories)
        found.append(_violation(col.name, "unknown_category", unknown, s, _one_of(col.categories)))
    return [v for v in found if v is not None]


def _violation(
    column: str, problem: str, mask: np.ndarray, values: pd.Series | None, expected: str
) -> Violation | None:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return None
    examples = [] if values is None else distinct_json(values.iloc[rows], MAX_EXAMPLES)
    return Violation(
        column, problem, int(rows.size), examples, [int(r) for r in rows[:MAX_ROWS]], expected
    )


def _type_text(kind: str, col: ColumnSchema | None = None) -> str:
    if kind == "datetime" and col is not None:
        aware = _tz_aware(col)
        if aware is not None:
            return "a timezone-aware datetime" if aware else "a timezone-naive datetime"
    return {"integer": "an integer", "float": "a number", "datetime": "a datetime"}.get(kind, kind)


def _one_of(categories: list[Any]) -> str:
    shown = ", ".join(repr(c) for c in categories[:20])
    more = f", ... ({len(categories)} in all)" if len(categories) > 20 else ""
    return f"one of {shown}{more}"


# ---------------------------------------------------------------- numbers


def _numeric(s: pd.Series, null: np.ndarray, *, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """(wrong-type mask, values as a numeric array with NaN where missing or wrong)."""
    dtype = s.dtype
    n = len(s)
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(object)
        dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
    ):
        # booleans, strings, datetimes, ...: every present value is of the wrong type
        return ~null, np.full(n, np.nan)
    if not pd.api.types.is_object_dtype(dtype):
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            return np.zeros(n, dtype=bool), s.to_numpy()
        values = np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        if not integer:
            return np.zeros(n, dtype=bool), values
        with np.errstate(invalid="ignore"):
            bad = ~null & ~(np.isfinite(values) & (np.floor(values) == values))
        return bad, np.where(bad, np.nan, values)
    objects = s.to_numpy(dtype=object)
    bad = np.zeros(n, dtype=bool)
    values = np.full(n, np.nan)
    for i in np.flatnonzero(~null):
        v = objects[i]
        if isinstance(v, _BOOL_TYPES) or not isinstance(v, _NUMBER_TYPES):
            bad[i] = True
            continue
        try:
            f = float(v)
        except OverflowError:  # an int beyond the float range
            f = math.inf if v > 0 else -math.inf
        whole = isinstance(v, int | np.integer) or (math.isfinite(f) and f.is_integer())
        if integer and not whole:
            bad[i] = True
            continue
        values[i] = f
    return bad, values


def _as_number(bound: Any) -> float | int:
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        return bound
    return float(bound)


def _range(
    col: ColumnSchema, s: pd.Series, values: Any, valid: np.ndarray, convert: Any
) -> list[Violation | None]:
    out: list[Violation | None] = []
    for problem, bound, compare in (
        ("below_min", col.min, np.less),
        ("above_max", col.max, np.greater),
    ):
        if bound is None:
            continue
        try:
            limit = convert(bound)
        except (TypeError, ValueError) as e:
            raise InvalidValueError(
                f"column {col.name!r}: the schema's {problem[-3:]} {bound!r} is not usable "
                f"for a {col.kind} column; fix the schema"
            ) from e
        try:
            with np.errstate(invalid="ignore"):
                beyond = np.asarray(compare(values, limit), dtype=bool) & valid
        except TypeError:  # naive vs aware datetimes: already reported as wrong_type
            continue
        sign = ">=" if problem == "below_min" else "<="
        out.append(_violation(col.name, problem, beyond, s, f"{sign} {json_scalar(bound)!r}"))
    return out


# ---------------------------------------------------------------- booleans, datetimes


def _boolean(s: pd.Series, null: np.ndarray) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype):
        return np.zeros(len(s), dtype=bool)
    if not pd.api.types.is_object_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        return ~null
    objects = s.to_numpy(dtype=object)
    bad = np.zeros(len(s), dtype=bool)
    for i in np.flatnonzero(~null):
        bad[i] = not isinstance(objects[i], _BOOL_TYPES)
    return bad


def _tz_aware(col: ColumnSchema) -> bool | None:
    """Whether the schema's datetimes carry a time zone (None when it cannot tell)."""
    if col.dtype.startswith("datetime64["):
        return "," in col.dtype
    for bound in (col.min, col.max):
        if isinstance(bound, str):
            try:
                return pd.Timestamp(bound).tz is not None
            except ValueError:
                return None
    return None


def _datetime(
    s: pd.Series, null: np.ndarray, col: ColumnSchema
) -> tuple[np.ndarray, pd.Series | None]:
    """(wrong-type mask, the values as datetimes, or None when they cannot be compared)."""
    n = len(s)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        aware = _tz_aware(col)
        if aware is not None and aware != (getattr(s.dtype, "tz", None) is not None):
            return ~null, None
        return np.zeros(n, dtype=bool), s
    if not pd.api.types.is_object_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        return ~null, None
    objects = s.to_numpy(dtype=object)
    bad = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~null):
        bad[i] = not isinstance(objects[i], _DATETIME_TYPES)
    good = ~null & ~bad
    try:
        converted = pd.to_datetime(pd.Series(objects[good], dtype=object))
    except (ValueError, TypeError):  # mixed time zones: types are right, no range check
        return bad, None
    aware = _tz_aware(col)
    if (
        aware is not None
        and good.any()
        and aware != (getattr(converted.dtype, "tz", None) is not None)
    ):
        return ~null, None
    values = pd.Series(pd.NaT, index=range(n), dtype=converted.dtype)
    values.iloc[np.flatnonzero(good)] = converted.to_numpy()
    return bad, values


# ---------------------------------------------------------------- categories


def _unknown(s: pd.Series, null: np.ndarray, categories: list[Any]) -> np.ndarray:
    try:
        known = np.asarray(s.isin(categories), dtype=bool)
    except (TypeError, ValueError):
        known = np.zeros(len(s), dtype=bool)
    unknown = ~null & ~known
    if unknown.any() and not isinstance(s.dtype, pd.StringDtype):
        # a schema holds categories in JSON form (timestamps as ISO text, ...): compare
        # each distinct unknown value in that form too
        allowed = set(categories)
        offending = s[unknown]
        try:
            distinct = list(pd.unique(offending))
        except TypeError:  # unhashable values
            distinct = list(offending)
        rescued = [v for v in distinct if _hashable(v) and json_scalar(v) in allowed]
        if rescued:
            unknown &= ~np.asarray(s.isin(rescued), dtype=bool)
    return unknown


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
