"""The ASGI app: prediction endpoints on a lean path, everything else on Starlette.

``POST /invocations`` and ``POST /v2/models/{name}[/versions/{v}]/infer`` are handled
by :class:`ServeApp` directly on the ASGI interface: read the body (with a size
limit), parse it with orjson, pick the answering version, check the rows against its
contract, predict (through the micro-batcher when it helps), queue the prediction log,
answer. No pandas, no per-request objects beyond the rows. Every other route (health,
metadata, metrics, docs, feedback, admin) is an ordinary Starlette app behind it.

Statuses: 200; 400 malformed body; 401 missing/invalid API key; 404 unknown model or
route; 405; 409 admin change refused; 413 body over the limit; 415 unsupported content
type; 422 contract violations (every problem, by row and column) or input the model
refused; 503 not ready. A 500 means a bug in prodline or the model, never bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from prodline.errors import ConfigError, ProdlineError
from prodline.serve.auth import ApiKeys
from prodline.serve.batching import MicroBatcher
from prodline.serve.config import RoutingConfig, ServeConfig, version_or_alias
from prodline.serve.engine import (
    THREAD_MIN_SINGLE_S,
    Prediction,
    ServedModel,
    load_package_dir,
    load_served,
)
from prodline.serve.inputs import (
    CSV_TYPES,
    JSON_TYPES,
    RequestError,
    Rows,
    bad_request,
    load_json,
    parse_csv,
    parse_mlflow,
    parse_v2,
)
from prodline.serve.metrics import ServeMetrics
from prodline.serve.predlog import (
    FailedRequest,
    LogEntry,
    PredictionLogger,
    WriterProcess,
    store_sink,
)
from prodline.serve.routing import Router, ShadowRunner, Slot

log = logging.getLogger("prodline.serve")

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,56}$")
_JSON_HEADER = (b"content-type", b"application/json")
_MEDIA = {b"application/json": "application/json", b"text/csv": "text/csv", b"": ""}
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
MLFLOW = "invocations"
V2 = "v2_infer"
MAX_FEEDBACK_LABELS = 10_000


@dataclass(frozen=True, slots=True)
class _Stats:
    """Per (version, role, endpoint): response headers and metric children, built once."""

    headers: tuple[tuple[bytes, bytes], ...]
    metrics: Any  # .observe(seconds, rows)


class ClientDisconnected(Exception):
    """The caller went away before sending its whole body."""


def request_id(headers: Any) -> str:
    """The caller's ``X-Request-Id`` when valid (1-56 letters, digits, ``._:-``), else a
    new random one."""
    for name, value in headers:
        if name == b"x-request-id" and _REQUEST_ID.match(value):
            return value.decode()
    return os.urandom(12).hex()


def _default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    return str(value)


def dumps(value: Any) -> bytes:
    """JSON bytes (numpy arrays and scalars included; NaN becomes null)."""
    return orjson.dumps(value, default=_default, option=_NUMPY)


# ----------------------------------------------------------------------------- state


class ServerState:
    """What every request shares: the router and its models, metrics, the prediction
    logger, the shadow runner, API keys, and the hot-reload watcher."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = ServeMetrics(config.metrics_dir)
        self.keys = ApiKeys(config.api_keys) if config.auth_enabled else None
        self.executor = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="prodline-model"
        )
        self.started = time.time()
        self.ready = False
        self.standalone = bool(config.package_dir)
        self._failed: dict[str, int] = {}  # alias -> the version that would not load
        self._routing_mtime: float | None = None
        self._store_ok = (not self.standalone) or config.settings is not None
        routing = config.routing
        if config.routing_file:
            routing = RoutingConfig.load(config.routing_file)
            self._routing_mtime = _mtime(config.routing_file)
        champion = self._champion_slot(routing)
        challenger = self._challenger_slot(routing, champion.model.name)
        self.router = Router(routing, champion, challenger)
        self.model_name = champion.model.name
        self._show_models()
        self.logger: PredictionLogger | None = None
        if config.log_predictions and self._store_ok:
            self.logger = self._make_logger()
        self.shadow: ShadowRunner | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ model loading

    def _champion_slot(self, routing: RoutingConfig) -> Slot:
        config = self.config
        if config.package_dir:
            model = self.prepare(load_package_dir(
                config.package_dir, enforce_ranges=config.enforce_ranges,
                extra_trusted=config.extra_trusted,
            ))  # fmt: skip
            return Slot("champion", model, version=model.version)
        if config.version is not None:
            version, alias = config.version, None
        elif config.alias is None and routing.champion is not None:
            version, alias = version_or_alias(routing.champion, config.model)
        else:
            version, alias = None, config.alias or "production"
        ref = f"{config.model}/{version}" if version is not None else f"{config.model}@{alias}"
        model = self.load(ref, source=f"@{alias}" if alias else f"version {version}")
        return Slot("champion", model, alias=alias, version=version)

    def _challenger_slot(self, routing: RoutingConfig, name: str) -> Slot | None:
        if routing.mode == "single" or not routing.challenger:
            return None
        if self.standalone:
            raise ConfigError(
                "a packaged model (prodline build) serves one version: no challenger."
            )
        version, alias = version_or_alias(routing.challenger, name)
        ref = f"{name}/{version}" if version is not None else f"{name}@{alias}"
        model = self.load(ref, source=f"@{alias}" if alias else f"version {version}")
        return Slot("challenger", model, alias=alias, version=version)

    def load(self, ref: str, *, source: str) -> ServedModel:
        """Load a registered version fully (warm-up included) before it serves."""
        config = self.config
        return self.prepare(
            load_served(
                ref,
                enforce_ranges=config.enforce_ranges,
                extra_trusted=config.extra_trusted,
                source=source,
            )  # fmt: skip
        )

    def prepare(self, model: ServedModel) -> ServedModel:
        """Warm the model up, time it, and give it a micro-batcher when that helps."""
        config = self.config
        model.warm_up(measure=True)
        model.threaded = model.single_s >= THREAD_MIN_SINGLE_S
        use_batching = config.batching if config.batching is not None else model.batching_helps
        if use_batching:
            metrics = self.metrics
            histogram = metrics.child(metrics.batches, model.name, model.version)
            model.batcher = MicroBatcher(
                model,
                max_rows=config.max_batch_rows,
                max_wait_s=config.max_batch_wait_ms / 1000,
                executor=self.executor if model.threaded else None,
                on_batch=lambda n_requests, _rows: histogram.observe(n_requests),
            )
        return model

    def _show_models(self) -> None:
        metrics = self.metrics
        for slot in (self.router.champion, self.router.challenger):
            if slot is not None:
                m = slot.model
                metrics.child(metrics.model_info, m.name, m.version, slot.role, m.serving_path).set(
                    1
                )
        self._show_percent()

    def _show_percent(self) -> None:
        c = self.router.config
        if c.mode in ("split", "canary"):
            self.metrics.child(self.metrics.challenger_percent, self.model_name, c.mode).set(
                c.percent
            )

    def _make_logger(self) -> PredictionLogger:
        from prodline import _context
        from prodline import config as settings

        _context.store()  # opened (and migrated) now, not on the first request
        close = None
        if self.config.log_writer == "process":
            s = settings.settings()
            writer = WriterProcess((str(s.home), s.store_url, s.artifacts_url))
            writer.start()
            sink: Any = writer
            close = writer.close
        else:
            sink = store_sink()
        metrics = self.metrics
        return PredictionLogger(
            sink,
            max_rows=self.config.log_queue_rows,
            batch_rows=self.config.log_batch_rows,
            flush_interval_s=self.config.log_flush_interval_s,
            on_dropped=metrics.logs_dropped.inc,
            on_written=metrics.logs_written.inc,
            on_failure=metrics.log_failures.inc,
            on_close=close,
        )

    # ---------------------------------------------------------------------- lifespan

    async def startup(self) -> None:
        if self.logger is not None:
            self.logger.start()
        if self.router.shadowing:
            self.shadow = ShadowRunner(
                self.router, self.metrics, self.logger, max_queue=self.config.shadow_queue
            )
        watching = (self.config.reload_interval_s > 0 and not self.standalone) or (
            self.config.routing_file is not None
        )
        if watching:
            self._watch_task = asyncio.create_task(self._watch())
        # Everything loaded so far (models, libraries) lives as long as the server: keep it
        # out of the garbage collector's full passes, which would otherwise walk it all.
        gc.collect()
        gc.freeze()
        self.ready = True
        for slot in (self.router.champion, self.router.challenger):
            if slot is not None:
                m = slot.model
                log.info(
                    "%s %s (%s): %s path, %.3f ms per row, micro-batching %s%s",
                    slot.role, m.ref, slot.follows, m.serving_path, m.single_s * 1e3,
                    "on" if m.batcher is not None else "off",
                    ", in a worker thread" if m.threaded else "",
                )  # fmt: skip
        log.info(
            "routing %s; prediction logging %s; hot reload %s; API keys %s",
            self.router.config.mode,
            "on" if self.logger is not None else "off",
            f"every {self.config.reload_interval_s:g} s"
            if self.config.reload_interval_s > 0 and not self.standalone
            else "off",
            "required" if self.keys is not None else "off",
        )

    async def shutdown(self) -> None:
        self.ready = False
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch_task
        if self.shadow is not None:
            await asyncio.to_thread(self.shadow.close)
        if self.logger is not None:
            await asyncio.to_thread(self.logger.close)
            log.info(
                "prediction log: %d rows written, %d dropped",
                self.logger.written,
                self.logger.dropped,
            )
        self.executor.shutdown(wait=True)

    # -------------------------------------------------------------------- hot reload

    async def _watch(self) -> None:
        interval = self.config.reload_interval_s or 2.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving what we have
                log.warning("reload check failed: %s", exc)

    async def refresh(self) -> None:
        """Apply a changed routing file, and follow aliases that moved."""
        if self.config.routing_file:
            mtime = _mtime(self.config.routing_file)
            if mtime is not None and mtime != self._routing_mtime:
                self._routing_mtime = mtime
                try:
                    routing = await asyncio.to_thread(RoutingConfig.load, self.config.routing_file)
                except ProdlineError as exc:
                    log.error("routing file not applied: %s", exc)
                else:
                    await self.apply_routing(routing)
        if self.config.reload_interval_s <= 0 or self.standalone:
            return
        for slot in (self.router.champion, self.router.challenger):
            if slot is None or slot.alias is None:
                continue
            version = await asyncio.to_thread(self._alias_version, slot.alias)
            if version is None or version == slot.model.version:
                continue
            if self._failed.get(slot.alias) == version:
                continue  # tried already: wait until the alias moves again
            await self._swap(slot, version)

    def _alias_version(self, alias: str) -> int | None:
        from prodline import _context
        from prodline.errors import NotFoundError

        try:
            return _context.store().get_model_version(self.model_name, alias=alias).version
        except NotFoundError:
            return None

    async def _swap(self, slot: Slot, version: int) -> None:
        started = time.perf_counter()
        ref = f"{self.model_name}/{version}"
        metrics = self.metrics
        try:
            model = await asyncio.to_thread(self.load, ref, source=f"@{slot.alias}")
        except Exception as exc:
            self._failed[slot.alias or ""] = version
            metrics.child(metrics.reloads, self.model_name, slot.role, "failed").inc()
            log.error("hot reload of %s (%s) failed, still serving %s: %s",
                      ref, slot.follows, slot.model.ref, exc)  # fmt: skip
            return
        old = slot.model
        slot.model = model  # one assignment: requests in flight finish on `old`
        self._failed.pop(slot.alias or "", None)
        metrics.child(metrics.model_info, old.name, old.version, slot.role, old.serving_path).set(0)
        metrics.child(metrics.model_info, model.name, model.version, slot.role,
                      model.serving_path).set(1)  # fmt: skip
        metrics.child(metrics.reloads, self.model_name, slot.role, "ok").inc()
        log.info("hot reload: %s %s -> %s (loaded in %.2f s)", slot.role, old.ref, model.ref,
                 time.perf_counter() - started)  # fmt: skip

    async def apply_routing(self, routing: RoutingConfig) -> None:
        """Switch to new routing, loading a new challenger completely first; if it
        cannot load, the routing in force stays."""
        router = self.router
        current = router.config
        if routing.champion != current.champion and routing.champion is not None:
            log.warning("routing: a new champion (%s) applies after a restart", routing.champion)
        old = router.challenger
        challenger = old
        if routing.mode == "single" or not routing.challenger:
            challenger = None
        elif old is None or routing.challenger != current.challenger:
            try:
                challenger = await asyncio.to_thread(
                    self._challenger_slot, routing, self.model_name
                )
            except Exception as exc:
                log.error("routing not applied: the challenger %s cannot be served: %s",
                          routing.challenger, exc)  # fmt: skip
                return
        if challenger is not None and routing.mode == "shadow" and self.shadow is None:
            self.shadow = ShadowRunner(
                router, self.metrics, self.logger, max_queue=self.config.shadow_queue
            )
        router.challenger = challenger  # the challenger first, then the mode that uses it
        router.config = routing
        if old is not None and old is not challenger:
            m = old.model
            self.metrics.child(
                self.metrics.model_info, m.name, m.version, "challenger", m.serving_path
            ).set(0)
        self._show_models()
        log.info("routing: %s", routing.to_dict())

    def set_percent(self, percent: float) -> RoutingConfig:
        routing = self.router.config.with_percent(percent)
        self.router.config = routing
        self._show_percent()
        log.info("routing: challenger percent now %s", percent)
        return routing


