"""Load a skops file only when every type in it is trusted, then check its trees.

skops refuses, by default, any type outside its own short list (builtins, numpy,
scipy, scikit-learn's public estimators). A fitted tree model always names at
least one more: ``sklearn.tree._tree.Tree`` or the histogram gradient boosting
``TreePredictor``. skops leaves those out on purpose: their node arrays hold raw
child and feature indices that scikit-learn follows without bounds checks, so a
crafted file can make ``predict`` read outside its arrays.

prodline trusts them *and then checks them*: :func:`load_estimator` refuses a
file naming any type outside :data:`TRUSTED_TYPES` (plus what the caller adds
with ``extra_trusted=``) before anything is built, and after building it walks
the estimator and checks every tree's structure (:func:`check_trees`) before
handing it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from typing import Any

from prodline.errors import ModelPackageError, UntrustedTypeError

# Types trusted on top of skops' defaults. Each is either plain data, a scikit-learn
# internal that fitted models hold, or a tree structure that check_trees() verifies.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # containers and callables plain fitted models hold
        "builtins.slice",
        "collections.OrderedDict",
        "functools.partial",  # its target function is checked as a type of its own
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._mt19937.MT19937",
        "sklearn.utils.validation.check_array",  # HistGradientBoosting's preprocessor
        "sklearn.compose._column_transformer._RemainderColsList",
        "sklearn.utils._bunch.Bunch",
        # trees: verified node by node by check_trees()
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        # losses and links of (Hist)GradientBoosting and the linear GLMs
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.PinballLoss",
        "sklearn.ensemble._gb._init_raw_predictions",
        # plain-Python helpers of public estimators (arrays and numbers inside; their
        # methods are scikit-learn's own code)
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.cluster._bisect_k_means._BisectingTree",
        "sklearn.cluster._kmeans._kmeans_single_elkan",
        "sklearn.cluster._kmeans._kmeans_single_lloyd",
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.gaussian_process.kernels.CompoundKernel",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.DotProduct",
        "sklearn.gaussian_process.kernels.ExpSineSquared",
        "sklearn.gaussian_process.kernels.Exponentiation",
        "sklearn.gaussian_process.kernels.Hyperparameter",
        "sklearn.gaussian_process.kernels.Matern",
        "sklearn.gaussian_process.kernels.PairwiseKernel",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.RationalQuadratic",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        # Not trusted: sklearn.neighbors' KDTree/BallTree. Like Tree, they hold index
        # arrays that Cython follows unchecked, and no check here covers them yet.
        # XGBoost and LightGBM scikit-learn wrappers. Their boosters are rebuilt by the
        # libraries' own model parsers from the stored model bytes/string.
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.sklearn.XGBRFClassifier",
        "xgboost.sklearn.XGBRFRegressor",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    }
)

# scikit-learn's marker values in Tree.children_left/right and Tree.feature
_TREE_LEAF = -1
_TREE_UNDEFINED = -2


def trusted_types(extra_trusted: Iterable[str | type] = ()) -> frozenset[str]:
    """Return :data:`TRUSTED_TYPES` plus every public scikit-learn estimator and ``extra``."""
    extra = {_type_name(t) for t in extra_trusted}
    return _base_trusted() | extra if extra else _base_trusted()


@lru_cache(maxsize=1)
def _base_trusted() -> frozenset[str]:
    from sklearn.utils import all_estimators

    return TRUSTED_TYPES | {_type_name(cls) for _, cls in all_estimators()}


def load_estimator(path: str | PathLike[str], *, extra_trusted: Iterable[str | type] = ()) -> Any:
    """Load a skops file, refusing untrusted types and malformed trees.

    ``extra_trusted`` names further types (``"module.Class"`` or the class itself)
    to trust for this call. Raises :class:`UntrustedTypeError` before anything is
    built when the file names a type outside the trusted list, and
    :class:`ModelPackageError` when the file is not a readable skops file or when a
    tree in the loaded estimator is malformed.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ModelPackageError(f"cannot read {path}: {exc.strerror}") from exc
    return load_estimator_bytes(data, extra_trusted=extra_trusted, source=str(path))


