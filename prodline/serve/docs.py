"""``/openapi.json`` (OpenAPI 3.1, with the model's input columns) and ``/docs``: a
self-contained HTML page (no scripts, no fonts, nothing fetched from elsewhere) listing
every endpoint with a curl example."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prodline.serve.app import ServerState

_JSON_TYPES = {"integer": "integer", "float": "number", "boolean": "boolean"}


def _column_schema(column: Any) -> dict[str, Any]:
    kind = column.kind
    schema: dict[str, Any] = {"description": f"{kind} ({column.dtype})"}
    if kind in _JSON_TYPES:
        schema["type"] = [_JSON_TYPES[kind], "null"] if column.nullable else _JSON_TYPES[kind]
    elif kind == "datetime":
        schema["type"] = ["string", "null"] if column.nullable else "string"
        schema["format"] = "date-time"
    elif column.categories:
        schema["enum"] = list(column.categories) + ([None] if column.nullable else [])
    else:
        schema["type"] = ["string", "null"] if column.nullable else "string"
    if column.min is not None:
        schema["x-training-min"] = column.min
    if column.max is not None:
        schema["x-training-max"] = column.max
    return schema


def example_row(state: ServerState) -> dict[str, Any]:
    model = state.router.champion.model
    examples = [e for e in model.contract.examples if isinstance(e, dict)]
    if examples:
        return {name: examples[0].get(name) for name in model.input_names}
    return {name: None for name in model.input_names}


def openapi_spec(state: ServerState) -> dict[str, Any]:
    from prodline import __version__

    model = state.router.champion.model
    name = model.name
    columns = model.contract.input_schema.columns
    row = example_row(state)
    names = list(row)
    error = {"$ref": "#/components/schemas/Error"}
    json_error = {"application/json": {"schema": error}}
    errors = {
        "400": {"description": "Malformed body (not JSON/CSV, or not a scoring format).",
                "content": json_error},
        "401": {"description": "Missing or invalid API key.", "content": json_error},
        "413": {"description": "Body over the size limit.", "content": json_error},
        "415": {"description": "Unsupported content type.", "content": json_error},
        "422": {"description": "Contract violations, every problem by column and row.",
                "content": json_error},
    }  # fmt: skip
    split = {"dataframe_split": {"columns": names, "data": [[row[n] for n in names]]}}
    v2_request = {
        "inputs": [
            {"name": n, "shape": [1], "datatype": _v2_type(c.kind), "data": [row[n]]}
            for n, c in zip(names, columns, strict=False)
        ]
    }
    security = [{"bearer": []}, {"apiKey": []}] if state.keys is not None else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"prodline: {name}",
            "version": __version__,
            "description": (
                f"Serves {model.ref} ({model.task}, {model.serving_path} path). Inputs are "
                "checked against the model's handover contract; every response carries "
                "X-Request-Id and X-Prodline-Version."
            ),
        },
        "security": security,
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "Score rows (MLflow scoring formats or CSV).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/MlflowRequest"},
                                "example": split,
                            },
                            "text/csv": {
                                "schema": {"type": "string"},
                                "example": _csv(names, row),
                            },  # fmt: skip
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Predictions (and class probabilities).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/MlflowResponse"}
                                }
                            },
                        },  # fmt: skip
                        **errors,
                    },
                }
            },
            "/v2/models/{name}/infer": {
                "post": {
                    "summary": "Open Inference Protocol v2 inference.",
                    "parameters": [_path_param("name", name)],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"example": v2_request}},
                    },
                    "responses": {
                        "200": {"description": "v2 inference response."},
                        "404": {"description": "Model not served here."},
                        **errors,
                    },
                }  # fmt: skip
            },
            "/v2/models/{name}": {
                "get": {
                    "summary": "v2 model metadata.",
                    "parameters": [_path_param("name", name)],
                    "responses": {"200": {"description": "Metadata."}},
                }
            },
            "/v2/health/live": {
                "get": {
                    "summary": "Liveness.",
                    "security": [],
                    "responses": {"200": {"description": "Live."}},
                }
            },
            "/v2/health/ready": {
                "get": {
                    "summary": "Readiness.",
                    "security": [],
                    "responses": {"200": {"description": "Ready."}},
                }
            },
            "/health": {
                "get": {
                    "summary": "Served versions, routing and log queue.",
                    "security": [],
                    "responses": {"200": {"description": "OK."}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics.",
                    "responses": {"200": {"description": "Text format."}},
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Record ground-truth labels by request id.",
                    "requestBody": {
                        "content": {
                            "application/json": {"example": {"request_id": "3f2a9c", "label": 1}}
                        }
                    },
                    "responses": {"200": {"description": "Labels recorded."}},
                }
            },
            "/admin/routing": {
                "get": {
                    "summary": "Current routing.",
                    "responses": {"200": {"description": "Routing."}},
                },
                "post": {
                    "summary": "Set or step up a canary's percent.",
                    "requestBody": {"content": {"application/json": {"example": {"percent": 25}}}},
                    "responses": {
                        "200": {"description": "New routing."},
                        "409": {"description": "Not a canary."},
                    },
                },
            },  # fmt: skip
        },
        "components": {
            "schemas": {
                "Row": {
                    "type": "object",
                    "properties": {c.name: _column_schema(c) for c in columns},
                    "required": [c.name for c in columns],
                    "example": row,
                },
                "MlflowRequest": {
                    "type": "object",
                    "description": "Exactly one of the keys.",
                    "properties": {
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array"}},
                            },
                        },  # fmt: skip
                        "dataframe_records": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Row"},
                        },
                        "instances": {"type": "array"},
                        "inputs": {"oneOf": [{"type": "object"}, {"type": "array"}]},
                    },  # fmt: skip
                },
                "MlflowResponse": {
                    "type": "object",
                    "properties": {
                        "predictions": {"type": "array"},
                        "probabilities": {
                            "type": "array",
                            "description": "One list per row, in the order "
                            + ", ".join(model.proba_columns or ["(none)"]),
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "error_code": {"type": "string"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                        "violations": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "column": {"type": "string"},
                                    "problem": {"type": "string"},
                                    "count": {"type": "integer"},
                                    "rows": {"type": "array", "items": {"type": "integer"}},
                                    "examples": {"type": "array"},
                                    "expected": {"type": ["string", "null"]},
                                },
                            },
                        },  # fmt: skip
                    },
                },
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _path_param(name: str, example: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "example": example}  # fmt: skip


def _v2_type(kind: str) -> str:
    return {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}.get(kind, "BYTES")


def _csv(names: list[str], row: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if any(ch in text for ch in ',"\n') else text

    return ",".join(names) + "\n" + ",".join(cell(row[n]) for n in names) + "\n"


def docs_html(state: ServerState) -> str:
    """The /docs page."""
    model = state.router.champion.model
    name = model.name
    row = example_row(state)
    names = list(row)
    base = "http://HOST:PORT"
    key = ' -H "Authorization: Bearer $PRODLINE_API_KEY"' if state.keys is not None else ""
    split = json.dumps({"dataframe_split": {"columns": names, "data": [[row[n] for n in names]]}})
    records = json.dumps({"dataframe_records": [row]})
    v2 = json.dumps(
        {"inputs": [{"name": n, "shape": [1], "datatype": _v2_type(c.kind), "data": [row[n]]}
                    for n, c in zip(names, model.contract.input_schema.columns, strict=False)]}
    )  # fmt: skip
    csv_body = _csv(names, row)
    examples = [
        ("POST /invocations (dataframe_split)",
         f"curl -s {base}/invocations{key} -H 'Content-Type: application/json' -d '{split}'"),
        ("POST /invocations (dataframe_records)",
         f"curl -s {base}/invocations{key} -H 'Content-Type: application/json' -d '{records}'"),
        ("POST /invocations (CSV)",
         f"curl -s {base}/invocations{key} -H 'Content-Type: text/csv' --data-binary "
         f"$'{csv_body.replace(chr(10), chr(92) + 'n')}'"),
        (f"POST /v2/models/{name}/infer",
         f"curl -s {base}/v2/models/{name}/infer{key} -H 'Content-Type: application/json' "
         f"-d '{v2}'"),
        ("POST /feedback", f"curl -s {base}/feedback{key} -H 'Content-Type: application/json' "
         "-d '{\"request_id\": \"<X-Request-Id of the prediction>\", \"label\": 1}'"),
        (f"GET /v2/models/{name}", f"curl -s {base}/v2/models/{name}{key}"),
        ("GET /health", f"curl -s {base}/health"),
        ("GET /metrics", f"curl -s {base}/metrics{key}"),
    ]  # fmt: skip
    endpoints = [
        ("POST", "/invocations", "Score rows: MLflow's dataframe_split, dataframe_records, "
         "instances or inputs JSON, or text/csv with a header row."),
        ("POST", f"/v2/models/{name}/infer", "Open Inference Protocol v2 inference (also "
         "/v2/models/{name}/versions/{version}/infer for a version being served)."),
        ("GET", f"/v2/models/{name}", "v2 model metadata: inputs and outputs."),
        ("GET", "/v2, /v2/health/live, /v2/health/ready", "v2 server metadata and probes."),
        ("GET", "/health, /ping", "Served versions, routing and prediction-log queue."),
        ("GET", "/metrics", "Prometheus metrics: requests, latency, errors, per version."),
        ("POST", "/feedback", "Ground-truth labels by request id, for monitoring."),
        ("GET/POST", "/admin/routing", "Current routing; step a canary up."),
        ("GET", "/openapi.json", "The OpenAPI 3.1 description of this API."),
    ]  # fmt: skip
    columns = model.contract.input_schema.columns
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>prodline: {e(name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}"
        "pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;white-space:pre-wrap;"
        "word-break:break-all}table{border-collapse:collapse;width:100%}td,th{text-align:left;"
        "padding:.25rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}</style>",
        "</head><body>",
        f"<h1>{e(name)} <small>{e(model.ref)}</small></h1>",
        f"<p>{e(model.task)} model served on the {e(model.serving_path)} path. Routing: "
        f"<code>{e(json.dumps(state.router.describe()))}</code></p>",
        "<p>Every request is checked against the model's contract: problems come back as "
        "422 with every problem by column and row. Responses carry <code>X-Request-Id</code> "
        "(yours, when you send one) and <code>X-Prodline-Version</code>. "
        "The machine-readable description is <a href='/openapi.json'>/openapi.json</a>.</p>",
        "<h2>Endpoints</h2><table><tr><th>method</th><th>path</th><th>what</th></tr>",
        *(f"<tr><td>{e(m)}</td><td><code>{e(p)}</code></td><td>{e(w)}</td></tr>"
          for m, p, w in endpoints),
        "</table><h2>Examples</h2>",
        *(f"<h3>{e(title)}</h3><pre>{e(command)}</pre>" for title, command in examples),
        "<h2>Input columns</h2><table><tr><th>column</th><th>kind</th><th>nullable</th>"
        "<th>training range / categories</th></tr>",
        *(f"<tr><td><code>{e(c.name)}</code></td><td>{e(c.kind)}</td><td>{c.nullable}</td>"
          f"<td>{e(_range(c))}</td></tr>" for c in columns),
        "</table>",
        "<h2>Outputs</h2><p><code>predictions</code>: one per row"
        + (f"; <code>probabilities</code>: one list per row, columns "
           f"{e(', '.join(model.proba_columns))}" if model.has_proba else "")
        + ".</p>",
        "</body></html>",
    ]  # fmt: skip
    return "\n".join(parts)


def _range(column: Any) -> str:
    if column.categories:
        shown = ", ".join(map(str, column.categories[:20]))
        return shown + (" ..." if len(column.categories) > 20 else "")
    if column.min is not None or column.max is not None:
        return f"{column.min} .. {column.max}"
    return ""