def _mtime(path: str) -> float | None:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None


# ----------------------------------------------------------------------- lean path


class ServeApp:
    """The ASGI application: prediction requests here, the rest on Starlette."""

    def __init__(self, state: ServerState) -> None:
        from prodline.serve.routes import starlette_app

        self.state = state
        self.metrics = state.metrics
        self.max_body = state.config.max_body_bytes
        self.other = starlette_app(state)
        self._v2_prefix = "/v2/models/"
        self._stats: dict[tuple[Any, ...], _Stats] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == "/invocations":
                await self.predict(scope, receive, send, MLFLOW, None, None)
                return
            if path.startswith(self._v2_prefix) and path.endswith("/infer"):
                parts = path[len(self._v2_prefix) : -len("/infer")].strip("/").split("/")
                if len(parts) == 1:
                    await self.predict(scope, receive, send, V2, parts[0], None)
                    return
                if len(parts) == 3 and parts[1] == "versions":
                    await self.predict(scope, receive, send, V2, parts[0], parts[2])
                    return
        await self.other(scope, receive, send)

    async def predict(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        endpoint: str,
        v2_name: str | None,
        v2_version: str | None,
    ) -> None:
        start = time.perf_counter()
        state = self.state
        router = state.router
        sticky_header = router.sticky_header
        content_type = b""
        length: bytes | None = None
        request_id: bytes | None = None
        sticky: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"x-request-id":
                request_id = value
            elif name == sticky_header:
                sticky = value
        if request_id is not None and _REQUEST_ID.match(request_id):
            rid = request_id.decode()
        else:
            rid = os.urandom(12).hex()
        model: ServedModel | None = None
        try:
            if state.keys is not None and not state.keys.check_headers(scope["headers"]):
                raise RequestError(
                    401, "UNAUTHENTICATED",
                    "a valid API key is required: send 'Authorization: Bearer KEY' or "
                    "'X-API-Key: KEY'.",
                )  # fmt: skip
            body = await self._body(receive, length)
            media = _MEDIA.get(content_type)
            if media is None:
                media = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
            v2_id: str | None = None
            outputs: list[str] | None = None
            if endpoint == MLFLOW:
                if media in CSV_TYPES:
                    rows = parse_csv(body)
                elif media in JSON_TYPES:
                    rows = parse_mlflow(load_json(body))
                else:
                    raise _unsupported(media, csv=True)
                slot = router.pick(rows, sticky)
            else:
                if media not in JSON_TYPES:
                    raise _unsupported(media, csv=False)
                slot = self._v2_slot(v2_name, v2_version)
                request = parse_v2(load_json(body), slot.model.input_names)
                rows, v2_id, outputs = request.rows, request.id, request.outputs
                if v2_version is None:
                    slot = router.pick(rows, sticky)
                if v2_id and request_id is None and _REQUEST_ID.match(v2_id.encode()):
                    rid = v2_id
            model = slot.model
            checked = model.check(rows)
            prediction = await self._predict(model, checked)
            if endpoint == MLFLOW:
                out = {"predictions": prediction.labels}
                if prediction.proba is not None:
                    out["probabilities"] = prediction.proba
                payload = dumps(out)
            else:
                payload = dumps(_v2_response(model, prediction, v2_id or rid, outputs))
        except RequestError as error:
            if model is not None:
                self._log_failure(model, slot.role, rid, start, error)
            await self._refuse(send, error, endpoint, rid, model)
            return
        except ClientDisconnected:
            return
        except Exception as exc:  # a bug: never from input the checks let through
            log.exception("request %s failed", rid)
            error = RequestError(500, "INTERNAL_ERROR", f"internal error: {type(exc).__name__}")
            if model is not None:
                self._log_failure(model, slot.role, rid, start, error)
            await self._refuse(send, error, endpoint, rid, model)
            return
        elapsed = time.perf_counter() - start
        timestamp_ms = int(time.time() * 1000)
        logger = state.logger
        if logger is not None:  # queued before the response: acknowledged means logged
            logger.log(
                LogEntry(
                    model.name, model.version, slot.role, rid, timestamp_ms, elapsed * 1e3,
                    model.input_names, checked, prediction, model.proba_columns,
                )
            )  # fmt: skip
        stats = self._stats.get((model, slot.role, endpoint))
        if stats is None:
            stats = self._new_stats(model, slot.role, endpoint)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    _JSON_HEADER,
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", rid.encode()),
                    *stats.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        stats.metrics.observe(elapsed, checked.n)
        if state.shadow is not None and router.shadowing:
            state.shadow.submit(rows, rid, timestamp_ms)

    def _new_stats(self, model: ServedModel, role: str, endpoint: str) -> _Stats:
        stats = _Stats(
            headers=((b"x-prodline-version", model.ref.encode()),),
            metrics=self.metrics.request_stats(model.name, model.version, role, endpoint),
        )
        if len(self._stats) > 1000:  # many hot reloads: forget retired versions
            self._stats.clear()
        self._stats[(model, role, endpoint)] = stats
        return stats

    async def _predict(self, model: ServedModel, rows: Rows) -> Prediction:
        try:
            if model.batcher is not None:
                return await model.batcher.submit(rows)
            if model.threaded:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.state.executor, model.predict, rows)
            return model.predict(rows)
        except (ProdlineError, ValueError, TypeError, ArithmeticError) as exc:
            raise RequestError(
                422, "MODEL_REJECTED_INPUT",
                f"{model.ref} could not score this input: {type(exc).__name__}: {exc}",
            ) from None  # fmt: skip
        except Exception as exc:
            if type(exc).__module__.startswith("onnxruntime"):
                raise RequestError(
                    422, "MODEL_REJECTED_INPUT", f"{model.ref} could not score this input: {exc}"
                ) from None
            raise

    def _v2_slot(self, name: str | None, version: str | None) -> Slot:
        router = self.state.router
        if name != router.champion.model.name:
            raise RequestError(
                404, "MODEL_NOT_FOUND",
                f"model {name!r} is not served here; this server serves "
                f"{router.champion.model.name!r}.",
            )  # fmt: skip
        if version is None:
            return router.champion
        slot = router.slot_for_version(int(version)) if version.isdigit() else None
        if slot is None:
            served = [s.model.version for s in (router.champion, router.challenger) if s]
            raise RequestError(
                404, "MODEL_VERSION_NOT_FOUND",
                f"version {version!r} of {name!r} is not served here; served: {served}.",
            )  # fmt: skip
        return slot

    async def _body(self, receive: Any, length: bytes | None) -> bytes:
        limit = self.max_body
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise bad_request("the Content-Length header is not a number.") from None
            if declared > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _log_failure(
        self, model: ServedModel, role: str, rid: str, start: float, error: RequestError
    ) -> None:
        """Log a request that failed once a model was chosen (for the error rate)."""
        logger = self.state.logger
        if logger is not None:
            logger.log_failure(
                FailedRequest(
                    model.name, model.version, role, rid, int(time.time() * 1000),
                    (time.perf_counter() - start) * 1e3, error.status, error.code, error.message,
                )
            )  # fmt: skip

    async def _refuse(
        self, send: Any, error: RequestError, endpoint: str, rid: str, model: ServedModel | None
    ) -> None:
        body: dict[str, Any]
        if endpoint == V2:
            body = {"error": error.message, "error_code": error.code, "request_id": rid}
        else:
            body = {"error_code": error.code, "message": error.message, "request_id": rid}
        body.update(error.extra)
        payload = dumps(body)
        headers = [
            _JSON_HEADER,
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", rid.encode()),
        ]
        if error.status == 413:
            headers.append((b"connection", b"close"))
        if error.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="prodline"'))
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        metrics = self.metrics
        metrics.child(metrics.errors, endpoint, error.status, error.code).inc()
        name = self.state.model_name
        version = model.version if model is not None else ""
        metrics.count_refusal(name, version, endpoint, error.status)
        if error.code == "CONTRACT_VIOLATION" and model is not None:
            for violation in error.extra.get("violations", ()):
                metrics.child(
                    metrics.violations, name, model.version,
                    violation.get("column"), violation.get("problem"),
                ).inc()  # fmt: skip