def load_estimator_bytes(
    data: bytes, *, extra_trusted: Iterable[str | type] = (), source: str = "<bytes>"
) -> Any:
    """:func:`load_estimator` for the bytes of a skops file (``source`` names it in errors).

    Loading from bytes lets a caller hash exactly what it then deserialises.
    """
    import skops.io as sio

    try:
        found = untrusted_types_in(data)
    except Exception as exc:  # a zip or schema skops cannot read
        raise ModelPackageError(
            f"{source} is not a readable skops file: {type(exc).__name__}: {exc}"
        ) from exc
    allowed = trusted_types(extra_trusted)
    refused = sorted(t for t in found if t not in allowed)
    if refused:
        listed = ", ".join(refused)
        hint = ", ".join(repr(t) for t in refused)
        raise UntrustedTypeError(
            f"{source} names {len(refused)} type(s) outside prodline's trusted list: "
            f"{listed}. Nothing was loaded. Loading a type runs its code, so trust it only "
            f"if you know where the file came from, then pass extra_trusted=[{hint}]."
        )
    try:
        estimator = sio.loads(data, trusted=found)
    except Exception as exc:
        raise ModelPackageError(
            f"{source} could not be deserialised by skops: {type(exc).__name__}: {exc}"
        ) from exc
    check_trees(estimator)
    return estimator


def untrusted_types_in(data: bytes) -> list[str]:
    """The types a skops file names beyond skops' own defaults (nothing is built)."""
    import skops.io as sio

    if not data:
        raise ValueError("the file is empty")
    return sio.get_untrusted_types(data=data)


def check_trees(estimator: Any, *, name: str = "estimator") -> int:
    """Check the structure of every tree reachable from ``estimator``.

    Walks Pipelines, ColumnTransformers, meta-estimators and ensembles (forests,
    gradient boosting's 2-D ``estimators_``, bagging, isolation forests,
    HistGradientBoosting's predictors) and checks each scikit-learn ``Tree`` and
    ``TreePredictor``: child indices point forward inside the node array (so every
    walk ends), feature indices stay inside the input the tree sees, split
    thresholds are numbers, the value array matches the nodes. Also checks that
    k-means centres match the input width. Returns the number of trees checked;
    raises :class:`ModelPackageError` naming the estimator path, node and field.
    """
    checked: set[int] = set()
    for path, obj, ctx in _walk(estimator, name, _Ctx(), set()):
        if _is_sklearn_tree(obj):
            _check_tree(obj, path, ctx.width)
            checked.add(id(obj))
        elif _is_tree_predictor(obj):
            _check_tree_predictor(obj, path, ctx)
            checked.add(id(obj))
    return len(checked)


# --------------------------------------------------------------------------- walking


def _type_name(t: str | type) -> str:
    if isinstance(t, str):
        return t
    return f"{t.__module__}.{t.__qualname__}"


