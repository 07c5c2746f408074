"""Prediction logging off the request path.

A request appends one entry to a bounded in-memory queue (a list append under a lock)
and returns. A background thread wakes every ``flush_interval_s`` (or as soon as
``batch_rows`` rows wait), encodes the waiting entries into one compact batch (orjson,
numpy arrays included) and hands it to a sink that writes it with
``store.log_predictions``. The default sink is a small writer *process*
(:class:`WriterProcess`): the SQL work then runs on another core instead of holding
the server's GIL. :func:`store_sink` writes in-process instead.

Guarantees:

- **Nothing acknowledged is lost on a graceful shutdown.** An entry is queued before
  its response is sent; a batch leaves the queue only when the sink confirms it is
  committed; :meth:`PredictionLogger.close` (run by the server's shutdown, after the
  requests in flight finish) writes everything still queued.
- **A full queue never slows or fails a request.** When ``max_rows`` rows are already
  waiting (the store is down or too slow), new entries are dropped and counted
  (``prodline_prediction_logs_dropped_total``); the response is still served.
- A failed write (store unreachable, writer process gone) keeps the batch queued and
  is retried at the next wake-up (a dead writer process is restarted); failures are
  counted (``prodline_prediction_log_write_failures_total``).

One store row per input row: ``request_id`` is the request's id for a one-row request
and ``<id>:<i>`` (0-based) for row ``i`` of a multi-row one; ``inputs`` holds the
model's input columns, ``outputs`` ``{"prediction": label, "<proba column>": p, ...}``.
A request that failed after a model was chosen (a contract violation, an internal
error) is one row with empty inputs and ``{"error": ..., "error_code": ..., "status":
...}`` as outputs, so the monitor's error rate sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from prodline.serve.engine import Prediction
from prodline.serve.inputs import Rows

log = logging.getLogger("prodline.serve")

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
DEFAULT_MAX_ROWS = 100_000
DEFAULT_BATCH_ROWS = 2_000
DEFAULT_FLUSH_INTERVAL_S = 0.5
WRITER_NICENESS = 10  # the writer process's CPU priority is lowered by this much

Sink = Callable[[bytes], int]  # writes an encoded batch, returns rows written


@dataclass(slots=True)
class _Request:
    """What every logged request records."""

    model: str
    version: int
    role: str
    request_id: str
    timestamp_ms: int
    latency_ms: float


@dataclass(slots=True)
class LogEntry(_Request):
    """One answered request, as queued."""

    input_names: list[str]
    rows: Rows
    prediction: Prediction
    proba_columns: list[str]


@dataclass(slots=True)
class FailedRequest(_Request):
    """A request refused or failed after a model was chosen (e.g. a contract violation):
    logged so that the monitor's error rate counts it."""

    status: int
    code: str
    message: str


