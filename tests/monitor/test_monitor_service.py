"""``prodline.monitor.monitor`` on a registered model's logged predictions: windows by
time and by rows, incremental history, performance against the contract, late labels,
champion/challenger, and what the server's log records look like."""

from __future__ import annotations

import json

import numpy as np
import pytest

import prodline
from prodline import _context
from prodline.errors import NotFoundError
from prodline.monitor import monitor
from prodline.monitor.logs import decode_inputs, decode_outputs
from prodline.monitor.reference import monitor_dir
from tests.monitor.conftest import DAY, MODEL, T0, Registry, sample, serve_rows

MINUTE = 60_000
HOUR = 60 * MINUTE
SHIFTED = "mean_smoothness"


def _log_days(
    reg: Registry, days: int, n: int = 300, *, shift_day: int | None = None, labels: bool = True
) -> list[dict]:
    """``n`` champion predictions per day (one a minute from midnight), labelled."""
    store = _context.store()
    rows_all = []
    for day in range(days):
        X = sample(reg.features, n, seed=day)
        y = reg.frame["target"].to_numpy()[
            np.random.default_rng(day).integers(0, len(reg.frame), n)
        ]
        if shift_day == day:
            X[SHIFTED] = X[SHIFTED] + 0.6 * reg.features[SHIFTED].std()
        rows = serve_rows(
            reg.champion, X, version=1, start_ms=T0 + day * DAY, step_ms=MINUTE, prefix=f"d{day}-"
        )
        store.log_predictions(rows)
        if labels:
            store.log_feedback(
                MODEL, [(r["request_id"], int(t)) for r, t in zip(rows, y, strict=True)]
            )
        rows_all.extend(rows)
    return rows_all


class _Counter:
    """Counts the prediction rows read from the store (wraps the real method)."""

    def __init__(self) -> None:
        self.store = _context.store()
        self.original = self.store.read_predictions
        self.rows = 0
        self.store.read_predictions = self  # type: ignore[method-assign]

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        out = self.original(*args, **kwargs)
        self.rows += len(out)
        return out

    def reset(self) -> int:
        n, self.rows = self.rows, 0
        return n


