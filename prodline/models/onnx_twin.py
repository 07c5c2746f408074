"""Convert a fitted estimator to ONNX, and keep the twin only if it predicts the same.

:func:`convert_to_onnx` tries skl2onnx (with the XGBoost and LightGBM converters of
onnxmltools registered when those libraries are installed), first with float32
inputs, then with float64 inputs, and runs every candidate through the same
:class:`~prodline.models.runtime.OnnxPredictor` that will serve it, on the caller's
held-out rows. The twin is kept only when labels are equal, probabilities agree
within ``1e-5`` absolute and regression outputs within ``1e-5`` relative.
Otherwise the result says why: the conversion error, or the largest mismatch.
It never raises for a model it cannot convert.

Why float32 first: skl2onnx's tree converters compare in float32, and so does
scikit-learn (trees cast ``X`` to float32 before walking); skl2onnx moves each
threshold to the float32 value that makes ``(float)x <= t`` agree with
scikit-learn's ``(float)x <= (double)t``, so float32 tree twins match exactly.
Double-precision inputs are the fallback for models whose float32 rounding exceeds
the tolerance (linear models on large raw values verify in float64); double tree
twins compare unrounded inputs, so they can disagree with scikit-learn where float32
twins do not.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from prodline.models.runtime import InputSpec, OnnxPredictor, Task

# ai.onnx.ml opset 3: run by every onnxruntime since 1.7, the newest onnxmltools' XGBoost
# and LightGBM converters accept, and enough for skl2onnx's tree ensembles
ML_OPSET = 3
PROBA_ATOL = 1e-5
REGRESSION_RTOL = 1e-5

Status = Literal["kept", "rejected", "not_attempted"]


@dataclass
class TwinResult:
    """The outcome of :func:`convert_to_onnx`."""

    status: Status
    reason: str | None = None
    model: bytes | None = field(default=None, repr=False)
    spec: InputSpec | None = None
    target_opset: int | None = None
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def labels_from(self) -> str:
        """How the twin's labels are read: the ONNX label output or argmax(proba)."""
        return str(self.checks.get("labels_from", "label"))

    @property
    def outcome(self) -> str:
        """``"kept"``, ``"rejected: <reason>"`` or ``"not_attempted: <reason>"``."""
        return self.status if self.status == "kept" else f"{self.status}: {self.reason}"


def convert_to_onnx(
    estimator: Any,
    X_verify: Any,
    *,
    task: Task,
    classes: Sequence[Any] | None = None,
) -> TwinResult:
    """Convert ``estimator`` and verify the twin on ``X_verify``; never raises for a bad model.

    ``X_verify`` (held-out rows, a DataFrame or a 2-D array) also fixes the input:
    see :func:`describe_input`.
    """
    try:
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as exc:
        return TwinResult(
            "not_attempted",
            f"ONNX tools are not installed ({exc.name}); pip install skl2onnx onnxruntime",
        )
    if task not in ("classification", "regression", "clustering"):
        return TwinResult("not_attempted", f"no ONNX twin for {task} models")
    base, unsupported = describe_input(X_verify)
    if unsupported is not None:
        return TwinResult("not_attempted", unsupported)
    _register_extra_converters()
    opset = target_opset()
    expected = _expected(estimator, X_verify, task)

    failures: list[tuple[str, str]] = []  # (precision, why it was not kept)
    for precision in ("float32", "float64"):
        modes = ["tensor", "columns"] if base.mode == "tensor" and base.is_frame else [base.mode]
        errors: list[tuple[int, str]] = []
        for mode in modes:
            spec = InputSpec(
                mode=mode,  # type: ignore[arg-type]
                n_features=base.n_features,
                feature_names=base.feature_names,
                kinds=base.kinds,
                precision=precision,  # type: ignore[arg-type]
                dtypes=base.dtypes,
            )
            try:
                model = _convert(estimator, spec, task, opset)
                predictor = OnnxPredictor(
                    model,
                    spec,
                    task=task,
                    classes=classes,
                    proba=hasattr(estimator, "predict_proba"),
                )
            except Exception as exc:  # converters fail in many ways; fall back cleanly
                errors.append((0, f"conversion failed: {_describe_exception(exc)}"))
                continue
            spec = replace(spec, onnx_input_names=tuple(predictor._inputs))
            try:
                problem, checks = _verify(predictor, X_verify, expected, task)
                if _only_labels_differ(checks) and classes is not None:
                    # probabilities agree but exact ties were broken the other way:
                    # decode labels with scikit-learn's argmax rule and check again
                    predictor.labels_from = "proba_argmax"
                    retry, retry_checks = _verify(predictor, X_verify, expected, task)
                    if retry is None:
                        problem, checks = None, {**retry_checks, "labels_from": "proba_argmax"}
            except Exception as exc:
                errors.append((1, f"running the twin failed: {_describe_exception(exc)}"))
                continue
            if problem is None:
                earlier = [f"{p}: {m}" for p, m in failures] + [m for _, m in errors]
                if earlier:  # what a first attempt got wrong, for the record
                    checks = {**checks, "earlier_attempts": earlier}
                return TwinResult("kept", None, model, spec, opset, checks)
            errors.append((2, problem))
        # report the attempt that got furthest (a mismatch beats a conversion error)
        furthest = max(stage for stage, _ in errors)
        first = next(msg for stage, msg in errors if stage == furthest)
        failures.append((precision, first))
        if furthest == 0:
            # the converter itself failed (no converter, a converter bug): double inputs
            # go through the same converter, so do not pay for a second attempt
            break
    if len(failures) == 2 and failures[0][1] == failures[1][1]:
        reason = f"float32 and float64: {failures[0][1]}"
    else:
        reason = " | ".join(f"{p}: {m}" for p, m in failures)
    return TwinResult("rejected", _shorten(reason, 600), target_opset=opset)


