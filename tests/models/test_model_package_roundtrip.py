"""Every supported family survives write_package -> read_package on held-out rows."""

from __future__ import annotations

import json
from importlib.util import find_spec
from typing import Any

import numpy as np
import pytest

from prodline.models import read_package, write_package
from prodline.models.runtime import OnnxPredictor, SkopsPredictor

PROBA_ATOL = 1e-5
REGRESSION_RTOL = 1e-5
ONNX_INSTALLED = find_spec("skl2onnx") is not None and find_spec("onnxruntime") is not None


def assert_same_predictions(original: Any, loaded: Any, X: Any, task: str) -> None:
    """The loaded package's predictor and estimator agree with the original estimator."""
    want = np.asarray(original.predict(X))
    got = np.asarray(loaded.predictor.predict(X))
    python = np.asarray(loaded.estimator.predict(X))
    if task == "regression":
        np.testing.assert_allclose(got, want, rtol=REGRESSION_RTOL, atol=1e-9)
        np.testing.assert_array_equal(python, want)
    else:
        assert got.shape == want.shape
        assert list(got) == list(want)
        assert list(python) == list(want)
    if task == "classification" and hasattr(original, "predict_proba"):
        want_p = original.predict_proba(X)
        np.testing.assert_allclose(loaded.predictor.predict_proba(X), want_p, atol=PROBA_ATOL)
        np.testing.assert_array_equal(loaded.estimator.predict_proba(X), want_p)


def assert_serving_path(loaded: Any, expect_onnx: bool | None) -> None:
    manifest = loaded.manifest
    outcome = manifest.onnx_conversion
    if manifest.serving_path == "onnx":
        assert outcome == "kept"
        assert isinstance(loaded.predictor, OnnxPredictor)
        assert (loaded.directory / "model.onnx").is_file()
    else:
        assert outcome.startswith(("rejected: ", "not_attempted: ")), outcome
        assert len(outcome) > len("rejected: ")  # a reason is recorded
        assert isinstance(loaded.predictor, SkopsPredictor)
        assert not (loaded.directory / "model.onnx").exists()
    if not ONNX_INSTALLED:
        assert outcome.startswith("not_attempted: ONNX tools are not installed"), outcome
    elif expect_onnx is not None:
        assert (manifest.serving_path == "onnx") is expect_onnx, outcome


def _families() -> list[Any]:
    from sklearn.cluster import KMeans
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier

    # (id, factory, data fixture, task, ONNX twin expected: True/False/None = either)
    return [
        ("logistic", lambda: LogisticRegression(max_iter=1000), "iris", "classification", True),
        ("tree", lambda: DecisionTreeClassifier(random_state=0), "cancer", "classification", True),
        (
            "forest",
            lambda: RandomForestClassifier(30, random_state=0),
            "cancer",
            "classification",
            True,
        ),
        (
            "gboost-multiclass",
            lambda: GradientBoostingClassifier(n_estimators=30, random_state=0),
            "iris",
            "classification",
            True,
        ),
        (
            "hist-gboost",
            lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
            "cancer",
            "classification",
            None,
        ),
        (
            "hist-gboost-regressor",
            lambda: HistGradientBoostingRegressor(max_iter=30),
            "diabetes",
            "regression",
            None,
        ),
        ("ridge", Ridge, "diabetes", "regression", True),
        ("linear", LinearRegression, "diabetes", "regression", True),
        (
            "forest-regressor",
            lambda: RandomForestRegressor(30, random_state=0),
            "diabetes",
            "regression",
            True,
        ),
        ("kmeans", lambda: KMeans(3, n_init=3, random_state=0), "diabetes", "clustering", True),
        (
            "forest-on-frame",
            lambda: RandomForestClassifier(20, random_state=0),
            "cancer_frame",
            "classification",
            True,
        ),
    ]


