"""Windows of logged predictions: by time (``1d``, ``12h``, ``30m``, ``2w``) or by
row count (``5000rows``), and the ``--since`` values the CLI accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from prodline.errors import InvalidValueError

_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_ROWS = re.compile(r"^\s*(\d[\d_,]*)\s*(rows?|r)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """A window spec: ``kind`` is "time" (``size`` in ms) or "rows" (``size`` rows)."""

    kind: str
    size: int
    text: str

    @property
    def is_time(self) -> bool:
        return self.kind == "time"

    def __str__(self) -> str:
        return self.text


def parse_window(spec: str | Window) -> Window:
    """``"1d"``, ``"6h"``, ``"30m"``, ``"2w"`` or ``"5000rows"`` as a Window."""
    if isinstance(spec, Window):
        return spec
    if not isinstance(spec, str):
        raise InvalidValueError(f"a window is a string such as '1d' or '5000rows', not {spec!r}")
    rows = _ROWS.match(spec)
    if rows:
        n = int(rows.group(1).replace("_", "").replace(",", ""))
        if n < 1:
            raise InvalidValueError(f"window {spec!r}: a row window needs at least 1 row")
        return Window("rows", n, f"{n}rows")
    ms = duration_ms(spec, what="window")
    return Window("time", ms, spec.strip().lower())


def duration_ms(text: str, *, what: str = "duration") -> int:
    """``"90m"`` -> 5400000."""
    m = _DURATION.match(text or "")
    if not m:
        raise InvalidValueError(
            f"{what} {text!r} is not understood; use a number and a unit (s, m, h, d, w), "
            "e.g. '1d', '6h', '30m'"
            + (", or a row count such as '5000rows'" if what == "window" else "")
        )
    unit = m.group(2).lower()
    unit = "m" if unit == "min" else unit
    ms = int(float(m.group(1)) * _UNITS_MS[unit])
    if ms <= 0:
        raise InvalidValueError(f"{what} {text!r} must be longer than zero")
    return ms


def parse_since(value: str | int | float | datetime | None, now_ms: int) -> int | None:
    """``--since``: a duration back from now (``7d``), an ISO date or time (UTC unless
    it says otherwise), a datetime, or epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if _DURATION.match(text):
        return now_ms - duration_ms(text, what="since")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValueError(
            f"since {value!r} is not understood; use a duration back from now ('7d', '12h') "
            "or an ISO date or time ('2026-11-01', '2026-11-01T08:00:00Z')"
        ) from None
    return parse_since(dt, now_ms)


def now_ms() -> int:
    """The current time in epoch milliseconds (UTC)."""
    return int(datetime.now(UTC).timestamp() * 1000)


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as an ISO time in UTC."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
