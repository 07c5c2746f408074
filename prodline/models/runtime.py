"""Predictors: one small interface over an ONNX twin and the Python estimator.

Both :class:`OnnxPredictor` and :class:`SkopsPredictor` offer ``predict(X)``,
``predict_proba(X)`` (classifiers), ``classes_`` and ``serving_path``. ``X`` may be a
pandas DataFrame, a 2-D numpy array (columns in training order), or a dict of
column -> value (one row) or column -> list (several rows). The ONNX predictor
builds its feed from a dict or an array directly, without pandas: that is the
single-row fast path a server uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prodline.errors import InvalidValueError, ModelPackageError

InputMode = Literal["tensor", "columns"]
Task = Literal["classification", "regression", "clustering", "outlier_detection", "other"]


@dataclass(frozen=True)
class InputSpec:
    """How rows reach the model.

    ``mode`` is ``"tensor"`` (all-numeric input: one float tensor ``[None,
    n_features]``) or ``"columns"`` (mixed frame: one ``[None, 1]`` input per column,
    float for numeric columns and string for the others). ``feature_names`` is
    ``None`` for a model fitted on a bare array. ``kinds`` holds ``"numeric"`` or
    ``"string"`` per feature. ``precision`` is the float type of the ONNX inputs.
    """

    mode: InputMode
    n_features: int
    feature_names: tuple[str, ...] | None = None
    kinds: tuple[str, ...] = ()
    precision: Literal["float32", "float64"] = "float32"
    onnx_input_names: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()  # a frame's pandas dtypes, to rebuild one from a dict

    def __post_init__(self) -> None:
        if not self.kinds:
            object.__setattr__(self, "kinds", ("numeric",) * self.n_features)

    @property
    def is_frame(self) -> bool:
        return self.feature_names is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "n_features": self.n_features,
            "feature_names": list(self.feature_names) if self.feature_names else None,
            "kinds": list(self.kinds),
            "precision": self.precision,
            "onnx_input_names": list(self.onnx_input_names),
            "dtypes": list(self.dtypes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        names = data.get("feature_names")
        return cls(
            mode=data["mode"],
            n_features=int(data["n_features"]),
            feature_names=tuple(names) if names is not None else None,
            kinds=tuple(data.get("kinds") or ()),
            precision=data.get("precision", "float32"),
            onnx_input_names=tuple(data.get("onnx_input_names") or ()),
            dtypes=tuple(data.get("dtypes") or ()),
        )


class Predictor:
    """The interface shared by the ONNX and the Python serving paths."""

    serving_path: str = ""
    task: Task = "other"
    classes_: Any = None
    spec: InputSpec

    @property
    def has_proba(self) -> bool:
        return False

    def predict(self, X: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_proba(self, X: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def _no_proba(self) -> InvalidValueError:
        return InvalidValueError(
            f"this {self.task} model has no predict_proba; call predict instead."
        )


# --------------------------------------------------------------------------- ONNX


def session_options() -> Any:
    """ORT options for low-latency serving: one thread, sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


