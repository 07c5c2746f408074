"""log_model → registry → load_model, end to end on real models and a real SQLite store
(the registry tables themselves are tested on PostgreSQL too, in tests/store)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

import prodline
from prodline import _context
from prodline.cli.main import app
from prodline.errors import (
    ArtifactError,
    ContractViolationError,
    InvalidValueError,
    NotFoundError,
    RunStateError,
)
from prodline.registry.inspect import verify


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])


def _log(estimator, data, name: str = "cancer", **extra):
    train, test = data
    with prodline.start_run(experiment="models") as run:
        version = run.log_model(
            estimator, name, train=train, target="target",
            eval=(test.drop(columns="target"), test["target"]),
            owner="ana@example.com", intended_use="tests", **extra,
        )  # fmt: skip
    return run, version


def _fit(estimator, data):
    train, _ = data
    return estimator.fit(train.drop(columns="target"), train["target"])


def test_log_model_registers_a_version_that_loads_and_predicts_the_same(data) -> None:
    forest = _fit(RandomForestClassifier(n_estimators=20, random_state=0), data)
    run, version = _log(forest, data)
    assert (version.name, version.version, version.serving_path) == ("cancer", 1, "onnx")
    contract = version.contract
    assert contract.owner == "ana@example.com" and contract.task == "classification"
    assert contract.metrics["f1"] > 0.9 and "onnx" in contract.latency
    assert contract.code["run_id"] == run.id
    prodline.set_alias("cancer", "production", 1, reason="first model")
    _, test = data
    X = test.drop(columns="target")
    for ref in ("cancer@production", "cancer/1", "cancer"):
        model = prodline.load_model(ref)
        np.testing.assert_array_equal(model.predict(X), forest.predict(X))
        np.testing.assert_allclose(model.predict_proba(X), forest.predict_proba(X), atol=1e-5)
    row = X.iloc[0].to_dict()
    np.testing.assert_allclose(
        model.predict_proba(row), forest.predict_proba(X.iloc[[0]]), atol=1e-5
    )
    record = prodline.get_run(run.id)
    assert {(d.name, d.role) for d in record.datasets} == {
        ("cancer-train", "train"),
        ("cancer-eval", "eval"),
    }
    assert verify("cancer/1").ok


def test_input_is_checked_against_the_contract(data) -> None:
    _log(_fit(make_pipeline(StandardScaler(), LogisticRegression()), data), data)
    model = prodline.load_model("cancer/1")
    _, test = data
    row = test.drop(columns="target").iloc[0].to_dict()
    bad = {**row, "mean_radius": "large", "worst_area": 1e9}
    del bad["mean_texture"]
    with pytest.raises(ContractViolationError) as caught:
        model.predict(bad)
    problems = {(v.column, v.problem) for v in caught.value.report.violations}
    assert problems == {("mean_radius", "wrong_type"), ("mean_texture", "missing_column")}
    far = {**row, "worst_area": 1e9}
    assert model.predict(far).shape == (1,)  # past the training range: served by default
    strict = prodline.load_model("cancer/1", enforce_ranges=True)
    with pytest.raises(ContractViolationError) as caught:
        strict.predict(far)
    assert [(v.column, v.problem) for v in caught.value.report.violations] == [
        ("worst_area", "above_max")
    ]
    frame = test.drop(columns="target").iloc[:4].copy()
    frame["mean_area"] = frame["mean_area"].astype(object)
    frame.iloc[2, frame.columns.get_loc("mean_area")] = "n/a"
    with pytest.raises(ContractViolationError) as caught:
        model.predict(frame)
    [violation] = caught.value.report.violations
    assert (violation.column, violation.problem, violation.rows) == ("mean_area", "wrong_type", [2])
    unchecked = prodline.load_model("cancer/1", validate=False)
    assert unchecked.predict(test.drop(columns="target").iloc[:3]).shape == (3,)


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("unfitted", InvalidValueError, "fitted"),
        ("bad name", InvalidValueError, "Invalid model name"),
        ("slash name", InvalidValueError, "Invalid model name"),
        ("nan labels", InvalidValueError, "NaN|missing"),
        ("eval columns", InvalidValueError, "missing"),
        ("train lacks inputs", InvalidValueError, "column"),
    ],
)
def test_bad_input_registers_nothing(data, case: str, error, message: str) -> None:
    train, test = data
    estimator = make_pipeline(StandardScaler(), LogisticRegression())
    name = "cancer"
    kwargs = {
        "train": train, "target": "target",
        "eval": (test.drop(columns="target"), test["target"]),
    }  # fmt: skip
    if case != "unfitted":
        _fit(estimator, data)
    if case == "bad name":
        name = "my model"
    if case == "slash name":
        name = "team/model"
    if case == "nan labels":
        labels = test["target"].astype(float).copy()
        labels.iloc[3] = np.nan
        kwargs["eval"] = (test.drop(columns="target"), labels)
    if case == "eval columns":
        kwargs["eval"] = (test.drop(columns=["target", "mean_radius"]), test["target"])
    if case == "train lacks inputs":
        kwargs["train"] = train.drop(columns=["worst_area"])
    with prodline.start_run() as run:
        with pytest.raises(error, match=message):
            run.log_model(estimator, name, owner="ana", intended_use="tests", **kwargs)
    assert prodline.list_models() == []


def test_alias_to_a_missing_version_and_ended_runs(data) -> None:
    run, _ = _log(_fit(make_pipeline(StandardScaler(), LogisticRegression()), data), data)
    with pytest.raises(NotFoundError, match="no version 7"):
        prodline.set_alias("cancer", "production", 7)
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        prodline.load_model("cancer@staging")
    with pytest.raises(RunStateError):
        run.log_model(
            None, "cancer", train=None, target="target", eval=None, owner="a", intended_use="b"
        )


def test_a_tampered_blob_is_refused(data, isolated_home: Path) -> None:
    _log(_fit(RandomForestClassifier(n_estimators=5, random_state=0), data), data)
    record = prodline.get_model_version("cancer/1").record
    blob = Path(_context.artifacts().path_of(record.files["package/model.onnx"]["sha256"]))
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ArtifactError, match="does not match its hash"):
        prodline.load_model("cancer/1")
    report = verify("cancer/1")
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["file package/model.onnx"]


def test_a_tampered_cache_file_is_replaced_from_the_store(data) -> None:
    forest = _fit(RandomForestClassifier(n_estimators=5, random_state=0), data)
    _log(forest, data)
    prodline.load_model("cancer/1")
    cached = prodline.settings().home / "cache" / "models"
    [onnx] = list(cached.rglob("model.onnx"))
    onnx.write_bytes(b"not a model")
    _, test = data
    X = test.drop(columns="target")
    np.testing.assert_array_equal(prodline.load_model("cancer/1").predict(X), forest.predict(X))


def test_cli_models_commands(data) -> None:
    _log(_fit(make_pipeline(StandardScaler(), LogisticRegression()), data), data)
    _log(_fit(RandomForestClassifier(n_estimators=5, random_state=0), data), data)
    runner = CliRunner()

    def call(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert call("models", "list")["models"][0]["version_count"] == 2
    assert call("models", "alias", "cancer", "production", "2", "--reason", "better")["changed"]
    assert call("models", "label", "cancer", "1", "archived", "--reason", "replaced by v2")[
        "changed"
    ]
    shown = call("models", "show", "cancer", "1")
    assert shown["labels"][0]["reason"] == "replaced by v2"
    assert call("models", "contract", "cancer", "2")["task"] == "classification"
    lineage = call("models", "lineage", "cancer", "2")
    assert {d["role"] for d in lineage["datasets"]} == {"train", "eval"}
    assert call("models", "verify", "cancer", "2")["ok"] is True
    kinds = [e["kind"] for e in call("models", "history", "cancer")["events"]]
    assert kinds == ["version_created", "version_created", "alias_set", "label_added"]
    missing = runner.invoke(app, ["models", "alias", "cancer", "production", "9"])
    assert missing.exit_code == 2 and "no version 9" in missing.output
