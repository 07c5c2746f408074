"""load_estimator: the trusted-type list and the tree checks, on real crafted files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prodline.errors import ModelPackageError, TamperedPackageError, UntrustedTypeError
from prodline.models import TRUSTED_TYPES, check_trees, load_estimator, read_package
from prodline.models import write_package as write_model_package
from prodline.models.package import _canonical, _digest


def dump(estimator: Any, path: Path) -> Path:
    import skops.io as sio

    sio.dump(estimator, path)
    return path


def rewrite_npy(
    src: Path, dst: Path, field: str, edit: Callable[[np.ndarray], None], which: int = 0
) -> None:
    """Copy a skops zip, editing the ``which``-th .npy record array that has ``field``."""
    seen = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(".npy"):
                arr = np.load(io.BytesIO(data), allow_pickle=False)
                if arr.dtype.names and field in arr.dtype.names:
                    if seen == which:
                        arr = arr.copy()
                        edit(arr)
                        buffer = io.BytesIO()
                        np.save(buffer, arr, allow_pickle=False)
                        data = buffer.getvalue()
                    seen += 1
            zout.writestr(info, data)
    assert seen > which, f"no record array with field {field!r} in {src}"


def rewrite_schema(src: Path, dst: Path, edit: Callable[[dict], None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "schema.json":
                schema = json.loads(data)
                edit(schema)
                data = json.dumps(schema).encode()
            zout.writestr(info, data)


def set_field(field: str, node: int, value: Any) -> Callable[[np.ndarray], None]:
    def edit(arr: np.ndarray) -> None:
        arr[field][node] = value

    return edit


def first_split(arr: np.ndarray) -> int:
    return int(np.flatnonzero(arr["left_child"] != -1)[1])  # a split node below the root


@pytest.fixture(scope="module")
def tree_file(tmp_path_factory, cancer) -> tuple[Path, Any]:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(cancer.X_train, cancer.y_train)
    return dump(model, tmp_path_factory.mktemp("tree") / "tree.skops"), model


@pytest.fixture(scope="module")
def forest_file(tmp_path_factory, cancer) -> tuple[Path, Any]:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(8, max_depth=4, random_state=0)
    model.fit(cancer.X_train, cancer.y_train)
    return dump(model, tmp_path_factory.mktemp("forest") / "forest.skops"), model


def test_untouched_files_load_and_predict(tree_file, forest_file, cancer) -> None:
    for path, model in (tree_file, forest_file):
        loaded = load_estimator(path)
        np.testing.assert_array_equal(loaded.predict(cancer.X_test), model.predict(cancer.X_test))
    assert check_trees(load_estimator(forest_file[0])) == 8


@pytest.mark.parametrize(
    ("field", "edit", "message"),
    [
        ("left_child", set_field("left_child", 0, 10**6), r"node 0 field children_left=1000000"),
        ("right_child", set_field("right_child", 0, -7), r"node 0 field children_"),
        ("left_child", set_field("left_child", 0, 0), r"node 0 field children_left=0 .*after"),
        ("feature", set_field("feature", 0, 30), r"node 0 field feature=30 is outside \[0, 30\)"),
        ("feature", set_field("feature", 0, -5), r"node 0 field feature=-5"),
        ("threshold", set_field("threshold", 0, np.nan), r"node 0 field threshold=nan"),
    ],
    ids=[
        "child-past-end",
        "negative-child",
        "child-to-self",
        "feature-past-end",
        "negative-feature",
        "nan-threshold",
    ],
)
def test_crafted_decision_tree_is_refused(tmp_path, tree_file, field, edit, message) -> None:
    bad = tmp_path / "bad.skops"
    rewrite_npy(tree_file[0], bad, field, edit)
    with pytest.raises(ModelPackageError, match=message) as refusal:
        load_estimator(bad)
    assert "estimator.tree_" in str(refusal.value)


def test_backward_child_making_a_cycle_is_refused(tmp_path, tree_file) -> None:
    bad = tmp_path / "bad.skops"

    def edit(arr: np.ndarray) -> None:
        node = first_split(arr)
        arr["right_child"][node] = node - 1  # points back up: predict would loop forever

    rewrite_npy(tree_file[0], bad, "right_child", edit)
    with pytest.raises(ModelPackageError, match=r"field children_right=\d+ is outside"):
        load_estimator(bad)


def test_half_leaf_is_refused(tmp_path, tree_file) -> None:
    """predict stops only on children_left == -1: a lone right child would be followed."""
    bad = tmp_path / "bad.skops"
    rewrite_npy(tree_file[0], bad, "left_child", set_field("left_child", 0, -1))
    with pytest.raises(ModelPackageError, match="both children or none"):
        load_estimator(bad)


def test_shared_subtree_is_refused(tmp_path, tree_file) -> None:
    bad = tmp_path / "bad.skops"

    def edit(arr: np.ndarray) -> None:
        split = first_split(arr)
        arr["left_child"][split] = arr["right_child"][split]  # both children the same node

    rewrite_npy(tree_file[0], bad, "left_child", edit)
    with pytest.raises(ModelPackageError, match="children_left and children_right are both"):
        load_estimator(bad)


@pytest.mark.parametrize("which", [0, 5])
def test_crafted_forest_member_is_refused(tmp_path, forest_file, which) -> None:
    bad = tmp_path / "bad.skops"
    rewrite_npy(forest_file[0], bad, "feature", set_field("feature", 0, 31), which=which)
    message = r"estimators_\[\d\]\.tree_: node 0 field feature=31"
    with pytest.raises(ModelPackageError, match=message):
        load_estimator(bad)


def test_understated_max_depth_is_refused(tmp_path, tree_file) -> None:
    """decision_path() allocates max_depth + 1 slots per row."""
    bad = tmp_path / "bad.skops"

    def edit(schema: dict) -> None:
        state = schema["content"]["content"]["tree_"]["content"]["content"]
        state["max_depth"]["content"] = "1"
        state["max_depth"]["__id__"] = 1  # skops shares equal ints by id: make this one new

    rewrite_schema(tree_file[0], bad, edit)
    with pytest.raises(ModelPackageError, match=r"field max_depth=1 but the nodes reach depth"):
        load_estimator(bad)


def test_crafted_gradient_boosting_stage_is_refused(tmp_path, iris) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(n_estimators=3, max_depth=2).fit(iris.X_train, iris.y_train)
    good = dump(model, tmp_path / "gb.skops")
    assert check_trees(load_estimator(good)) == 9  # 3 stages x 3 classes
    bad = tmp_path / "bad.skops"
    rewrite_npy(good, bad, "feature", set_field("feature", 0, 4), which=4)
    message = r"estimators_\[\d,\d\]\.tree_: node 0 field feature=4"
    with pytest.raises(ModelPackageError, match=message):
        load_estimator(bad)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("feature_idx", 99, r"field feature_idx=99 is outside \[0, 30\)"),
        ("left", 10**6, r"field left=1000000"),
        ("right", 0, r"field right=0"),
    ],
)
def test_crafted_hist_gradient_boosting_predictor_is_refused(
    tmp_path, cancer, field, value, message
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=3, random_state=0)
    model.fit(cancer.X_train, cancer.y_train)
    good = dump(model, tmp_path / "hgb.skops")
    np.testing.assert_array_equal(
        load_estimator(good).predict(cancer.X_test), model.predict(cancer.X_test)
    )
    bad = tmp_path / "bad.skops"
    rewrite_npy(good, bad, "feature_idx", set_field(field, 0, value), which=1)
    with pytest.raises(ModelPackageError, match=r"_predictors\[\d\]\[0\]: node 0 " + message):
        load_estimator(bad)


def test_isolation_forest_feature_subsets_are_checked(tmp_path, cancer) -> None:
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=4, max_features=0.5, random_state=0).fit(cancer.X_train)
    good = dump(model, tmp_path / "iso.skops")
    assert check_trees(load_estimator(good)) == 4
    bad = tmp_path / "bad.skops"
    # members see 15 of the 30 columns: feature 20 is inside the input, outside the member's
    rewrite_npy(good, bad, "feature", set_field("feature", 0, 20))
    with pytest.raises(ModelPackageError, match=r"feature=20 is outside \[0, 15\)"):
        load_estimator(bad)


def test_crafted_tree_inside_a_package_is_refused(tmp_path, cancer) -> None:
    """Someone who rewrites the manifest's hashes still cannot slip a bad tree through."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(5, max_depth=3, random_state=0)
    model.fit(cancer.X_train, cancer.y_train)
    pkg = tmp_path / "pkg"
    original = write_model_package(model, pkg, X_verify=cancer.X_test)
    crafted = tmp_path / "crafted.skops"
    rewrite_npy(pkg / "model.skops", crafted, "left_child", set_field("left_child", 0, 10**6))
    (pkg / "model.skops").write_bytes(crafted.read_bytes())

    with pytest.raises(TamperedPackageError, match=r"model\.skops"):
        read_package(pkg)

    manifest = json.loads((pkg / "manifest.json").read_text())
    import hashlib

    data = (pkg / "model.skops").read_bytes()
    manifest["files"]["model.skops"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    manifest["digest"] = _digest({k: v for k, v in manifest.items() if k != "digest"})
    (pkg / "manifest.json").write_bytes(_canonical(manifest))

    with pytest.raises(ModelPackageError, match=r"malformed tree at estimator\.estimators_\[0\]"):
        read_package(pkg)
    lazy = read_package(pkg, lazy_estimator=True)  # serving from the ONNX twin
    with pytest.raises(ModelPackageError, match=r"malformed tree at estimator\.estimators_\[0\]"):
        lazy.estimator  # noqa: B018 - the checks run before the estimator is trusted
    with pytest.raises(TamperedPackageError):
        read_package(pkg, expected_digest=original.digest)


# --------------------------------------------------------------------------- types


class Custom:
    """Not an estimator, just an object of the user's own."""

    def __init__(self) -> None:
        self.weights = [1, 2, 3]


def test_untrusted_types_are_all_named_and_nothing_is_loaded(tmp_path, iris) -> None:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=2).fit(iris.X_train, iris.y_train)
    model.custom_ = Custom()
    model.other_ = {"nested": Custom}
    path = dump(model, tmp_path / "custom.skops")
    name = f"{Custom.__module__}.Custom"

    with pytest.raises(UntrustedTypeError) as refusal:
        load_estimator(path)
    message = str(refusal.value)
    assert name in message
    assert "Nothing was loaded" in message
    assert "extra_trusted=" in message
    assert "sklearn.tree._tree.Tree" not in message  # trusted: checked node by node

    loaded = load_estimator(path, extra_trusted=[Custom])
    assert loaded.custom_.weights == [1, 2, 3]
    loaded = load_estimator(path, extra_trusted=[name])
    assert isinstance(loaded.custom_, Custom)