@pytest.mark.parametrize(
    ("factory", "data", "task", "expect_onnx"),
    [pytest.param(*f[1:], id=f[0]) for f in _families()],
)
def test_round_trip(request, tmp_path, factory, data, task, expect_onnx) -> None:
    split = request.getfixturevalue(data)
    estimator = factory()
    if task == "clustering":
        estimator.fit(split.X_train)
    else:
        estimator.fit(split.X_train, split.y_train)

    manifest = write_package(estimator, tmp_path / "pkg", X_verify=split.X_test)
    loaded = read_package(tmp_path / "pkg")

    assert manifest.task == task
    assert loaded.manifest == manifest
    assert manifest.estimator_class.endswith(type(estimator).__name__)
    assert manifest.serialization == "skops"
    if task == "classification":
        assert manifest.classes == estimator.classes_.tolist()
        assert list(loaded.predictor.classes_) == list(estimator.classes_)
    else:
        assert manifest.classes is None
    assert_same_predictions(estimator, loaded, split.X_test, task)
    assert_serving_path(loaded, expect_onnx)


def test_mixed_frame_pipeline(tmp_path, mixed, mixed_pipeline, onnx_tools) -> None:
    """ColumnTransformer over a frame with gaps: one ONNX input per column."""
    model = mixed_pipeline.fit(mixed.X_train, mixed.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=mixed.X_test)
    loaded = read_package(tmp_path / "pkg")

    assert manifest.serving_path == "onnx", manifest.onnx_conversion
    assert manifest.input_mode == "columns"
    assert manifest.feature_names == ["age years", "income", "city", "plan"]
    assert manifest.input["kinds"] == ["numeric", "numeric", "string", "string"]
    assert manifest.classes == ["churn", "stay"]
    assert_same_predictions(model, loaded, mixed.X_test, "classification")


def test_manifest_on_disk(tmp_path, iris, onnx_tools) -> None:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(iris.X_train, iris.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test)
    on_disk = json.loads((tmp_path / "pkg" / "manifest.json").read_text())

    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == [
        "manifest.json",
        "model.onnx",
        "model.skops",
    ]
    assert on_disk == manifest.to_dict()
    assert on_disk["format_version"] == 1
    assert on_disk["serving_path"] == "onnx"
    assert on_disk["onnx"]["outcome"] == "kept"
    assert on_disk["onnx"]["checks"]["label_mismatches"] == 0
    assert on_disk["input"]["mode"] == "tensor"
    assert on_disk["estimator_class"] == "sklearn.tree._classes.DecisionTreeClassifier"
    assert on_disk["trusted_types"] == ["sklearn.tree._tree.Tree"]
    for name in ("model.skops", "model.onnx"):
        entry = on_disk["files"][name]
        assert entry["size"] == (tmp_path / "pkg" / name).stat().st_size
        assert len(entry["sha256"]) == 64
    assert on_disk["versions"]["scikit-learn"]


