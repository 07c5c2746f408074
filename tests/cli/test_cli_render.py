"""The shared formatting helpers and the JSON writer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from prodline.cli import render


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, ""),
        (0.0712, "0.07s"),
        (12.34, "12.3s"),
        (65, "1m 05s"),
        (3600 + 120, "1h 02m"),
        (3 * 86400 + 4 * 3600, "3d 04h"),
    ],
)
def test_fmt_duration(seconds: float | None, shown: str) -> None:
    assert render.fmt_duration(seconds) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"), (None, "")],
)
def test_fmt_size(size: int | None, shown: str) -> None:
    assert render.fmt_size(size) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.123456789, "0.123457"),
        (1.0, "1"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (True, "true"),
        (7, "7"),
        ("text", "text"),
        (None, "-"),
    ],
)
def test_fmt_number(value: object, shown: str) -> None:
    assert render.fmt_number(value) == shown


def test_fmt_time_is_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert render.fmt_time(datetime(2026, 11, 22, 10, 30, 5, tzinfo=paris)) == "2026-11-22 09:30:05"
    assert render.fmt_time(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02 00:00:00"
    assert render.fmt_time(None) == ""


def test_fmt_list_caps_long_lists() -> None:
    assert render.fmt_list(["a", "b"]) == "a, b"
    assert render.fmt_list(list(range(10)), limit=3) == "0, 1, 2, ... (+7 more)"
    assert render.fmt_list(None) == "-"


def test_emit_json_writes_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    render.emit_json({"a": [1.5, float("nan"), float("inf")], "b": {"c": float("-inf")}})
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out
    assert json.loads(out) == {"a": [1.5, None, None], "b": {"c": None}}