class PredictionLogger:
    """Bounded queue plus writer thread for prediction logs."""

    def __init__(
        self,
        sink: Sink,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        on_dropped: Callable[[int], None] | None = None,
        on_written: Callable[[int], None] | None = None,
        on_failure: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._sink = sink
        self.max_rows = max(1, int(max_rows))
        self.batch_rows = max(1, int(batch_rows))
        self.flush_interval_s = max(0.001, float(flush_interval_s))
        self._on_dropped = on_dropped
        self._on_written = on_written
        self._on_failure = on_failure
        self._on_close = on_close
        self._entries: list[tuple[int, bytes]] = []  # (rows, encoded entry)
        self._schemas: dict[int, tuple[Any, Any, int]] = {}
        self._schema_list: list[list[list[str]]] = []
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="prodline-prediction-log", daemon=True
            )
            self._thread.start()

    def log(self, entry: LogEntry) -> bool:
        """Queue ``entry`` (encoded at once: the queue holds one bytes object per
        request, not the request's rows and arrays); False, and counted, when full."""
        n = entry.rows.n
        if self._queued_rows + n > self.max_rows or self._stopping:
            return self._drop(n)
        return self._queue(n, self._encode(entry))

    def log_failure(self, failure: FailedRequest) -> bool:
        """Queue a request the model could not answer: one row, no inputs, and
        ``{"error": message, "error_code": code, "status": status}`` as its outputs."""
        if self._queued_rows + 1 > self.max_rows or self._stopping:
            return self._drop(1)
        f = failure
        error = {"error": f.message, "error_code": f.code, "status": f.status}
        return self._queue(
            1,
            orjson.dumps(
                [f.model, f.version, f.role, f.request_id, f.timestamp_ms, f.latency_ms, -1,
                 {}, None, None, error],
            ),
        )  # fmt: skip

    def _queue(self, n: int, item: bytes) -> bool:
        wake = False
        with self._lock:
            if self._queued_rows + n > self.max_rows or self._stopping:
                dropped = True
            else:
                self._entries.append((n, item))
                self._queued_rows += n
                dropped = False
                wake = self._queued_rows >= self.batch_rows and not self._wake.is_set()
        if dropped:
            return self._drop(n)
        if wake:
            self._wake.set()
        return True

    def _drop(self, n: int) -> bool:
        with self._lock:
            self.dropped += n
        if self._on_dropped is not None:
            self._on_dropped(n)
        return False

    def _encode(self, e: LogEntry) -> bytes:
        schema = self._schemas.get(id(e.input_names))
        if schema is None or schema[0] is not e.input_names or schema[1] is not e.proba_columns:
            with self._lock:
                index = len(self._schema_list)
                self._schema_list.append([list(e.input_names), list(e.proba_columns)])
                schema = (e.input_names, e.proba_columns, index)  # holds the lists: ids stay
                self._schemas[id(e.input_names)] = schema
        row = e.rows.row
        if row is not None and len(row) == len(e.input_names):
            inputs: Any = row  # checked: exactly the model's input columns
        else:
            inputs = e.rows.records(e.input_names)
        p = e.prediction
        return orjson.dumps(
            [e.model, e.version, e.role, e.request_id, e.timestamp_ms, e.latency_ms, schema[2],
             inputs, p.labels, p.proba, None],
            default=_plain, option=_NUMPY,
        )  # fmt: skip

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking entries and write everything queued (within ``timeout_s``)."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        else:
            self._drain(deadline=time.monotonic() + timeout_s)
        if self._queued_rows:
            log.error(
                "prediction log: %d row(s) could not be written before shutdown",
                self._queued_rows,
            )
        if self._on_close is not None:
            self._on_close()

    # ----------------------------------------------------------------------- writer

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._stopping:
                self._drain(deadline=time.monotonic() + 25.0)
                return
            while self._entries and not self._stopping:
                if not self._write_some():
                    break  # retried at the next wake-up

    def _drain(self, deadline: float) -> None:
        delay = 0.05
        while self._entries and time.monotonic() < deadline:
            if not self._write_some():
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)

    def _write_some(self) -> bool:
        """Write up to ``batch_rows`` queued rows; False when the write failed (the
        rows stay queued, in order)."""
        with self._lock:
            count = rows = 0
            for n, _ in self._entries:
                count += 1
                rows += n
                if rows >= self.batch_rows:
                    break
            taken = [item for _, item in self._entries[:count]]
            schemas = orjson.dumps(self._schema_list)
        if not taken:
            return True
        try:
            written = self._sink(b"[" + schemas + b",[" + b",".join(taken) + b"]]")
        except Exception as exc:
            self.failures += 1
            if self._on_failure is not None:
                self._on_failure()
            log.warning("prediction log: write failed (%s); will retry", exc)
            return False
        with self._lock:
            del self._entries[:count]  # only new entries were appended meanwhile
            self._queued_rows -= rows
        self.written += written
        if self._on_written is not None:
            self._on_written(written)
        return True


# ------------------------------------------------------------------------- encoding


def encode_batch(entries: list[LogEntry]) -> bytes:
    """Entries as one batch, the way the logger sends them (tests and tools)."""
    logger = PredictionLogger(lambda data: 0)
    items = [logger._encode(e) for e in entries]
    return b"[" + orjson.dumps(logger._schema_list) + b",[" + b",".join(items) + b"]]"


