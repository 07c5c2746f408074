"""Tell someone: POST a JSON payload to a webhook, or run a shell command with it.

Used by governance after a decision is committed, and meant for any other stage that
raises events (monitoring alerts): build a JSON-safe ``dict`` payload, then::

    from prodline.govern.notify import notify, parse_targets

    for target in parse_targets([{"webhook": "https://hooks.example.com/ml"},
                                 {"command": "./page-oncall.sh", "on": ["drift"]}]):
        result = notify(target, {"event": "drift", "model": "churn", ...})
        if not result.ok:
            ...  # result.error says why; nothing was raised

A webhook gets ``POST`` with ``Content-Type: application/json`` and must answer 2xx
within ``timeout`` seconds. A command runs through the shell with the payload as JSON
on stdin and every top-level scalar of the payload as ``PRODLINE_<KEY>`` environment
variables (``PRODLINE_EVENT``, ``PRODLINE_MODEL``, ...); it must exit 0 within
``timeout``. Failures never raise: they come back as ``NotifyResult(ok=False, error=...)``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prodline.govern._spec import KeyPath, Problems, describe

DEFAULT_TIMEOUT = 10.0
_ENV_KEY = re.compile(r"[^A-Za-z0-9]+")
_MAX_ERROR = 500


@dataclass(frozen=True)
class NotifyTarget:
    """Where to send: ``kind`` is ``"webhook"`` (``target`` a URL) or ``"command"``
    (``target`` a shell command). ``on`` limits the events sent (None: every event)."""

    kind: str
    target: str
    on: tuple[str, ...] | None = None
    timeout: float = DEFAULT_TIMEOUT
    headers: dict[str, str] = field(default_factory=dict)

    def wants(self, event: str) -> bool:
        return self.on is None or event in self.on

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "on": None if self.on is None else list(self.on),
            "timeout": self.timeout,
            "headers": dict(self.headers),
        }


@dataclass(frozen=True)
class NotifyResult:
    """What happened when one target was notified."""

    kind: str
    target: str
    event: str
    ok: bool
    status: int | None = None  # HTTP status, or the command's exit code
    error: str | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "event": self.event,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 1),
        }


def notify(target: NotifyTarget, payload: Mapping[str, Any]) -> NotifyResult:
    """Send ``payload`` to one target. Never raises: failures are in the result."""
    event = str(payload.get("event", ""))
    start = time.perf_counter()
    try:
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        if target.kind == "webhook":
            status, error = _post(target, body)
        elif target.kind == "command":
            status, error = _run(target, body, payload)
        else:
            status, error = None, f"unknown notification kind {target.kind!r}"
    except Exception as exc:  # a notification must never break its caller
        status, error = None, f"{type(exc).__name__}: {exc}"
    if error is not None and len(error) > _MAX_ERROR:
        error = error[: _MAX_ERROR - 3] + "..."
    return NotifyResult(
        kind=target.kind,
        target=target.target,
        event=event,
        ok=error is None,
        status=status,
        error=error,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


def notify_all(targets: Iterable[NotifyTarget], payload: Mapping[str, Any]) -> list[NotifyResult]:
    """Send ``payload`` to every target whose ``on`` includes ``payload["event"]``."""
    event = str(payload.get("event", ""))
    return [notify(t, payload) for t in targets if t.wants(event)]


def _post(target: NotifyTarget, body: bytes) -> tuple[int | None, str | None]:
    import httpx

    headers = {"content-type": "application/json", "user-agent": "prodline-notify"}
    headers.update(target.headers)
    try:
        response = httpx.post(target.target, content=body, headers=headers, timeout=target.timeout)
    except httpx.TimeoutException:
        return None, f"no answer from {target.target} within {target.timeout:g}s"
    except httpx.HTTPError as exc:
        return None, f"cannot reach {target.target}: {type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    text = " ".join(response.text.split())[:200]
    return response.status_code, f"{target.target} answered HTTP {response.status_code}" + (
        f": {text}" if text else ""
    )


def _run(
    target: NotifyTarget, body: bytes, payload: Mapping[str, Any]
) -> tuple[int | None, str | None]:
    env = dict(os.environ)
    for key, value in payload.items():
        if isinstance(value, str | int | float | bool) or value is None:
            name = "PRODLINE_" + _ENV_KEY.sub("_", str(key)).strip("_").upper()
            env[name] = "" if value is None else str(value)
    try:
        done = subprocess.run(
            target.target,
            shell=True,
            input=body,
            env=env,
            capture_output=True,
            timeout=target.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"command did not finish within {target.timeout:g}s"
    if done.returncode != 0:
        err = " ".join(done.stderr.decode(errors="replace").split())[-300:]
        return done.returncode, f"command exited with {done.returncode}" + (
            f": {err}" if err else ""
        )
    return 0, None


# -------------------------------------------------------------------------- configuration
TARGET_KEYS = ("webhook", "command", "on", "timeout", "headers")


def check_targets(
    value: Any, path: KeyPath, problems: Problems, events: Iterable[str] | None = None
) -> list[NotifyTarget]:
    """Read a ``notify:`` section (one target mapping or a list of them), recording every
    problem at its key path. ``events`` lists the event names ``on`` may use."""
    items = value if isinstance(value, list) else [value]
    paths = [path + (i,) for i in range(len(items))] if isinstance(value, list) else [path]
    known = None if events is None else list(events)
    out = []
    for item, where in zip(items, paths, strict=True):
        spec = problems.mapping(item, where, " like {webhook: URL} or {command: ...}")
        if spec is None:
            continue
        problems.known_keys(spec, where, TARGET_KEYS, "notify")
        kinds = [k for k in ("webhook", "command") if k in spec]
        if len(kinds) != 1:
            problems.add(where, "needs exactly one of webhook (a URL) or command (a shell command)")
            continue
        kind = kinds[0]
        target = problems.text(spec[kind], where + (kind,))
        if target is None:
            continue
        if kind == "webhook" and not re.match(r"^https?://", target):
            problems.add(where + (kind,), f"must be an http:// or https:// URL, got {target!r}")
            continue
        on = None
        if "on" in spec:
            names = problems.texts(spec["on"], where + ("on",), hint=" (event names)")
            if names is not None and known is not None:
                for i, name in enumerate(names):
                    if name not in known:
                        problems.add(
                            where + ("on", i) if isinstance(spec["on"], list) else where + ("on",),
                            f"unknown event {name!r} (events: {', '.join(known)})",
                        )
            on = tuple(names or ())
        timeout = DEFAULT_TIMEOUT
        if "timeout" in spec:
            timeout = (
                problems.number(spec["timeout"], where + ("timeout",), minimum=0.1)
                or DEFAULT_TIMEOUT
            )
        headers: dict[str, str] = {}
        if "headers" in spec:
            given = problems.mapping(spec["headers"], where + ("headers",)) or {}
            for key, header in given.items():
                if not isinstance(header, str):
                    problems.add(where + ("headers", key), f"must be text, got {describe(header)}")
                else:
                    headers[key] = header
        out.append(NotifyTarget(kind=kind, target=target, on=on, timeout=timeout, headers=headers))
    return out


def parse_targets(
    value: Any, events: Iterable[str] | None = None, source: str = "notify"
) -> list[NotifyTarget]:
    """Targets from plain data (a mapping or a list of mappings); raises
    :class:`~prodline.errors.InvalidValueError` (a ``PolicyError``) listing every problem."""
    problems = Problems(source)
    targets = check_targets(value, (), problems, events)
    problems.raise_if_any()
    return targets
