"""Logged predictions as columns: one entry per predicted row.

The server logs one record per request: its inputs (one row as ``{column: value}``, a
list of such rows, columns as ``{column: [values]}``, or MLflow's ``dataframe_split`` /
``dataframe_records`` / ``instances`` / ``inputs`` bodies), its outputs (a value, a list,
or a mapping with ``prediction``/``predictions``, class probabilities as
``proba_<class>`` keys or a ``probabilities`` list or mapping, and ``error`` when the
request failed) and, once feedback arrives, a label (one value, or one per row). This
module flattens records into rows without assuming more than that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prodline.contract._metrics import class_key
from prodline.store.predictions import PredictionLog

_PREDICTION_KEYS = ("prediction", "predictions", "label", "labels", "value", "y", "output")
_PROBA_KEYS = ("probabilities", "proba", "probability", "predict_proba", "scores")


@dataclass
class Batch:
    """Logged predictions, one entry per predicted row (a request of n rows gives n)."""

    ids: np.ndarray  # log id of each row
    versions: np.ndarray
    roles: np.ndarray
    request_ids: np.ndarray
    timestamps: np.ndarray  # epoch ms
    latency_ms: np.ndarray  # per request, repeated for each of its rows
    errors: np.ndarray  # bool
    rows: list[dict[str, Any]]  # inputs
    predictions: list[Any]
    probas: list[dict[str, float] | None]
    labels: list[Any]
    n_logs: int = 0
    first_id: int = 0
    last_id: int = 0
    _frames: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, mask: np.ndarray) -> Batch:
        """The rows where ``mask`` is True."""
        idx = np.flatnonzero(mask)
        ids = self.ids[idx]
        return Batch(
            ids=ids,
            versions=self.versions[idx],
            roles=self.roles[idx],
            request_ids=self.request_ids[idx],
            timestamps=self.timestamps[idx],
            latency_ms=self.latency_ms[idx],
            errors=self.errors[idx],
            rows=[self.rows[i] for i in idx],
            predictions=[self.predictions[i] for i in idx],
            probas=[self.probas[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            n_logs=int(np.unique(ids).size),
            first_id=int(ids.min()) if ids.size else 0,
            last_id=int(ids.max()) if ids.size else 0,
        )

    def features(self, columns: Sequence[str]) -> pd.DataFrame:
        """The inputs as a frame with ``columns`` (absent inputs are missing values);
        rows of failed requests are left out."""
        key = tuple(columns)
        if key not in self._frames:
            ok = [r for r, e in zip(self.rows, self.errors, strict=True) if not e]
            self._frames[key] = pd.DataFrame.from_records(ok, columns=list(columns))
        return self._frames[key]

    def request_stats(self) -> dict[str, Any]:
        """Requests, errors and latency percentiles, counted per request (not per row)."""
        if not self.ids.size:
            return {
                "n_requests": 0,
                "n_rows": 0,
                "n_errors": 0,
                "error_rate": None,
                "latency_ms": {},
            }
        _, first = np.unique(self.ids, return_index=True)
        lat = self.latency_ms[first]
        err = self.errors[first]
        return {
            "n_requests": int(first.size),
            "n_rows": len(self),
            "n_errors": int(err.sum()),
            "error_rate": float(err.mean()),
            "latency_ms": {
                "mean": float(lat.mean()),
                "p50": float(np.percentile(lat, 50)),
                "p95": float(np.percentile(lat, 95)),
                "p99": float(np.percentile(lat, 99)),
            },
        }


def flatten(logs: Sequence[PredictionLog], input_columns: Sequence[str] = ()) -> Batch:
    """One entry per predicted row of ``logs``."""
    ids, versions, roles, rids, stamps, lat, errs = [], [], [], [], [], [], []
    rows: list[dict[str, Any]] = []
    preds: list[Any] = []
    probas: list[dict[str, float] | None] = []
    labels: list[Any] = []
    columns = list(input_columns)
    for log in logs:
        inputs = decode_inputs(log.inputs, columns)
        outputs, error = decode_outputs(log.outputs, len(inputs))
        n = max(len(inputs), 1 if error else 0)
        if not inputs and error:
            inputs = [{}]
        if len(outputs) < n:
            outputs = outputs + [(None, None)] * (n - len(outputs))
        label = log.label
        if isinstance(label, list) and len(label) == n and n > 1:
            row_labels = label
        elif n == 1:
            row_labels = [label]
        else:  # one label for a multi-row request: ambiguous, left out
            row_labels = [None] * n
        for i in range(n):
            ids.append(log.id)
            versions.append(log.version)
            roles.append(log.role)
            rids.append(log.request_id)
            stamps.append(log.timestamp_ms)
            lat.append(log.latency_ms)
            errs.append(error)
            rows.append(inputs[i])
            preds.append(outputs[i][0])
            probas.append(outputs[i][1])
            labels.append(row_labels[i])
    id_array = np.asarray(ids, dtype=np.int64)
    return Batch(
        ids=id_array,
        versions=np.asarray(versions, dtype=np.int64),
        roles=np.asarray(roles, dtype=object),
        request_ids=np.asarray(rids, dtype=object),
        timestamps=np.asarray(stamps, dtype=np.int64),
        latency_ms=np.asarray(lat, dtype=np.float64),
        errors=np.asarray(errs, dtype=bool),
        rows=rows,
        predictions=preds,
        probas=probas,
        labels=labels,
        n_logs=len(logs),
        first_id=logs[0].id if logs else 0,
        last_id=logs[-1].id if logs else 0,
    )


# ------------------------------------------------------------------ inputs


def decode_inputs(inputs: Any, columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A logged request's inputs as a list of ``{column: value}`` rows."""
    if isinstance(inputs, Mapping):
        if "dataframe_split" in inputs:
            split = inputs["dataframe_split"] or {}
            names = split.get("columns") or list(columns)
            return [dict(zip(names, row, strict=False)) for row in split.get("data") or []]
        for key in ("dataframe_records", "instances", "inputs"):
            if key in inputs and len(inputs) <= 2:  # the body's key (and maybe params)
                return decode_inputs(inputs[key], columns)
        values = list(inputs.values())
        if values and all(isinstance(v, list) for v in values):  # columns of values
            n = len(values[0])
            if all(len(v) == n for v in values):
                names = list(inputs)
                return [{c: inputs[c][i] for c in names} for i in range(n)]
        return [dict(inputs)]
    if isinstance(inputs, list):
        if not inputs:
            return []
        if all(isinstance(r, Mapping) for r in inputs):
            return [dict(r) for r in inputs]
        if all(isinstance(r, list) for r in inputs) and columns:
            return [dict(zip(columns, r, strict=False)) for r in inputs]
        if (
            columns
            and len(inputs) == len(columns)
            and not any(isinstance(v, list | Mapping) for v in inputs)
        ):
            return [dict(zip(columns, inputs, strict=True))]
    return []