def describe_input(X: Any) -> tuple[InputSpec, str | None]:
    """The input spec of ``X``, and the reason it cannot feed an ONNX twin (or None).

    A frame's columns are ``"numeric"`` (numbers and booleans), ``"string"`` (object,
    string and category columns) or ``"other"`` (dates, periods, intervals...).
    """
    import numpy as np

    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        import pandas as pd
        from pandas.api import types as pdt

        names = tuple(str(c) for c in X.columns)
        kinds: list[str] = []
        reason = None
        for name, dtype in zip(names, X.dtypes, strict=True):
            if pdt.is_complex_dtype(dtype):
                kinds.append("other")
            elif pdt.is_bool_dtype(dtype) or pdt.is_numeric_dtype(dtype):
                kinds.append("numeric")
            elif (
                pdt.is_datetime64_any_dtype(dtype)
                or pdt.is_timedelta64_dtype(dtype)
                or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))
            ):
                kinds.append("other")
            else:  # object, string and category columns travel as strings
                kinds.append("string")
            if kinds[-1] == "other" and reason is None:
                reason = f"column {name!r} has dtype {dtype}, which ONNX inputs do not cover"
        if len(set(names)) != len(names):
            reason = "the frame has duplicate column names"
        mode = "tensor" if all(k == "numeric" for k in kinds) else "columns"
        dtypes = tuple(str(dtype) for dtype in X.dtypes)
        spec = InputSpec(mode, len(names), names, tuple(kinds), dtypes=dtypes)  # type: ignore[arg-type]
        return spec, reason
    shape = getattr(X, "shape", None)
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        width = int(shape[1]) if shape is not None and len(shape) == 2 else 0
        return InputSpec("tensor", width), "sparse input is not supported by the ONNX twin"
    arr = np.asarray(X)
    width = int(arr.shape[1]) if arr.ndim == 2 else 0
    if arr.ndim != 2:
        return InputSpec("tensor", width), f"input must be 2-D, got shape {arr.shape}"
    if arr.dtype.kind not in "biuf":
        spec = InputSpec("tensor", width, kinds=("other",) * width)
        return spec, f"a {arr.dtype} array needs a DataFrame to tell numeric from string columns"
    return InputSpec("tensor", width), None


def target_opset() -> int:
    """The newest main-domain opset that skl2onnx, onnx and onnxruntime all support."""
    import onnx
    import onnxruntime
    import skl2onnx

    # onnxruntime releases and the newest ONNX opset each one implements
    ort_table = ((1, 21, 22), (1, 18, 21), (1, 17, 20), (1, 15, 19), (1, 14, 18))
    major, minor = (int(p) for p in onnxruntime.__version__.split(".")[:2])
    ort_max = 17
    for ma, mi, opset in ort_table:
        if (major, minor) >= (ma, mi):
            ort_max = opset
            break
    return min(skl2onnx.__max_supported_opset__, onnx.defs.onnx_opset_version(), ort_max)


# --------------------------------------------------------------------------- internals


def _final_step(estimator: Any) -> Any:
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


