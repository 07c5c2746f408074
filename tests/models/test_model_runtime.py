"""Predictors: the same answers from every input shape, and the single-row fast path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from prodline.errors import InvalidValueError
from prodline.models import measure_latency, read_package, write_package
from prodline.models.runtime import OnnxPredictor, SkopsPredictor, tie_aware_argmax


@pytest.fixture(scope="module")
def frame_forest(tmp_path_factory, cancer_frame):
    """A forest fitted on a named numeric frame, packaged: tensor input mode."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(25, random_state=0).fit(
        cancer_frame.X_train, cancer_frame.y_train
    )
    path = tmp_path_factory.mktemp("frame_forest") / "pkg"
    write_package(model, path, X_verify=cancer_frame.X_test)
    return model, read_package(path)


@pytest.fixture(scope="module")
def mixed_model(tmp_path_factory, mixed):
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age years", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(mixed.X_train, mixed.y_train)
    path = tmp_path_factory.mktemp("mixed") / "pkg"
    write_package(model, path, X_verify=mixed.X_test)
    return model, read_package(path)


def predictors(loaded):
    spec = loaded.manifest.input_spec
    python = SkopsPredictor(loaded.estimator, spec, task=loaded.manifest.task)
    return [loaded.predictor, python]


def test_tensor_mode_accepts_every_input_shape(frame_forest, cancer_frame) -> None:
    model, loaded = frame_forest
    assert isinstance(loaded.predictor, OnnxPredictor)
    assert loaded.manifest.input_mode == "tensor"
    frame = cancer_frame.X_test
    names = list(frame.columns)
    want = model.predict(frame)
    want_p = model.predict_proba(frame)
    row = frame.iloc[3]
    for predictor in predictors(loaded):
        np.testing.assert_array_equal(predictor.predict(frame), want)
        np.testing.assert_allclose(predictor.predict_proba(frame), want_p, atol=1e-5)
        # 2-D array, columns in training order
        np.testing.assert_array_equal(predictor.predict(frame.to_numpy()), want)
        # one row as a dict of scalars, a 1-D array, and a dict of lists
        one = {name: float(row[name]) for name in names}
        assert predictor.predict(one).tolist() == [want[3]]
        np.testing.assert_allclose(predictor.predict_proba(one), want_p[3:4], atol=1e-5)
        np.testing.assert_allclose(predictor.predict_proba(row.to_numpy()), want_p[3:4], atol=1e-5)
        many = {name: frame[name].tolist()[:5] for name in names}
        np.testing.assert_array_equal(predictor.predict(many), want[:5])
        # a dict with extra keys in any order is fine
        shuffled = {"unused": 1, **dict(reversed(list(one.items())))}
        assert predictor.predict(shuffled).tolist() == [want[3]]


def test_columns_mode_accepts_every_input_shape(mixed_model, mixed) -> None:
    model, loaded = mixed_model
    assert isinstance(loaded.predictor, OnnxPredictor)
    assert loaded.manifest.input_mode == "columns"
    frame = mixed.X_test
    want = model.predict(frame)
    want_p = model.predict_proba(frame)
    gaps = np.flatnonzero(frame["city"].isna().to_numpy() | frame["age years"].isna().to_numpy())
    assert gaps.size  # rows with missing values are part of the check
    for predictor in predictors(loaded):
        assert list(predictor.predict(frame)) == list(want)
        np.testing.assert_allclose(predictor.predict_proba(frame), want_p, atol=1e-5)
        assert list(predictor.predict(frame.to_numpy(dtype=object))) == list(want)
        for i in gaps[:3]:
            row = frame.iloc[i].to_dict()
            assert list(predictor.predict(row)) == [want[i]]
            np.testing.assert_allclose(predictor.predict_proba(row), want_p[i : i + 1], atol=1e-5)
    # the fast path takes None for a missing category too
    row = frame.iloc[int(gaps[0])].to_dict()
    row["city"] = None
    assert list(loaded.predictor.predict(row)) == list(model.predict(frame.iloc[[gaps[0]]]))


