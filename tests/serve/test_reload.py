"""Hot reload under load: a client keeps sending while governance moves the alias; no
request fails and the answers switch to the new version."""

from __future__ import annotations

import threading
import time

import httpx

import prodline
from tests.serve.conftest import metric
from tests.serve.fleet import CANCER_FEATURES


def _loop(url: str, row: dict, stop: threading.Event, seen: list, failures: list) -> None:
    body = {"dataframe_split": {"columns": CANCER_FEATURES,
                                "data": [[row[c] for c in CANCER_FEATURES]]}}  # fmt: skip
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.post("/invocations", json=body)
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            if response.status_code != 200:
                failures.append(response.text)
                continue
            seen.append((time.monotonic(), response.headers["x-prodline-version"]))


def test_moving_the_alias_switches_versions_without_failing_a_request(serve, cancer_rows) -> None:
    server = serve("cancer", "--reload-interval", "0.25", "--no-log-predictions")
    stop = threading.Event()
    seen: list[list] = [[], []]
    failures: list[str] = []
    threads = [
        threading.Thread(target=_loop, args=(server.url, cancer_rows[i], stop, seen[i], failures))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while min(len(s) for s in seen) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        moved = time.monotonic()
        assert prodline.set_alias("cancer", "production", 3, reason="a better forest")
        while time.monotonic() < moved + 30:
            if all(s and s[-1][1] == "cancer/3" for s in seen):
                break
            time.sleep(0.05)
        switched = min(t for s in seen for t, v in s if v == "cancer/3")
        count = sum(len(s) for s in seen)
        while sum(len(s) for s in seen) < count + 40 and time.monotonic() < moved + 40:
            time.sleep(0.05)  # keep the load on after the swap
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not failures, failures[:3]
    for per_thread in seen:
        versions = [v for _, v in per_thread]
        assert versions[0] == "cancer/1" and versions[-1] == "cancer/3"
        first = versions.index("cancer/3")
        assert set(versions[:first]) == {"cancer/1"}
        assert set(versions[first:]) == {"cancer/3"}, "went back to the old version"
    delay = switched - moved
    assert delay < 20, f"the switch took {delay:.1f} s"
    with server.client() as client:
        text = client.get("/metrics").text
        assert metric(text, "prodline_model_reloads_total", role="champion", outcome="ok") == 1
        assert metric(text, "prodline_model_info", version="3", role="champion") == 1
        assert metric(text, "prodline_model_info", version="1", role="champion") == 0
        assert client.get("/health").json()["routing"]["champion"]["ref"] == "cancer/3"
    server.stop_gracefully()


def test_a_version_that_cannot_load_is_not_served(serve, cancer_rows) -> None:
    # version 4 holds a custom type this server does not trust
    server = serve("cancer", "--reload-interval", "0.2", "--trust", "nowhere.Nothing")
    prodline.set_alias("cancer", "production", 4, reason="untrusted on purpose")
    with server.client() as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = client.get("/metrics").text
            if metric(text, "prodline_model_reloads_total", outcome="failed") >= 1:
                break
            time.sleep(0.1)
        assert metric(text, "prodline_model_reloads_total", outcome="failed") == 1
        response = client.post("/invocations", json={"dataframe_records": cancer_rows[:1]})
        assert response.status_code == 200
        assert response.headers["x-prodline-version"] == "cancer/1"
        time.sleep(0.6)  # not retried on every poll
        text = client.get("/metrics").text
        assert metric(text, "prodline_model_reloads_total", outcome="failed") == 1
    server.stop_gracefully()