def decode_batch(data: bytes) -> list[dict[str, Any]]:
    """The store rows (``store.log_predictions`` format) of an encoded batch."""
    shapes, items = orjson.loads(data)
    out: list[dict[str, Any]] = []
    dumps = orjson.dumps
    for model, version, role, rid, stamp, latency, index, inputs, labels, proba, error in items:
        if error is not None:  # a failed request: one row, the error as its outputs
            out.append(
                {
                    "model": model,
                    "version": version,
                    "role": role,
                    "request_id": rid,
                    "timestamp": stamp,
                    "latency_ms": latency,
                    "inputs": "{}",
                    "outputs": dumps(error).decode(),
                }
            )
            continue
        proba_columns = shapes[index][1]
        rows = [inputs] if isinstance(inputs, dict) else inputs
        n = len(rows)
        for i in range(n):
            outputs = {"prediction": labels[i]}
            if proba is not None:
                outputs.update(zip(proba_columns, proba[i], strict=False))
            out.append(
                {
                    "model": model,
                    "version": version,
                    "role": role,
                    "request_id": rid if n == 1 else f"{rid}:{i}",
                    "timestamp": stamp,
                    "latency_ms": latency,
                    "inputs": dumps(rows[i]).decode(),
                    "outputs": dumps(outputs).decode(),
                }
            )
    return out


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist is not None else str(value)


def store_sink() -> Sink:
    """Write batches in this process, to the configured store."""
    from prodline import _context

    store = _context.store()

    def write(data: bytes) -> int:
        return int(store.log_predictions(decode_batch(data)))

    return write


# ---------------------------------------------------------------------- writer process


class WriterProcess:
    """A child process (``python -m prodline.serve.predlog``) that writes encoded
    batches to the store and confirms each commit, over its stdin and stdout. It
    ignores SIGINT/SIGTERM (the server stops it after the last batch) and exits when
    its stdin closes, so it never outlives the server."""

    def __init__(self, settings: tuple[str, str, str]) -> None:
        self.settings = settings
        self._process: Any = None
        self._ready = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Launch the child; it opens the store while the server loads its models (the
        first write waits for its "ready")."""
        import json
        import subprocess
        import sys

        self._process = subprocess.Popen(
            [sys.executable, "-m", "prodline.serve.predlog", json.dumps(list(self.settings))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._ready = False

    def _wait_ready(self) -> None:
        try:
            ready = _read_frame(self._process.stdout)
        except EOFError:
            ready = b"exited before it was ready"
        if ready != b"ready":
            self._stop()
            raise RuntimeError(f"the prediction log writer could not start: {ready!r}")
        self._ready = True

    def __call__(self, data: bytes) -> int:
        """Write one batch; returns the rows written (raises when it was not)."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._stop()
                self.start()  # a crashed writer: start a new one; the batch is retried
            if not self._ready:
                self._wait_ready()
            try:
                _write_frame(self._process.stdin, data)
                reply = _read_frame(self._process.stdout)
            except (EOFError, OSError) as exc:
                self._stop()
                raise RuntimeError(f"the prediction log writer went away: {exc}") from None
        if reply.startswith(b"error:"):
            raise RuntimeError(reply[6:].decode(errors="replace"))
        return int(reply)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()  # EOF: the writer exits after its current batch
        except OSError:
            pass
        try:
            process.wait(30)
        except Exception:  # pragma: no cover - a stuck writer
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def _write_frame(stream: Any, data: bytes) -> None:
    stream.write(len(data).to_bytes(4, "big"))
    stream.write(data)
    stream.flush()


def _read_frame(stream: Any) -> bytes:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("stream closed")
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("stream closed")
    return data


def _writer_main(argv: list[str]) -> int:  # pragma: no cover - runs in the child
    import json
    import os
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:  # when the CPU is saturated, answering requests comes first; the queue absorbs it
        os.nice(WRITER_NICENESS)
    except OSError:  # pragma: no cover - not permitted here
        pass
    # frames go to the original stdout; anything else printed goes to stderr
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    try:
        from prodline import _context, config

        home, store_url, artifacts_url = json.loads(argv[0])
        config.init(home=home, store_url=store_url or None, artifacts_url=artifacts_url or None)
        store = _context.store()
    except Exception as exc:
        _write_frame(stdout, f"{type(exc).__name__}: {exc}".encode())
        return 1
    _write_frame(stdout, b"ready")
    while True:
        try:
            data = _read_frame(stdin)
        except EOFError:
            return 0  # the server closed the pipe (shutdown) or is gone
        try:
            written = store.log_predictions(decode_batch(data))
        except Exception as exc:
            _write_frame(stdout, f"error:{type(exc).__name__}: {exc}".encode())
        else:
            _write_frame(stdout, str(written).encode())


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(_writer_main(sys.argv[1:]))