def _is_sklearn_tree(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "Tree" and cls.__module__ == "sklearn.tree._tree"


def _is_tree_predictor(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "TreePredictor" and cls.__module__.startswith(
        "sklearn.ensemble._hist_gradient_boosting"
    )


def _min_width(*widths: Any) -> int | None:
    import numpy as np

    known = [int(w) for w in widths if isinstance(w, (int, np.integer))]
    return min(known) if known else None


@dataclass(frozen=True)
class _Ctx:
    """What an object's parents tell about the input it will see.

    ``width`` is the narrowest input width known to reach the object: an ensemble's
    validated ``n_features_in_`` is handed down to its members, which receive the
    same rows without validating them again. ``categorical`` is the owning
    HistGradientBoosting model's mask of categorical features.
    """

    width: int | None = None
    categorical: Any = None


def _is_tree_ensemble(obj: Any) -> bool:
    """Ensembles whose sub-estimators see the ensemble's validated input directly."""
    from sklearn.ensemble import BaseEnsemble
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
        BaseHistGradientBoosting,
    )

    return isinstance(obj, (BaseEnsemble, BaseHistGradientBoosting))


def _walk(obj: Any, path: str, ctx: _Ctx, seen: set[Any]) -> Iterator[tuple[str, Any, _Ctx]]:
    """Yield (path, object, context) for ``obj`` and every object reachable from it.

    An object reachable along several paths (a file can make two attributes share
    one object) is visited once per distinct context, so a tree shared with an
    ensemble is checked against the ensemble's width too.
    """
    import numpy as np

    if obj is None or isinstance(obj, (str, bytes, int, float, bool, np.generic)):
        return
    key = (id(obj), ctx.width, id(ctx.categorical))
    if key in seen:
        return
    seen.add(key)
    yield path, obj, ctx
    if _is_sklearn_tree(obj) or _is_tree_predictor(obj):
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for index in np.ndindex(obj.shape):
                label = ",".join(str(i) for i in index)
                yield from _walk(obj[index], f"{path}[{label}]", ctx, seen)
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _walk(value, f"{path}[{key!r}]", ctx, seen)
        return
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _walk(value, f"{path}[{i}]", ctx, seen)
        return
    attrs = getattr(obj, "__dict__", None)
    if not isinstance(attrs, dict):
        return
    width = _min_width(ctx.width, attrs.get("n_features_in_"))
    if _is_kmeans_like(obj):
        _check_centers(obj, path, width)
    ensemble = _is_tree_ensemble(obj)
    member_ctx = _Ctx(width, _categorical_mask(obj, path, width) if ensemble else None)
    feature_subsets = attrs.get("estimators_features_") if ensemble else None
    for key, value in attrs.items():
        child_path = f"{path}.{key}"
        if key == "tree_":
            # a decision tree's own node array: bounded by its validated input width
            yield from _walk(value, child_path, _Ctx(width), seen)
        elif ensemble and key == "estimators_" and feature_subsets is not None:
            yield from _walk_bagged(value, feature_subsets, child_path, width, seen)
        elif ensemble and key in ("estimators_", "_predictors"):
            yield from _walk(value, child_path, member_ctx, seen)
        else:
            # anything else (pipeline steps, transformers, final estimators) validates
            # its own input: the parent's width says nothing about it
            yield from _walk(value, child_path, _Ctx(), seen)


def _categorical_mask(obj: Any, path: str, width: int | None) -> Any:
    """HistGradientBoosting: which features its bin mapper treats as categorical."""
    import numpy as np

    mapper = getattr(obj, "_bin_mapper", None)
    if mapper is None:
        return None
    mask = getattr(mapper, "is_categorical_", None)
    if mask is None:
        return np.zeros(width or 0, dtype=bool)
    mask = np.asarray(mask)
    if mask.ndim != 1 or (width is not None and mask.shape[0] != width):
        raise ModelPackageError(
            f"malformed model at {path}._bin_mapper: field is_categorical_ has shape "
            f"{mask.shape} for {width} input features, so it was not loaded."
        )
    return mask.astype(bool)


def _walk_bagged(
    members: Any, subsets: Any, path: str, width: int | None, seen: set[Any]
) -> Iterator[tuple[str, Any, _Ctx]]:
    """Bagging and isolation forests hand member i only the columns ``subsets[i]``."""
    import numpy as np

    members = list(members)
    subsets = list(subsets)
    if len(subsets) != len(members):
        raise ModelPackageError(
            f"malformed model at {path}: {len(members)} estimators but {len(subsets)} "
            "feature subsets (estimators_features_), so it was not loaded."
        )
    for i, (member, subset) in enumerate(zip(members, subsets, strict=True)):
        subset = np.asarray(subset)
        if subset.ndim != 1 or subset.dtype.kind not in "iu":
            raise ModelPackageError(
                f"malformed model at {path}[{i}]: estimators_features_ must be a 1-D "
                f"integer array, got shape {subset.shape} dtype {subset.dtype}."
            )
        if width is not None and subset.size and (subset.min() < 0 or subset.max() >= width):
            raise ModelPackageError(
                f"malformed model at {path}[{i}]: estimators_features_ holds column "
                f"{int(subset.max())} outside the {width} input features, so it was not "
                "loaded."
            )
        yield from _walk(member, f"{path}[{i}]", _Ctx(int(subset.size)), seen)


# --------------------------------------------------------------------------- checks


def _fail(path: str, what: str) -> ModelPackageError:
    return ModelPackageError(
        f"malformed tree at {path}: {what}. A crafted or corrupted file could make "
        "predict read outside the model's arrays, so it was not loaded."
    )


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(mask)[0])


