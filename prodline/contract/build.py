"""Build a handover contract from a fitted estimator, its data and its package.

``build_contract`` checks that the estimator, the training frame, the eval data and the
package describe the same model, then infers the input schema from the training rows,
evaluates the estimator on the eval rows with scikit-learn's metric functions, times
each available serving path with real calls, and records the package's files, the
installed dependency versions and the datasets' fingerprints.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from prodline.contract._metrics import (
    class_key,
    classification_metrics,
    clustering_metrics,
    regression_metrics,
)
from prodline.contract.contract import TASKS, Contract
from prodline.data._values import json_scalar
from prodline.errors import InvalidValueError

MAX_EXAMPLES = 5
# distributions whose versions every contract records (when installed)
_DEPENDENCIES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "joblib",
    "threadpoolctl",
    "skops",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
)


def build_contract(
    estimator: Any,
    *,
    train: Any,
    target: str | None,
    eval: Any,
    package: Any,
    owner: str,
    intended_use: str,
    datasets: Mapping[str, Any] | None = None,
    code: Mapping[str, Any] | None = None,
    latency_rows: int = 1000,
    latency_calls: int = 200,
    latency_batches: int = 15,
    max_categories: int = 50,
) -> Contract:
    """The handover contract of a fitted ``estimator``.

    - ``train``: the training frame, the model's input columns plus the ``target``
      column (a DataFrame, or a prodline ``Dataset``). The input schema (types,
      nullability, ranges, categories) and the example rows come from it.
    - ``target``: the label column's name. Clusterers may pass ``None``.
    - ``eval``: held-out data, ``(X_eval, y_eval)`` or a frame holding the ``target``
      column (clusterers: a frame of inputs alone). Metrics come from it, and the
      latency batches are resampled from its rows.
    - ``package``: the model's package, as returned by ``prodline.models.read_package``
      (a ``LoadedPackage``; every serving path it offers is timed), its
      ``PackageManifest`` (only the Python path is timed), or its directory.
    - ``owner``, ``intended_use``: who answers for the model and what it is for.
    - ``datasets``: optional ``{"train": ..., "eval": ...}`` naming the data, each a
      dict (``name``, ``version``, anything JSON-safe) or a prodline ``Dataset``;
      fingerprints and row counts are always computed from the data given.
    - ``code``: optional free-form provenance (run id, git commit, entrypoint...).
    - ``latency_rows``: rows per latency batch; ``latency_calls`` single-row calls and
      ``latency_batches`` batch calls per serving path (``latency_calls=0`` skips the
      latency measurement).

    Raises :class:`~prodline.errors.InvalidValueError` naming what is wrong, where and
    how to fix it: an unfitted estimator, training data that lacks the model's input
    columns or the target, eval columns that differ from the model's inputs, missing
    labels, empty eval data, a package of another model.
    """
    owner = _text("owner", owner)
    intended_use = _text("intended_use", intended_use)
    for name, value, low in (
        ("latency_rows", latency_rows, 1),
        ("latency_calls", latency_calls, 0),
        ("latency_batches", latency_batches, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidValueError(f"{name} must be an integer >= {low}, got {value!r}")

    _require_fitted(estimator)
    task = task_of(estimator)
    train_frame, train_info = _frame_of("train", train)
    if target is None and task != "clustering":
        raise InvalidValueError(
            f"target is None, but a {task} model needs labels: pass target=<the name of "
            "the label column in train>"
        )
    if target is not None and target not in train_frame.columns:
        raise InvalidValueError(
            f"target column {target!r} is not in train (train has columns "
            f"{_names(train_frame.columns)}); pass target=<the label column's name> or "
            "add the labels to the training frame"
        )
    inputs = input_columns(estimator, train_frame, target)
    y_train = None if target is None else train_frame[target]
    if y_train is not None and task != "clustering":
        _check_labels("train", target, y_train)

    X_eval, y_eval, eval_info = _eval_data(eval, target, inputs, task)
    manifest, loaded = _package_of(package)
    _check_package(manifest, estimator, task, inputs)

    from prodline.data.schema import infer_schema

    input_schema = infer_schema(train_frame[inputs], max_categories=max_categories)
    model_X = model_input(estimator, X_eval)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y_pred = np.asarray(estimator.predict(model_X))
    output_schema, metrics = _evaluate(estimator, task, target, model_X, y_eval, y_pred)

    latency: dict[str, dict[str, Any]] = {}
    if latency_calls > 0:
        latency = _latency(
            estimator,
            manifest,
            loaded,
            task,
            X_eval,
            rows=latency_rows,
            calls=latency_calls,
            batches=latency_batches,
        )

    return Contract(
        task=task,
        input_schema=input_schema,
        output_schema=output_schema,
        metrics=metrics,
        package=package_summary(manifest),
        serving_path=str(manifest.serving_path),
        owner=owner,
        intended_use=intended_use,
        examples=examples(train_frame[inputs]),
        latency=latency,
        dependencies=dependencies(estimator),
        datasets=_datasets(train_frame, train_info, eval_info, datasets),
        code=_code(code),
    )


# ---------------------------------------------------------------------- the estimator


def _require_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if not hasattr(estimator, "predict"):
        raise InvalidValueError(
            f"{name} has no predict method; a contract describes a model that predicts. "
            "Pass the fitted estimator (or Pipeline) that was packaged."
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError as e:
        raise InvalidValueError(
            f"{name} is not fitted: call .fit(X, y) on it before building its contract."
        ) from e
    except TypeError as e:
        raise InvalidValueError(f"{name} is not a scikit-learn style estimator: {e}") from e


def _final(estimator: Any) -> Any:
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


def task_of(estimator: Any) -> str:
    """``classification``, ``regression`` or ``clustering``; other models are refused."""
    from sklearn.base import ClusterMixin, is_classifier, is_regressor

    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    if isinstance(_final(estimator), ClusterMixin):
        return "clustering"
    raise InvalidValueError(
        f"{type(estimator).__name__} is neither a classifier, a regressor nor a clusterer; "
        f"contracts cover {', '.join(TASKS)} models"
    )


def input_columns(estimator: Any, train: pd.DataFrame, target: str | None) -> list[str]:
    """The model's input columns, in the order it reads them, checked against ``train``."""
    named = getattr(estimator, "feature_names_in_", None)
    candidates = [c for c in train.columns if c != target]
    if named is not None:
        inputs = [str(c) for c in named]
        if target is not None and target in inputs:
            raise InvalidValueError(
                f"the target column {target!r} is one of the model's input columns: the "
                "model was fitted with its own labels as a feature. Refit it without them."
            )
        missing = [c for c in inputs if c not in train.columns]
        if missing:
            raise InvalidValueError(
                f"train does not describe the model's inputs: it lacks column(s) "
                f"{_names(missing)} the model was fitted on (train has "
                f"{_names(candidates)}). Pass the training frame the model was fitted on."
            )
        return inputs
    n = getattr(estimator, "n_features_in_", None)
    if n is not None and n != len(candidates):
        raise InvalidValueError(
            f"the model was fitted on an unnamed array of {n} column(s), but train has "
            f"{len(candidates)} input column(s) besides the target ({_names(candidates)}). "
            "Pass exactly the training columns in the order the model saw them."
        )
    return [str(c) for c in candidates]


