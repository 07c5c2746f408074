"""``prodline.autolog()``: every scikit-learn ``fit`` records its params, training
metrics and the fitted estimator, with no other change to the user's code."""

from __future__ import annotations

import functools
import threading
import warnings
from typing import Any

from prodline.errors import ProdlineError

_state = threading.local()
_patched: dict[type, Any] = {}


def autolog(*, log_models: bool = True, experiment: str = "default", disable: bool = False) -> None:
    """Turn scikit-learn autologging on (or off with ``disable=True``).

    Inside an active run, a ``fit`` logs into it; otherwise it gets a run of its own in
    ``experiment``. Nested fits (a Pipeline's steps, a grid search's candidates) are
    logged once, as the outermost estimator. Logging problems become warnings: they
    never break ``fit``.
    """
    if disable:
        for cls, original in _patched.items():
            cls.fit = original
        _patched.clear()
        return
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()} | {Pipeline}
    for cls in classes:
        owner = next((base for base in cls.__mro__ if "fit" in base.__dict__), None)
        if owner is None or owner in _patched:
            continue
        original = owner.__dict__["fit"]
        _patched[owner] = original
        owner.fit = _wrap(original, log_models=log_models, experiment=experiment)


def _wrap(original: Any, *, log_models: bool, experiment: str) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "depth", 0) > 0:
            return original(self, *args, **kwargs)
        _state.depth = 1
        try:
            return _logged_fit(original, self, args, kwargs, log_models, experiment)
        finally:
            _state.depth = 0

    return fit


def _logged_fit(
    original: Any, estimator: Any, args: Any, kwargs: Any, log_models: bool, experiment: str
) -> Any:
    from prodline.tracking.api import active_run, start_run

    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    run = active_run()
    owned = run is None
    if owned:
        run = start_run(experiment=experiment, name=type(estimator).__name__)
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException:
        if owned:
            import sys

            run.__exit__(*sys.exc_info())
        raise
    try:
        run.log_params(flat_params(estimator))
        run.set_tag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__name__}")
        run.log_metrics(training_metrics(estimator, X, y), step=0)
        if log_models:
            _log_estimator(run, estimator)
    except ProdlineError as exc:
        warnings.warn(f"prodline autolog could not record this fit: {exc}", stacklevel=3)
    if owned:
        run.end("finished")
    return result


def flat_params(estimator: Any) -> dict[str, str]:
    """``get_params(deep=True)`` with nested estimators shown by class name."""
    out: dict[str, str] = {}
    for key, value in estimator.get_params(deep=True).items():
        if (
            hasattr(value, "get_params")
            or isinstance(value, list | tuple)
            and value
            and all(isinstance(v, tuple) and len(v) >= 2 for v in value)
        ):
            value = type(value).__name__ if hasattr(value, "get_params") else "[steps]"
        text = repr(value) if not isinstance(value, str) else value
        out[key] = text[:8000]
    return out


def training_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:
    """Scores of a fitted estimator on its own training data (``training_*``)."""
    if y is None or not hasattr(estimator, "predict"):
        return {}
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    predicted = estimator.predict(X)
    if is_classifier(estimator):
        out = {
            "training_accuracy": metrics.accuracy_score(y, predicted),
            "training_precision": metrics.precision_score(
                y, predicted, average="weighted", zero_division=0
            ),
            "training_recall": metrics.recall_score(
                y, predicted, average="weighted", zero_division=0
            ),
            "training_f1": metrics.f1_score(y, predicted, average="weighted", zero_division=0),
        }
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X)
            out["training_log_loss"] = metrics.log_loss(y, proba, labels=estimator.classes_)
            if len(estimator.classes_) == 2:
                out["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
            elif len(set(y)) == len(estimator.classes_):
                out["training_roc_auc"] = metrics.roc_auc_score(
                    y, proba, multi_class="ovr", labels=estimator.classes_
                )
        return {k: float(v) for k, v in out.items()}
    if is_regressor(estimator):
        mse = metrics.mean_squared_error(y, predicted)
        return {
            "training_mae": float(metrics.mean_absolute_error(y, predicted)),
            "training_mse": float(mse),
            "training_rmse": float(mse**0.5),
            "training_r2": float(metrics.r2_score(y, predicted)),
        }
    return {}


def _log_estimator(run: Any, estimator: Any) -> None:
    try:
        import skops.io as sio
    except ImportError:
        warnings.warn(
            "prodline autolog: install skops (`pip install 'prodline[sklearn]'`) to record "
            "fitted estimators safely; the model was not saved.",
            stacklevel=4,
        )
        return
    run.log_bytes(sio.dumps(estimator), "model/model.skops")
