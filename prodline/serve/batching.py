"""Adaptive micro-batching: concurrent requests to one model share one model call.

A request that finds the batcher idle schedules a flush for the next turn of the event
loop (or after ``max_wait_s`` when that is set); every request that arrives before the
flush joins the batch, up to ``max_rows``. Under light load a batch is one request and
the wait is one loop turn; under heavy load batches grow by themselves. A model that
runs in a worker thread keeps gathering while a batch computes, and the next batch
starts as soon as it is done.

Each caller gets back exactly its own rows. If a batch fails, its requests are retried
one by one, so one request can never fail another.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prodline.serve.engine import Prediction, ServedModel
from prodline.serve.inputs import Rows

DEFAULT_MAX_ROWS = 64
DEFAULT_MAX_WAIT_S = 0.0


class MicroBatcher:
    """Batches :meth:`submit` calls for one :class:`ServedModel`."""

    def __init__(
        self,
        model: ServedModel,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        executor: ThreadPoolExecutor | None = None,
        on_batch: Any = None,
    ) -> None:
        self.model = model
        self.max_rows = max(1, int(max_rows))
        self.max_wait_s = max(0.0, float(max_wait_s))
        self._executor = executor  # None: run on the event loop (fast models)
        self._on_batch = on_batch  # callback(n_requests, n_rows) for metrics
        self._pending: list[tuple[Rows, asyncio.Future[Prediction]]] = []
        self._pending_rows = 0
        self._scheduled = False
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def submit(self, rows: Rows) -> Prediction:
        """The prediction for ``rows`` (checked), computed in a batch with others."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Prediction] = loop.create_future()
        self._pending.append((rows, future))
        self._pending_rows += rows.n
        if self._busy:
            pass  # the running batch schedules the next one when it is done
        elif self._pending_rows >= self.max_rows:
            self._schedule(loop, now=True)
        elif not self._scheduled:
            self._schedule(loop, now=False)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop, *, now: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._scheduled = True
        if now or self.max_wait_s <= 0:
            loop.call_soon(self._flush)
        else:
            self._timer = loop.call_later(self.max_wait_s, self._flush)

    def _take(self) -> list[tuple[Rows, asyncio.Future[Prediction]]]:
        taken, rows = [], 0
        while self._pending and (not taken or rows + self._pending[0][0].n <= self.max_rows):
            item = self._pending.pop(0)
            taken.append(item)
            rows += item[0].n
        self._pending_rows -= rows
        return taken

    def _flush(self) -> None:
        self._scheduled = False
        self._timer = None
        if self._busy or not self._pending:
            return
        batch = self._take()
        if self._executor is None:
            self._deliver(batch, _run(self.model, batch))
            if self._pending:
                self._schedule(asyncio.get_running_loop(), now=True)
            return
        self._busy = True
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._executor, _run, self.model, batch)
        job.add_done_callback(lambda done: self._finished(batch, done))

    def _finished(self, batch: list[Any], done: asyncio.Future[Any]) -> None:
        self._busy = False
        exc = done.exception()
        if exc is not None:  # pragma: no cover - _run catches everything
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            self._deliver(batch, done.result())
        if self._pending:
            self._schedule(asyncio.get_running_loop(), now=True)

    def _deliver(self, batch: list[Any], results: list[Any]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch), sum(rows.n for rows, _ in batch))
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller went away
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _run(model: ServedModel, batch: list[tuple[Rows, Any]]) -> list[Any]:
    """Predictions for each request of ``batch``: one model call, or one per request
    when the batch fails (each then gets its own result or its own error)."""
    if len(batch) == 1:
        try:
            return [model.predict(batch[0][0])]
        except Exception as exc:
            return [exc]
    names = model.input_names
    columns: dict[str, list[Any]] = {name: [] for name in names}
    bounds = []
    start = 0
    for rows, _ in batch:
        for name, values in rows.as_columns(names).items():
            columns[name].extend(values)
        bounds.append((start, start + rows.n))
        start += rows.n
    try:
        prediction = model.predict_columns(columns)
        return [prediction.slice(a, b) for a, b in bounds]
    except Exception:
        results: list[Any] = []
        for rows, _ in batch:
            try:
                results.append(model.predict(rows))
            except Exception as exc:
                results.append(exc)
        return results