def test_hist_gradient_boosting_falls_back_or_verifies(tmp_path, cancer) -> None:
    """Conversion of HistGradientBoosting fails with some skl2onnx/onnxruntime pairs."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(cancer.X_train, cancer.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=cancer.X_test)
    loaded = read_package(tmp_path / "pkg")
    if manifest.serving_path == "python":
        assert manifest.onnx["status"] == "rejected"
        assert manifest.onnx["reason"]
        assert manifest.onnx_conversion == f"rejected: {manifest.onnx['reason']}"
    assert_same_predictions(model, loaded, cancer.X_test, "classification")


def test_onnx_disabled(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000).fit(iris.X_train, iris.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test, onnx=False)
    assert manifest.serving_path == "python"
    assert manifest.onnx_conversion.startswith("not_attempted: ")
    loaded = read_package(tmp_path / "pkg")
    assert isinstance(loaded.predictor, SkopsPredictor)
    assert_same_predictions(model, loaded, iris.X_test, "classification")


def test_pickle_package_round_trip(tmp_path, iris) -> None:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(10, random_state=0).fit(iris.X_train, iris.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test, allow_pickle=True)
    assert manifest.serialization == "pickle"
    assert set(manifest.files) <= {"model.pkl", "model.onnx"}
    assert not (tmp_path / "pkg" / "model.skops").exists()
    loaded = read_package(tmp_path / "pkg", allow_pickle=True)
    assert_same_predictions(model, loaded, iris.X_test, "classification")


# --------------------------------------------------------------------------- boosters


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_xgboost(tmp_path, request, task) -> None:
    xgboost = pytest.importorskip("xgboost", reason="xgboost is not installed")
    if task == "classification":
        split = request.getfixturevalue("cancer")
        model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
    else:
        split = request.getfixturevalue("diabetes")
        model = xgboost.XGBRegressor(n_estimators=20, max_depth=3, n_jobs=1)
    model.fit(split.X_train, split.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=split.X_test)
    loaded = read_package(tmp_path / "pkg")
    assert manifest.task == task
    assert "xgboost" in manifest.versions
    assert_same_predictions(model, loaded, split.X_test, task)
    assert_serving_path(loaded, None)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_lightgbm(tmp_path, request, task) -> None:
    lightgbm = pytest.importorskip("lightgbm", reason="lightgbm is not installed")
    if task == "classification":
        split = request.getfixturevalue("cancer")
        model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1)
    else:
        split = request.getfixturevalue("diabetes")
        model = lightgbm.LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=1)
    model.fit(split.X_train, split.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=split.X_test)
    loaded = read_package(tmp_path / "pkg")
    assert manifest.task == task
    assert_same_predictions(model, loaded, split.X_test, task)
    assert_serving_path(loaded, None)


def _mlp() -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier((8,), max_iter=300, random_state=0)


def _calibrated_svc() -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(LinearSVC(), cv=3)


def _svc_without_proba() -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC()


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(_mlp, id="mlp"),
        pytest.param(_calibrated_svc, id="calibrated-svc"),
        pytest.param(_svc_without_proba, id="svc-no-proba"),
    ],
)
def test_more_classifiers_need_no_extra_trust(tmp_path, iris, factory) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny data
        model = factory().fit(iris.X_train, iris.y_train)
    write_package(model, tmp_path / "pkg", X_verify=iris.X_test)
    loaded = read_package(tmp_path / "pkg")
    assert loaded.predictor.has_proba == hasattr(model, "predict_proba")
    assert_same_predictions(model, loaded, iris.X_test, "classification")
    assert_serving_path(loaded, None)


def test_neighbors_are_refused_until_their_trees_are_checked(tmp_path, iris) -> None:
    """KDTree/BallTree hold unchecked index arrays: not on the trusted list."""
    from sklearn.neighbors import KNeighborsClassifier

    from prodline.errors import UntrustedTypeError

    model = KNeighborsClassifier().fit(iris.X_train, iris.y_train)
    with pytest.raises(UntrustedTypeError, match=r"KDTree"):
        write_package(model, tmp_path / "pkg", X_verify=iris.X_test)


def test_packages_without_the_onnx_tools(tmp_path) -> None:
    """Without skl2onnx/onnxruntime (blocked in a fresh interpreter) packages still work."""
    import subprocess
    import sys

    code = f"""
import sys
sys.modules["skl2onnx"] = None  # import fails as if not installed
sys.modules["onnxruntime"] = None
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from prodline.models import read_package, write_package
X, y = load_iris(return_X_y=True)
model = DecisionTreeClassifier(random_state=0).fit(X, y)
manifest = write_package(model, {str(tmp_path / "pkg")!r}, X_verify=X[::3])
loaded = read_package({str(tmp_path / "pkg")!r})
assert (loaded.predict(X) == model.predict(X)).all()
print(manifest.serving_path, type(loaded.predictor).__name__, manifest.onnx_conversion)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("python SkopsPredictor not_attempted: ONNX tools are not"), \
        out.stdout
