"""Validate plain Python rows against a schema without building a DataFrame (private).

A model server validates every request; most requests are one row of JSON. Building a
DataFrame for that costs far more than the check itself, so :class:`RecordValidator`
compiles each column of a :class:`~prodline.data.schema.Schema` once into a small
function that classifies one value, and runs those over dict rows or column lists.

It reports exactly what :func:`prodline.data.validate.validate` reports for the frame
``pd.DataFrame(records)``: the same problems, counts, rows, examples and expected texts,
in the same order (tests hold the two paths equal).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import fractions
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from prodline.data._values import distinct_json, json_scalar
from prodline.data.schema import ColumnSchema, Schema
from prodline.data.validate import (
    MAX_EXAMPLES,
    MAX_ROWS,
    ValidationReport,
    Violation,
    _one_of,
    _type_text,
    _tz_aware,
)
from prodline.errors import InvalidValueError

# what one value is, for one column
OK, NULL, WRONG, BELOW, ABOVE, UNKNOWN = range(6)
_PROBLEM = {
    NULL: "null_not_allowed",
    WRONG: "wrong_type",
    BELOW: "below_min",
    ABOVE: "above_max",
    UNKNOWN: "unknown_category",
}
_MISSING = object()
_NUMBER_TYPES = (int, float, np.integer, np.floating, decimal.Decimal, fractions.Fraction)
_BOOL_TYPES = (bool, np.bool_)
_DATETIME_TYPES = (_dt.datetime, _dt.date, np.datetime64)

Classifier = Callable[[Any], int]


def is_null(value: Any) -> bool:
    """True for what ``pandas.isna`` calls missing: None, NaN, NA, NaT."""
    if value is None:
        return True
    if type(value) is float:
        return value != value
    if isinstance(value, str | int | bool | list | tuple | dict):
        return False
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return result is True or (isinstance(result, np.bool_) and bool(result))


class _Column:
    """One schema column compiled: its classifier and the texts of its violations."""

    __slots__ = ("name", "kind", "nullable", "classify", "expected")

    def __init__(self, col: ColumnSchema) -> None:
        self.name = col.name
        self.kind = col.kind
        self.nullable = col.nullable
        self.expected: dict[int, str] = {NULL: "no missing values"}
        self.classify: Classifier
        if col.kind in ("integer", "float"):
            self.classify = _numeric_classifier(col, self.expected)
        elif col.kind == "boolean":
            self.expected[WRONG] = "boolean"
            self.classify = _boolean_classifier
        elif col.kind == "datetime":
            self.classify = _datetime_classifier(col, self.expected)
        elif col.kind == "categorical" and col.categories is not None:
            self.expected[UNKNOWN] = _one_of(col.categories)
            self.classify = _category_classifier(col.categories)
        else:  # string columns (and categorical ones without a category list): any value
            self.classify = _any_classifier


def _bound_text(col: ColumnSchema, code: int) -> str:
    bound = col.min if code == BELOW else col.max
    return f"{'>=' if code == BELOW else '<='} {json_scalar(bound)!r}"


def _as_limit(col: ColumnSchema, bound: Any, which: str, convert: Callable[[Any], Any]) -> Any:
    try:
        return convert(bound)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"column {col.name!r}: the schema's {which} {bound!r} is not usable "
            f"for a {col.kind} column; fix the schema"
        ) from e


def _number(bound: Any) -> float | int:
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        return bound
    return float(bound)


def _numeric_classifier(col: ColumnSchema, expected: dict[int, str]) -> Classifier:
    integer = col.kind == "integer"
    expected[WRONG] = _type_text(col.kind)
    lo = None if col.min is None else _as_limit(col, col.min, "min", _number)
    hi = None if col.max is None else _as_limit(col, col.max, "max", _number)
    if lo is not None:
        expected[BELOW] = _bound_text(col, BELOW)
    if hi is not None:
        expected[ABOVE] = _bound_text(col, ABOVE)

    def slow(v: Any) -> int:
        if is_null(v):
            return NULL
        if isinstance(v, _BOOL_TYPES) or not isinstance(v, _NUMBER_TYPES):
            return WRONG
        try:
            f = float(v)
        except OverflowError:
            f = math.inf if v > 0 else -math.inf
        if integer and not (
            isinstance(v, int | np.integer) or (math.isfinite(f) and f.is_integer())
        ):
            return WRONG
        return in_range(f)

    def in_range(x: float | int) -> int:
        if lo is not None and x < lo:
            return BELOW
        if hi is not None and x > hi:
            return ABOVE
        return OK

    def classify(v: Any) -> int:
        t = type(v)
        if t is float:
            if v != v:
                return NULL
            if integer and not v.is_integer():
                return WRONG
        elif t is not int:
            if v is None:
                return NULL
            return slow(v)
        if lo is not None and v < lo:
            return BELOW
        if hi is not None and v > hi:
            return ABOVE
        return OK

    return classify


def _boolean_classifier(v: Any) -> int:
    if v is True or v is False:
        return OK
    if v is None or is_null(v):
        return NULL
    return OK if isinstance(v, np.bool_) else WRONG


def _any_classifier(v: Any) -> int:
    if v is None:
        return NULL
    if type(v) is str:
        return OK
    return NULL if is_null(v) else OK


def _category_classifier(categories: list[Any]) -> Classifier:
    allowed = frozenset(c for c in categories if _hashable(c))

    def classify(v: Any) -> int:
        if type(v) is str:
            return OK if v in allowed else UNKNOWN
        if v is None or is_null(v):
            return NULL
        try:
            if v in allowed:
                return OK
        except TypeError:  # unhashable values (lists, dicts)
            return UNKNOWN
        # a schema holds categories in JSON form (timestamps as ISO text, ...)
        return OK if json_scalar(v) in allowed else UNKNOWN

    return classify


def _datetime_classifier(col: ColumnSchema, expected: dict[int, str]) -> Classifier:
    expected[WRONG] = _type_text(col.kind, col)
    aware = _tz_aware(col)
    lo = None if col.min is None else _as_limit(col, col.min, "min", pd.Timestamp)
    hi = None if col.max is None else _as_limit(col, col.max, "max", pd.Timestamp)
    if lo is not None:
        expected[BELOW] = _bound_text(col, BELOW)
    if hi is not None:
        expected[ABOVE] = _bound_text(col, ABOVE)

    def classify(v: Any) -> int:
        if v is None or is_null(v):
            return NULL
        if not isinstance(v, _DATETIME_TYPES):
            return WRONG
        ts = pd.Timestamp(v)
        if aware is not None and aware != (ts.tz is not None):
            return WRONG
        try:
            if lo is not None and ts < lo:
                return BELOW
            if hi is not None and ts > hi:
                return ABOVE
        except TypeError:  # naive vs aware bounds: no comparable range
            return OK
        return OK

    return classify


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class RecordValidator:
    """A schema compiled for fast checks of dict rows and column lists."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._columns = [_Column(c) for c in schema.columns]
        self._names = frozenset(schema.names)

    # ------------------------------------------------------------------ one row

    def validate_row(
        self, row: Mapping[str, Any], *, allow_extra_columns: bool = True
    ) -> ValidationReport:
        """Check one row given as ``{column: value}``."""
        if not isinstance(row, Mapping):
            raise InvalidValueError(
                f"a row must be a mapping of column name to value, not {type(row).__name__}"
            )
        violations: list[Violation] | None = None
        for col in self._columns:
            v = row.get(col.name, _MISSING)
            if v is _MISSING:
                code = -1
            else:
                code = col.classify(v)
                if code == OK or (code == NULL and col.nullable):
                    continue
            if violations is None:
                violations = []
            violations.append(self._one(col, code, v))
        if not allow_extra_columns:
            extra = [k for k in row if k not in self._names]
            if extra:
                violations = violations or []
                violations.extend(
                    Violation(str(k), "unexpected_column", 1, expected="not in the schema")
                    for k in extra
                )
        return ValidationReport(violations or [], 1)

    def _one(self, col: _Column, code: int, value: Any) -> Violation:
        if code == -1:
            return Violation(col.name, "missing_column", 1, expected=f"a {col.kind} column")
        examples = [] if code == NULL else _examples([value])
        return Violation(col.name, _PROBLEM[code], 1, examples, [0], col.expected[code])

    # ------------------------------------------------------------------ many rows

    def validate_records(
        self, records: Sequence[Mapping[str, Any]], *, allow_extra_columns: bool = True
    ) -> ValidationReport:
        """Check rows given as a list of ``{column: value}`` dicts. A column absent from
        some rows counts as missing values there; absent from every row, as a missing
        column (as in ``pd.DataFrame(records)``)."""
        if isinstance(records, Mapping):
            return self.validate_row(records, allow_extra_columns=allow_extra_columns)
        if not isinstance(records, Sequence) or isinstance(records, str | bytes):
            raise InvalidValueError(
                f"records must be a list of {{column: value}} dicts, not {type(records).__name__}"
            )
        for i, r in enumerate(records):
            if not isinstance(r, Mapping):
                raise InvalidValueError(
                    f"record {i} is a {type(r).__name__}, not a {{column: value}} dict"
                )
        if len(records) == 1:
            return self.validate_row(records[0], allow_extra_columns=allow_extra_columns)
        n = len(records)
        violations: list[Violation] = []
        for col in self._columns:
            if any(col.name in r for r in records):
                values = [r.get(col.name) for r in records]
                violations.extend(self._check(col, values))
            else:
                violations.append(
                    Violation(col.name, "missing_column", n, expected=f"a {col.kind} column")
                )
        if not allow_extra_columns:
            seen: dict[str, None] = {}
            for r in records:
                for k in r:
                    if k not in self._names:
                        seen.setdefault(str(k))
            violations.extend(
                Violation(k, "unexpected_column", n, expected="not in the schema") for k in seen
            )
        return ValidationReport(violations, n)

    def validate_columns(
        self, columns: Mapping[str, Sequence[Any]], *, allow_extra_columns: bool = True
    ) -> ValidationReport:
        """Check rows given column-wise, as ``{column: [value, ...]}`` (equal lengths)."""
        if not isinstance(columns, Mapping):
            raise InvalidValueError(
                f"columns must be a {{column: [values]}} mapping, not {type(columns).__name__}"
            )
        lengths = {k: _length(k, v) for k, v in columns.items()}
        distinct = set(lengths.values())
        if len(distinct) > 1:
            raise InvalidValueError(
                f"columns have different lengths {lengths}; give every column one value per row"
            )
        n = distinct.pop() if distinct else 0
        violations: list[Violation] = []
        for col in self._columns:
            if col.name in columns:
                violations.extend(self._check(col, columns[col.name]))
            else:
                violations.append(
                    Violation(col.name, "missing_column", n, expected=f"a {col.kind} column")
                )
        if not allow_extra_columns:
            violations.extend(
                Violation(str(k), "unexpected_column", n, expected="not in the schema")
                for k in columns
                if k not in self._names
            )
        return ValidationReport(violations, n)

    def _check(self, col: _Column, values: Sequence[Any]) -> list[Violation]:
        classify = col.classify
        found: dict[int, list[int]] | None = None
        for i, v in enumerate(values):
            code = classify(v)
            if code == OK or (code == NULL and col.nullable):
                continue
            if found is None:
                found = {}
            found.setdefault(code, []).append(i)
        if found is None:
            return []
        out = []
        for code in (NULL, WRONG, BELOW, ABOVE, UNKNOWN):
            rows = found.get(code)
            if not rows:
                continue
            examples = [] if code == NULL else _examples([values[i] for i in rows])
            out.append(
                Violation(
                    col.name,
                    _PROBLEM[code],
                    len(rows),
                    examples,
                    rows[:MAX_ROWS],
                    col.expected[code],
                )
            )
        return out


def _examples(values: list[Any]) -> list[Any]:
    if len(values) == 1:  # the common single-row case, without pandas
        v = values[0]
        j = json_scalar(v)
        if j is None and isinstance(v, float | np.floating) and not np.isnan(v):
            j = str(float(v))  # "inf", "-inf", as distinct_json shows them
        return [j]
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return distinct_json(array, MAX_EXAMPLES)


def _length(name: Any, values: Any) -> int:
    try:
        return len(values)
    except TypeError:
        raise InvalidValueError(
            f"column {name!r} must be a list of values, not {type(values).__name__}"
        ) from None