def _check_tree(tree: Any, path: str, width: int | None) -> None:
    import numpy as np

    # Read the counters before touching any array view: the views are sized by
    # node_count, so a node_count past the allocated capacity must be caught first.
    node_count = int(tree.node_count)
    capacity = int(tree.capacity)
    if node_count < 1 or node_count > capacity:
        raise _fail(path, f"node_count={node_count} but {capacity} nodes are stored")
    n_features = int(tree.n_features)
    bound = _min_width(n_features, width)
    if bound is None or bound < 1:
        raise _fail(path, f"n_features={n_features} (input width {width})")

    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    feature = np.asarray(tree.feature, dtype=np.int64)
    threshold = np.asarray(tree.threshold, dtype=np.float64)
    for field, arr in (
        ("children_left", left),
        ("children_right", right),
        ("feature", feature),
        ("threshold", threshold),
    ):
        if arr.shape != (node_count,):
            raise _fail(path, f"field {field} has shape {arr.shape}, expected ({node_count},)")
    value = tree.value
    expected = (node_count, int(tree.n_outputs), int(tree.max_n_classes))
    if tuple(value.shape) != expected:
        raise _fail(path, f"field value has shape {value.shape}, expected {expected}")

    ids = np.arange(node_count)
    is_leaf = left == _TREE_LEAF
    bad = is_leaf != (right == _TREE_LEAF)
    if bad.any():
        node = _first(bad)
        raise _fail(
            path,
            f"node {node} field children_left={left[node]} / children_right={right[node]}: "
            "a node must have both children or none",
        )
    split = ~is_leaf
    for field, child in (("children_left", left), ("children_right", right)):
        bad = split & ((child <= ids) | (child >= node_count))
        if bad.any():
            node = _first(bad)
            raise _fail(
                path,
                f"node {node} field {field}={child[node]} is outside ({node}, {node_count}): "
                "children must come after their parent and inside the node array",
            )
    bad = split & (left == right)
    if bad.any():
        node = _first(bad)
        raise _fail(
            path, f"node {node} fields children_left and children_right are both {left[node]}"
        )
    bad = split & ((feature < 0) | (feature >= bound))
    if bad.any():
        node = _first(bad)
        raise _fail(path, f"node {node} field feature={feature[node]} is outside [0, {bound})")
    bad = is_leaf & (feature != _TREE_UNDEFINED)
    if bad.any():
        node = _first(bad)
        raise _fail(
            path, f"leaf node {node} field feature={feature[node]}, expected {_TREE_UNDEFINED}"
        )
    bad = split & ~np.isfinite(threshold)
    if bad.any():
        node = _first(bad)
        raise _fail(path, f"node {node} field threshold={threshold[node]} is not finite")

    # every node but the root has exactly one parent: a real tree, no shared subtrees
    parents = np.bincount(np.concatenate([left[split], right[split]]), minlength=node_count)
    if parents[0] != 0 or (parents[1:] != 1).any():
        node = 0 if parents[0] else 1 + _first(parents[1:] != 1)
        raise _fail(
            path,
            f"node {node} has {parents[node]} parents (field children_left/"
            "children_right), expected one (none for the root)",
        )
    # decision_path() allocates max_depth + 1 slots per row
    depth = np.zeros(node_count, dtype=np.int64)
    for node in np.flatnonzero(split):  # children > parent: index order is topological
        depth[left[node]] = depth[right[node]] = depth[node] + 1
    if int(depth.max()) > int(tree.max_depth):
        raise _fail(
            path, f"field max_depth={tree.max_depth} but the nodes reach depth {int(depth.max())}"
        )


