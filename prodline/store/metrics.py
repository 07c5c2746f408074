"""Metric points: the hot path of tracking.

A synchronous ``log_metric`` must cost well under a millisecond and survive a SIGKILL
once it returns, so points are written through a DBAPI connection kept open per
thread, with two fixed statements in one committed transaction. Everything else in
the store goes through SQLAlchemy Core.

On SQLite the writer connection does not checkpoint the WAL itself (a checkpoint syncs
the disk and would stall the call that triggers it): a background thread checkpoints
every 250 ms after writes. Its foreign-key checks are replaced by checking each run id
once per store.

Each (run, key) gets a ``metric_series`` id once (cached per store); a point is then
``(series, step, timestamp, seq, value)``, written in the primary key's order when the
batch's steps already rise.
"""

from __future__ import annotations

import itertools
import math
import operator
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from prodline.errors import NotFoundError, StoreError
from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.metric_points import point_columns
from prodline.store.records import MetricPoint
from prodline.store.runs import chunked

MetricTuple = tuple[str, Any, int]

_INSERT = 'INSERT INTO metrics (series, step, "timestamp", seq, "value") VALUES ({p})'
_UPSERT = (
    'INSERT INTO latest_metrics (run_id, "key", "value", step, "timestamp") VALUES ({p}) '
    'ON CONFLICT (run_id, "key") DO UPDATE SET "value" = excluded."value", '
    'step = excluded.step, "timestamp" = excluded."timestamp" '
    "WHERE excluded.step >= latest_metrics.step"
)


def now_ms() -> int:
    """Current UTC time in epoch milliseconds (the metrics table's timestamp unit)."""
    return time.time_ns() // 1_000_000


_SEQ_ATTEMPTS = 3
SERIES_CACHE_LIMIT = 100_000  # cached (run, key) -> series ids before the cache starts over
_SERIES = operator.itemgetter(0)


class _SeqCollision(Exception):
    """Another writer stored a point with the same primary key."""


def _random_seq_start() -> int:
    """Where a writer's sequence numbers start: they increase within a writer, from a
    random start so that writers in other processes practically never draw the same."""
    return secrets.randbits(62)


class _PointWriter:
    """One DBAPI connection per thread, used only to append metric points."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.insert_sql = _INSERT.format(p=", ".join([mark] * 5))
        self.upsert_sql = _UPSERT.format(p=", ".join([mark] * 5))
        self.sqlite = engine.dialect.name == "sqlite"
        self.local = threading.local()
        self.opened: list[Any] = []
        self.lock = threading.Lock()
        self.pending = False  # written since the last checkpoint (a plain flag: cheapest)
        self.stopped = threading.Event()
        self.checkpointer: threading.Thread | None = None
        self.next_seq = _random_seq_start()

    def take_seqs(self, n: int) -> int:
        """Reserve ``n`` sequence numbers; returns the first."""
        with self.lock:
            first = self.next_seq
            self.next_seq += n
        return first

    def write(self, rows: list[tuple[Any, ...]], latest: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (series, step, timestamp, seq, value) and upsert ``latest``
        (run_id, key, value, step, timestamp) in one committed transaction.

        Two points collide only when another writer drew the same ``seq`` for the same
        series, step and millisecond; the batch is then retried with fresh numbers.
        """
        for _ in range(_SEQ_ATTEMPTS):
            try:
                self._write_once(rows, latest)
                return
            except _SeqCollision:
                with self.lock:
                    self.next_seq = _random_seq_start()
                first = self.take_seqs(len(rows))
                rows = [
                    (series, step, stamp, first + i, value)
                    for i, (series, step, stamp, _, value) in enumerate(rows)
                ]
        raise StoreError(
            f"Could not write metric points: {_SEQ_ATTEMPTS} attempts collided with points "
            "another writer logged at the same run, key, step and millisecond."
        )

    def _write_once(self, rows: list[tuple[Any, ...]], latest: list[tuple[Any, ...]]) -> None:
        connection = self._connection()
        cursor = self.local.cursor
        try:
            if self.sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            if len(rows) == 1:  # the synchronous log_metric loop: skip executemany's setup
                cursor.execute(self.insert_sql, rows[0])
                cursor.execute(self.upsert_sql, latest[0])
            else:
                cursor.executemany(self.insert_sql, rows)
                cursor.executemany(self.upsert_sql, latest)
            connection.commit()
            self.pending = True
        except BaseException as exc:
            self._discard(connection)
            if "UNIQUE constraint failed: metrics." in str(exc) or (
                type(exc).__name__ == "UniqueViolation" and "pk_metrics" in str(exc)
            ):
                raise _SeqCollision from exc
            if isinstance(exc, Exception) and type(exc).__module__.split(".")[0] in (
                "sqlite3",
                "psycopg",
            ):
                raise StoreError(f"Could not write metric points to the store: {exc}.") from exc
            raise

    def _connection(self) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            if self.sqlite:
                connection.execute("PRAGMA wal_autocheckpoint=0")
                connection.execute("PRAGMA foreign_keys=OFF")
                self._start_checkpointer()
            self.local.connection = connection
            self.local.cursor = connection.cursor()
            with self.lock:
                self.opened.append(connection)
        return connection

    def _start_checkpointer(self) -> None:
        with self.lock:
            if self.checkpointer is None:
                self.checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="prodline-wal-checkpoint", daemon=True
                )
                self.checkpointer.start()

    def _checkpoint_loop(self) -> None:
        connection = self.engine.raw_connection()
        try:
            while not self.stopped.wait(0.25):
                if self.pending:
                    self.pending = False
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 - the store is closing; the next writer catches up
            pass
        finally:
            connection.close()

    def _discard(self, connection: Any) -> None:
        self.local.connection = None
        self.local.cursor.close()
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - the connection may already be broken
            connection.invalidate()
        with self.lock:
            if connection in self.opened:
                self.opened.remove(connection)
        connection.close()

    def close(self) -> None:
        self.stopped.set()
        if self.checkpointer is not None:
            self.checkpointer.join(timeout=5)
            self.checkpointer = None
        self.stopped.clear()
        with self.lock:
            opened, self.opened = self.opened, []
        for connection in opened:
            connection.close()


