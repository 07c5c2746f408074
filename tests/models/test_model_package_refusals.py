"""What write_package and read_package refuse, and that a refusal loads nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from prodline.errors import (
    InvalidValueError,
    ModelPackageError,
    TamperedPackageError,
    UntrustedTypeError,
)
from prodline.models import read_package, write_package
from prodline.models.package import _canonical, _digest


class Doubler(TransformerMixin, BaseEstimator):
    """A transformer of the user's own: skops cannot know it is safe."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X) * 2.0


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def package(tmp_path, iris):
    """A written package: model.skops, and model.onnx when the ONNX tools are installed."""
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(iris.X_train, iris.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test)
    assert "model.skops" in manifest.files
    return tmp_path / "pkg"


def existing(package: Path, name: str) -> Path:
    path = package / name
    if not path.exists():
        pytest.skip(f"{name} was not written (ONNX tools not installed)")
    return path


# --------------------------------------------------------------------------- writing


def test_unfitted_estimator_is_refused(tmp_path, iris) -> None:
    from sklearn.ensemble import RandomForestClassifier

    with pytest.raises(InvalidValueError, match=r"RandomForestClassifier is not fitted.*fit"):
        write_package(RandomForestClassifier(), tmp_path / "pkg", X_verify=iris.X_test)
    assert not (tmp_path / "pkg").exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory left behind


def test_unfitted_pipeline_is_refused(tmp_path, mixed, mixed_pipeline) -> None:
    with pytest.raises(InvalidValueError, match="not fitted"):
        write_package(mixed_pipeline, tmp_path / "pkg", X_verify=mixed.X_test)


def test_estimator_without_predict_is_refused(tmp_path, iris) -> None:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(iris.X_train)
    with pytest.raises(InvalidValueError, match="no predict method"):
        write_package(scaler, tmp_path / "pkg", X_verify=iris.X_test)


@pytest.mark.parametrize("bad", [None, "rows", np.empty((0, 4))])
def test_missing_verify_rows_are_refused(tmp_path, iris, bad) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=500).fit(iris.X_train, iris.y_train)
    with pytest.raises(InvalidValueError, match="X_verify"):
        write_package(model, tmp_path / "pkg", X_verify=bad)


def test_verify_rows_of_the_wrong_shape_are_refused(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=500).fit(iris.X_train, iris.y_train)
    with pytest.raises(InvalidValueError, match="predict failed on X_verify"):
        write_package(model, tmp_path / "pkg", X_verify=iris.X_test[:, :2])


def test_existing_package_is_never_overwritten(package, iris) -> None:
    from sklearn.linear_model import LogisticRegression

    before = {p.name: p.read_bytes() for p in package.iterdir()}
    model = LogisticRegression(max_iter=500).fit(iris.X_train, iris.y_train)
    with pytest.raises(InvalidValueError, match="already exists"):
        write_package(model, package, X_verify=iris.X_test)
    assert {p.name: p.read_bytes() for p in package.iterdir()} == before