class OnnxPredictor(Predictor):
    """Serve an ONNX twin with one InferenceSession, built once."""

    serving_path = "onnx"

    def __init__(
        self,
        model: bytes | str,
        spec: InputSpec,
        *,
        task: Task,
        classes: Sequence[Any] | None = None,
        labels_from: Literal["label", "proba_argmax"] = "label",
        proba: bool = True,
    ) -> None:
        """``proba=False`` for a classifier without ``predict_proba`` (its second ONNX
        output holds scores, not probabilities)."""
        import numpy as np
        import onnxruntime as ort

        self.spec = spec
        self.task = task
        self.classes_ = np.asarray(classes) if classes is not None else None
        self._np = np
        self._dtype = np.float32 if spec.precision == "float32" else np.float64
        try:
            self._session = ort.InferenceSession(
                model, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelPackageError(
                f"onnxruntime could not load the ONNX model: {type(exc).__name__}: {exc}"
            ) from exc
        inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        expected = 1 if spec.mode == "tensor" else spec.n_features
        if len(inputs) != expected:
            raise ModelPackageError(
                f"the ONNX model has {len(inputs)} inputs, expected {expected} for input "
                f"mode {spec.mode!r}."
            )
        self._inputs = inputs
        self._label = outputs[0]
        has_second = task == "classification" and len(outputs) > 1
        self._proba = outputs[1] if has_second and proba else None
        if labels_from == "proba_argmax" and (self._proba is None or self.classes_ is None):
            raise ModelPackageError("labels_from='proba_argmax' needs probabilities and classes")
        # "label": the ONNX label output. "proba_argmax": classes_[argmax(probabilities)]
        # with scikit-learn's rule that the first class wins a tie, for models whose ONNX
        # labels break exact ties the other way (a forest with an even number of trees
        # votes 0.5/0.5, which float32 sums to 0.49999994/0.50000006).
        self.labels_from = labels_from
        if spec.is_frame:
            self._string_cols = {
                n
                for n, k in zip(spec.feature_names or (), spec.kinds, strict=True)
                if k == "string"
            }
        else:
            self._string_cols = set()

    @property
    def has_proba(self) -> bool:
        return self._proba is not None

    def predict(self, X: Any) -> Any:
        if self.labels_from == "proba_argmax":
            (proba,) = self._session.run([self._proba], self._feed(X))
            return self.classes_[tie_aware_argmax(proba)]
        feed = self._feed(X)
        (out,) = self._session.run([self._label], feed)
        return self._labels(out, len(next(iter(feed.values()))))

    def predict_proba(self, X: Any) -> Any:
        if self._proba is None:
            raise self._no_proba()
        (out,) = self._session.run([self._proba], self._feed(X))
        return out

    def run(self, X: Any) -> dict[str, Any]:
        """All ONNX outputs by name (labels, probabilities, scores)."""
        names = [o.name for o in self._session.get_outputs()]
        return dict(zip(names, self._session.run(names, self._feed(X)), strict=True))

    # -- outputs

    def _labels(self, out: Any, n_rows: int) -> Any:
        np = self._np
        if self.task == "regression":
            return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out
        if out.ndim > 1 and out.size == n_rows:  # [n, 1] or [1, n]: one label per row
            out = out.reshape(-1)
        classes = self.classes_
        if classes is not None and classes.dtype.kind in "iub" and out.dtype.kind in "iub":
            return out.astype(classes.dtype, copy=False)
        if classes is not None and classes.dtype.kind in "OU" and out.dtype.kind in "OU":
            return np.asarray(out, dtype=object)
        return out

    # -- inputs

    def _feed(self, X: Any) -> dict[str, Any]:
        np = self._np
        if isinstance(X, Mapping):
            return self._feed_from_dict(X)
        if isinstance(X, np.ndarray):
            return self._feed_from_array(X)
        if hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame, without importing pandas
            return self._feed_from_frame(X)
        return self._feed_from_array(np.asarray(X))

    def _feed_from_dict(self, row: Mapping[str, Any]) -> dict[str, Any]:
        np = self._np
        names = self.spec.feature_names
        if names is None:
            raise InvalidValueError(
                "this model was fitted on an unnamed array: pass a 2-D array, not a dict."
            )
        missing = [n for n in names if n not in row]
        if missing:
            raise InvalidValueError(f"input lacks column(s) {', '.join(map(repr, missing))}")
        values = [row[n] for n in names]
        scalar = not _is_sequence(values[0])
        if self.spec.mode == "tensor":
            try:
                if scalar:
                    return {self._inputs[0]: np.array([values], dtype=self._dtype)}
                return {self._inputs[0]: np.array(values, dtype=self._dtype).T.copy()}
            except (TypeError, ValueError) as exc:
                raise InvalidValueError(f"input values must be numbers: {exc}") from exc
        feed = {}
        for input_name, name, value in zip(self._inputs, names, values, strict=True):
            column = [value] if scalar else value
            feed[input_name] = self._column(name, column)
        return feed

    def _feed_from_array(self, X: Any) -> dict[str, Any]:
        np = self._np
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.spec.n_features:
            raise InvalidValueError(
                f"input has shape {X.shape}; expected (n_rows, {self.spec.n_features})."
            )
        if self.spec.mode == "tensor":
            try:
                return {self._inputs[0]: np.ascontiguousarray(X, dtype=self._dtype)}
            except (TypeError, ValueError) as exc:
                raise InvalidValueError(f"input values must be numbers: {exc}") from exc
        names = self.spec.feature_names or ()
        return {
            input_name: self._column(name, X[:, j])
            for j, (input_name, name) in enumerate(zip(self._inputs, names, strict=True))
        }

    def _feed_from_frame(self, frame: Any) -> dict[str, Any]:
        names = self.spec.feature_names
        if names is None:
            return self._feed_from_array(frame.to_numpy())
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InvalidValueError(f"input lacks column(s) {', '.join(map(repr, missing))}")
        if self.spec.mode == "tensor":
            if tuple(frame.columns) != names:
                frame = frame[list(names)]
            return self._feed_from_array(frame.to_numpy(dtype=self._dtype))
        return {
            input_name: self._column(name, frame[name].to_numpy())
            for input_name, name in zip(self._inputs, names, strict=True)
        }

    def _column(self, name: str, values: Any) -> Any:
        np = self._np
        if name in self._string_cols:
            return np.array([_as_category(v) for v in values], dtype=object).reshape(-1, 1)
        try:
            return np.asarray(values, dtype=self._dtype).reshape(-1, 1)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"column {name!r} must hold numbers: {exc}") from exc


