"""Small charts as inline SVG text: no plotting library, nothing fetched when viewed.

Every chart is an ``<svg class="chart">`` with a ``viewBox`` (it scales with the page),
a ``<title>`` per mark (the browser shows it on hover) and a legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

REFERENCE = "#4c78a8"
CURRENT = "#f58518"
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#eeca3b",
)
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    a = abs(value)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{value:.2e}"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


class _Frame:
    def __init__(
        self,
        x0: float,
        x1: float,
        y0: float,
        y1: float,
        title: str,
        width: int = WIDTH,
        height: int = HEIGHT,
    ) -> None:
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1
        self.width, self.height = width, height
        self.parts: list[str] = []
        self.title = title

    def x(self, v: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return LEFT + (v - self.x0) / span * (self.width - LEFT - RIGHT)

    def y(self, v: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.height - BOTTOM - (v - self.y0) / span * (self.height - TOP - BOTTOM)

    def axes(self, y_ticks: Sequence[float], y_fmt, x_ticks: Sequence[tuple[float, str]]) -> None:
        bottom = self.height - BOTTOM
        for t in y_ticks:
            yy = self.y(t)
            self.parts.append(
                f'<line class="grid" x1="{LEFT}" x2="{self.width - RIGHT}" y1="{yy:.1f}" '
                f'y2="{yy:.1f}" stroke="#e5e5e5"/>'
                f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="#555">{escape(y_fmt(t))}</text>'
            )
        for v, label in x_ticks:
            xx = self.x(v)
            self.parts.append(
                f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                f'stroke="#888"/><text x="{xx:.1f}" y="{bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="#555">{escape(label)}</text>'
            )
        self.parts.append(
            f'<line x1="{LEFT}" x2="{self.width - RIGHT}" y1="{bottom}" y2="{bottom}" '
            f'stroke="#888"/>'
        )

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        x = LEFT
        for label, color in items:
            self.parts.append(
                f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
                f'<text x="{x + 14}" y="17" font-size="11" fill="#333">{escape(label)}</text>'
            )
            x += 22 + 7 * len(label)

    def svg(self, kind: str) -> str:
        return (
            f'<svg class="chart chart-{kind}" role="img" viewBox="0 0 {self.width} '
            f'{self.height}" width="100%" style="max-width:{self.width * 1.5:.0f}px" '
            f'preserveAspectRatio="xMidYMid meet" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(self.title)}</title>'
            + "".join(self.parts)
            + "</svg>"
        )


def histogram(
    edges: Sequence[float], reference: Sequence[float], current: Sequence[float], title: str
) -> str:
    """Reference and current shares on the same bins, side by side."""
    top = max([*reference, *current, 1e-9]) * 1.1
    f = _Frame(edges[0], edges[-1], 0.0, top, title)
    f.axes(nice_ticks(0, top, 4), _pct, [(t, _fmt(t)) for t in nice_ticks(edges[0], edges[-1], 6)])
    for i in range(len(edges) - 1):
        a, b = f.x(edges[i]), f.x(edges[i + 1])
        w = max((b - a) / 2 - 0.5, 0.5)
        for j, (share, color, name) in enumerate(
            ((reference[i], REFERENCE, "reference"), (current[i], CURRENT, "current"))
        ):
            y = f.y(share)
            h = max(f.y(0) - y, 0.0)
            f.parts.append(
                f'<rect class="bar {name}" x="{a + j * w + 0.5:.1f}" y="{y:.1f}" '
                f'width="{w:.1f}" height="{h:.1f}" fill="{color}" fill-opacity="0.85">'
                f"<title>{name} {_fmt(edges[i])} to {_fmt(edges[i + 1])}: {_pct(share)}</title>"
                f"</rect>"
            )
    f.legend([("reference", REFERENCE), ("current", CURRENT)])
    return f.svg("histogram")


def bars(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float], title: str
) -> str:
    """Grouped bars: the share of each category in reference and current."""
    n = max(len(labels), 1)
    top = max([*reference, *current, 1e-9]) * 1.1
    f = _Frame(0, n, 0.0, top, title)
    short = [lab if len(lab) <= 14 else lab[:13] + "…" for lab in labels]
    f.axes(nice_ticks(0, top, 4), _pct, [(i + 0.5, s) for i, s in enumerate(short)])
    for i, label in enumerate(labels):
        a, b = f.x(i), f.x(i + 1)
        w = (b - a) * 0.4
        for j, (share, color, name) in enumerate(
            ((reference[i], REFERENCE, "reference"), (current[i], CURRENT, "current"))
        ):
            y = f.y(share)
            h = max(f.y(0) - y, 0.0)
            f.parts.append(
                f'<rect class="bar {name}" x="{a + (b - a) * 0.1 + j * w:.1f}" y="{y:.1f}" '
                f'width="{w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(label)} ({name}): {_pct(share)}</title></rect>"
            )
    f.legend([("reference", REFERENCE), ("current", CURRENT)])
    return f.svg("bars")


def lines(
    x: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    *,
    thresholds: Sequence[tuple[str, float]] = (),
    y_format=_fmt,
    x_labels: Sequence[str] | None = None,
) -> str:
    """One line per series over ``x`` (epoch ms when ``x_labels`` is None), with
    dashed horizontal reference lines."""
    values = [v for _, ys in series for v in ys if v is not None and math.isfinite(v)]
    values += [v for _, v in thresholds if v is not None and math.isfinite(v)]
    lo = min(values + [0.0])
    hi = max(values + [1e-9])
    pad = (hi - lo) * 0.08 or 1.0
    lo = lo - pad if lo < 0 else lo
    hi = hi + pad
    x0, x1 = (min(x), max(x)) if x else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    f = _Frame(x0, x1, lo, hi, title)
    if x_labels is None:
        ticks = _time_ticks(x0, x1, x)
    else:
        step = max(1, len(x) // 8)
        ticks = [(x[i], x_labels[i]) for i in range(0, len(x), step)]
    f.axes(nice_ticks(lo, hi, 5), y_format, ticks)
    for (label, value), color in zip(thresholds, ("#999", "#c44", "#777"), strict=False):
        yy = f.y(value)
        f.parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{f.width - RIGHT}" y1="{yy:.1f}" '
            f'y2="{yy:.1f}" stroke="{color}" stroke-dasharray="5 4"><title>{escape(label)}: '
            f"{escape(y_format(value))}</title></line>"
        )
    legend = []
    for k, (label, ys) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        legend.append((label, color))
        points = [
            (f.x(xv), f.y(yv))
            for xv, yv in zip(x, ys, strict=True)
            if yv is not None and math.isfinite(yv)
        ]
        if len(points) > 1:
            d = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)
            f.parts.append(
                f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for (px, py), (xv, yv) in zip(
            points,
            [(a, b) for a, b in zip(x, ys, strict=True) if b is not None and math.isfinite(b)],
            strict=True,
        ):
            when = x_labels[list(x).index(xv)] if x_labels is not None else _when(xv)
            f.parts.append(
                f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                f"<title>{escape(label)} {escape(when)}: {escape(y_format(yv))}</title></circle>"
            )
    f.legend(legend[:6])
    return f.svg("lines")


def interval(label: str, diff: float, low: float, high: float, title: str) -> str:
    """A difference with its confidence interval, around zero."""
    span = max(abs(low), abs(high), abs(diff), 1e-9) * 1.25
    f = _Frame(-span, span, 0, 1, title, height=110)
    f.axes([], _fmt, [(t, _fmt(t)) for t in nice_ticks(-span, span, 5)])
    zero = f.x(0)
    y = f.y(0.5)
    f.parts.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{TOP}" y2="{f.height - BOTTOM}" '
        f'stroke="#999" stroke-dasharray="4 3"/>'
        f'<line class="ci" x1="{f.x(low):.1f}" x2="{f.x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
        f'stroke="{REFERENCE}" stroke-width="4"><title>{escape(label)}: {_fmt(low)} to '
        f"{_fmt(high)}</title></line>"
        f'<circle class="point" cx="{f.x(diff):.1f}" cy="{y:.1f}" r="6" fill="{CURRENT}">'
        f"<title>{escape(label)}: {_fmt(diff)}</title></circle>"
    )
    f.legend([(label, CURRENT)])
    return f.svg("interval")


def _when(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _time_ticks(x0: float, x1: float, points: Sequence[float] = ()) -> list[tuple[float, str]]:
    """Ticks at the data points when there are few, else five evenly spaced; dates, with
    the time of day when the span is under a week."""
    span = x1 - x0
    fmt = "%m-%d" if span >= 7 * 86_400_000 else "%m-%d %H:%M"
    distinct = sorted(set(points))
    if 0 < len(distinct) <= 6:
        where = distinct
    else:
        where = [x0 + span * k / 4 for k in range(5)]
    return [(t, datetime.fromtimestamp(t / 1000, UTC).strftime(fmt)) for t in where]
