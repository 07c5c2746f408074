"""The server's other routes, on Starlette: health, v2 metadata, metrics, OpenAPI and
docs, feedback labels and the routing admin endpoint."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from prodline.serve.auth import OPEN_PATHS

if TYPE_CHECKING:
    from prodline.serve.app import ServerState

_REQUEST_ID_MAX = 64


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    from prodline.serve.app import dumps

    return Response(dumps(content), status, headers=headers, media_type="application/json")


def error(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error_code": code, "message": message, **extra}, status)


class _Auth:
    """API keys for every route but the health probes (pure ASGI: no overhead when
    keys are off, because then it is not installed)."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.keys = state.keys

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in OPEN_PATHS
            and not self.keys.check_headers(scope["headers"])  # type: ignore[union-attr]
        ):
            response = error(
                401, "UNAUTHENTICATED",
                "a valid API key is required: send 'Authorization: Bearer KEY' or "
                "'X-API-Key: KEY'.",
            )  # fmt: skip
            response.headers["www-authenticate"] = 'Bearer realm="prodline"'
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _RequestId:
    """Gives every response of these routes an ``X-Request-Id`` too (the caller's when
    it sent a valid one), as the prediction endpoints do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from prodline.serve.app import request_id

        rid = request_id(scope["headers"]).encode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-request-id", rid)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def starlette_app(state: ServerState) -> Any:
    """Every route but the two prediction endpoints (handled by ``ServeApp``)."""
    from prodline.serve.app import lifespan
    from prodline.serve.docs import docs_html, openapi_spec

    config = state.config
    router = state.router

    async def health(request: Request) -> Response:
        logger = state.logger
        body = {
            "status": "ok" if state.ready else "starting",
            "model": state.model_name,
            "routing": router.describe(),
            "uptime_s": round(__import__("time").time() - state.started, 1),
            "prediction_log": None
            if logger is None
            else {
                "queued": logger.queued_rows,
                "written": logger.written,
                "dropped": logger.dropped,
            },  # fmt: skip
        }
        return json_response(body, 200 if state.ready else 503)

    async def ping(request: Request) -> Response:
        return Response(b"\n", 200 if state.ready else 503, media_type="text/plain")

    async def live(request: Request) -> Response:
        return json_response({"live": True})

    async def ready(request: Request) -> Response:
        return json_response({"ready": state.ready}, 200 if state.ready else 503)

    async def server_metadata(request: Request) -> Response:
        from prodline import __version__

        return json_response({"name": "prodline", "version": __version__, "extensions": []})

    def _model_or_404(request: Request) -> Any:
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != state.model_name:
            raise HTTPException(404, f"model {name!r} is not served here; this server serves "
                                f"{state.model_name!r}.")  # fmt: skip
        if version is None:
            return router.champion.model
        slot = router.slot_for_version(int(version)) if str(version).isdigit() else None
        if slot is None:
            raise HTTPException(404, f"version {version!r} of {name!r} is not served here.")
        return slot.model

    async def model_metadata(request: Request) -> Response:
        model = _model_or_404(request)
        served = [s.model.version for s in (router.champion, router.challenger) if s]
        return json_response(v2_metadata(model, served))

    async def model_ready(request: Request) -> Response:
        model = _model_or_404(request)
        return json_response({"name": model.name, "version": str(model.version),
                              "ready": state.ready})  # fmt: skip

    async def metrics(request: Request) -> Response:
        logger = state.logger
        if logger is not None:
            state.metrics.log_queue.set(logger.queued_rows)
        return Response(state.metrics.exposition(), media_type=state.metrics.content_type)

    async def openapi(request: Request) -> Response:
        return json_response(openapi_spec(state))

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_html(state))

    async def invocations_get(request: Request) -> Response:  # pragma: no cover - POST only
        return error(405, "METHOD_NOT_ALLOWED", "POST to /invocations.")

    async def feedback(request: Request) -> Response:
        if not state._store_ok:
            return error(503, "NO_STORE", "feedback needs a prodline store; start the server "
                         "with --store-url (or serve from the registry).")  # fmt: skip
        payload = await _json_body(request, config.max_body_bytes)
        if isinstance(payload, Response):
            return payload
        try:
            labels = feedback_pairs(payload)
        except ValueError as exc:
            return error(400, "MALFORMED_REQUEST", str(exc))
        from prodline import _context

        store = _context.store()
        written = await asyncio.to_thread(store.log_feedback, state.model_name, labels)
        state.metrics.child(state.metrics.feedback, state.model_name).inc(written)
        return json_response({"recorded": written, "model": state.model_name})

    async def routing_get(request: Request) -> Response:
        return json_response(router.describe())

    async def routing_post(request: Request) -> Response:
        payload = await _json_body(request, 64 * 1024)
        if isinstance(payload, Response):
            return payload
        current = router.config
        if current.mode != "canary":
            return error(
                409,
                "NOT_CANARY",
                f"routing mode is {current.mode!r}: only a canary's "
                "percent changes while serving (edit the routing file for the rest).",
            )
        if config.workers > 1:
            return error(409, "SEVERAL_WORKERS", f"this server runs {config.workers} worker "
                         "processes and this request reached only one: change 'percent' in the "
                         "routing file instead (every worker re-reads it).")  # fmt: skip
        if not isinstance(payload, dict) or not ({"percent", "step"} & set(payload)):
            return error(
                400,
                "MALFORMED_REQUEST",
                'send {"percent": 0-100} or {"step": true} (or {"step": N}).',
            )
        if "percent" in payload:
            value = payload["percent"]
        else:
            step = payload["step"]
            size = current.step if step is True else step
            if isinstance(size, bool) or not isinstance(size, int | float):
                return error(400, "MALFORMED_REQUEST", '"step" must be true or a number.')
            value = min(100.0, current.percent + size)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            return error(400, "MALFORMED_REQUEST", '"percent" must be a number from 0 to 100.')
        state.set_percent(float(value))
        return json_response(router.describe())

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", invocations_get, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", invocations_get, methods=["POST"]),
        Route("/invocations", invocations_get, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/admin/routing", routing_get, methods=["GET"]),
        Route("/admin/routing", routing_post, methods=["POST"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or ""
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        if status == 404 and not detail.startswith("model") and not detail.startswith("version"):
            detail = f"no route {request.url.path}; see /docs for the endpoints."
        headers = getattr(exc, "headers", None)
        return json_response(
            {"error_code": codes.get(status, "HTTP_ERROR"), "message": detail}, status, headers
        )

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        lifespan=lambda _app: lifespan(state),
    )
    if state.keys is not None:
        return _RequestId(_Auth(app, state))
    return _RequestId(app)


async def _json_body(request: Request, limit: int) -> Any:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return error(413, "REQUEST_TOO_LARGE", f"the body is over the {limit:,}-byte limit.")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        return error(400, "MALFORMED_REQUEST", f"the body is not valid JSON: {exc}")


def feedback_pairs(payload: Any) -> list[tuple[str, Any]]:
    """``(request_id, label)`` pairs from a feedback body:

    - ``{"request_id": "abc", "label": 1}``
    - ``{"request_id": "abc", "labels": [1, 0, 1]}`` (rows ``abc:0``... of a multi-row request)
    - ``{"labels": [{"request_id": "abc", "label": 1}, ...]}``
    """
    if not isinstance(payload, dict):
        raise ValueError('send {"request_id": ..., "label": ...} or {"labels": [...]}.')
    pairs: list[tuple[str, Any]] = []
    if "request_id" in payload:
        rid = _request_id(payload["request_id"])
        if "label" in payload:
            pairs.append((rid, payload["label"]))
        elif isinstance(payload.get("labels"), list) and payload["labels"]:
            pairs.extend((f"{rid}:{i}", label) for i, label in enumerate(payload["labels"]))
        else:
            raise ValueError('give "label" (one row) or "labels" (one per row) with "request_id".')
    elif isinstance(payload.get("labels"), list):
        for i, item in enumerate(payload["labels"]):
            if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
                raise ValueError(f'labels[{i}] must be {{"request_id": ..., "label": ...}}.')
            pairs.append((_request_id(item["request_id"]), item["label"]))
    else:
        raise ValueError('send {"request_id": ..., "label": ...} or {"labels": [...]}.')
    if not pairs:
        raise ValueError("no labels given.")
    from prodline.serve.app import MAX_FEEDBACK_LABELS

    if len(pairs) > MAX_FEEDBACK_LABELS:
        raise ValueError(f"at most {MAX_FEEDBACK_LABELS:,} labels per request.")
    return pairs


def _request_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _REQUEST_ID_MAX:
        raise ValueError(f"request_id must be a string of 1-{_REQUEST_ID_MAX} characters.")
    return value


def v2_metadata(model: Any, served: list[int]) -> dict[str, Any]:
    """The v2 model metadata: inputs (one tensor per column) and outputs."""
    inputs = []
    for column in model.contract.input_schema.columns:
        inputs.append(
            {
                "name": column.name,
                "datatype": _column_datatype(column.kind),
                "shape": [-1],
                "parameters": {"kind": column.kind, "nullable": column.nullable},
            }
        )
    outputs = [{"name": "predict", "datatype": "BYTES" if model.classes and any(
        isinstance(c, str) for c in model.classes) else "FP64" if model.task == "regression"
        else "INT64", "shape": [-1]}]  # fmt: skip
    if model.has_proba:
        outputs.append(
            {
                "name": "predict_proba",
                "datatype": "FP32",
                "shape": [-1, len(model.proba_columns)],
                "parameters": {"columns": model.proba_columns},
            }
        )
    return {
        "name": model.name,
        "versions": [str(v) for v in served],
        "platform": f"prodline-{model.serving_path}",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "task": model.task,
            "version": str(model.version),
            "classes": model.classes,
        },  # fmt: skip
    }


def _column_datatype(kind: str) -> str:
    return {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}.get(kind, "BYTES")