def test_empty_target_directory_is_used(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression

    (tmp_path / "pkg").mkdir()
    model = LogisticRegression(max_iter=500).fit(iris.X_train, iris.y_train)
    write_package(model, tmp_path / "pkg", X_verify=iris.X_test)
    assert read_package(tmp_path / "pkg").manifest.task == "classification"


# --------------------------------------------------------------------------- tampering


@pytest.mark.parametrize("name", ["model.skops", "model.onnx"])
@pytest.mark.parametrize("where", [0.1, 0.5, 0.95])
def test_flipped_byte_in_a_model_file_is_refused(package, name, where) -> None:
    path = existing(package, name)
    flip_byte(path, int(path.stat().st_size * where))
    with pytest.raises(TamperedPackageError, match=name.replace(".", r"\.")):
        read_package(package)


@pytest.mark.parametrize("where", [0.02, 0.3, 0.5, 0.8, 0.99])
def test_flipped_byte_in_the_manifest_is_refused(package, where) -> None:
    path = package / "manifest.json"
    flip_byte(path, int(path.stat().st_size * where))
    with pytest.raises(TamperedPackageError, match=r"manifest\.json"):
        read_package(package)


def test_reformatted_manifest_is_refused(package) -> None:
    """Same content, other bytes (an editor re-saved it): refused too."""
    path = package / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    with pytest.raises(TamperedPackageError, match=r"manifest\.json"):
        read_package(package)


def test_consistently_rewritten_package_fails_the_expected_digest(package, iris) -> None:
    """Hashes catch edits; only a digest recorded elsewhere catches a full rewrite."""
    original = read_package(package).manifest.digest
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["classes"] = [2, 1, 0]
    body = {k: v for k, v in manifest.items() if k != "digest"}
    manifest["digest"] = _digest(body)
    (package / "manifest.json").write_bytes(_canonical(manifest))

    assert read_package(package).manifest.classes == [2, 1, 0]  # self-consistent
    with pytest.raises(TamperedPackageError, match="not the package that was registered"):
        read_package(package, expected_digest=original)
    assert read_package(package, expected_digest=manifest["digest"])


@pytest.mark.parametrize("name", ["model.skops", "model.onnx"])
def test_missing_file_is_refused(package, name) -> None:
    existing(package, name).unlink()
    with pytest.raises(TamperedPackageError, match=r"lacks.*" + name.replace(".", r"\.")):
        read_package(package)


def test_missing_manifest_is_refused(package) -> None:
    (package / "manifest.json").unlink()
    with pytest.raises(ModelPackageError, match=r"no manifest\.json"):
        read_package(package)


@pytest.mark.parametrize("extra", ["model.pkl", "notes.txt", ".hidden"])
def test_extra_file_is_refused(package, extra) -> None:
    (package / extra).write_bytes(b"anything")
    with pytest.raises(TamperedPackageError, match=extra.replace(".", r"\.")):
        read_package(package)


def test_extra_directory_is_refused(package) -> None:
    (package / "sub").mkdir()
    with pytest.raises(TamperedPackageError, match="sub"):
        read_package(package)


def test_swapped_model_file_is_refused(tmp_path, package, iris) -> None:
    """A valid skops file from another package is still not this package's file."""
    from sklearn.tree import DecisionTreeClassifier

    other = DecisionTreeClassifier(max_depth=1).fit(iris.X_train, iris.y_train)
    write_package(other, tmp_path / "other", X_verify=iris.X_test)
    (package / "model.skops").write_bytes((tmp_path / "other" / "model.skops").read_bytes())
    with pytest.raises(TamperedPackageError, match=r"model\.skops"):
        read_package(package)


def test_not_a_package(tmp_path) -> None:
    with pytest.raises(ModelPackageError, match="does not exist"):
        read_package(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ModelPackageError, match="no manifest"):
        read_package(tmp_path / "plain")


# --------------------------------------------------------------------------- trust


def test_untrusted_type_is_refused_on_write_and_read(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(Doubler(), LogisticRegression(max_iter=500))
    model.fit(iris.X_train, iris.y_train)
    with pytest.raises(UntrustedTypeError, match=r"Doubler.*extra_trusted"):
        write_package(model, tmp_path / "refused", X_verify=iris.X_test)
    assert not (tmp_path / "refused").exists()

    name = f"{Doubler.__module__}.{Doubler.__qualname__}"
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test, extra_trusted=[name])
    assert name in manifest.trusted_types

    with pytest.raises(UntrustedTypeError) as refusal:
        read_package(tmp_path / "pkg")
    message = str(refusal.value)
    assert name in message
    assert f"extra_trusted=[{name!r}]" in message
    assert "Nothing was loaded" in message

    loaded = read_package(tmp_path / "pkg", extra_trusted=[Doubler])
    np.testing.assert_array_equal(loaded.estimator.predict(iris.X_test), model.predict(iris.X_test))
    np.testing.assert_array_equal(loaded.predictor.predict(iris.X_test), model.predict(iris.X_test))


def test_pickle_package_needs_allow_pickle(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # a custom class: the reason someone reaches for pickle
    model = make_pipeline(Doubler(), LogisticRegression(max_iter=500))
    model.fit(iris.X_train, iris.y_train)
    manifest = write_package(model, tmp_path / "pkg", X_verify=iris.X_test, allow_pickle=True)
    assert manifest.serialization == "pickle"
    assert "model.pkl" in manifest.files

    with pytest.raises(ModelPackageError, match=r"pickle.*runs any code.*allow_pickle=True"):
        read_package(tmp_path / "pkg")

    loaded = read_package(tmp_path / "pkg", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(iris.X_test), model.predict(iris.X_test))


def test_pickle_flag_cannot_be_removed_from_the_manifest(tmp_path, iris) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=500).fit(iris.X_train, iris.y_train)
    write_package(model, tmp_path / "pkg", X_verify=iris.X_test, allow_pickle=True)
    path = tmp_path / "pkg" / "manifest.json"
    path.write_bytes(path.read_bytes().replace(b'"pickle"', b'"skops"'))
    with pytest.raises(TamperedPackageError):
        read_package(tmp_path / "pkg")