# Probabilities closer than this count as tied (float32 sums of a few hundred trees
# stay well inside it); scikit-learn's argmax gives a tie to the first class.
TIE_TOLERANCE = 1e-6


def tie_aware_argmax(proba: Any) -> Any:
    """Per row, the first column within :data:`TIE_TOLERANCE` of the row's maximum."""
    import numpy as np

    top = proba.max(axis=1, keepdims=True)
    return np.argmax(proba >= top - TIE_TOLERANCE, axis=1)


def _is_sequence(value: Any) -> bool:
    """A dict value holding several rows (list, tuple, array, Series), not one cell."""
    return isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) >= 1


def _as_category(value: Any) -> str:
    """A string column's cell as the ONNX string input sees it (missing -> 'nan')."""
    if value is None or (isinstance(value, float) and value != value):
        return "nan"
    if type(value).__name__ in ("NAType", "NaTType"):
        return "nan"
    return str(value)


# --------------------------------------------------------------------------- Python


class SkopsPredictor(Predictor):
    """Serve the deserialised scikit-learn estimator itself."""

    serving_path = "python"

    def __init__(self, estimator: Any, spec: InputSpec, *, task: Task) -> None:
        self.estimator = estimator
        self.spec = spec
        self.task = task
        self.classes_ = getattr(estimator, "classes_", None)

    @property
    def has_proba(self) -> bool:
        return hasattr(self.estimator, "predict_proba")

    def predict(self, X: Any) -> Any:
        return self.estimator.predict(self._input(X))

    def predict_proba(self, X: Any) -> Any:
        if not self.has_proba:
            raise self._no_proba()
        return self.estimator.predict_proba(self._input(X))

    def _input(self, X: Any) -> Any:
        import numpy as np

        names = self.spec.feature_names
        if isinstance(X, Mapping):
            if names is None:
                raise InvalidValueError(
                    "this model was fitted on an unnamed array: pass a 2-D array, not a dict."
                )
            missing = [n for n in names if n not in X]
            if missing:
                raise InvalidValueError(f"input lacks column(s) {', '.join(map(repr, missing))}")
            scalar = not _is_sequence(X[names[0]])
            return self._frame({n: [X[n]] if scalar else list(X[n]) for n in names})
        if isinstance(X, np.ndarray):
            if X.ndim == 1:
                X = X.reshape(1, -1)
            if names is not None and hasattr(self.estimator, "feature_names_in_"):
                if X.ndim != 2 or X.shape[1] != len(names):
                    raise InvalidValueError(
                        f"input has shape {X.shape}; expected (n_rows, {len(names)})."
                    )
                return self._frame({n: X[:, j] for j, n in enumerate(names)})
        return X

    def _frame(self, columns: dict[str, Any]) -> Any:
        """A DataFrame with the training frame's column types (a one-row column of
        missing values would otherwise come out as float)."""
        import pandas as pd

        spec = self.spec
        dtypes = spec.dtypes or ("",) * len(columns)
        data = {}
        for (name, values), kind, dtype in zip(columns.items(), spec.kinds, dtypes, strict=True):
            if dtype == "category":
                data[name] = pd.Series(values, dtype="category")
            elif kind == "string":
                data[name] = pd.Series(values, dtype=object)
            elif kind == "numeric":
                series = pd.to_numeric(pd.Series(values))
                try:
                    data[name] = series.astype(dtype) if dtype else series
                except (TypeError, ValueError):  # an int column given a missing value
                    data[name] = series
            else:
                data[name] = pd.Series(values)
        return pd.DataFrame(data)


# --------------------------------------------------------------------------- latency


@dataclass
class Latency:
    """Wall-clock timings of one call, in seconds."""

    median: float
    p90: float
    n: int
    samples: list[float] = field(default_factory=list, repr=False)

    @property
    def median_us(self) -> float:
        return self.median * 1e6


def measure_latency(
    fn: Callable[[], Any], *, repeat: int = 200, warmup: int = 10, budget_s: float = 5.0
) -> Latency:
    """Time ``fn()`` ``repeat`` times after ``warmup`` calls (stops early past ``budget_s``)."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        if start > deadline:
            break
    ordered = sorted(samples)
    return Latency(
        median=_median(ordered),
        p90=ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        n=len(ordered),
        samples=samples,
    )


def _median(ordered: list[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
