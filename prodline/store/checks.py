"""Checks applied to every value before it reaches the database."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from prodline.errors import InvalidValueError

MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 8_000
MAX_NAME_LENGTH = 250
_KEY = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
_valid_keys: set[str] = set()  # keys already checked: the metric hot path repeats them
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")


def check_key(key: Any, what: str) -> str:
    """A param, metric or tag key: letters, digits, ``_ - . / : space``; at most 250 chars."""
    if type(key) is str and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise InvalidValueError(f"{what} key must be a string, got {type(key).__name__}: {key!r}")
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidValueError(
            f"Invalid {what} key {key[:80]!r}: use 1-{MAX_KEY_LENGTH} characters from letters, "
            "digits, '_', '-', '.', '/', ':' and spaces."
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def check_name(name: Any, what: str) -> str:
    """An experiment, dataset or model name: starts alphanumeric; letters, digits, ``_ - .``."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > MAX_NAME_LENGTH
        or not _NAME.match(name)
    ):
        raise InvalidValueError(
            f"Invalid {what} name {str(name)[:80]!r}: use 1-{MAX_NAME_LENGTH} letters, digits, "
            "'_', '-' or '.', starting with a letter or digit (no spaces or slashes)."
        )
    return name


def check_text_value(value: Any, what: str, key: str) -> str:
    """Params and tags are stored as text; at most 8,000 characters."""
    if isinstance(value, bytes):
        raise InvalidValueError(f"{what} {key!r}: bytes are not allowed; decode to str first.")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidValueError(
            f"{what} {key!r} is {len(text):,} characters long; the limit is "
            f"{MAX_VALUE_LENGTH:,}. Log long text as an artifact instead."
        )
    return text


def check_metric_value(value: Any, key: str) -> float | None:
    """A real number. NaN is kept as ``None`` (NULL); infinities are kept as they are."""
    kind = type(value)
    if kind is float:
        return None if value != value else value
    if kind is int:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(
            f"Metric {key!r} must be a real number, "
            f"got {type(value).__name__}: {str(value)[:80]!r}."
        )
    number = float(value)
    return None if math.isnan(number) else number


def check_step(step: Any, key: str) -> int:
    """A step is an integer (numpy integers accepted)."""
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidValueError(
            f"Metric {key!r}: step must be an integer, got {type(step).__name__}: {step!r}."
        )
    return int(step)
