"""Latency of a serving path, measured with real calls (private)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _timings(fn: Callable[[], Any], calls: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(calls)
    clock = time.perf_counter
    for i in range(calls):
        start = clock()
        fn()
        out[i] = clock() - start
    return out * 1000.0  # milliseconds


def measure_path(
    predict: Callable[[Any], Any],
    single: Any,
    batch: Any,
    *,
    calls: int,
    batch_calls: int,
    batch_rows: int,
    single_input: str,
) -> dict[str, Any]:
    """Single-row p50/p99 over ``calls`` calls (after ``calls // 10`` warm-up calls)
    and the p50 of ``batch_calls`` calls on a ``batch_rows``-row batch (after one
    warm-up call), in milliseconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single_ms = _timings(lambda: predict(single), calls, max(5, calls // 10))
        out: dict[str, Any] = {
            "method": "predict",
            "single_row_input": single_input,
            "single_row_calls": int(calls),
            "p50_single_row_ms": float(np.percentile(single_ms, 50)),
            "p99_single_row_ms": float(np.percentile(single_ms, 99)),
            "batch_rows": int(batch_rows),
            "batch_calls": 0,
            "p50_batch_ms": None,
        }
        if batch is not None and batch_calls > 0:
            batch_ms = _timings(lambda: predict(batch), batch_calls, 1)
            out["batch_calls"] = int(batch_calls)
            out["p50_batch_ms"] = float(np.percentile(batch_ms, 50))
    return out
