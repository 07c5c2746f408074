"""Shared helpers: the kind of a column and JSON-safe scalars (private)."""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("integer", "float", "boolean", "categorical", "string", "datetime")

# infer_dtype results (object columns) that map to a non-text kind
_OBJECT_KINDS = {
    "integer": "integer",
    "floating": "float",
    "mixed-integer-float": "float",
    "decimal": "float",
    "boolean": "boolean",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
}


def base_kind(s: pd.Series) -> str:
    """The kind of ``s`` without the categorical/string split: one of ``integer``,
    ``float``, ``boolean``, ``datetime`` or ``text``."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "text"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype):
        return _OBJECT_KINDS.get(pd.api.types.infer_dtype(s, skipna=True), "text")
    return "text"


def json_scalar(value: Any) -> Any:
    """``value`` as a plain JSON scalar: numpy scalars become Python ones, missing values
    and non-finite floats become None, datetimes ISO strings, anything else ``str()``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Real | decimal.Decimal):  # Fraction, Decimal
        return json_scalar(float(value))
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        if value is pd.NaT:
            return None
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | _dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders JSON scalars of mixed types: booleans, numbers, then strings."""
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def distinct_json(values: np.ndarray | pd.Series, limit: int) -> list[Any]:
    """Up to ``limit`` distinct values of ``values``, JSON-safe, in order of appearance
    (infinities as the strings "inf" and "-inf")."""
    try:
        uniques: Any = pd.unique(values)
    except TypeError:  # unhashable values (lists, dicts)
        uniques = list(values)
    out: list[Any] = []
    seen: set[tuple[str, Any]] = set()
    for v in uniques:
        j = json_scalar(v)
        if j is None and isinstance(v, float | np.floating) and not np.isnan(v):
            j = str(float(v))  # "inf", "-inf": worth showing
        key = (type(j).__name__, j)
        if key not in seen:
            seen.add(key)
            out.append(j)
            if len(out) >= limit:
                break
    return out