def test_trusted_list_is_explicit_and_covers_the_tree_types() -> None:
    assert "sklearn.tree._tree.Tree" in TRUSTED_TYPES
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in TRUSTED_TYPES
    dangerous = ("builtins.eval", "builtins.exec", "os.", "subprocess.", "pickle.")
    assert not any(name.startswith(dangerous) for name in TRUSTED_TYPES)


def test_not_a_skops_file(tmp_path) -> None:
    path = tmp_path / "junk.skops"
    path.write_bytes(b"definitely not a zip")
    with pytest.raises(ModelPackageError, match="not a readable skops file"):
        load_estimator(path)
    with pytest.raises(ModelPackageError, match="cannot read"):
        load_estimator(tmp_path / "missing.skops")


def test_member_width_comes_from_the_ensemble_even_when_shared(cancer) -> None:
    """A forest member sees the forest's validated 30 columns, whatever it claims itself.

    The crafted member claims 40 input features and splits on column 35; a second
    attribute sharing the member (skops files can share objects) is walked first.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree._tree import Tree

    forest = RandomForestClassifier(3, max_depth=2, random_state=0)
    forest.fit(cancer.X_train, cancer.y_train)
    member = forest.estimators_[0]
    assert check_trees(forest) == 3

    state = member.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = 35
    crafted = Tree(40, np.asarray(member.tree_.n_classes), member.tree_.n_outputs)
    crafted.__setstate__({**state, "nodes": nodes})
    member.tree_ = crafted
    member.n_features_in_ = 40
    assert check_trees(member) == 1  # alone, 35 < 40 looks fine

    forest.__dict__ = {"alias_": member, **forest.__dict__}
    with pytest.raises(ModelPackageError, match=r"estimators_\[0\]\.tree_: node 0 field "
                                                r"feature=35 is outside \[0, 30\)"):
        check_trees(forest)
