"""Check a batch of ``(key, value, step)`` metric points, a column at a time.

A large batch of the usual kind (string keys, float values, int steps) is checked in
passes that run in C over whole columns, with each distinct key checked once. Small
batches, and columns of other types, go point by point through
:mod:`prodline.store.checks`, which converts numpy numbers and raises the precise error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from prodline.errors import InvalidValueError
from prodline.store.checks import check_key, check_metric_value, check_step

Columns = tuple[tuple[str, ...], tuple[float | None, ...], tuple[int, ...]]


def point_columns(points: Iterable[Any]) -> Columns:
    """``(keys, values, steps)`` of valid points. NaN becomes ``None`` (stored as NULL)."""
    batch = points if isinstance(points, list | tuple) else list(points)
    if len(batch) < _COLUMN_PASSES_FROM:
        return _point_by_point(batch)
    try:
        well_formed = set(map(len, batch)) == {3}
    except TypeError:
        well_formed = False
    if not well_formed:
        return _point_by_point(batch)  # raises, naming the malformed point
    keys, values, steps = zip(*batch, strict=True)
    try:
        distinct = set(keys)
    except TypeError:  # an unhashable key: let the point-by-point check name it
        distinct = keys
    for key in distinct:
        check_key(key, "metric")
    if set(map(type, values)) == {float}:
        if any(map(math.isnan, values)):
            values = tuple(None if value != value else value for value in values)
    else:
        values = tuple(map(check_metric_value, values, keys))
    if set(map(type, steps)) != {int}:
        steps = tuple(map(check_step, steps, keys))
    return keys, values, steps


_COLUMN_PASSES_FROM = 16  # smaller batches (a log_metric call) are faster point by point


def _point_by_point(batch: list[Any] | tuple[Any, ...]) -> Columns:
    keys: list[str] = []
    values: list[float | None] = []
    steps: list[int] = []
    for position, point in enumerate(batch):
        if not isinstance(point, list | tuple) or len(point) != 3:
            raise InvalidValueError(
                f"Metric point {position} is {str(point)[:80]!r}; points are "
                "(key, value, step) tuples, e.g. ('loss', 0.25, 3)."
            )
        key, value, step = point
        keys.append(check_key(key, "metric"))
        values.append(check_metric_value(value, key))
        steps.append(check_step(step, key))
    return tuple(keys), tuple(values), tuple(steps)