def test_daily_windows_find_the_drifting_feature_and_compare_performance(
    registry: Registry,
) -> None:
    _log_days(registry, 4, shift_day=3)
    now = T0 + 3 * DAY + 6 * HOUR  # the trailing day holds day 3's rows only
    result = monitor(MODEL, window="1d", now=now)
    assert result.version == 1 and result.n_rows == 300
    assert result.drift is not None and result.drift.drifted_columns == [SHIFTED]
    assert [c.name for c in result.drift.prediction] == ["prediction", "proba_1"]
    perf = result.performance
    assert perf is not None and perf.n_labelled == 300
    assert set(perf.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert perf.contract["f1"] is not None and set(perf.deltas) == set(perf.metrics)
    assert perf.metrics["accuracy"] > 0.9
    # history: three finished days (no drift), then the current window
    finished = [w for w in result.history if w["complete"]]
    assert [w["start_ms"] for w in finished] == [T0, T0 + DAY, T0 + 2 * DAY]
    assert all(w["versions"]["1"]["drifted"] == [] for w in finished)
    assert all(w["n_rows"] == 300 and w["versions"]["1"]["n_labelled"] == 300 for w in finished)
    assert result.history[-1]["complete"] is False
    assert result.history[-1]["versions"]["1"]["drifted"] == [SHIFTED]
    ops = result.operations
    assert ops["n_requests"] == 300 and ops["error_rate"] == 0.0
    assert 1.0 <= ops["latency_ms"]["p50"] <= 2.5
    assert ops["traffic"]["baseline_rows_per_hour"] == pytest.approx(300 / 24)
    json.dumps(result.to_dict(), allow_nan=False)


def test_since_covers_everything_logged_since_then(registry: Registry) -> None:
    _log_days(registry, 3)
    result = monitor(MODEL, window="1d", since=T0 + DAY, now=T0 + 3 * DAY)
    assert result.n_rows == 600 and result.start_ms == T0 + DAY
    assert [w["start_ms"] for w in result.history if w["complete"]] == [T0 + DAY, T0 + 2 * DAY]


def test_row_windows(registry: Registry) -> None:
    _log_days(registry, 2, n=250)
    result = monitor(MODEL, window="200rows", now=T0 + 3 * DAY)
    finished = [w for w in result.history if w["complete"]]
    assert [w["n_rows"] for w in finished] == [200, 200]
    assert result.n_rows == 200  # the latest 200 rows
    assert result.history[-1]["n_rows"] == 200
    state = json.loads((monitor_dir(MODEL) / "history-200rows.json").read_text())
    assert state["rows_seen"] == 400 and state["open"]["key"] == 2


def test_checking_the_latest_window_does_not_rescan_history(registry: Registry) -> None:
    _log_days(registry, 5, n=400)  # 2,000 rows over five days
    counter = _Counter()
    first = monitor(MODEL, window="1d", now=T0 + 4 * DAY + 12 * HOUR)
    assert counter.reset() >= 2000  # the first check builds the history from every log
    assert len([w for w in first.history if w["complete"]]) == 4
    # a few more predictions arrive on day 4; checking again reads the open window
    # (day 4), the new rows and the trailing day, not the four finished days
    store = _context.store()
    store.log_predictions(
        serve_rows(
            registry.champion,
            sample(registry.features, 50, seed=99),
            version=1,
            start_ms=T0 + 4 * DAY + 8 * HOUR,
            prefix="late-",
        )
    )
    second = monitor(MODEL, window="1d", now=T0 + 4 * DAY + 13 * HOUR)
    read = counter.reset()
    assert read <= 2 * 450 and read < 2000 / 2
    assert [w for w in second.history if w["complete"]] == [
        w for w in first.history if w["complete"]
    ]
    assert second.history[-1]["n_rows"] == 450
    # once day 4 is over it closes; with nothing new, a check reads nothing at all
    third = monitor(MODEL, window="1d", now=T0 + 6 * DAY)
    assert len([w for w in third.history if w["complete"]]) == 5
    assert third.n_rows == 0 and "no predictions" in " ".join(third.notes)
    counter.reset()
    monitor(MODEL, window="1d", now=T0 + 6 * DAY + 30 * MINUTE)
    assert counter.reset() == 0
    # (finished windows still lacking labels are re-read for them at most once an hour)
    monitor(MODEL, window="1d", now=T0 + 6 * DAY + 2 * HOUR, label_horizon=1)
    assert counter.reset() == 450


def test_labels_that_arrive_late_update_the_recent_windows(registry: Registry) -> None:
    rows = _log_days(registry, 4, labels=False)
    first = monitor(MODEL, window="1d", now=T0 + 4 * DAY + HOUR, label_horizon=2)
    finished = [w for w in first.history if w["complete"]]
    assert len(finished) == 4 and all(w["needs_labels"] for w in finished)
    assert all(w["versions"]["1"]["n_labelled"] == 0 for w in finished)
    # feedback for day 0 (outside the horizon of 2 windows) and day 3 (inside)
    store = _context.store()
    feedback = [
        (r["request_id"], r["outputs"]["prediction"])
        for r in rows
        if r["request_id"].startswith(("d0-", "d3-"))
    ]
    store.log_feedback(MODEL, feedback)
    second = monitor(MODEL, window="1d", now=T0 + 4 * DAY + 2 * HOUR, label_horizon=2)
    labelled = {
        w["start_ms"]: w["versions"]["1"]["n_labelled"] for w in second.history if w["complete"]
    }
    assert labelled == {T0: 0, T0 + DAY: 0, T0 + 2 * DAY: 0, T0 + 3 * DAY: 300}
    day3 = [w for w in second.history if w.get("start_ms") == T0 + 3 * DAY][0]
    assert day3["versions"]["1"]["metrics"]["accuracy"] == 1.0 and not day3["needs_labels"]
    rebuilt = monitor(MODEL, window="1d", now=T0 + 4 * DAY + 2 * HOUR, rebuild=True)
    assert rebuilt.history[0]["versions"]["1"]["n_labelled"] == 300


def _ab_traffic(reg: Registry, *, worse_challenger: bool, shadow: bool) -> None:
    store = _context.store()
    X = sample(reg.features, 1200, seed=7)
    y = reg.frame["target"].to_numpy()[np.random.default_rng(7).integers(0, len(reg.frame), 1200)]
    y = reg.champion.predict(X)  # the champion is right on every row here
    ids = [f"ab{i}" for i in range(len(X))]
    champion_rows = np.arange(len(X)) if shadow else np.arange(len(X))[np.arange(len(X)) % 2 == 0]
    challenger_rows = np.arange(len(X)) if shadow else np.arange(len(X))[np.arange(len(X)) % 2 == 1]
    rows = serve_rows(
        reg.champion,
        X.iloc[champion_rows],
        version=1,
        start_ms=T0,
        request_ids=[ids[i] for i in champion_rows],
    )
    chal = serve_rows(
        reg.challenger,
        X.iloc[challenger_rows],
        version=2,
        start_ms=T0,
        role="shadow" if shadow else "challenger",
        request_ids=[ids[i] for i in challenger_rows],
    )
    if worse_challenger:
        for k, r in enumerate(chal):
            if k % 10 == 0:  # one answer in ten is wrong
                r["outputs"]["prediction"] = 1 - int(y[challenger_rows[k]])
            else:
                r["outputs"]["prediction"] = int(y[challenger_rows[k]])
    else:
        for k, r in enumerate(chal):
            r["outputs"]["prediction"] = int(y[challenger_rows[k]])
    store.log_predictions(rows + chal)
    store.log_feedback(MODEL, [(ids[i], int(y[i])) for i in range(len(X))])


@pytest.mark.parametrize("shadow", [False, True], ids=["split", "shadow"])
def test_champion_and_challenger_end_with_an_answer(registry: Registry, shadow: bool) -> None:
    _ab_traffic(registry, worse_challenger=True, shadow=shadow)
    result = monitor(MODEL, window="1d", now=T0 + 2 * HOUR)
    ab = result.ab
    assert ab is not None and (ab.champion, ab.challenger) == (1, 2)
    assert ab.paired is shadow and ab.metric == "accuracy"
    assert ab.champion_value == 1.0 and ab.challenger_value == pytest.approx(0.9)
    assert ab.high < 0 and ab.winner == "champion" and ab.verdict == "the champion is better"
    assert ab.difference == pytest.approx(-0.1)
    assert {v.version for v in result.versions} == {1, 2}
    assert result.version == 1  # the production alias


def test_an_inconclusive_ab_test_says_how_much_more_data_it_needs(registry: Registry) -> None:
    _ab_traffic(registry, worse_challenger=False, shadow=False)
    ab = monitor(MODEL, window="1d", now=T0 + 2 * HOUR).ab
    assert ab is not None and ab.winner is None and ab.low <= 0 <= ab.high


def test_a_model_without_logs_and_an_unknown_model(registry: Registry) -> None:
    result = monitor(MODEL, window="1d", now=T0)
    assert result.n_rows == 0 and result.drift is None and result.version == 1
    assert any("no predictions" in n for n in result.notes)
    with pytest.raises(NotFoundError, match="No registered model 'nosuch'"):
        monitor("nosuch", window="1d", now=T0)


def test_the_server_log_formats_decode_to_rows() -> None:
    assert decode_inputs({"a": 1, "b": "x"}) == [{"a": 1, "b": "x"}]
    assert decode_inputs([{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]
    assert decode_inputs({"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert decode_inputs({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}) == [
        {"a": 1, "b": 2}
    ]
    assert decode_inputs({"instances": [[1, 2]]}, ["a", "b"]) == [{"a": 1, "b": 2}]
    assert decode_inputs([1, 2], ["a", "b"]) == [{"a": 1, "b": 2}]
    out, failed = decode_outputs({"prediction": 1, "proba_0": 0.2, "proba_1": 0.8}, 1)
    assert out == [(1, {"0": 0.2, "1": 0.8})] and not failed
    assert decode_outputs({"error": "boom"}, 1) == ([], True)
    assert decode_outputs([0, 1], 2)[0] == [(0, None), (1, None)]
    assert decode_outputs({"predictions": [3.5, 4.5]}, 2)[0] == [(3.5, None), (4.5, None)]
    v2 = {
        "outputs": [
            {"name": "label", "data": [1, 0]},
            {"name": "probabilities", "shape": [2, 2], "data": [0.1, 0.9, 0.7, 0.3]},
        ]
    }
    assert decode_outputs(v2, 2)[0] == [(1, {"#0": 0.1, "#1": 0.9}), (0, {"#0": 0.7, "#1": 0.3})]


def test_failed_requests_count_as_errors_not_as_data(registry: Registry) -> None:
    rows = serve_rows(
        registry.champion, sample(registry.features, 100, seed=3), version=1, start_ms=T0
    )
    for r in rows[:5]:
        r["outputs"] = {"error": "model crashed"}
    _context.store().log_predictions(rows)
    result = monitor(MODEL, window="1d", now=T0 + HOUR)
    assert result.operations["n_errors"] == 5 and result.operations["error_rate"] == 0.05
    assert result.drift is not None and result.drift.n_current == 95


def test_a_regression_model_gets_mae_rmse_r2_and_an_ab_answer(
    isolated_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    monkeypatch.setattr("prodline.contract.build._latency", lambda *a, **k: {})
    frame = load_diabetes(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    models = []
    for alpha in (1.0, 50.0):  # the second one is much worse
        est = Ridge(alpha=alpha).fit(train.drop(columns="target"), train["target"])
        with prodline.start_run("r", capture_code=False, capture_environment=False) as run:
            run.log_model(
                est, "diabetes", train=train, target="target",
                eval=(test.drop(columns="target"), test["target"]),
                owner="ana@example.com", intended_use="tests",
            )  # fmt: skip
        models.append(est)
    prodline.set_alias("diabetes", "production", 1)
    X, y = frame.drop(columns="target"), frame["target"]
    predictions = [m.predict(X) for m in models]
    rows = []
    for i, record in enumerate(X.to_dict(orient="records")):
        version = 1 + i % 2
        pred = float(predictions[version - 1][i])
        rows.append({"model": "diabetes", "version": version, "request_id": f"q{i}",
                     "role": "champion" if version == 1 else "challenger",
                     "latency_ms": 1.0, "timestamp": T0 + i * 1000, "inputs": record,
                     "outputs": {"prediction": pred}})  # fmt: skip
    store = _context.store()
    store.log_predictions(rows)
    store.log_feedback("diabetes", [(f"q{i}", float(v)) for i, v in enumerate(y)])
    result = monitor("diabetes", window="1d", now=T0 + HOUR)
    perf = result.performance
    assert perf is not None and set(perf.metrics) == {"mae", "rmse", "r2"}
    assert perf.metrics["mae"] == pytest.approx(
        np.mean(np.abs(models[0].predict(X.iloc[::2]) - y.iloc[::2])), rel=1e-6
    )
    assert perf.drop("mae") == pytest.approx(perf.metrics["mae"] - perf.contract["mae"])
    assert result.drift is not None and result.drift.prediction[0].kind == "numeric"
    ab = result.ab
    assert ab is not None and ab.metric == "mae" and ab.difference > 0  # challenger worse
    assert ab.winner == "champion" and ab.low > 0
