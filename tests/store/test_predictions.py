"""Prediction logs and feedback on both backends."""

from __future__ import annotations

import pytest

from prodline.store.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Store:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _rows(n: int, start: int = 0, model: str = "churn") -> list[dict]:
    return [
        {"model": model, "version": 1, "request_id": f"r{i}", "latency_ms": 0.5,
         "inputs": {"x": i}, "outputs": {"label": i % 2}, "timestamp": 1_000 + i}
        for i in range(start, start + n)
    ]  # fmt: skip


def test_windows_by_id_and_time_with_labels_joined(store: Store) -> None:
    assert store.log_predictions(_rows(10)) == 10
    store.log_predictions(_rows(3, model="other"))
    store.log_feedback("churn", [("r2", 1), ("r5", 0)])
    store.log_feedback("churn", [("r2", 0)])  # a correction replaces the label
    logs = store.read_predictions("churn")
    assert [log.request_id for log in logs] == [f"r{i}" for i in range(10)]
    assert {log.request_id: log.label for log in logs if log.label is not None} == {
        "r2": 0,
        "r5": 0,
    }
    assert logs[3].inputs == {"x": 3} and logs[3].outputs == {"label": 1}
    after = store.read_predictions("churn", after_id=logs[6].id)
    assert [log.request_id for log in after] == ["r7", "r8", "r9"]
    latest = store.read_predictions("churn", limit=2, newest=True)
    assert [log.request_id for log in latest] == ["r8", "r9"]
    timed = store.read_predictions("churn", since_ms=1_004, until_ms=1_006)
    assert [log.request_id for log in timed] == ["r4", "r5"]
    assert store.prediction_count("churn") == 10
