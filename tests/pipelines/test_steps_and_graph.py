"""Steps, DAG building and value storage, without running a pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodline.errors import ProdlineError, RunStateError
from prodline.pipelines import Step, StepOutput, current_run, pipeline, step
from prodline.pipelines.codec import decode, encode


@step
def make(n: int = 3) -> pd.DataFrame:
    """Make a frame."""
    return pd.DataFrame({"x": range(n)})


@step
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return df.iloc[:1], df.iloc[1:]


@step(outputs=2)
def halves(df):
    return df.iloc[:1], df.iloc[1:]


@step
def fit(df: pd.DataFrame, C: float = 1.0) -> dict:
    return {"C": C, "rows": len(df)}


@step(name="best", cache=False)
def choose(results: list, test: pd.DataFrame) -> dict:
    return max(results, key=lambda r: r["C"])


def test_a_step_outside_a_pipeline_is_just_its_function() -> None:
    assert isinstance(make, Step)
    frame = make(2)
    assert list(frame["x"]) == [0, 1]
    assert make.__name__ == "make" and make.__doc__ == "Make a frame."
    assert fit(frame, C=2.0) == {"C": 2.0, "rows": 2}
    assert split.n_outputs == 2 and halves.n_outputs == 2 and make.n_outputs is None
    assert choose.name == "best" and choose.cache is False


def test_a_pipeline_builds_a_dag_with_sweeps_as_parallel_nodes() -> None:
    @pipeline
    def sweep(n: int = 5):
        train, test = split(make(n))
        results = [fit(train, C=c) for c in (0.1, 1.0, 10.0)]
        return choose(results, test)

    graph = sweep.graph()
    assert list(graph.nodes) == ["make", "split", "fit", "fit-2", "fit-3", "best"]
    assert graph["split"].depends_on == ("make",)
    assert graph["fit-3"].depends_on == ("split",)
    assert graph["best"].depends_on == ("fit", "fit-2", "fit-3", "split")
    assert graph.levels() == [["make"], ["split"], ["fit", "fit-2", "fit-3"], ["best"]]
    assert graph["fit-2"].constants() == {"C": 1.0}
    assert graph["make"].constants() == {"n": 5}
    assert sweep.graph(n=9)["make"].constants() == {"n": 9}
    assert graph.dependents("split") == {"fit", "fit-2", "fit-3", "best"}
    described = sweep.describe()
    assert described["edges"][:2] == [["make", "split"], ["split", "fit"]]
    assert isinstance(graph.result, StepOutput)


def test_outputs_unpack_and_index_only_when_declared() -> None:
    @pipeline
    def unpacking():
        a, b = halves(make())
        first = split(make())[0]
        fit(a), fit(b), fit(first)

    graph = unpacking.graph()
    assert {str(spec) for spec in graph["fit-3"].args} == {"Ref(node='split', index=0)"}

    @pipeline
    def undeclared():
        a, b = fit(make())

    with pytest.raises(ProdlineError, match="does not declare how many outputs"):
        undeclared.graph()


def test_placeholders_refuse_to_be_used_as_values() -> None:
    @pipeline
    def branching():
        frame = make()
        if frame:  # the frame does not exist yet
            fit(frame)

    with pytest.raises(ProdlineError, match="placeholder.*truth value"):
        branching.graph()

    @pipeline
    def poking():
        _ = make().shape

    with pytest.raises(ProdlineError, match="attribute 'shape'"):
        poking.graph()


def test_building_checks_calls_and_shapes() -> None:
    @pipeline
    def wrong_arguments():
        fit(make(), 1.0, 2.0)

    with pytest.raises(ProdlineError, match="do not fit its signature"):
        wrong_arguments.graph()

    @pipeline
    def empty():
        return 1

    with pytest.raises(ProdlineError, match="calls no step"):
        empty.graph()

    @pipeline
    def needs_params(n):
        make(n)

    with pytest.raises(ProdlineError, match="cannot be built with params"):
        needs_params.graph()
    assert needs_params.describe()["error"]

    @pipeline
    def outer():
        empty()

    with pytest.raises(ProdlineError, match="called another pipeline"):
        outer.graph()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": "every monday"}, "not a valid cron"),
        ({"retrain_on": ["drift"]}, "needs the pipeline's model"),
        ({"retrain_on": ["rain"]}, "Unknown trigger 'rain'"),
        ({"retrain_on": ["new_data:"]}, "Unknown trigger"),
        ({"name": "has space"}, "Invalid pipeline name"),
        ({"model": "a/b"}, "Invalid model name"),
    ],
)
def test_pipeline_options_are_checked_when_decorating(options, message) -> None:
    def function() -> None:
        make()

    with pytest.raises(ProdlineError, match=message):
        pipeline(**options)(function)


def test_triggers_are_normalised() -> None:
    @pipeline(model="churn", schedule="0  3 * * 1", retrain_on=["drift", "new_data:data/in/*.csv"])
    def churn():
        make()

    assert churn.schedule == "0 3 * * 1"
    assert [str(t) for t in churn.triggers] == [
        "schedule:0 3 * * 1", "drift", "new_data:data/in/*.csv",
    ]  # fmt: skip
    assert churn.lock_key == "model.churn"


def test_step_code_fingerprint_follows_source_and_options() -> None:
    def original(x):
        return x + 1

    def edited(x):
        return x + 2

    a, b = Step(original), Step(original, cache=False)
    assert a.code_fingerprint != b.code_fingerprint
    assert Step(original).code_fingerprint == a.code_fingerprint
    assert Step(edited, name="original").code_fingerprint != a.code_fingerprint


def test_current_run_outside_a_step() -> None:
    import prodline

    with pytest.raises(RunStateError, match="only available while a pipeline runs a step"):
        current_run()
    with prodline.start_run("x", capture_code=False, capture_environment=False) as run:
        assert current_run() is run


# ---------------------------------------------------------------------- value storage
def _round_trip(value, **options):
    encoded = encode(value, where="test value", **options)
    return encoded.kind, decode(encoded.kind, encoded.data, where="test value", **options)


def test_frames_series_arrays_and_json_round_trip_without_pickle() -> None:
    frame = pd.DataFrame(
        {"n": [1, 2], "s": ["a", None], "c": pd.Categorical(["u", "v"]), "f": [0.5, np.nan]}
    )
    kind, back = _round_trip(frame)
    assert kind == "parquet"
    pd.testing.assert_frame_equal(back, frame)
    kind, back = _round_trip(pd.Series([1.5, 2.5], name="price"))
    assert kind == "series" and back.name == "price" and list(back) == [1.5, 2.5]
    kind, back = _round_trip(np.arange(6, dtype="int32").reshape(2, 3))
    assert kind == "npy" and back.dtype == np.int32 and back.shape == (2, 3)
    value = {"f1": np.float64(0.5), "n": np.int64(3), "shape": (2, 3), "ok": np.bool_(True)}
    kind, back = _round_trip(value)
    assert kind == "json" and back == {"f1": 0.5, "n": 3, "shape": [2, 3], "ok": True}
    assert _round_trip(b"\x00raw") == ("bytes", b"\x00raw")
    assert _round_trip(None) == ("json", None)
    # equal values give equal bytes, so the cache recognises them
    assert encode(frame, where="x").data == encode(frame.copy(), where="x").data
    assert encode({"b": 1, "a": 2}, where="x").data == encode({"a": 2, "b": 1}, where="x").data


def test_estimators_are_stored_with_skops_and_loaded_through_the_trusted_list() -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    kind, back = _round_trip(model)
    assert kind == "skops"
    assert list(back.predict([[0.1], [2.9]])) == [0, 1]


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value


def test_anything_else_is_refused_unless_the_step_allows_pickle() -> None:
    with pytest.raises(ProdlineError, match=r"Cannot store the test value \(.*Opaque\) safely"):
        encode(Opaque(1), where="test value")
    with pytest.raises(ProdlineError, match="allow_pickle=True"):
        encode({"when": pd.Timestamp("2026-01-01")}, where="test value")
    with pytest.raises(ProdlineError, match="numpy array of Python objects"):
        encode(np.array([{"a": 1}], dtype=object), where="test value")
    with pytest.raises(ProdlineError, match="JSON keys are strings"):
        encode({1: "a"}, where="test value")
    kind, back = _round_trip(Opaque(7), allow_pickle=True)
    assert kind == "pickle" and back.value == 7
    stored = encode(Opaque(7), where="x", allow_pickle=True)
    with pytest.raises(ProdlineError, match="refusing to unpickle"):
        decode(stored.kind, stored.data, where="x")