def test_bad_inputs_are_refused_with_the_reason(frame_forest, cancer) -> None:
    _, loaded = frame_forest
    for predictor in predictors(loaded):
        with pytest.raises(InvalidValueError, match="lacks column"):
            predictor.predict({"mean radius": 1.0})
    with pytest.raises(InvalidValueError, match=r"expected \(n_rows, 30\)"):
        loaded.predictor.predict(np.zeros((2, 29)))
    names = loaded.manifest.feature_names
    with pytest.raises(InvalidValueError, match="must be numbers"):
        loaded.predictor.predict({name: "big" for name in names})


def test_dict_input_needs_named_features(tmp_path, cancer, onnx_tools) -> None:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=3).fit(cancer.X_train, cancer.y_train)
    write_package(model, tmp_path / "pkg", X_verify=cancer.X_test)
    loaded = read_package(tmp_path / "pkg")
    assert loaded.manifest.feature_names is None
    with pytest.raises(InvalidValueError, match="unnamed array"):
        loaded.predictor.predict({"a": 1.0})
    np.testing.assert_array_equal(
        loaded.predictor.predict(cancer.X_test[0]), model.predict(cancer.X_test[:1])
    )


def test_regressors_and_clusterers_have_no_predict_proba(tmp_path, diabetes) -> None:
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Ridge

    for i, model in enumerate(
        [
            Ridge().fit(diabetes.X_train, diabetes.y_train),
            KMeans(3, n_init=2, random_state=0).fit(diabetes.X_train),
        ]
    ):
        write_package(model, tmp_path / f"pkg{i}", X_verify=diabetes.X_test)
        loaded = read_package(tmp_path / f"pkg{i}")
        for predictor in predictors(loaded):
            assert not predictor.has_proba
            assert predictor.classes_ is None
            with pytest.raises(InvalidValueError, match="no predict_proba"):
                predictor.predict_proba(diabetes.X_test)


def test_onnx_session_is_single_threaded_and_sequential(frame_forest) -> None:
    import onnxruntime as ort

    options = frame_forest[1].predictor._session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL


def test_tie_aware_argmax_gives_ties_to_the_first_class() -> None:
    proba = np.array([[0.49999994, 0.50000006], [0.2, 0.8], [0.5, 0.3]], dtype=np.float32)
    assert tie_aware_argmax(proba).tolist() == [0, 1, 0]


def test_single_row_latency_onnx_vs_sklearn(tmp_path, cancer, onnx_tools) -> None:
    """The handover's latency claim: a 100-tree forest, one row, predict_proba.

    Not a gate on wall time: it prints both medians and only checks the fast path
    is the faster one (the margin is two orders of magnitude).
    """
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(100, random_state=0).fit(cancer.X_train, cancer.y_train)
    write_package(model, tmp_path / "pkg", X_verify=cancer.X_test)
    loaded = read_package(tmp_path / "pkg")
    assert isinstance(loaded.predictor, OnnxPredictor)
    row = cancer.X_test[:1]
    np.testing.assert_allclose(
        loaded.predictor.predict_proba(row), model.predict_proba(row), atol=1e-5
    )
    python = measure_latency(lambda: model.predict_proba(row), repeat=30, warmup=3)
    onnx = measure_latency(lambda: loaded.predictor.predict_proba(row), repeat=500, warmup=20)
    print(
        f"\nsingle-row predict_proba, 100-tree forest: sklearn {python.median * 1e3:.2f} ms, "
        f"onnx {onnx.median_us:.1f} us, ratio {python.median / onnx.median:.0f}x"
    )
    assert onnx.median < python.median


def test_import_is_cheap() -> None:
    code = (
        "import sys, prodline.models\n"
        "heavy = [m for m in ('sklearn', 'skops', 'skl2onnx', 'onnxruntime', 'onnx', 'pandas',"
        " 'numpy', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
