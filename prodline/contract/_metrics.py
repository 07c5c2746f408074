"""Evaluation metrics for a contract, computed with scikit-learn's own functions (private).

Every value is a plain float (or None where the metric is undefined on the data, with
the reason under ``"undefined"``), so the metrics survive JSON unchanged.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from prodline.data._values import json_scalar

SILHOUETTE_MAX_ROWS = 2000


def class_key(value: Any) -> str:
    """A class label as a JSON object key and column-name suffix."""
    j = json_scalar(value)
    return j if isinstance(j, str) else json_str(j)


def json_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _num(value: Any) -> float | None:
    f = float(value)
    return f if math.isfinite(f) else None


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, Any]:
    """accuracy, precision, recall, f1 (binary: of the positive class ``classes[1]``;
    multiclass: macro over ``classes``), roc_auc and log_loss (only with ``proba``,
    whose columns follow ``classes``), and per-class precision, recall, f1 and support."""
    from sklearn.metrics import (
        accuracy_score,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    labels = list(classes)
    binary = len(labels) == 2
    undefined: dict[str, str] = {}
    if binary:
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, average="binary", pos_label=labels[1], zero_division=0
        )
    else:
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average="macro", zero_division=0
        )
    out: dict[str, Any] = {
        "n_rows": int(len(y_true)),
        "average": "binary" if binary else "macro",
        "positive_class": json_scalar(labels[1]) if binary else None,
        "accuracy": _num(accuracy_score(y_true, y_pred)),
        "precision": _num(p),
        "recall": _num(r),
        "f1": _num(f),
        "roc_auc": None,
        "log_loss": None,
    }
    if proba is None:
        undefined["roc_auc"] = undefined["log_loss"] = "the model has no predict_proba"
    else:
        present = set(np.unique(y_true).tolist())
        if len(present) < 2:
            undefined["roc_auc"] = "the eval labels hold a single class"
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if binary:
                        auc = roc_auc_score(y_true == labels[1], proba[:, 1])
                    else:
                        auc = roc_auc_score(
                            y_true, proba, multi_class="ovr", average="macro", labels=labels
                        )
                out["roc_auc"] = _num(auc)
            except ValueError as e:
                undefined["roc_auc"] = str(e)
        try:
            # float32 probabilities (ONNX) sum to 1 only within rounding: renormalise
            rows = np.asarray(proba, dtype=np.float64)
            rows = rows / rows.sum(axis=1, keepdims=True)
            out["log_loss"] = _num(log_loss(y_true, rows, labels=labels))
        except ValueError as e:
            undefined["log_loss"] = str(e)
    pc, rc, fc, sc = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    out["per_class"] = {
        class_key(c): {
            "precision": _num(pc[i]),
            "recall": _num(rc[i]),
            "f1": _num(fc[i]),
            "support": int(sc[i]),
        }
        for i, c in enumerate(labels)
    }
    if undefined:
        out["undefined"] = undefined
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """mae, rmse and r2."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    out: dict[str, Any] = {
        "n_rows": int(len(y_true)),
        "mae": _num(mean_absolute_error(y_true, y_pred)),
        "rmse": _num(root_mean_squared_error(y_true, y_pred)),
        "r2": None,
    }
    if len(y_true) < 2:
        out["undefined"] = {"r2": "r2 needs at least two eval rows"}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["r2"] = _num(r2_score(y_true, y_pred))
        if out["r2"] is None:
            out["undefined"] = {"r2": "the eval targets are constant"}
    return out


def clustering_metrics(
    features: np.ndarray | None, labels: np.ndarray, cluster_ids: list[Any]
) -> dict[str, Any]:
    """silhouette (on ``features``, the space the clusterer works in; on a sample of
    ``SILHOUETTE_MAX_ROWS`` rows, seed 0, beyond that) and the size of each cluster."""
    from sklearn.metrics import silhouette_score

    counts = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    sizes = {class_key(c): int(counts.get(c, 0)) for c in cluster_ids}
    for c, n in counts.items():  # labels outside cluster_ids (noise, -1)
        sizes.setdefault(class_key(c), int(n))
    out: dict[str, Any] = {
        "n_rows": int(len(labels)),
        "n_clusters": len(cluster_ids),
        "silhouette": None,
        "cluster_sizes": sizes,
    }
    n_found = len(counts)
    if features is None:
        out["undefined"] = {"silhouette": "the clusterer's input space is not numeric"}
    elif not 2 <= n_found <= len(labels) - 1:
        out["undefined"] = {
            "silhouette": f"silhouette needs 2 to n_rows-1 clusters in the eval rows; "
            f"found {n_found}"
        }
    else:
        kwargs: dict[str, Any] = {}
        if len(labels) > SILHOUETTE_MAX_ROWS:
            kwargs = {"sample_size": SILHOUETTE_MAX_ROWS, "random_state": 0}
            out["silhouette_sample_size"] = SILHOUETTE_MAX_ROWS
        out["silhouette"] = _num(silhouette_score(features, labels, **kwargs))
    return out
