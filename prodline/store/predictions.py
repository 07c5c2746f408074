"""Prediction logs and feedback labels: written in batches by the model server, read in
windows by monitoring (by id, so reading the latest window never rescans history)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.metrics import now_ms
from prodline.store.runs import dialect_insert


@dataclass(frozen=True)
class PredictionLog:
    """One logged prediction (``inputs``/``outputs`` are decoded JSON)."""

    id: int
    model: str
    version: int
    request_id: str
    role: str
    timestamp_ms: int
    latency_ms: float
    inputs: Any
    outputs: Any
    label: Any = None


class PredictionsStore(StoreBase):
    """Write and read prediction logs and feedback."""

    def log_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append prediction logs. Each row: model, version, request_id, role
        (champion/challenger/shadow), latency_ms, inputs, outputs (JSON-able), and
        optionally timestamp (epoch ms; now when absent)."""
        if not rows:
            return 0
        stamp = now_ms()
        values = [
            {
                "model": row["model"],
                "version": int(row["version"]),
                "request_id": str(row["request_id"])[:64],
                "role": row.get("role", "champion"),
                "timestamp": int(row.get("timestamp", stamp)),
                "latency_ms": float(row["latency_ms"]),
                "inputs": row["inputs"]
                if isinstance(row["inputs"], str)
                else json.dumps(row["inputs"]),
                "outputs": row["outputs"]
                if isinstance(row["outputs"], str)
                else json.dumps(row["outputs"]),
            }
            for row in rows
        ]
        with self.write() as conn:
            conn.execute(insert(t.prediction_logs), values)
        return len(values)

    def log_feedback(self, model: str, labels: Iterable[tuple[str, Any]]) -> int:
        """Record ground-truth labels by request id (a later label replaces an earlier one)."""
        stamp = now_ms()
        values = [
            {"model": model, "request_id": str(request_id)[:64], "timestamp": stamp,
             "label": json.dumps(label)}
            for request_id, label in labels
        ]  # fmt: skip
        if not values:
            return 0
        with self.write() as conn:
            stmt = dialect_insert(conn, t.feedback)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model", "request_id"],
                    set_={"label": stmt.excluded.label, "timestamp": stmt.excluded.timestamp},
                ),
                values,
            )
        return len(values)

    def read_predictions(
        self,
        model: str,
        *,
        after_id: int = 0,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
        newest: bool = False,
        with_labels: bool = True,
    ) -> list[PredictionLog]:
        """Logged predictions of ``model`` with id > ``after_id`` (and within the time
        bounds), oldest first; ``newest=True`` with ``limit`` takes the latest rows."""
        p, f = t.prediction_logs, t.feedback
        columns = [p, f.c.label] if with_labels else [p]
        query = select(*columns).where(p.c.model == model, p.c.id > after_id)
        if with_labels:
            query = query.outerjoin(
                f, (f.c.model == p.c.model) & (f.c.request_id == p.c.request_id)
            )
        if since_ms is not None:
            query = query.where(p.c.timestamp >= since_ms)
        if until_ms is not None:
            query = query.where(p.c.timestamp < until_ms)
        query = query.order_by(p.c.id.desc() if newest else p.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as conn:
            rows = conn.execute(query).all()
        if newest:
            rows.reverse()
        return [
            PredictionLog(
                id=row.id,
                model=row.model,
                version=row.version,
                request_id=row.request_id,
                role=row.role,
                timestamp_ms=row.timestamp,
                latency_ms=row.latency_ms,
                inputs=json.loads(row.inputs),
                outputs=json.loads(row.outputs),
                label=json.loads(row.label) if with_labels and row.label is not None else None,
            )
            for row in rows
        ]

    def prediction_count(self, model: str) -> int:
        """How many predictions of ``model`` are logged."""
        with self.read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(t.prediction_logs)
                .where(t.prediction_logs.c.model == model)
            ).scalar_one()