def _check_tree_predictor(predictor: Any, path: str, ctx: _Ctx) -> None:
    import numpy as np

    width = ctx.width
    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or nodes.dtype.names is None:
        raise _fail(path, "field nodes is not a 1-D record array")
    required = (
        "value",
        "feature_idx",
        "num_threshold",
        "left",
        "right",
        "is_leaf",
        "is_categorical",
        "bitset_idx",
    )
    missing = [f for f in required if f not in nodes.dtype.names]
    if missing:
        raise _fail(path, f"field nodes lacks {', '.join(missing)}")
    n = nodes.shape[0]
    if n < 1:
        raise _fail(path, "field nodes is empty")
    if width is None or width < 1:
        raise _fail(path, "the input width of the owning estimator is unknown")
    ids = np.arange(n)
    split = nodes["is_leaf"] == 0
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    for field, child in (("left", left), ("right", right)):
        bad = split & ((child <= ids) | (child >= n))
        if bad.any():
            node = _first(bad)
            raise _fail(path, f"node {node} field {field}={child[node]} is outside ({node}, {n})")
    bad = split & ((feature < 0) | (feature >= width))
    if bad.any():
        node = _first(bad)
        raise _fail(path, f"node {node} field feature_idx={feature[node]} is outside [0, {width})")
    bad = split & np.isnan(nodes["num_threshold"].astype(np.float64))
    if bad.any():
        raise _fail(path, f"node {_first(bad)} field num_threshold is NaN")
    categorical = split & (nodes["is_categorical"] != 0)
    if categorical.any():
        raw = np.asarray(predictor.raw_left_cat_bitsets)
        binned = np.asarray(predictor.binned_left_cat_bitsets)
        n_bitsets = min(raw.shape[0], binned.shape[0]) if raw.ndim == 2 == binned.ndim else 0
        if raw.ndim != 2 or raw.shape[1] != 8:
            raise _fail(path, f"field raw_left_cat_bitsets has shape {raw.shape}")
        idx = nodes["bitset_idx"].astype(np.int64)
        bad = categorical & (idx >= n_bitsets)
        if bad.any():
            node = _first(bad)
            raise _fail(
                path, f"node {node} field bitset_idx={idx[node]} is outside [0, {n_bitsets})"
            )
        # known-category bitsets exist only for features the bin mapper calls categorical
        mask = ctx.categorical
        if mask is None:
            mask = np.zeros(width, dtype=bool)
        bad = categorical & ~mask[np.clip(feature, 0, width - 1)]
        if bad.any():
            node = _first(bad)
            raise _fail(
                path,
                f"node {node} field is_categorical=1 but feature "
                f"{feature[node]} is not categorical",
            )


def _is_kmeans_like(obj: Any) -> bool:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    return isinstance(obj, (KMeans, MiniBatchKMeans)) and hasattr(obj, "cluster_centers_")


def _check_centers(obj: Any, path: str, width: int | None) -> None:
    import numpy as np

    centers = np.asarray(obj.cluster_centers_)
    if centers.ndim != 2 or (width is not None and centers.shape[1] != width):
        raise ModelPackageError(
            f"malformed model at {path}: field cluster_centers_ has shape {centers.shape} "
            f"for {width} input features; predict would read outside it, so it was not "
            "loaded."
        )