def model_input(estimator: Any, X: pd.DataFrame) -> Any:
    """``X`` as the estimator was fitted: a frame if it knows column names, else an array."""
    if getattr(estimator, "feature_names_in_", None) is not None:
        return X
    return X.to_numpy()


# ---------------------------------------------------------------------- data


def _frame_of(role: str, data: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A DataFrame and what is known about it (a prodline Dataset brings its name)."""
    info: dict[str, Any] = {}
    if hasattr(data, "record") and hasattr(data, "frame") and hasattr(data, "fingerprint"):
        info = {
            "name": data.name,
            "version": data.version,
            "id": data.id,
            "fingerprint": data.fingerprint,
        }
        data = data.frame
    if not isinstance(data, pd.DataFrame):
        raise InvalidValueError(
            f"{role} must be a pandas DataFrame (or a prodline Dataset), not {type(data).__name__}"
        )
    if len(data) == 0:
        raise InvalidValueError(f"{role} is empty (0 rows); pass the rows the model used")
    names = [str(c) for c in data.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidValueError(f"{role} names columns {dupes!r} more than once; rename them")
    if names != list(data.columns):
        data = data.set_axis(names, axis=1)
    return data, info


def _check_labels(role: str, target: str | None, y: Any) -> None:
    missing = np.flatnonzero(np.asarray(pd.isna(pd.Series(np.asarray(y, dtype=object)))))
    if missing.size:
        rows = ", ".join(str(int(r)) for r in missing[:10]) + (", ..." if missing.size > 10 else "")
        where = f"the target column {target!r} of {role}" if target else f"{role} labels"
        raise InvalidValueError(
            f"{where} has {missing.size} missing label(s) (NaN/None) at row position(s) "
            f"{rows}; drop or fill those rows before building the contract"
        )


def _eval_data(
    data: Any, target: str | None, inputs: list[str], task: str
) -> tuple[pd.DataFrame, np.ndarray | None, dict[str, Any]]:
    """(X_eval with the model's columns in order, y_eval, what is known about it)."""
    info: dict[str, Any] = {}
    if isinstance(data, tuple | list) and len(data) == 2:
        X, y = data
        if hasattr(X, "record") and hasattr(X, "frame"):
            X, info = _frame_of("eval", X)
        if not isinstance(X, pd.DataFrame):
            array = np.asarray(X)
            if array.ndim != 2 or array.shape[1] != len(inputs):
                raise InvalidValueError(
                    f"X_eval has shape {array.shape}, but the model reads {len(inputs)} "
                    f"column(s) {_names(inputs)}; pass X_eval as a DataFrame with those columns"
                )
            X = pd.DataFrame(array, columns=inputs)
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(X):
                raise InvalidValueError(
                    f"y_eval has shape {y.shape}, but X_eval has {len(X)} row(s); pass one "
                    "label per eval row"
                )
        frame = X.copy()
        if y is not None:
            frame[target if target is not None else "target"] = y
    elif isinstance(data, pd.DataFrame) or hasattr(data, "record"):
        frame, info = (data, {}) if isinstance(data, pd.DataFrame) else _frame_of("eval", data)
        y = None
        if target is not None and target in frame.columns:
            y = frame[target].to_numpy()
            X = frame.drop(columns=[target])
        elif task != "clustering":
            raise InvalidValueError(
                f"eval is a DataFrame without the target column {target!r}; pass "
                f"eval=(X_eval, y_eval) or a frame holding {target!r}"
            )
        else:
            X = frame
    else:
        raise InvalidValueError(
            "eval must be (X_eval, y_eval) or a DataFrame holding the target column, not "
            f"{type(data).__name__}"
        )
    if len(X) == 0:
        raise InvalidValueError(
            "eval is empty (0 rows): metrics and latency need held-out rows; pass them"
        )
    X = X.set_axis([str(c) for c in X.columns], axis=1)
    missing = [c for c in inputs if c not in X.columns]
    extra = [c for c in X.columns if c not in inputs]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if extra:
            parts.append(f"extra {_names(extra)}")
        raise InvalidValueError(
            f"eval columns differ from the model's inputs: {'; '.join(parts)}. Pass eval "
            f"rows with exactly the model's input columns {_names(inputs)}"
            + (f" (plus the target {target!r})" if target is not None else "")
        )
    if y is None and task != "clustering":
        raise InvalidValueError(f"eval has no labels, but a {task} model needs y_eval")
    if y is not None and task != "clustering":
        _check_labels("eval", target, y)
    info = {**info, "n_rows": len(X), "frame": frame}
    return X[inputs], y, info


# ---------------------------------------------------------------------- package


def _package_of(package: Any) -> tuple[Any, Any]:
    """(manifest, LoadedPackage or None)."""
    from prodline.models.package import LoadedPackage, PackageManifest, read_package

    if isinstance(package, LoadedPackage):
        return package.manifest, package
    if isinstance(package, PackageManifest):
        return package, None
    if isinstance(package, str | os.PathLike):
        loaded = read_package(package)
        return loaded.manifest, loaded
    raise InvalidValueError(
        "package must be what prodline.models.read_package returns (a LoadedPackage), "
        f"a PackageManifest, or a package directory, not {type(package).__name__}"
    )


def _check_package(manifest: Any, estimator: Any, task: str, inputs: list[str]) -> None:
    cls = type(estimator)
    qualname = f"{cls.__module__}.{cls.__qualname__}"
    if manifest.estimator_class != qualname:
        raise InvalidValueError(
            f"the package holds a {manifest.estimator_class}, but the estimator is a "
            f"{qualname}: pass the package written from this estimator"
        )
    if manifest.task != task:
        raise InvalidValueError(
            f"the package says task {manifest.task!r}, the estimator is a {task} model: "
            "pass the package written from this estimator"
        )
    names = manifest.feature_names
    if names is not None and getattr(estimator, "feature_names_in_", None) is not None:
        if list(names) != inputs:
            raise InvalidValueError(
                f"the package's input columns {_names(names)} differ from the estimator's "
                f"{_names(inputs)}: pass the package written from this estimator"
            )
    if manifest.serving_path not in ("onnx", "python"):
        raise InvalidValueError(
            f"the package's serving_path {manifest.serving_path!r} is not onnx or python"
        )


def package_summary(manifest: Any) -> dict[str, Any]:
    """The contract's ``package`` field, from a package manifest."""
    files = {
        str(name): {"sha256": str(meta["sha256"]), "size": int(meta["size"])}
        for name, meta in sorted(manifest.files.items())
    }
    return {
        "format_version": int(manifest.format_version),
        "digest": str(manifest.digest),
        "estimator_class": str(manifest.estimator_class),
        "serialization": str(manifest.serialization),
        "onnx_conversion": str(manifest.onnx_conversion),
        "size_bytes": sum(f["size"] for f in files.values()),
        "files": files,
    }


# ---------------------------------------------------------------------- evaluation


def _dtype_text(dtype: np.dtype) -> str:
    """numpy's dtype name; text labels (``<U4``, ``object``) are all ``"str"``."""
    return "str" if dtype.kind in "OUS" else str(dtype)


def _dtype_kind(dtype: np.dtype) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "float"}.get(dtype.kind, "string")


def _evaluate(
    estimator: Any,
    task: str,
    target: str | None,
    X: Any,
    y: np.ndarray | None,
    y_pred: np.ndarray,
) -> tuple[dict[str, Any], dict[str, Any]]:
    if task == "classification":
        classes = np.asarray(estimator.classes_)
        has_proba = hasattr(estimator, "predict_proba")
        proba = None
        if has_proba:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                proba = np.asarray(estimator.predict_proba(X))
        output = {
            "target": target,
            "dtype": _dtype_text(classes.dtype),
            "kind": _dtype_kind(classes.dtype),
            "classes": [json_scalar(c) for c in classes],
            "proba_columns": [f"proba_{class_key(c)}" for c in classes] if has_proba else None,
        }
        assert y is not None
        return output, classification_metrics(y, y_pred, proba, classes)
    if task == "regression":
        assert y is not None
        try:
            y_true = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidValueError(
                f"a regression model needs numeric labels, but y_eval holds {e}"
            ) from e
        output = {
            "target": target,
            "dtype": _dtype_text(y_pred.dtype),
            "kind": _dtype_kind(y_pred.dtype),
        }
        return output, regression_metrics(y_true, y_pred)
    ids = cluster_ids(estimator, y_pred)
    output = {
        "target": target,
        "dtype": _dtype_text(y_pred.dtype),
        "kind": _dtype_kind(y_pred.dtype),
        "cluster_ids": [json_scalar(c) for c in ids],
    }
    return output, clustering_metrics(cluster_space(estimator, X), y_pred, ids)


def cluster_ids(estimator: Any, y_pred: np.ndarray) -> list[Any]:
    """The ids a clusterer can assign: one per center when it has centers, else the
    ids it assigned to its training rows and to the eval rows."""
    final = _final(estimator)
    centers = getattr(final, "cluster_centers_", None)
    if centers is not None:
        return list(range(len(centers)))
    n = getattr(final, "n_clusters", None)
    if isinstance(n, int) and not isinstance(n, bool):
        return list(range(n))
    seen = set(np.unique(y_pred).tolist())
    labels = getattr(final, "labels_", None)
    if labels is not None:
        seen |= set(np.unique(labels).tolist())
    return sorted(seen)


def cluster_space(estimator: Any, X: Any) -> Any:
    """The eval rows as the clusterer itself sees them (after a Pipeline's transforms),
    or None when that is not numeric."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(estimator, "steps") and len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
    if hasattr(X, "tocsr"):
        return X
    try:
        return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------- latency


def _latency(
    estimator: Any,
    manifest: Any,
    loaded: Any,
    task: str,
    X_eval: pd.DataFrame,
    *,
    rows: int,
    calls: int,
    batches: int,
) -> dict[str, dict[str, Any]]:
    from prodline.contract._latency import measure_path
    from prodline.models.runtime import SkopsPredictor

    spec = manifest.input_spec
    predictors: dict[str, Any] = {}
    if loaded is not None:
        predictors[loaded.predictor.serving_path] = loaded.predictor
        if "python" not in predictors:
            predictors["python"] = SkopsPredictor(loaded.estimator, spec, task=task)
    else:
        predictors["python"] = SkopsPredictor(estimator, spec, task=task)

    complete = np.flatnonzero(~X_eval.isna().any(axis=1).to_numpy())
    pick = int(complete[0]) if complete.size else 0
    named = spec.feature_names is not None
    if named:
        single: Any = X_eval.iloc[[pick]].to_dict("records")[0]
        single_input = "dict"
    else:
        single = X_eval.iloc[[pick]].to_numpy()
        single_input = "array"
    index = np.random.default_rng(0).integers(0, len(X_eval), size=rows)
    batch_frame = X_eval.iloc[index].reset_index(drop=True)
    batch = batch_frame if named else batch_frame.to_numpy()

    out: dict[str, dict[str, Any]] = {}
    for path in ("onnx", "python"):
        predictor = predictors.get(path)
        if predictor is None:
            continue
        try:
            out[path] = measure_path(
                predictor.predict,
                single,
                batch,
                calls=calls,
                batch_calls=batches,
                batch_rows=rows,
                single_input=single_input,
            )
        except Exception as e:
            raise InvalidValueError(
                f"the package's {path} serving path failed on eval rows "
                f"({type(e).__name__}: {e}); the package cannot serve these inputs. Check "
                "that eval holds the columns and types the model was fitted on."
            ) from e
    return out


# ---------------------------------------------------------------------- provenance


def examples(X: pd.DataFrame, n: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
    """The first ``n`` rows of ``X`` as JSON-safe ``{column: value}`` records."""
    head = X.head(n)
    columns = [str(c) for c in head.columns]
    return [
        {c: json_scalar(v) for c, v in zip(columns, row, strict=True)}
        for row in head.itertuples(index=False, name=None)
    ]


def dependencies(estimator: Any) -> dict[str, str]:
    """The versions of Python, prodline and the libraries a model needs, as installed."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    import prodline

    names = list(_DEPENDENCIES)
    roots = _module_roots(estimator) - {"sklearn", "builtins", "numpy", "prodline"}
    if roots:
        mapping = packages_distributions()
        for root in sorted(roots):
            names.extend(mapping.get(root, []))
    out = {"python": sys.version.split()[0], "prodline": str(prodline.__version__)}
    for name in names:
        if name in out:
            continue
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _module_roots(estimator: Any) -> set[str]:
    """The top-level modules of the estimator and every estimator inside it."""
    roots = {type(estimator).__module__.split(".")[0]}
    get_params = getattr(estimator, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=True)
        except Exception:
            params = {}
        for value in params.values():
            if hasattr(value, "fit") or hasattr(value, "transform"):
                roots.add(type(value).__module__.split(".")[0])
    return roots


def _datasets(
    train: pd.DataFrame,
    train_info: dict[str, Any],
    eval_info: dict[str, Any],
    given: Mapping[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    from prodline.data.fingerprint import frame_fingerprint

    eval_frame = eval_info.pop("frame")
    out: dict[str, dict[str, Any]] = {
        "train": {
            "fingerprint": train_info.get("fingerprint") or frame_fingerprint(train),
            "n_rows": len(train),
            **{k: v for k, v in train_info.items() if k != "fingerprint"},
        },
        "eval": {
            "fingerprint": eval_info.get("fingerprint") or frame_fingerprint(eval_frame),
            "n_rows": int(eval_info["n_rows"]),
            **{k: v for k, v in eval_info.items() if k not in ("fingerprint", "n_rows")},
        },
    }
    if given is None:
        return _jsonable(out, "datasets")
    if not isinstance(given, Mapping):
        raise InvalidValueError(
            "datasets must be a dict like {'train': {'name': ..., 'version': ...}, "
            f"'eval': {{...}}}}, not {type(given).__name__}"
        )
    for role, value in given.items():
        if hasattr(value, "record") and hasattr(value, "fingerprint"):
            value = {"name": value.name, "version": value.version, "id": value.id}
        if not isinstance(value, Mapping):
            raise InvalidValueError(
                f"datasets[{role!r}] must be a dict (name, version, ...) or a prodline "
                f"Dataset, not {type(value).__name__}"
            )
        entry = out.setdefault(str(role), {})
        for key, v in value.items():
            if key in ("fingerprint", "n_rows") and str(role) in ("train", "eval"):
                continue  # computed from the data given
            entry[str(key)] = v
    return _jsonable(out, "datasets")


def _code(code: Mapping[str, Any] | None) -> dict[str, Any]:
    if code is None:
        return {}
    if not isinstance(code, Mapping):
        raise InvalidValueError(
            "code must be a dict such as {'run_id': ..., 'git_commit': ..., 'entrypoint': "
            f"...}}, not {type(code).__name__}"
        )
    return _jsonable(dict(code), "code")


def _jsonable(value: Any, field: str) -> Any:
    """``value`` with numpy scalars as Python ones; refuses what JSON cannot hold."""
    from prodline.contract.contract import _copy

    def plain(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, np.generic):
            return json_scalar(v)
        return v

    out = plain(_copy(value))
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"{field} must hold only JSON values (strings, numbers, booleans, null, lists, "
            f"dicts): {e}"
        ) from e
    return out


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(
            f"{name} must be a non-empty string (got {value!r}); a contract says who owns "
            "the model and what it is for"
        )
    return value.strip()


def _names(names: Any) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:15])
    more = f", ... ({len(names)} in all)" if len(names) > 15 else ""
    return f"[{shown}{more}]"