class MetricsStore(StoreBase):
    """Metric history and the latest value of each metric per run."""

    def __init__(self, engine: Any, url: str) -> None:
        super().__init__(engine, url)
        self._points = _PointWriter(engine)
        self._known_runs: set[str] = set()
        self._series: dict[str, dict[str, int]] = {}  # run_id -> key -> metric_series.id
        self._series_keys: dict[int, str] = {}  # metric_series.id -> key

    def log_metric_points(self, run_id: str, points: Iterable[MetricTuple]) -> dict[str, int]:
        """Write ``(key, value, step)`` points in one transaction; returns the highest
        step written per key.

        Values are checked first: a bad point rejects the whole call. NaN is stored as
        NULL and read back as NaN; infinities are stored as they are.
        """
        keys, values, steps = point_columns(points)
        n = len(keys)
        if not n:
            return {}
        self._require_run(run_id)
        series = self._series_ids(run_id, keys)
        stamp = now_ms()
        first = self._points.take_seqs(n)
        rows = list(
            zip(
                series,
                steps,
                itertools.repeat(stamp),
                range(first, first + n),
                values,
                strict=False,
            )
        )
        if n > 1 and not all(map(operator.le, steps, steps[1:])):
            rows.sort()  # by (series, step, timestamp, seq): seq is unique, values never compared
        # Steps now rise within each series, so a series' last row is its latest point
        # (of equal steps, the one logged last).
        last = dict(zip(map(_SERIES, rows), rows, strict=True))
        key_of = self._series_keys
        latest = [
            (run_id, key_of[series], value, step, stamp)
            for series, step, _, _, value in last.values()
        ]
        self._points.write(rows, latest)
        return {key: step for _, key, _, step, _ in latest}

    def _require_run(self, run_id: str) -> None:
        if run_id in self._known_runs:
            return
        with self.read() as conn:
            found = conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).scalar()
        if found is None:
            raise NotFoundError(f"No run with id {run_id!r}: metrics need an existing run.")
        self._known_runs.add(run_id)

    def _series_ids(self, run_id: str, keys: tuple[str, ...]) -> list[int]:
        """The metric_series id of each of ``keys`` (in order), creating new ones."""
        known = self._series.get(run_id)
        if known is not None:
            try:
                return list(map(known.__getitem__, keys))
            except KeyError:
                pass  # a key this run has not logged through this store yet
        if len(self._series_keys) > SERIES_CACHE_LIMIT:
            self._series.clear()
            self._series_keys.clear()
            known = None
        self._add_series(run_id, set(keys).difference(known or ()))
        return list(map(self._series[run_id].__getitem__, keys))

    def _add_series(self, run_id: str, keys: set[str]) -> None:
        """Create (or find, if another writer did) the series of ``keys`` and cache them."""
        ms = t.metric_series
        found: dict[str, int] = {}
        with self.write() as conn:
            conn.execute(
                text(
                    'INSERT INTO metric_series (run_id, "key") VALUES (:run_id, :key) '
                    'ON CONFLICT (run_id, "key") DO NOTHING'
                ),
                [{"run_id": run_id, "key": key} for key in keys],
            )
            for batch in chunked(keys):
                query = select(ms.c.key, ms.c.id).where(ms.c.run_id == run_id, ms.c.key.in_(batch))
                found.update(conn.execute(query).all())
        self._series.setdefault(run_id, {}).update(found)
        self._series_keys.update({series: key for key, series in found.items()})

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point logged for ``key`` in a run, by step then time."""
        m, ms = t.metrics, t.metric_series
        with self.read() as conn:
            rows = conn.execute(
                select(m.c.value, m.c.step, m.c.timestamp)
                .join(ms, ms.c.id == m.c.series)
                .where(ms.c.run_id == run_id, ms.c.key == key)
                .order_by(m.c.step, m.c.timestamp, m.c.seq)
            ).all()
        return [
            MetricPoint(
                key,
                math.nan if value is None else value,
                step,
                datetime.fromtimestamp(stamp / 1000, UTC),
            )
            for value, step, stamp in rows
        ]

    def metric_keys(self, run_id: str) -> list[str]:
        """The metric keys a run has logged."""
        lm = t.latest_metrics
        with self.read() as conn:
            return list(
                conn.execute(
                    select(lm.c.key).where(lm.c.run_id == run_id).order_by(lm.c.key)
                ).scalars()
            )

    def close(self) -> None:
        """Release the metric writers' connections and the pool."""
        self._points.close()
        super().close()
