"""build_contract on real models: round trips, the JSON Schema, metrics, latency, provenance."""

from __future__ import annotations

import hashlib
import json
import math
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prodline.contract import FORMAT_VERSION, Contract, build_contract
from prodline.data.fingerprint import frame_fingerprint
from prodline.data.schema import infer_schema
from prodline.data.validate import validate
from tests.contract.conftest import Case

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "contract.schema.json"


@pytest.fixture(scope="module")
def json_schema() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------- format


def test_round_trip_through_json_is_equal(case: Case) -> None:
    contract = case.contract
    text = contract.to_json()
    again = Contract.from_json(text)
    assert again == contract
    assert again.to_dict() == contract.to_dict()
    assert json.loads(text) == contract.to_dict()
    assert again.to_json() == text
    assert contract.format_version == FORMAT_VERSION == "1.0"


def test_save_and_load(cancer: Case, tmp_path: Path) -> None:
    path = cancer.contract.save(tmp_path)
    assert path == tmp_path / "contract.json"
    assert Contract.load(tmp_path) == cancer.contract
    assert Contract.load(path) == cancer.contract


def test_every_contract_matches_the_json_schema(case: Case, json_schema: Any) -> None:
    errors = sorted(json_schema.iter_errors(json.loads(case.contract.to_json())), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("owner"),
        lambda d: d.update(task="ranking"),
        lambda d: d.update(format_version="2.0"),
        lambda d: d["metrics"].pop("accuracy"),
        lambda d: d["package"]["files"]["model.skops"].update(sha256="xyz"),
        lambda d: d["latency"].update(gpu={}),
        lambda d: d["input_schema"]["columns"][0].update(kind="decimal"),
        lambda d: d["output_schema"].update(proba_columns=["p1", "p0"]),
    ],
)
def test_the_json_schema_rejects_broken_contracts(
    cancer: Case, json_schema: Any, damage: Any
) -> None:
    data = json.loads(cancer.contract.to_json())
    damage(data)
    assert list(json_schema.iter_errors(data))


# ---------------------------------------------------------------- metrics


def _binary_reference(y: Any, pred: Any, proba: Any, pos: Any) -> dict[str, float]:
    from sklearn import metrics as m

    return {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred, pos_label=pos),
        "recall": m.recall_score(y, pred, pos_label=pos),
        "f1": m.f1_score(y, pred, pos_label=pos),
        "roc_auc": m.roc_auc_score(y, proba[:, 1]),
        "log_loss": m.log_loss(y, proba),
    }


def test_binary_metrics_equal_sklearn(cancer: Case) -> None:
    from sklearn.metrics import classification_report

    model, X, y = cancer.estimator, cancer.X_eval, np.asarray(cancer.y_eval)
    pred, proba = model.predict(X), model.predict_proba(X)
    got = cancer.contract.metrics
    assert got["average"] == "binary" and got["positive_class"] == 1
    assert got["n_rows"] == len(y)
    for name, want in _binary_reference(y, pred, proba, 1).items():
        assert got[name] == pytest.approx(want, rel=1e-12), name
    report = classification_report(y, pred, output_dict=True)
    for cls in ("0", "1"):
        row = got["per_class"][cls]
        assert row["precision"] == pytest.approx(report[cls]["precision"], rel=1e-12)
        assert row["recall"] == pytest.approx(report[cls]["recall"], rel=1e-12)
        assert row["f1"] == pytest.approx(report[cls]["f1-score"], rel=1e-12)
        assert row["support"] == report[cls]["support"]
    assert "undefined" not in got


def test_multiclass_metrics_are_macro_and_equal_sklearn(mixed: Case) -> None:
    from sklearn import metrics as m

    model, X, y = mixed.estimator, mixed.X_eval, np.asarray(mixed.y_eval)
    pred, proba = model.predict(X), model.predict_proba(X)
    classes = list(model.classes_)
    got = mixed.contract.metrics
    assert got["average"] == "macro" and got["positive_class"] is None
    assert got["accuracy"] == pytest.approx(m.accuracy_score(y, pred), rel=1e-12)
    assert got["precision"] == pytest.approx(m.precision_score(y, pred, average="macro"), rel=1e-12)
    assert got["recall"] == pytest.approx(m.recall_score(y, pred, average="macro"), rel=1e-12)
    assert got["f1"] == pytest.approx(m.f1_score(y, pred, average="macro"), rel=1e-12)
    assert got["roc_auc"] == pytest.approx(
        m.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes), rel=1e-12
    )
    assert got["log_loss"] == pytest.approx(m.log_loss(y, proba, labels=classes), rel=1e-12)
    per = m.precision_recall_fscore_support(y, pred, labels=classes)
    assert sorted(got["per_class"]) == sorted(classes) == ["high", "low", "mid"]
    for i, cls in enumerate(classes):
        row = got["per_class"][cls]
        assert [row["precision"], row["recall"], row["f1"]] == pytest.approx(
            [per[0][i], per[1][i], per[2][i]], rel=1e-12
        )
        assert row["support"] == per[3][i]


