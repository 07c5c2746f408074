"""Runs, params, tags, notes, metrics and artifact records on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prodline.errors import (
    ArtifactError,
    ImmutableValueError,
    InvalidValueError,
    NotFoundError,
)
from prodline.store.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Store:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _run(store: Store, experiment: str = "exp") -> str:
    run_id, _, _ = store.create_run(store.get_or_create_experiment(experiment))
    return run_id


def test_experiment_is_created_once_and_counted(store: Store) -> None:
    first = store.get_or_create_experiment("churn")
    assert store.get_or_create_experiment("churn") == first
    _run(store, "churn")
    _run(store, "churn")
    [record] = store.list_experiments()
    assert (record.name, record.run_count) == ("churn", 2)
    assert record.last_run_at is not None and record.last_run_at.tzinfo is not None


def test_run_lifecycle_records_status_times_and_error(store: Store) -> None:
    run_id = _run(store)
    record = store.get_run(run_id)
    assert record.status == "running" and record.end_time is None
    store.end_run(run_id, "failed", "Traceback: boom")
    record = store.get_run(run_id)
    assert record.status == "failed"
    assert record.error == "Traceback: boom"
    assert record.end_time >= record.start_time
    with pytest.raises(NotFoundError):
        store.end_run("0" * 32, "finished")


def test_params_are_immutable_and_a_clash_writes_nothing(store: Store) -> None:
    run_id = _run(store)
    store.log_params(run_id, {"C": 1.0, "max_depth": 6})
    store.log_params(run_id, {"C": 1.0})  # same value again is fine
    with pytest.raises(ImmutableValueError, match="'C': logged '1.0', now '2.0'"):
        store.log_params(run_id, {"C": 2.0, "new_key": "x"})
    assert store.get_run(run_id).params == {"C": "1.0", "max_depth": "6"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("", 1, "Invalid param key"),
        ("bad\nkey", 1, "Invalid param key"),
        ("k" * 251, 1, "Invalid param key"),
        (3, 1, "key must be a string"),
        ("big", "x" * 8001, "8,001 characters"),
        ("raw", b"bytes", "bytes are not allowed"),
    ],
)
def test_bad_params_are_refused_with_a_clear_error(
    store: Store, key: object, value: object, message: str
) -> None:
    run_id = _run(store)
    with pytest.raises(InvalidValueError, match=message):
        store.log_params(run_id, {key: value})
    assert store.get_run(run_id).params == {}


def test_tags_can_change(store: Store) -> None:
    run_id = _run(store)
    store.set_tags(run_id, {"team": "risk"})
    store.set_tags(run_id, {"team": "growth", "owner": "ana"})
    assert store.get_run(run_id).tags == {"owner": "ana", "team": "growth"}


def test_notes_are_appended_in_order(store: Store) -> None:
    run_id = _run(store)
    store.add_note(run_id, "first")
    store.add_note(run_id, "second")
    assert [n["text"] for n in store.get_run(run_id).notes] == ["first", "second"]
    with pytest.raises(InvalidValueError):
        store.add_note(run_id, "   ")


def test_metric_history_and_latest_value(store: Store) -> None:
    run_id = _run(store)
    for step, value in enumerate([0.9, 0.5, 0.2]):
        store.log_metric_points(run_id, [("loss", value, step)])
    store.log_metric_points(run_id, [("loss", 7.0, 1)])  # an out-of-order point
    history = store.metric_history(run_id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.5), (1, 7.0), (2, 0.2)]
    assert all(p.timestamp.tzinfo is not None for p in history)
    assert store.get_run(run_id).metrics == {"loss": 0.2}  # latest = highest step


def test_nan_and_infinity_are_stored_consistently(store: Store) -> None:
    run_id = _run(store)
    store.log_metric_points(
        run_id, [("nan", float("nan"), 0), ("inf", float("inf"), 0), ("ninf", -math.inf, 0)]
    )
    metrics = store.get_run(run_id).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert math.isnan(store.metric_history(run_id, "nan")[0].value)
    # NaN never matches a comparison, on either backend
    assert store.search_runs(filter="metrics.nan > 0") == []
    assert store.search_runs(filter="metrics.nan < 0") == []
    assert [r.id for r in store.search_runs(filter="metrics.inf > 1e308")] == [run_id]


def test_numpy_values_and_steps_are_accepted(store: Store) -> None:
    run_id = _run(store)
    store.log_metric_points(run_id, [("acc", np.float32(0.5), np.int64(3))])
    assert store.metric_history(run_id, "acc")[0].step == 3


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (("loss", "0.5", 0), "must be a real number"),
        (("loss", None, 0), "must be a real number"),
        (("loss", True, 0), "must be a real number"),
        (("loss", 0.5, 1.5), "step must be an integer"),
        (("bad key!", 0.5, 0), "Invalid metric key"),
        ((["loss"], 0.5, 0), "key must be a string"),
        (("loss", 0.5), "Metric point 1 is"),
        ("loss", "Metric point 1 is"),
    ],
)
@pytest.mark.parametrize("good_points", [1, 40], ids=["small-batch", "large-batch"])
def test_a_bad_point_rejects_the_whole_batch(
    store: Store, point: tuple, message: str, good_points: int
) -> None:
    """Small batches are checked point by point, large ones a column at a time: the
    same errors either way, and nothing is written."""
    run_id = _run(store)
    batch = [("ok", 1.0, 0), point] + [("ok", 1.0, step) for step in range(1, good_points)]
    with pytest.raises(InvalidValueError, match=message):
        store.log_metric_points(run_id, batch)
    assert store.get_run(run_id).metrics == {}
    assert store.metric_history(run_id, "ok") == []


def test_a_large_batch_converts_numpy_numbers_and_nan(store: Store) -> None:
    run_id = _run(store)
    batch = [("loss", np.float32(0.5), np.int64(step)) for step in range(20)]
    batch += [("acc", float("nan"), step) for step in range(20)]
    assert store.log_metric_points(run_id, batch) == {"loss": 19, "acc": 19}
    assert [p.step for p in store.metric_history(run_id, "loss")] == list(range(20))
    assert math.isnan(store.metric_history(run_id, "acc")[-1].value)


def test_artifact_records_are_immutable(store: Store) -> None:
    run_id = _run(store)
    digest_a, digest_b = "a" * 64, "b" * 64
    store.record_artifact(run_id, "model/model.skops", digest_a, 10)
    store.record_artifact(run_id, "model/model.skops", digest_a, 10)  # idempotent
    with pytest.raises(ArtifactError, match="already logged"):
        store.record_artifact(run_id, "model/model.skops", digest_b, 11)
    assert [(a.path, a.digest) for a in store.list_artifacts(run_id)] == [
        ("model/model.skops", digest_a)
    ]


def test_run_prefix_resolution(store: Store) -> None:
    run_id = _run(store)
    assert store.resolve_run_id(run_id[:6]) == run_id
    with pytest.raises(NotFoundError):
        store.resolve_run_id("zzzzzz")
    with pytest.raises(InvalidValueError, match="at least 4"):
        store.resolve_run_id("ab")


def test_metrics_for_an_unknown_run_are_refused(store: Store) -> None:
    with pytest.raises(NotFoundError, match="existing run"):
        store.log_metric_points("f" * 32, [("loss", 1.0, 0)])


def test_repeated_points_in_one_millisecond_are_all_kept_in_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points of one key and step logged within the same millisecond differ only by seq."""
    import prodline.store.metrics as metric_store

    monkeypatch.setattr(metric_store, "now_ms", lambda: 1_700_000_000_000)
    run_id = _run(store)
    for value in (0.1, 0.2, 0.3):
        store.log_metric_points(run_id, [("loss", value, 0)])
    store.log_metric_points(run_id, [("loss", 0.4, 0), ("loss", 0.5, 0)])
    assert [p.value for p in store.metric_history(run_id, "loss")] == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_a_seq_drawn_by_another_writer_is_redrawn_not_lost(
    store_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers (as two processes would) drawing the same seq for the same run, key,
    step and millisecond: the second batch is retried with fresh numbers, nothing lost."""
    import prodline.store.metrics as metric_store

    monkeypatch.setattr(metric_store, "now_ms", lambda: 1_700_000_000_000)
    run_id = _run(store)
    other = open_store(store_url)
    try:
        store._points.next_seq = other._points.next_seq = 42
        store.log_metric_points(run_id, [("loss", 1.0, 0), ("acc", 0.5, 0)])
        other.log_metric_points(run_id, [("loss", 2.0, 0), ("acc", 0.6, 0)])
        assert other._points.next_seq != 44  # the collision was seen and seqs redrawn
    finally:
        other.close()
    assert sorted(p.value for p in store.metric_history(run_id, "loss")) == [1.0, 2.0]
    assert sorted(p.value for p in store.metric_history(run_id, "acc")) == [0.5, 0.6]


def test_the_series_cache_can_be_emptied_between_calls(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its size limit the (run, key) -> series cache starts over: known and new keys
    in one batch still resolve, to the same series as before."""
    import prodline.store.metrics as metric_store

    run_id = _run(store)
    store.log_metric_points(run_id, [("a", 1.0, 0), ("b", 1.0, 0)])
    monkeypatch.setattr(metric_store, "SERIES_CACHE_LIMIT", 1)
    store.log_metric_points(run_id, [("a", 2.0, 1), ("c", 2.0, 1)])
    store.log_metric_points(run_id, [("b", 3.0, 1), ("d", 3.0, 1)])
    assert [p.value for p in store.metric_history(run_id, "a")] == [1.0, 2.0]
    assert [p.value for p in store.metric_history(run_id, "b")] == [1.0, 3.0]
    assert store.get_run(run_id).metrics == {"a": 2.0, "b": 3.0, "c": 2.0, "d": 3.0}
