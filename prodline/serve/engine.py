"""One served model version: its contract check and its predictions, on the fastest path.

:class:`ServedModel` wraps a loaded package (the verified ONNX twin where there is one)
with what a request needs: the input columns, a compiled contract check, conversions of
CSV text and ISO datetimes, and one call that returns labels and probabilities
together. It is loaded from the registry (:func:`load_served`) or from a package
directory without any store (:func:`load_package_dir`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodline.errors import InvalidValueError, ModelPackageError
from prodline.serve.inputs import RequestError, Rows

if TYPE_CHECKING:
    from prodline.contract.contract import Contract
    from prodline.data.validate import Violation
    from prodline.models.runtime import Predictor
    from prodline.serve.batching import MicroBatcher

RANGE_PROBLEMS = frozenset({"below_min", "above_max"})
SERVING_FILE = "serving.json"

# Micro-batching pays when one model call costs much more than the batching overhead
# (a future and one more event-loop turn, ~10-20 us) and a batch costs far less per
# row than single rows do. Measured at load time; see ServedModel.batching_helps.
BATCH_MIN_SINGLE_S = 200e-6
BATCH_MAX_PER_ROW_SHARE = 0.5
# Models slower than this per call run in a worker thread, off the event loop.
THREAD_MIN_SINGLE_S = 1e-3


@dataclass
class Prediction:
    """Outputs for ``n`` rows: ``labels`` (1-D array) and, for classifiers with
    probabilities, ``proba`` (``[n, n_classes]``)."""

    labels: Any
    proba: Any | None

    def slice(self, start: int, stop: int) -> Prediction:
        return Prediction(
            self.labels[start:stop], None if self.proba is None else self.proba[start:stop]
        )


class ServedModel:
    """A model version ready to serve."""

    def __init__(
        self,
        name: str,
        version: int,
        contract: Contract,
        predictor: Predictor,
        *,
        enforce_ranges: bool = False,
        source: str = "",
    ) -> None:
        self.name = name
        self.version = version
        self.ref = f"{name}/{version}"
        self.contract = contract
        self.predictor = predictor
        self.serving_path = predictor.serving_path
        self.enforce_ranges = enforce_ranges
        self.source = source  # "production" alias, "version 3", or a directory
        self.input_names: list[str] = list(contract.input_columns)
        self.task = contract.task
        output = contract.output_schema
        self.classes: list[Any] | None = output.get("classes")
        self.has_proba = bool(predictor.has_proba)
        self.proba_columns: list[str] = list(
            output.get("proba_columns") or [f"proba_{c}" for c in self.classes or []]
        )
        self._validator = contract.record_validator
        kinds = {c.name: c for c in contract.input_schema.columns}
        self._quick = None if enforce_ranges else _quick_checks(contract.input_schema.columns)
        self._all_float = self._quick is not None and all(
            code == _FLOAT and not nullable for _, code, nullable, _ in self._quick
        )
        self._datetime_columns = [n for n, c in kinds.items() if c.kind == "datetime"]
        self._text_converters = {n: _text_converter(c) for n, c in kinds.items()}
        # The ONNX fast path: one session run for labels and probabilities, and for an
        # all-numeric model a feed built straight from the checked row (the generic
        # predictor re-checks what the contract check already guaranteed).
        self._session: Any = None
        self._outputs: list[str] = []
        self._tensor_input: str | None = None
        session = getattr(predictor, "_session", None)
        if self.serving_path == "onnx" and session is not None:
            self._session = session
            self._outputs = [o.name for o in session.get_outputs()][:2]
            spec = predictor.spec
            inputs = [i.name for i in session.get_inputs()]
            if spec.mode == "tensor" and spec.is_frame and len(inputs) == 1:
                if list(spec.feature_names or ()) == self.input_names:
                    import numpy as np

                    self._tensor_input = inputs[0]
                    self._dtype = np.float32 if spec.precision == "float32" else np.float64
                    self._np_array = np.array
        self.single_s = 0.0
        self.batch_row_s = 0.0
        self.batcher: MicroBatcher | None = None
        self.threaded = False

    def __repr__(self) -> str:
        return f"ServedModel({self.ref!r}, path={self.serving_path!r})"

    # ------------------------------------------------------------------------ checking

    def prepare(self, rows: Rows) -> Rows:
        """Name positional rows, convert CSV text and ISO datetimes per column kind."""
        rows = rows.named(self.input_names)
        if rows.text:
            rows = self._from_text(rows)
        elif self._datetime_columns:
            rows = self._parse_datetimes(rows)
        return rows

    def violations(self, rows: Rows) -> list[Violation]:
        """Every contract problem in ``rows`` (values past the training range only with
        ``enforce_ranges``)."""
        row = rows.row
        if row is not None and self._quick is not None and _passes(self._quick, row):
            return []
        validator = self._validator
        try:
            if rows.row is not None:
                report = validator.validate_row(rows.row)
            else:
                report = validator.validate_columns(rows.columns or {})
        except InvalidValueError as exc:
            raise RequestError(422, "CONTRACT_VIOLATION", str(exc)) from None
        found = report.violations
        if found and not self.enforce_ranges:
            found = [v for v in found if v.problem not in RANGE_PROBLEMS]
        return found

    def check(self, rows: Rows) -> Rows:
        """``rows`` prepared and checked; a 422 :class:`RequestError` lists every problem."""
        rows = self.prepare(rows)
        row = rows.row
        if row is not None and self._all_float:  # all non-nullable floats: C-speed checks
            values = list(map(row.get, self.input_names))
            if set(map(type, values)) <= _FLOAT_TYPES:
                try:
                    total = sum(values)
                except OverflowError:
                    total = math.nan
                if total == total:  # no NaN (nor inf - inf): nothing that blocks
                    checked = Rows(1, row=row)
                    checked.values = values  # the model's inputs, in order
                    return checked
        found = self.violations(rows)
        if found:
            from prodline.data.validate import ValidationReport

            report = ValidationReport(found, rows.n)
            raise RequestError(
                422,
                "CONTRACT_VIOLATION",
                self.contract.describe_violations(report),
                violations=[v.to_dict() for v in found],
            )
        return rows

    # ---------------------------------------------------------------------- predicting

    def predict(self, rows: Rows) -> Prediction:
        """Labels (and probabilities) for checked rows, in one model call."""
        if self._tensor_input is not None:
            names = self.input_names
            if rows.values is not None:
                data = self._np_array([rows.values], dtype=self._dtype)
            elif rows.row is not None:
                row = rows.row
                data = self._np_array([[row[n] for n in names]], dtype=self._dtype)
            else:
                columns = rows.columns or {}
                data = self._np_array([columns[n] for n in names], dtype=self._dtype).T.copy()
            return self._onnx({self._tensor_input: data}, rows.n)
        if rows.row is not None and self.predictor.spec.is_frame:
            X: Any = rows.row
        else:
            X = self._input(rows.as_columns(self.input_names))
        return self.predict_input(X)

    def predict_columns(self, columns: dict[str, list[Any]]) -> Prediction:
        """Labels (and probabilities) for ``{column: [values]}`` (a micro-batch)."""
        n = len(columns[self.input_names[0]]) if self.input_names else 0
        if self._tensor_input is not None:
            data = self._np_array(
                [columns[name] for name in self.input_names], dtype=self._dtype
            ).T.copy()
            return self._onnx({self._tensor_input: data}, n)
        return self.predict_input(self._input(columns))

    def predict_input(self, X: Any) -> Prediction:
        if self._session is not None and self.task == "classification" and self.has_proba:
            return self._onnx(self.predictor._feed(X), None)  # type: ignore[attr-defined]
        labels = _as_1d(self.predictor.predict(X))
        proba = self.predictor.predict_proba(X) if self.has_proba else None
        return Prediction(labels, proba)

    def _onnx(self, feed: dict[str, Any], n_rows: int | None) -> Prediction:
        predictor = self.predictor
        if self.task != "classification" or not self.has_proba:
            (out,) = self._session.run(self._outputs[:1], feed)
            if self.task == "regression":
                return Prediction(out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out, None)
            return Prediction(self._onnx_labels(out, n_rows or len(out)), None)
        label, proba = self._session.run(self._outputs, feed)
        if getattr(predictor, "labels_from", "label") == "proba_argmax":
            from prodline.models.runtime import tie_aware_argmax

            return Prediction(predictor.classes_[tie_aware_argmax(proba)], proba)
        return Prediction(self._onnx_labels(label, len(proba)), proba)

    def _onnx_labels(self, out: Any, n_rows: int) -> Any:
        import numpy as np

        if out.ndim > 1 and out.size == n_rows:
            out = out.reshape(-1)
        classes = self.predictor.classes_
        if classes is not None and classes.dtype.kind in "iub" and out.dtype.kind in "iub":
            return out.astype(classes.dtype, copy=False)
        if classes is not None and classes.dtype.kind in "OU" and out.dtype.kind in "OU":
            return np.asarray(out, dtype=object)
        return out

    def _input(self, columns: dict[str, list[Any]]) -> Any:
        if self.predictor.spec.is_frame:
            return columns
        import numpy as np  # a model fitted on a bare array takes one, in column order

        return np.array([columns[name] for name in self.input_names], dtype=object).T

    # ------------------------------------------------------------------------ warm-up

    def warm_up(self, *, measure: bool = True) -> None:
        """Run the contract's example rows once (first calls are slow) and time single
        rows against a batch, to decide whether micro-batching helps this model."""
        examples = [e for e in self.contract.examples if isinstance(e, dict)]
        if not examples:
            return
        try:
            rows = [self.check(Rows(1, row=dict(e))) for e in examples[:1]]
            self.predict(rows[0])
        except Exception:  # a contract whose examples no longer validate: serve anyway
            return
        if not measure:
            return
        row = rows[0]
        batch = {name: [row.row[name]] * 32 for name in self.input_names}  # type: ignore[index]
        singles, batches = [], []
        deadline = time.perf_counter() + 1.0
        for _ in range(7):
            start = time.perf_counter()
            self.predict(row)
            singles.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.predict_columns(batch)
            batches.append(time.perf_counter() - start)
            if time.perf_counter() > deadline:
                break
        self.single_s = statistics.median(singles)
        self.batch_row_s = statistics.median(batches) / 32

    @property
    def batching_helps(self) -> bool:
        """Whether micro-batching is worth its overhead for this model (measured)."""
        return (
            self.single_s >= BATCH_MIN_SINGLE_S
            and self.batch_row_s <= BATCH_MAX_PER_ROW_SHARE * self.single_s
        )

    # --------------------------------------------------------------------- conversions

    def _from_text(self, rows: Rows) -> Rows:
        convert = self._text_converters
        if rows.row is not None:
            return Rows(
                1, row={k: convert[k](v) if k in convert else v for k, v in rows.row.items()}
            )
        columns = rows.columns or {}
        return Rows(
            rows.n,
            columns={
                k: [convert[k](v) for v in values] if k in convert else values
                for k, values in columns.items()
            },
        )

    def _parse_datetimes(self, rows: Rows) -> Rows:
        if rows.row is not None:
            row = dict(rows.row)
            for name in self._datetime_columns:
                if name in row:
                    row[name] = _datetime(row[name])
            return Rows(1, row=row)
        columns = dict(rows.columns or {})
        for name in self._datetime_columns:
            if name in columns:
                columns[name] = [_datetime(v) for v in columns[name]]
        return Rows(rows.n, columns=columns)

    # ------------------------------------------------------------------------ describe

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "version": self.version,
            "ref": self.ref,
            "serving_path": self.serving_path,
            "task": self.task,
            "source": self.source,
            "input_columns": self.input_names,
            "classes": self.classes,
            "proba_columns": self.proba_columns if self.has_proba else [],
            "batching": self.batcher is not None,
            "single_row_ms": round(self.single_s * 1e3, 4),
        }


_MISSING = object()
_FLOAT_TYPES = frozenset({float, int})
_ANY, _FLOAT, _INT, _BOOL, _TEXT, _CATEGORY = range(6)


def _quick_checks(columns: Sequence[Any]) -> list[tuple[str, int, bool, frozenset[str]]] | None:
    """Per column, what a value certainly satisfying the contract looks like, for the
    common one-row request: a cheap loop that says "valid" or "ask the validator"
    (which then reports every problem). ``None`` when a column kind needs the
    validator anyway (datetimes)."""
    checks = []
    for column in columns:
        kind = column.kind
        allowed: frozenset[str] = frozenset()
        if kind == "float":
            code = _FLOAT
        elif kind == "integer":
            code = _INT
        elif kind == "boolean":
            code = _BOOL
        elif kind == "categorical" and column.categories is not None:
            code = _CATEGORY
            allowed = frozenset(c for c in column.categories if isinstance(c, str))
        elif kind in ("categorical", "string"):
            code = _TEXT
        else:
            return None
        checks.append((column.name, code, bool(column.nullable), allowed))
    return checks


def _passes(checks: list[tuple[str, int, bool, frozenset[str]]], row: dict[str, Any]) -> bool:
    """True only when every value is of its column's kind (ranges aside): then the
    contract validator would find nothing that blocks."""
    get = row.get
    for name, code, nullable, allowed in checks:
        v = get(name, _MISSING)
        t = type(v)
        if code == _FLOAT:
            if t is float:
                if v != v:
                    return False
                continue
            if t is int:
                continue
        elif code == _INT:
            if t is int:
                continue
        elif code == _TEXT:
            if t is str:
                continue
        elif code == _CATEGORY:
            if t is str and v in allowed:
                continue
        elif code == _BOOL:
            if t is bool:
                continue
        if v is None and nullable:
            continue
        return False
    return True


def _as_1d(values: Any) -> Any:
    shape = getattr(values, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 1:
        return values[:, 0]
    return values


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        try:
            return _dt.datetime.fromisoformat(text)
        except ValueError:
            return value  # reported as a wrong type by the contract check
    return value


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_NULL_TEXT = frozenset({"", "na", "nan", "null", "none", "n/a", "<na>"})


def _text_converter(column: Any) -> Any:
    """How a CSV cell becomes a value of ``column``'s kind (left as text when it
    cannot be, so the contract check reports it)."""
    kind = column.kind

    def null_or(value: str) -> Any:
        return None if value.strip().lower() in _NULL_TEXT else value

    if kind in ("integer", "float"):

        def number(value: str) -> Any:
            text = value.strip()
            if text.lower() in _NULL_TEXT:
                return None
            try:
                return int(text)
            except ValueError:
                pass
            try:
                return float(text)
            except ValueError:
                return value

        return number
    if kind == "boolean":

        def boolean(value: str) -> Any:
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            return None if text in _NULL_TEXT else value

        return boolean
    if kind == "datetime":
        return lambda value: _datetime(null_or(value))
    if kind == "categorical" and column.categories:
        allowed = {c for c in column.categories if isinstance(c, str)}
        by_text = {str(c): c for c in column.categories if not isinstance(c, str)}

        def category(value: str) -> Any:
            if value in allowed:
                return value
            if value in by_text:
                return by_text[value]
            return null_or(value)

        return category
    return null_or


# ----------------------------------------------------------------------------- loading


def load_served(
    ref: str,
    *,
    enforce_ranges: bool = False,
    extra_trusted: Sequence[str] = (),
    source: str = "",
) -> ServedModel:
    """Load a registered version (``churn/3``, ``churn@production``) to serve."""
    from prodline.registry.api import load_model

    model = load_model(ref, validate=False, extra_trusted=tuple(extra_trusted))
    served = ServedModel(
        model.name,
        model.version,
        model.contract,
        model.package.predictor,
        enforce_ranges=enforce_ranges,
        source=source or ref,
    )
    return served


def load_package_dir(
    directory: str | Path,
    *,
    enforce_ranges: bool = False,
    extra_trusted: Sequence[str] = (),
) -> ServedModel:
    """Load a model written by ``prodline build`` (``contract.json``, ``package/`` and
    ``serving.json``) without any prodline store."""
    from prodline.contract.contract import Contract
    from prodline.models.package import read_package

    root = Path(directory)
    try:
        meta = json.loads((root / SERVING_FILE).read_text(encoding="utf-8"))
        name, version = str(meta["model"]), int(meta["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelPackageError(
            f"{root / SERVING_FILE} is missing or unreadable ({exc}); point at a directory "
            "written by `prodline build` (it holds serving.json, contract.json and package/)."
        ) from None
    contract = Contract.load(root / "contract.json")
    package = read_package(
        root / "package",
        extra_trusted=tuple(extra_trusted),
        expected_digest=contract.package.get("digest"),
    )
    return ServedModel(
        name, version, contract, package.predictor, enforce_ranges=enforce_ranges,
        source=str(root),
    )  # fmt: skip