def _unsupported(media: str, *, csv: bool) -> RequestError:
    accepted = "application/json or text/csv" if csv else "application/json"
    return RequestError(
        415, "UNSUPPORTED_MEDIA_TYPE", f"content type {media!r} is not supported; send {accepted}."
    )


def _too_large(limit: int) -> RequestError:
    return RequestError(
        413, "REQUEST_TOO_LARGE",
        f"the body is over the {limit:,}-byte limit; send fewer rows per request "
        "(or raise the server's --max-body-size).",
    )  # fmt: skip


def _v2_datatype(array: Any) -> str:
    dtype = getattr(array, "dtype", None)
    if dtype is None:
        return "BYTES"
    kind, bits = dtype.kind, dtype.itemsize * 8
    if kind == "b":
        return "BOOL"
    if kind == "i":
        return f"INT{bits}"
    if kind == "u":
        return f"UINT{bits}"
    if kind == "f":
        return f"FP{bits}"
    return "BYTES"


def _v2_response(
    model: ServedModel, prediction: Prediction, request_id: str, wanted: list[str] | None
) -> dict[str, Any]:
    labels = prediction.labels
    outputs = [
        {
            "name": "predict",
            "datatype": _v2_datatype(labels),
            "shape": [len(labels)],
            "data": labels,
        }
    ]
    proba = prediction.proba
    if proba is not None:
        outputs.append(
            {
                "name": "predict_proba",
                "datatype": _v2_datatype(proba),
                "shape": list(proba.shape),
                "data": proba.reshape(-1),
                "parameters": {"columns": model.proba_columns},
            }
        )
    if wanted is not None:
        available = {o["name"] for o in outputs}
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise bad_request(
                f"unknown output(s) {', '.join(map(repr, unknown))}; this model gives "
                f"{', '.join(sorted(available))}."
            )
        outputs = [o for o in outputs if o["name"] in wanted]
    return {
        "model_name": model.name,
        "model_version": str(model.version),
        "id": request_id,
        "outputs": outputs,
    }


# --------------------------------------------------------------------------- factory


def create_app(config: ServeConfig) -> ServeApp:
    """Load the model(s) of ``config`` and return the ASGI app serving them."""
    if config.settings is not None:
        from prodline import config as settings

        home, store_url, artifacts_url = config.settings
        settings.init(home=home, store_url=store_url or None, artifacts_url=artifacts_url or None)
    return ServeApp(ServerState(config))


@contextlib.asynccontextmanager
async def lifespan(state: ServerState) -> AsyncIterator[None]:
    await state.startup()
    try:
        yield
    finally:
        await state.shutdown()
