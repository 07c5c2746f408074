"""The HTML reports, opened in a real headless Chromium (Debian's ``chromium``, driven
by Playwright for Python; no browser is downloaded): every chart renders, nothing is
fetched from anywhere, and the console stays silent."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prodline import _context
from prodline.monitor import compare, monitor, write_report
from tests.monitor.conftest import BROWSER_SKIPS, DAY, MODEL, T0, Registry, sample, serve_rows

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = None
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        reason = (
            "Chromium is NOT INSTALLED: the HTML reports were not opened in a browser. "
            "Run `bash scripts/ensure-debian-packages.sh` (Debian's chromium package)."
        )
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = (
                "Playwright for Python is NOT INSTALLED: the HTML reports were not opened in "
                "a browser. pip install playwright (no `playwright install` needed)."
            )
    if reason:
        BROWSER_SKIPS.append(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def open_report(browser: Any, path: Path) -> dict[str, Any]:
    """Load ``path`` and return what a person would see: charts, console, requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    charts = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].map(svg => {
            const box = svg.getBoundingClientRect();
            const marks = [...svg.querySelectorAll('rect.bar, path.line, circle.point, line.ci')]
              .map(m => m.getBoundingClientRect())
              .filter(b => b.width > 0 || b.height > 0);
            return {kind: svg.getAttribute('class'), width: box.width, height: box.height,
                    marks: marks.length};
        })"""
    )
    text = page.inner_text("body")
    shot = page.screenshot(full_page=False)
    page.close()
    return {
        "charts": charts,
        "console": console,
        "errors": errors,
        "requests": requests,
        "text": text,
        "screenshot": shot,
    }


def assert_renders(seen: dict[str, Any], path: Path, *, at_least: int) -> None:
    assert seen["errors"] == [] and seen["console"] == [], seen["console"] + seen["errors"]
    assert seen["requests"] == [path.resolve().as_uri()]  # nothing fetched from anywhere
    charts = seen["charts"]
    assert len(charts) >= at_least
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 60, chart
        assert chart["marks"] > 0, chart
    assert len(seen["screenshot"]) > 10_000  # a PNG with something on it


def assert_self_contained(html: str) -> None:
    assert "<script" not in html and "<link" not in html and "<img" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls


@pytest.fixture
def served(registry: Registry) -> Registry:
    """Four days of champion traffic (the last one shifted), a challenger on a quarter
    of it, all labelled."""
    store = _context.store()
    for day in range(4):
        X = sample(registry.features, 240, seed=60 + day)
        if day == 3:
            X["worst_texture"] = X["worst_texture"] * 1.4
        champion = serve_rows(
            registry.champion,
            X.iloc[:180],
            version=1,
            start_ms=T0 + day * DAY,
            step_ms=60_000,
            prefix=f"c{day}-",
        )
        challenger = serve_rows(
            registry.challenger,
            X.iloc[180:],
            version=2,
            role="challenger",
            start_ms=T0 + day * DAY,
            step_ms=60_000,
            prefix=f"h{day}-",
        )
        store.log_predictions(champion + challenger)
        truth = registry.champion.predict(X)
        ids = [r["request_id"] for r in champion + challenger]
        store.log_feedback(MODEL, [(i, int(t)) for i, t in zip(ids, truth, strict=True)])
    return registry


def test_the_monitoring_report_renders_in_chromium(
    served: Registry, browser: Any, tmp_path: Path
) -> None:
    result = monitor(MODEL, window="1d", now=T0 + 3 * DAY + 6 * 3_600_000)
    assert result.drift is not None and "worst_texture" in result.drift.drifted_columns
    path = result.write_html(tmp_path / "monitor.html")
    assert_self_contained(path.read_text())
    seen = open_report(browser, path)
    kinds = [c["kind"] for c in seen["charts"]]
    assert sum("chart-lines" in k for k in kinds) >= 4  # drift, scores, performance, traffic...
    assert sum("chart-interval" in k for k in kinds) == 1  # champion and challenger
    assert sum("chart-histogram" in k for k in kinds) >= 30  # features and predictions
    assert sum("chart-bars" in k for k in kinds) >= 1  # the predicted class
    assert_renders(seen, path, at_least=36)
    for phrase in ("Monitoring: cancer", "Over time", "Champion and challenger", "worst_texture"):
        assert phrase in seen["text"]


def test_the_compare_report_renders_in_chromium(browser: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 5000
    ref = pd.DataFrame({"age": rng.normal(40, 9, n), "plan": rng.choice(["a", "b", "c"], n)})
    cur = pd.DataFrame({"age": rng.normal(47, 9, n), "plan": rng.choice(["a", "b", "d"], n)})
    report = compare(ref, cur)
    path = write_report(report, tmp_path / "compare.html", title="Drift <today>")
    assert_self_contained(path.read_text())
    seen = open_report(browser, path)
    assert_renders(seen, path, at_least=2)
    assert "Drift <today>" in seen["text"]  # escaped, shown as typed
    assert {c["kind"] for c in seen["charts"]} == {"chart chart-histogram", "chart chart-bars"}
