"""What an alert does: call a webhook, run a shell command, request a retrain, or label
the monitored version in the registry (``degraded``, say, which a governance rule can
then refuse to promote).

Webhooks get the alert as a JSON ``POST``; commands get it as JSON on standard input and
in the environment (``PRODLINE_ALERT``: one line, ``PRODLINE_ALERT_JSON``: the payload,
``PRODLINE_MODEL``, and ``PRODLINE_<KEY>`` for the payload's other top-level scalars).
Both go through governance's notifier (``prodline.govern.notify``) when it is
installed, so every stage notifies the same way. A retrain request is a JSON file in
``<home>/triggers/<model>/`` that ``prodline pipelines watch`` consumes (see
``docs/monitoring.md``, "Retrain requests"). A failing action is reported, never
raised: the other actions still run.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodline import config

RETRAIN_KIND = "retrain"


def run_action(kind: str, params: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Run one action; returns ``{"kind", "ok", "detail"}``."""
    if kind in ("webhook", "command"):
        shared = _govern_notify(kind, params, payload)
        if shared is not None:
            return shared
    try:
        if kind == "webhook":
            status = post_json(
                params["url"],
                payload,
                headers=params.get("headers") or {},
                timeout=float(params.get("timeout", 10)),
            )
            return {"kind": kind, "ok": 200 <= status < 300, "detail": f"HTTP {status}"}
        if kind == "command":
            code, output = run_command(
                params["command"], payload, timeout=float(params.get("timeout", 60))
            )
            return {"kind": kind, "ok": code == 0, "detail": f"exit {code}", "output": output}
        if kind == "retrain":
            path = write_retrain_request(payload, params)
            return {"kind": kind, "ok": True, "detail": str(path)}
        if kind == "label":
            return _label_version(params["label"], payload)
    except Exception as e:  # noqa: BLE001 - an action's failure is reported, not raised
        return {"kind": kind, "ok": False, "detail": f"{type(e).__name__}: {e}"}
    return {"kind": kind, "ok": False, "detail": f"unknown action kind {kind!r}"}


def _label_version(label: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Label the monitored version in the registry; the fired rules are the reason."""
    from prodline.registry.api import add_label

    model, version = payload["model"], payload.get("version")
    if version is None:
        return {"kind": "label", "ok": False, "detail": f"no {payload['alias']} version to label"}
    reason = "; ".join(f"{a['rule']}: {a['message']}" for a in payload["alerts"])
    add_label(model, int(version), label, reason=reason, actor="prodline-monitor")
    return {"kind": "label", "ok": True, "detail": f"{model}/{version} labelled {label!r}"}


def _govern_notify(
    kind: str, params: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any] | None:
    """Send through ``prodline.govern.notify`` (None when that module is absent)."""
    try:
        from prodline.govern.notify import NotifyTarget, notify
    except ImportError:
        return None
    command = params.get("command")
    if kind == "command" and not isinstance(command, str):
        return None  # an argv list: run without a shell, below
    target = NotifyTarget(
        kind=kind,
        target=str(params["url"] if kind == "webhook" else command),
        timeout=float(params.get("timeout", 10 if kind == "webhook" else 60)),
        headers={
            str(k): os.path.expandvars(str(v)) for k, v in (params.get("headers") or {}).items()
        },
    )
    body = dict(payload)
    body.setdefault("event", "monitor_alert")
    body.setdefault("alert", payload.get("summary", ""))
    body.setdefault("alert_json", json.dumps(payload, default=str))
    result = notify(target, body)
    detail = result.error or (
        f"HTTP {result.status}" if kind == "webhook" else f"exit {result.status}"
    )
    return {"kind": kind, "ok": result.ok, "detail": detail}


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """POST ``payload`` as JSON; the HTTP status (4xx/5xx included, not raised)."""
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "prodline-monitor")
    for key, value in (headers or {}).items():
        request.add_header(str(key), os.path.expandvars(str(value)))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def run_command(
    command: str | list[str], payload: dict[str, Any], *, timeout: float = 60.0
) -> tuple[int, str]:
    """Run ``command`` (a shell string, or an argv list run without a shell) with the
    alert on stdin and in the environment; (exit code, last output lines)."""
    text = json.dumps(payload, default=str)
    env = dict(os.environ)
    env["PRODLINE_ALERT"] = str(payload.get("summary", ""))
    env["PRODLINE_ALERT_JSON"] = text
    env["PRODLINE_MODEL"] = str(payload.get("model", ""))
    completed = subprocess.run(
        command,
        shell=isinstance(command, str),
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    output = (completed.stdout + completed.stderr).strip().splitlines()[-5:]
    return completed.returncode, "\n".join(output)


def triggers_dir(model: str) -> Path:
    """``<home>/triggers/<model>``: where retrain requests wait for ``prodline pipelines
    watch`` (which moves each one to ``done/`` when a retrain starts)."""
    return config.settings().home / "triggers" / model


def write_retrain_request(payload: dict[str, Any], params: dict[str, Any] | None = None) -> Path:
    """Write a retrain request for ``payload["model"]``; the file appears whole (written
    to a temporary name, then renamed)."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex[:8]
    model = str(payload.get("model") or "")
    if not model:
        raise ValueError("a retrain request needs the model's name")
    record = {
        "model": model,
        "reason": payload.get("summary"),
        "created_at": now.isoformat(),
        "kind": RETRAIN_KIND,
        "source": "monitor",
        "id": request_id,
        "version": payload.get("version"),
        "alias": payload.get("alias"),
        "window": payload.get("window"),
        "alerts": payload.get("alerts", []),
        "params": dict(params or {}),
    }
    directory = triggers_dir(model)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{now.strftime('%Y%m%dT%H%M%S')}-{request_id}.json"
    tmp = directory / f".{name}.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, directory / name)
    return directory / name


def pending_retrain_requests(model: str) -> list[dict[str, Any]]:
    """The retrain requests of ``model`` not yet consumed (oldest first), each with its
    ``path``."""
    out = []
    directory = triggers_dir(model)
    if not directory.is_dir():
        return out
    for path in sorted(p for p in directory.glob("*.json") if p.is_file()):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        record["path"] = str(path)
        out.append(record)
    return out
