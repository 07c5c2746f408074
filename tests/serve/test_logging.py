"""Prediction logging off the request path: nothing acknowledged is lost across a
graceful shutdown (one worker or several), a full queue drops and counts instead of
slowing requests, and feedback labels join logged predictions by request id."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from prodline import _context
from tests.serve.conftest import metric
from tests.serve.fleet import CANCER_FEATURES


def _hammer(url: str, rows: list[dict], stop: threading.Event, acked: list[str], lock) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        i = 0
        while not stop.is_set():
            n = 1 + i % 3  # one-row and multi-row requests
            body = {"dataframe_records": [rows[(i + j) % len(rows)] for j in range(n)]}
            i += 1
            try:
                response = client.post("/invocations", json=body)
            except httpx.HTTPError:
                continue  # not acknowledged (the server is going away)
            if response.status_code == 200:
                rid = response.headers["x-request-id"]
                with lock:
                    acked.extend([rid] if n == 1 else [f"{rid}:{k}" for k in range(n)])


@pytest.mark.parametrize("workers", [1, 2])
def test_nothing_acknowledged_is_lost_across_a_graceful_shutdown(
    serve, cancer_rows, workers
) -> None:
    # a long flush interval: everything is still queued when SIGTERM arrives
    server = serve("cancer", "--workers", str(workers), "--log-flush-interval", "60",
                   "--reload-interval", "0")  # fmt: skip
    if workers > 1:  # /metrics adds up every worker's counts, whichever worker answers it
        with server.client() as client:
            for row in cancer_rows[:10]:
                assert client.post("/invocations", json={"dataframe_records": [row]}).is_success
            for _ in range(3):
                text = client.get("/metrics").text
                assert metric(text, "prodline_requests_total", status="200") == 10
                assert metric(text, "prodline_model_info", version="1") == 1
    stop, lock, acked = threading.Event(), threading.Lock(), []
    threads = [
        threading.Thread(target=_hammer, args=(server.url, cancer_rows, stop, acked, lock))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop_gracefully()  # while the clients are still sending
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acked) >= 300
    logs = _context.store().read_predictions("cancer")
    logged = [log.request_id for log in logs]
    assert len(logged) == len(set(logged)), "a prediction was logged twice"
    missing = set(acked) - set(logged)
    assert not missing, f"{len(missing)} acknowledged predictions were not logged"
    sample = logs[0]
    assert (sample.model, sample.version, sample.role) == ("cancer", 1, "champion")
    assert list(sample.inputs) == CANCER_FEATURES
    assert set(sample.outputs) == {"prediction", "proba_0", "proba_1"}
    assert sample.latency_ms > 0 and sample.timestamp_ms > 1_700_000_000_000


def test_a_full_log_queue_drops_and_counts_but_serves(serve, cancer_rows) -> None:
    server = serve("cancer", "--log-queue-size", "5", "--log-flush-interval", "60")
    with server.client() as client:
        for i in range(20):
            response = client.post("/invocations", json={"dataframe_records": [cancer_rows[i]]})
            assert response.status_code == 200
        text = client.get("/metrics").text
        assert metric(text, "prodline_prediction_logs_dropped_total") == 15
        assert metric(text, "prodline_prediction_log_queue_rows") == 5
        assert client.get("/health").json()["prediction_log"]["dropped"] == 15
    server.stop_gracefully()
    assert _context.store().prediction_count("cancer") == 5


def test_no_logging_when_turned_off(serve, cancer_rows) -> None:
    server = serve("cancer", "--no-log-predictions")
    with server.client() as client:
        assert client.post("/invocations", json={"dataframe_records": cancer_rows[:2]}).is_success
        assert client.get("/health").json()["prediction_log"] is None
    server.stop_gracefully()
    assert _context.store().prediction_count("cancer") == 0


def test_feedback_labels_join_logged_predictions(serve, cancer_rows) -> None:
    server = serve("cancer", "--log-flush-interval", "0.1")
    with server.client() as client:
        one = client.post("/invocations", json={"dataframe_records": cancer_rows[:1]})
        three = client.post("/invocations", json={"dataframe_records": cancer_rows[1:4]})
        other = client.post(
            "/invocations", json={"dataframe_records": cancer_rows[4:5]},
            headers={"x-request-id": "my-order-7"},
        )  # fmt: skip
        rid1, rid3 = one.headers["x-request-id"], three.headers["x-request-id"]
        assert (
            client.post("/feedback", json={"request_id": rid1, "label": 1}).json()["recorded"] == 1
        )
        assert (
            client.post("/feedback", json={"request_id": rid3, "labels": [0, 1, 0]}).json()[
                "recorded"
            ]
            == 3
        )
        batch = {"labels": [{"request_id": "my-order-7", "label": 0}]}
        assert client.post("/feedback", json=batch).json()["recorded"] == 1
        assert other.status_code == 200
        for bad in ({}, {"request_id": 5, "label": 1}, {"request_id": "x"}, [1, 2],
                    {"labels": [{"label": 1}]}, {"request_id": "x" * 65, "label": 1}):  # fmt: skip
            response = client.post("/feedback", json=bad)
            assert response.status_code == 400, bad
        assert client.post("/feedback", content=b"{", headers={
            "content-type": "application/json"}).status_code == 400  # fmt: skip
        text = client.get("/metrics").text
        assert metric(text, "prodline_feedback_labels_total", model="cancer") == 5
    server.stop_gracefully()
    labels = {log.request_id: log.label for log in _context.store().read_predictions("cancer")}
    assert labels == {
        rid1: 1, f"{rid3}:0": 0, f"{rid3}:1": 1, f"{rid3}:2": 0, "my-order-7": 0,
    }  # fmt: skip


def test_refused_requests_are_logged_so_the_error_rate_counts_them(serve, cancer_rows) -> None:
    """A contract violation is one logged row with the error as its outputs: the
    monitor's error rate counts it, and its inputs are never used as drift data."""
    from prodline.monitor import monitor

    server = serve("cancer", "--log-flush-interval", "0.1")
    bad = dict(cancer_rows[0], mean_radius="large")
    with server.client() as client:
        for row in cancer_rows[:3]:
            assert client.post("/invocations", json={"dataframe_records": [row]}).is_success
        refused = client.post("/invocations", json={"dataframe_records": [bad]})
        assert refused.status_code == 422
        assert client.post("/invocations", content=b"{", headers={
            "content-type": "application/json"}).status_code == 400  # fmt: skip
    server.stop_gracefully()
    logs = {log.request_id: log for log in _context.store().read_predictions("cancer")}
    assert len(logs) == 4, "the unparseable request (no model chosen) is not logged"
    failed = logs[refused.headers["x-request-id"]]
    assert failed.inputs == {}
    assert failed.outputs["error_code"] == "CONTRACT_VIOLATION"
    assert failed.outputs["status"] == 422 and "mean_radius" in failed.outputs["error"]
    ops = monitor("cancer", window="1d").operations
    assert (ops["n_requests"], ops["n_errors"], ops["error_rate"]) == (4, 1, 0.25)
