"""convert_to_onnx keeps a twin only when it predicts the same, and says why otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from prodline.models import convert_to_onnx, read_package, write_package
from prodline.models.onnx_twin import _convert, _expected, _verify, describe_input, target_opset
from prodline.models.runtime import OnnxPredictor

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


class MajorityVote(ClassifierMixin, BaseEstimator):
    """A classifier skl2onnx has no converter for."""

    def fit(self, X, y):
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_describe_input() -> None:
    numeric = pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2], "flag": [True, False]})
    spec, reason = describe_input(numeric)
    assert reason is None
    assert spec.mode == "tensor"
    assert spec.feature_names == ("a", "b", "flag")
    assert spec.kinds == ("numeric", "numeric", "numeric")

    mixed = numeric.assign(city=["x", None], plan=pd.Categorical(["p", "q"]))
    spec, reason = describe_input(mixed)
    assert reason is None
    assert spec.mode == "columns"
    assert spec.kinds[-2:] == ("string", "string")

    spec, reason = describe_input(np.zeros((3, 4)))
    assert (spec.mode, spec.n_features, spec.feature_names, reason) == ("tensor", 4, None, None)

    dated = numeric.assign(when=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    assert "when" in describe_input(dated)[1]
    assert "DataFrame" in describe_input(np.array([["a", 1]], dtype=object))[1]
    from scipy import sparse

    assert "sparse" in describe_input(sparse.csr_matrix(np.eye(3)))[1]


def test_target_opset_is_supported_by_the_converter() -> None:
    import skl2onnx

    assert 15 <= target_opset() <= skl2onnx.__max_supported_opset__


def test_model_without_converter_is_rejected_with_the_reason(tmp_path, iris) -> None:
    model = MajorityVote().fit(iris.X_train, iris.y_train)
    result = convert_to_onnx(model, iris.X_test, task="classification", classes=model.classes_)
    assert result.status == "rejected"
    assert result.model is None
    assert "conversion failed" in result.reason
    assert "MajorityVote" in result.reason
    assert result.outcome == f"rejected: {result.reason}"


def test_unsupported_input_is_not_attempted(tmp_path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.DataFrame(iris.X_train, columns=list("abcd"))
    test = pd.DataFrame(iris.X_test, columns=list("abcd"))
    model = DecisionTreeClassifier(max_depth=3).fit(frame, iris.y_train)
    result = convert_to_onnx(model, test.astype(complex), task="classification")
    assert result.status == "not_attempted"
    assert "complex" in result.reason


def test_outlier_detectors_package_without_a_twin(tmp_path, cancer) -> None:
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=10, random_state=0).fit(cancer.X_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=cancer.X_test)
    assert manifest.task == "outlier_detection"
    assert manifest.serving_path == "python"
    assert manifest.onnx_conversion.startswith("not_attempted: ")
    loaded = read_package(tmp_path / "pkg")
    np.testing.assert_array_equal(loaded.predict(cancer.X_test), model.predict(cancer.X_test))


def test_float32_rounding_falls_back_to_double(tmp_path) -> None:
    """y = x - 1e7 on x near 1e7: float32 inputs round x to a unit, doubles keep it."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    offset = rng.uniform(1, 10, size=(200, 1))
    X = 1e7 + offset
    y = offset[:, 0]
    model = LinearRegression().fit(X[:150], y[:150])

    manifest = write_package(model, tmp_path / "pkg", X_verify=X[150:])
    assert manifest.serving_path == "onnx", manifest.onnx_conversion
    assert manifest.input["precision"] == "float64"
    assert manifest.onnx["checks"]["max_relative_error"] <= 1e-5
    loaded = read_package(tmp_path / "pkg")
    np.testing.assert_allclose(loaded.predict(X[150:]), model.predict(X[150:]), rtol=1e-5)


def test_mismatch_reason_names_the_largest_difference(iris) -> None:
    """A twin checked against another model's answers is refused with numbers."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000).fit(iris.X_train, iris.y_train)
    other = LogisticRegression(max_iter=1000, C=1e-3).fit(iris.X_train, iris.y_train[::-1])
    spec, _ = describe_input(iris.X_test)
    twin = OnnxPredictor(
        _convert(model, spec, "classification", target_opset()),
        spec,
        task="classification",
        classes=model.classes_,
    )
    problem, checks = _verify(
        twin, iris.X_test, _expected(other, iris.X_test, "classification"), "classification"
    )
    assert problem is not None
    assert "labels differ" in problem
    assert "largest probability difference" in problem
    assert checks["label_mismatches"] > 0
    assert checks["max_proba_abs_error"] > 1e-5

    problem, checks = _verify(
        twin, iris.X_test, _expected(model, iris.X_test, "classification"), "classification"
    )
    assert problem is None
    assert checks["label_mismatches"] == 0


def test_tied_votes_are_decoded_like_scikit_learn(tmp_path, cancer_frame) -> None:
    """An even number of trees ties 50/50; ONNX float32 sums break the tie the other way."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(20, random_state=0)
    model.fit(cancer_frame.X_train, cancer_frame.y_train)
    proba = model.predict_proba(cancer_frame.X_test)
    ties = np.flatnonzero(proba[:, 0] == proba[:, 1])
    assert ties.size  # the held-out rows include exact ties

    manifest = write_package(model, tmp_path / "pkg", X_verify=cancer_frame.X_test)
    assert manifest.serving_path == "onnx", manifest.onnx_conversion
    assert manifest.onnx["labels_from"] == "proba_argmax"
    loaded = read_package(tmp_path / "pkg")
    tied_rows = cancer_frame.X_test.iloc[ties]
    np.testing.assert_array_equal(loaded.predict(tied_rows), model.predict(tied_rows))
