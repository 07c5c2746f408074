"""Champion/challenger routing: which served version answers a request.

A :class:`Slot` is one role (champion or challenger) and the version it serves now;
hot reload swaps ``slot.model`` in one assignment, so a request that already picked a
model finishes on it. :class:`Router` picks a slot per request; :class:`ShadowRunner`
sends copies to a shadow challenger on its own thread, after the caller's response.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodline.serve.config import RoutingConfig
from prodline.serve.inputs import RequestError, Rows

if TYPE_CHECKING:
    from prodline.serve.engine import ServedModel
    from prodline.serve.metrics import ServeMetrics
    from prodline.serve.predlog import PredictionLogger

log = logging.getLogger("prodline.serve")
BUCKETS = 10_000  # percent resolution: 0.01 %


@dataclass
class Slot:
    """One role and the version it serves. ``alias`` is followed by hot reload;
    ``version`` pins one version."""

    role: str
    model: ServedModel
    alias: str | None = None
    version: int | None = None

    @property
    def follows(self) -> str:
        return f"@{self.alias}" if self.alias else f"/{self.version}"


def bucket(model: str, key: str) -> int:
    """A stable bucket 0..9999 for a sticky key (the same in every process and run)."""
    digest = hashlib.blake2b(f"{model}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


class Router:
    """Picks the answering slot for each request."""

    def __init__(self, config: RoutingConfig, champion: Slot, challenger: Slot | None) -> None:
        self.champion = champion
        self.challenger = challenger
        self.config = config
        self._random = random.Random()

    @property
    def config(self) -> RoutingConfig:
        return self._config

    @config.setter
    def config(self, config: RoutingConfig) -> None:
        self._config = config
        self.mode = config.mode
        self.threshold = round(config.percent * BUCKETS / 100)
        kind, name = config.sticky_kind, config.sticky_name
        self.sticky_header = name.lower().encode("latin-1") if kind == "header" and name else None
        self.sticky_field = name if kind == "field" else None

    @property
    def shadowing(self) -> bool:
        return self.mode == "shadow" and self.challenger is not None

    def pick(self, rows: Rows | None, header_key: bytes | None) -> Slot:
        """The slot that answers: the champion, or (split, canary) the challenger for
        ``percent`` of requests, decided by the sticky key when there is one."""
        if self.mode in ("single", "shadow") or self.challenger is None:
            return self.champion
        key: Any = None
        if self.sticky_header is not None:
            key = header_key.decode("latin-1") if header_key else None
        elif self.sticky_field is not None and rows is not None:
            key = rows.first(self.sticky_field)
        if key is None or key == "":
            draw = self._random.randrange(BUCKETS)
        else:
            draw = bucket(self.champion.model.name, str(key))
        return self.challenger if draw < self.threshold else self.champion

    def slot_for_version(self, version: int) -> Slot | None:
        for slot in (self.champion, self.challenger):
            if slot is not None and slot.model.version == version:
                return slot
        return None

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "mode": c.mode,
            "percent": c.percent if c.mode in ("split", "canary") else None,
            "sticky": c.sticky,
            "step": c.step if c.mode == "canary" else None,
            "champion": _slot_dict(self.champion),
            "challenger": _slot_dict(self.challenger) if self.challenger else None,
        }


def _slot_dict(slot: Slot) -> dict[str, Any]:
    return {
        "ref": slot.model.ref,
        "follows": slot.follows,
        "serving_path": slot.model.serving_path,
        "batching": slot.model.batcher is not None,
    }


class ShadowRunner:
    """Runs the shadow challenger on copies of requests, on its own thread and bounded
    queue: its latency and errors never reach a caller; a full queue drops copies
    (counted as ``dropped``)."""

    def __init__(
        self,
        router: Router,
        metrics: ServeMetrics,
        logger: PredictionLogger | None,
        *,
        max_queue: int = 1000,
    ) -> None:
        self.router = router
        self.metrics = metrics
        self.logger = logger
        self._queue: queue.Queue[tuple[Rows, str, int] | None] = queue.Queue(max(1, max_queue))
        self._thread = threading.Thread(target=self._loop, name="prodline-shadow", daemon=True)
        self._thread.start()

    def submit(self, rows: Rows, request_id: str, timestamp_ms: int) -> None:
        try:
            self._queue.put_nowait((rows, request_id, timestamp_ms))
        except queue.Full:
            slot = self.router.challenger
            if slot is not None:
                m = slot.model
                self.metrics.child(self.metrics.shadow, m.name, m.version, "dropped").inc()

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the copies already queued, then stop."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:  # pragma: no cover - a stuck challenger
            return
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            slot = self.router.challenger
            if slot is None:
                continue
            self._run(slot.model, *item)

    def _run(self, model: ServedModel, rows: Rows, request_id: str, timestamp_ms: int) -> None:
        from prodline.serve.predlog import LogEntry

        metrics = self.metrics
        start = time.perf_counter()
        try:
            checked = model.check(rows)
            prediction = model.predict(checked)
        except RequestError:
            metrics.child(metrics.shadow, model.name, model.version, "rejected").inc()
            return
        except Exception as exc:
            metrics.child(metrics.shadow, model.name, model.version, "error").inc()
            log.debug("shadow %s failed on request %s: %s", model.ref, request_id, exc)
            return
        elapsed = time.perf_counter() - start
        metrics.child(metrics.shadow, model.name, model.version, "ok").inc()
        metrics.child(metrics.shadow_latency, model.name, model.version).observe(elapsed)
        metrics.count_rows(model.name, model.version, "shadow", checked.n)
        if self.logger is not None:
            self.logger.log(
                LogEntry(
                    model.name, model.version, "shadow", request_id, timestamp_ms,
                    elapsed * 1e3, model.input_names, checked, prediction, model.proba_columns,
                )
            )  # fmt: skip