# ------------------------------------------------------------------ outputs


def decode_outputs(outputs: Any, n_rows: int) -> tuple[list[tuple[Any, Any]], bool]:
    """``([(prediction, probabilities or None), ...], failed)`` for one logged request."""
    if isinstance(outputs, Mapping):
        if "error" in outputs or outputs.get("status") == "error":
            return [], True
        if "outputs" in outputs and isinstance(outputs["outputs"], list):  # inference v2
            return _v2(outputs["outputs"], n_rows), False
        if n_rows > 1:
            preds = _first(outputs, _PREDICTION_KEYS)
            if isinstance(preds, list) and len(preds) == n_rows:
                probas = _probas_list(outputs, n_rows)
                return [(_scalar(p), probas[i]) for i, p in enumerate(preds)], False
        return [(_scalar(_first(outputs, _PREDICTION_KEYS)), _proba_of(outputs))], False
    if isinstance(outputs, list):
        if n_rows == 1 and len(outputs) == 1:
            return decode_outputs(outputs[0], 1)
        if n_rows == 1 and outputs and not isinstance(outputs[0], list | Mapping):
            return [(_scalar(outputs), None)], False
        out: list[tuple[Any, Any]] = []
        for item in outputs:
            decoded, failed = decode_outputs(item, 1)
            out.append(decoded[0] if decoded and not failed else (None, None))
        return out, False
    return [(_scalar(outputs), None)], False


def _first(mapping: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _scalar(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _proba_of(outputs: Mapping[str, Any]) -> dict[str, float] | None:
    found = {k[len("proba_") :]: v for k, v in outputs.items() if k.startswith("proba_")}
    if found:
        return _floats(found)
    value = _scalar(_first(outputs, _PROBA_KEYS))
    if isinstance(value, Mapping):
        return _floats({class_key(k): v for k, v in value.items()})
    if isinstance(value, list):
        return _floats({f"#{i}": v for i, v in enumerate(value)})
    return None


def _probas_list(outputs: Mapping[str, Any], n: int) -> list[dict[str, float] | None]:
    value = _first(outputs, _PROBA_KEYS)
    if isinstance(value, list) and len(value) == n:
        out = []
        for row in value:
            if isinstance(row, Mapping):
                out.append(_floats({class_key(k): v for k, v in row.items()}))
            elif isinstance(row, list):
                out.append(_floats({f"#{i}": v for i, v in enumerate(row)}))
            else:
                out.append(None)
        return out
    found = {k[len("proba_") :]: v for k, v in outputs.items() if k.startswith("proba_")}
    if found and all(isinstance(v, list) and len(v) == n for v in found.values()):
        return [_floats({k: v[i] for k, v in found.items()}) for i in range(n)]
    return [None] * n


def _v2(outputs: list[Any], n_rows: int) -> list[tuple[Any, Any]]:
    preds: list[Any] = []
    probas: list[Any] = []
    for tensor in outputs:
        if not isinstance(tensor, Mapping):
            continue
        name = str(tensor.get("name", ""))
        data = tensor.get("data") or []
        if "proba" in name or "prob" in name:
            shape = tensor.get("shape") or [len(data)]
            width = int(shape[-1]) if len(shape) > 1 else 1
            probas = [data[i * width : (i + 1) * width] for i in range(len(data) // max(width, 1))]
        elif not preds:
            preds = list(data)
    out = []
    for i in range(max(n_rows, len(preds))):
        p = preds[i] if i < len(preds) else None
        pr = probas[i] if i < len(probas) else None
        out.append((p, _floats({f"#{j}": v for j, v in enumerate(pr)}) if pr else None))
    return out


def _floats(mapping: Mapping[str, Any]) -> dict[str, float] | None:
    try:
        return {str(k): float(v) for k, v in mapping.items()}
    except (TypeError, ValueError):
        return None