def test_a_model_without_predict_proba_has_no_auc_or_log_loss(noproba: Case) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    got = noproba.contract.metrics
    pred = noproba.estimator.predict(noproba.X_eval)
    assert got["roc_auc"] is None and got["log_loss"] is None
    assert "predict_proba" in got["undefined"]["roc_auc"]
    assert got["accuracy"] == pytest.approx(accuracy_score(noproba.y_eval, pred), rel=1e-12)
    assert got["f1"] == pytest.approx(f1_score(noproba.y_eval, pred, average="macro"), rel=1e-12)
    assert noproba.contract.output_schema["proba_columns"] is None


def test_regression_metrics_equal_sklearn(diabetes: Case) -> None:
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    pred = diabetes.estimator.predict(diabetes.X_eval)
    y = diabetes.y_eval
    got = diabetes.contract.metrics
    assert got["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    assert got["rmse"] == pytest.approx(root_mean_squared_error(y, pred), rel=1e-12)
    assert got["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    assert got["n_rows"] == len(y)


def test_clustering_metrics_equal_sklearn(clusters: Case) -> None:
    from sklearn.metrics import silhouette_score

    model, X = clusters.estimator, clusters.X_eval
    labels = model.predict(X)
    space = model[:-1].transform(X)  # the space KMeans clusters in
    got = clusters.contract.metrics
    assert got["silhouette"] == pytest.approx(silhouette_score(space, labels), rel=1e-12)
    assert got["n_clusters"] == 3
    counts = np.bincount(labels, minlength=3)
    assert got["cluster_sizes"] == {str(i): int(counts[i]) for i in range(3)}
    assert sum(got["cluster_sizes"].values()) == len(X)


# ---------------------------------------------------------------- schemas and examples


def test_input_schema_is_the_training_rows_schema(case: Case) -> None:
    contract = case.contract
    names = list(case.X_train.columns)
    assert contract.input_columns == names
    assert contract.input_schema == infer_schema(case.X_train[names])
    if hasattr(case.estimator, "feature_names_in_"):
        assert names == list(case.estimator.feature_names_in_)


def test_mixed_input_schema_has_types_ranges_categories_and_nullability(mixed: Case) -> None:
    schema = mixed.contract.input_schema
    assert schema["age"].kind == "integer"
    assert (schema["age"].min, schema["age"].max) == (
        int(mixed.X_train["age"].min()),
        int(mixed.X_train["age"].max()),
    )
    assert schema["tenure years"].nullable and not schema["income"].nullable
    assert schema["city"].kind == "categorical" and schema["city"].nullable
    assert schema["city"].categories == ["lyon", "nice", "paris"]
    assert schema["plan"].categories == ["basic", "pro", "team"]


def test_output_schemas(case: Case) -> None:
    out = case.contract.output_schema
    model = case.estimator
    if case.contract.task == "classification":
        classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
        assert out["classes"] == classes
        assert out["target"] == case.target
        if case.name == "mixed":
            assert (out["dtype"], out["kind"]) == ("str", "string")
        if hasattr(model, "predict_proba"):
            assert out["proba_columns"] == [f"proba_{c}" for c in classes]
    elif case.contract.task == "regression":
        assert out == {"target": "progression", "dtype": "float64", "kind": "float"}
    else:
        assert out["cluster_ids"] == [0, 1, 2] and out["target"] is None
        assert out["kind"] == "integer"


def test_examples_are_json_rows_that_satisfy_the_contract(case: Case) -> None:
    examples = case.contract.examples
    assert 1 <= len(examples) <= 5
    assert json.loads(json.dumps(examples, allow_nan=False)) == examples
    assert all(list(row) == case.contract.input_columns for row in examples)
    assert case.contract.validate_records(examples).ok
    assert case.contract.validate(pd.DataFrame(examples)).ok


def test_training_and_eval_rows_pass_validation(case: Case) -> None:
    assert case.contract.validate(case.X_train).ok
    assert case.contract.validate(case.train).ok  # the target column is an allowed extra


# ---------------------------------------------------------------- latency


def _check_latency(entry: dict[str, Any], calls: int, batches: int, rows: int) -> None:
    assert entry["method"] == "predict"
    assert entry["single_row_calls"] == calls
    assert entry["batch_calls"] == batches and entry["batch_rows"] == rows
    assert 0 < entry["p50_single_row_ms"] <= entry["p99_single_row_ms"]
    assert entry["p50_batch_ms"] > 0
    assert all(math.isfinite(v) for v in entry.values() if isinstance(v, float))


def test_latency_is_measured_on_every_serving_path(cancer: Case) -> None:
    latency = cancer.contract.latency
    assert cancer.contract.serving_path == "onnx"
    assert set(latency) == {"onnx", "python"}
    for entry in latency.values():
        _check_latency(entry, 200, 15, 1000)
        assert entry["single_row_input"] == "dict"


def test_latency_paths_follow_the_package(mixed: Case, noproba: Case, clusters: Case) -> None:
    # an ONNX twin the package rejected: only the Python path exists
    assert mixed.contract.serving_path == "python"
    assert set(mixed.contract.latency) == {"python"}
    _check_latency(mixed.contract.latency["python"], 20, 3, 200)
    # a bare manifest cannot load the ONNX twin: the estimator itself is timed
    assert set(noproba.contract.latency) == {"python"}
    # a package directory is read, and both of its paths are timed
    assert set(clusters.contract.latency) == {"onnx", "python"}


def test_latency_can_be_skipped(cancer: Case) -> None:
    contract = build_contract(
        cancer.estimator,
        train=cancer.train,
        target="target",
        eval=(cancer.X_eval, cancer.y_eval),
        package=cancer.package,
        owner="me",
        intended_use="test",
        latency_calls=0,
    )
    assert contract.latency == {}


# ---------------------------------------------------------------- package and provenance


def test_package_fields_come_from_the_manifest(case: Case) -> None:
    package = case.contract.package
    files = {p.name: p.read_bytes() for p in case.directory.iterdir() if p.name != "manifest.json"}
    assert set(package["files"]) == set(files)
    for name, data in files.items():
        assert package["files"][name] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
    assert package["size_bytes"] == sum(len(d) for d in files.values())
    manifest = json.loads((case.directory / "manifest.json").read_text())
    assert package["digest"] == manifest["digest"]
    assert package["estimator_class"] == manifest["estimator_class"]
    assert case.contract.serving_path == manifest["serving_path"]


def test_dependencies_are_the_installed_versions(case: Case) -> None:
    import platform

    deps = case.contract.dependencies
    assert deps["python"] == platform.python_version()
    for name in ("scikit-learn", "numpy", "pandas", "skops", "onnxruntime", "skl2onnx"):
        assert deps[name] == version(name)


def test_datasets_and_code(case: Case) -> None:
    datasets = case.contract.datasets
    assert datasets["train"]["fingerprint"] == frame_fingerprint(case.train)
    assert datasets["train"]["n_rows"] == len(case.train)
    assert datasets["train"]["name"] == f"{case.name}-train"
    assert datasets["train"]["version"] == 1
    assert datasets["eval"]["n_rows"] == len(case.X_eval)
    assert len(datasets["eval"]["fingerprint"]) == 64
    assert case.contract.code["run_id"] == f"run-{case.name}"
    assert case.contract.owner == "risk-team@example.com"


def test_eval_given_as_one_frame_matches_a_tuple(diabetes: Case) -> None:
    frame = diabetes.X_eval.assign(progression=diabetes.y_eval)
    contract = build_contract(
        diabetes.estimator,
        train=diabetes.train,
        target="progression",
        eval=frame,
        package=diabetes.package,
        owner="me",
        intended_use="test",
        latency_calls=0,
    )
    assert contract.metrics == diabetes.contract.metrics
    assert contract.datasets["eval"] == diabetes.contract.datasets["eval"]


def test_a_model_fitted_on_an_array(cancer: Case, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from prodline.models import read_package, write_package

    X_train = cancer.X_train.iloc[:, :5]
    X_eval = cancer.X_eval.iloc[:, :5]
    model = LogisticRegression(max_iter=2000).fit(X_train.to_numpy(), cancer.train["target"])
    write_package(model, tmp_path / "p", X_verify=X_eval.to_numpy())
    contract = build_contract(
        model,
        train=X_train.assign(target=cancer.train["target"]),
        target="target",
        eval=(X_eval, cancer.y_eval),
        package=read_package(tmp_path / "p"),
        owner="me",
        intended_use="test",
        latency_calls=10,
        latency_batches=2,
    )
    assert contract.input_columns == list(X_train.columns)
    assert contract.latency["onnx"]["single_row_input"] == "array"
    assert contract.metrics["accuracy"] == pytest.approx(
        float(np.mean(model.predict(X_eval.to_numpy()) == np.asarray(cancer.y_eval)))
    )
    assert validate(X_eval, contract.input_schema).n_rows == len(X_eval)