def _convert(estimator: Any, spec: InputSpec, task: Task, opset: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        StringTensorType,
    )

    number = FloatTensorType if spec.precision == "float32" else DoubleTensorType
    if spec.mode == "tensor":
        initial_types = [("X", number([None, spec.n_features]))]
    else:
        initial_types = [
            (name, StringTensorType([None, 1]) if kind == "string" else number([None, 1]))
            for name, kind in zip(spec.feature_names or (), spec.kinds, strict=True)
        ]
    opsets = {"": opset, "ai.onnx.ml": ML_OPSET}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "classification":
            # probabilities as one tensor, not a list of {class: p} maps
            options = {id(_final_step(estimator)): {"zipmap": False}}
            try:
                onx = convert_sklearn(
                    estimator, initial_types=initial_types, options=options, target_opset=opsets
                )
                return onx.SerializeToString()
            except NameError as exc:  # a classifier without probabilities has no zipmap
                if "zipmap" not in str(exc):
                    raise
        onx = convert_sklearn(estimator, initial_types=initial_types, target_opset=opsets)
    return onx.SerializeToString()


def _expected(estimator: Any, X: Any, task: Task) -> dict[str, Any]:
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {"labels": np.asarray(estimator.predict(X))}
        if task == "classification" and hasattr(estimator, "predict_proba"):
            out["proba"] = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    return out


def _verify(
    predictor: OnnxPredictor, X: Any, expected: dict[str, Any], task: Task
) -> tuple[str | None, dict[str, Any]]:
    """Return (problem or None, measured agreement)."""
    import numpy as np

    want = expected["labels"]
    got = np.asarray(predictor.predict(X))
    n = len(want)
    checks: dict[str, Any] = {"rows": n}
    if got.shape != want.shape:
        return f"output shape {got.shape} differs from the estimator's {want.shape}", checks
    if task == "regression":
        got_f, want_f = got.astype(np.float64), want.astype(np.float64)
        scale = max(float(np.max(np.abs(want_f), initial=0.0)), 1e-12)
        denom = np.maximum(np.abs(want_f), 1e-6 * scale)
        rel = np.abs(got_f - want_f) / denom
        worst = float(np.nanmax(rel)) if rel.size else 0.0
        if np.isnan(rel).any() and not np.array_equal(np.isnan(got_f), np.isnan(want_f)):
            worst = float("inf")
        checks["max_relative_error"] = worst
        if worst > REGRESSION_RTOL:
            i = int(np.nanargmax(rel))
            return (
                f"largest relative error {worst:.3g} > {REGRESSION_RTOL:g} at row {i} "
                f"(onnx={got_f.flat[i]!r}, python={want_f.flat[i]!r})"
            ), checks
        return None, checks
    same = np.asarray(got.astype(object) == want.astype(object), dtype=bool)
    mismatches = int((~same).sum())
    checks["label_mismatches"] = mismatches
    problem = None
    if mismatches:
        i = int(np.flatnonzero(~same.reshape(-1))[0])
        problem = (
            f"{mismatches} of {n} labels differ (first at row {i}: "
            f"onnx={got.reshape(-1)[i]!r}, python={want.reshape(-1)[i]!r})"
        )
    if "proba" in expected and predictor.has_proba:
        proba = np.asarray(predictor.predict_proba(X), dtype=np.float64)
        if proba.shape != expected["proba"].shape:
            shape_problem = (
                f"probabilities have shape {proba.shape}, the estimator's {expected['proba'].shape}"
            )
            return "; ".join(p for p in (problem, shape_problem) if p), checks
        diff = float(np.max(np.abs(proba - expected["proba"]), initial=0.0))
        checks["max_proba_abs_error"] = diff
        if diff > PROBA_ATOL or np.isnan(diff):
            proba_problem = f"largest probability difference {diff:.3g} > {PROBA_ATOL:g}"
            problem = "; ".join(p for p in (problem, proba_problem) if p)
    elif "proba" in expected:
        return "the twin has no probability output", checks
    return problem, checks


def _only_labels_differ(checks: dict[str, Any]) -> bool:
    return (
        checks.get("label_mismatches", 0) > 0
        and "max_proba_abs_error" in checks
        and checks["max_proba_abs_error"] <= PROBA_ATOL
    )


def _describe_exception(exc: BaseException) -> str:
    """A one-line description: the innermost cause first, then the outer error."""
    parts = []
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        first_line = (str(current).strip().splitlines() or [""])[0]
        parts.append(f"{type(current).__name__}: {_shorten(first_line, 120)}")
        current = current.__cause__ or current.__context__
    return " <- ".join(reversed(parts))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_REGISTERED = False


def _register_extra_converters() -> None:
    """Teach skl2onnx the XGBoost and LightGBM wrappers, when both sides are installed."""
    global _REGISTERED
    if _REGISTERED:
        return
    _REGISTERED = True
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from xgboost import XGBClassifier, XGBRegressor
    except ImportError:
        pass
    else:
        update_registered_converter(
            XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    except ImportError:
        pass
    else:
        update_registered_converter(
            LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )
