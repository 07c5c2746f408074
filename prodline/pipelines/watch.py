"""``prodline pipelines watch``: a long-lived loop that runs pipelines when triggers fire.

Every ``interval`` seconds the watcher reloads the pipelines, evaluates each one's
triggers (schedule, new data, drift requests) and runs a pipeline once for all of its
events of that tick. Runs happen one after another in the watcher's process. One
watcher per prodline home: a second one refuses to start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from prodline.errors import PipelineError
from prodline.pipelines.locks import ModelLock
from prodline.pipelines.pipeline import Pipeline
from prodline.pipelines.records import SKIPPED, PipelineRun
from prodline.pipelines.runners import EventCallback, Runner, make_runner
from prodline.pipelines.triggers import (
    DRIFT,
    NEW_DATA,
    SCHEDULE,
    TriggerEvent,
    WatchState,
    check_drift,
    check_new_data,
    check_schedule,
    combine,
)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Watcher:
    """Evaluates the triggers of the pipelines ``load()`` returns, and runs them."""

    def __init__(
        self,
        load: Callable[[], dict[str, Pipeline]],
        *,
        runner: str | Runner | None = None,
        ray_address: str | None = None,
        clock: Clock = utcnow,
        home: Path | None = None,
        on_message: Callable[[str], None] | None = None,
        on_event: EventCallback | None = None,
        on_run: Callable[[PipelineRun], None] | None = None,
    ) -> None:
        from prodline import config

        self.load = load
        self.runner = make_runner(runner, ray_address)
        self._owns_runner = not isinstance(runner, Runner)
        self.clock = clock
        self.home = Path(home) if home is not None else config.settings().home
        self.on_message = on_message or (lambda text: None)
        self.on_event = on_event
        self.on_run = on_run
        self._pipelines: dict[str, Pipeline] = {}
        self._skips_recorded: set[tuple[str, str]] = set()

    def tick(self) -> list[PipelineRun]:
        """Evaluate every trigger once; run what fired. Returns the runs started."""
        now = self.clock()
        try:
            self._pipelines = self.load()
        except Exception as exc:
            if not self._pipelines:
                raise
            self.on_message(f"could not reload the pipelines, using the previous ones: {exc}")
        state = WatchState.for_home(self.home)
        results: list[PipelineRun] = []
        for pipe in self._pipelines.values():
            events = self._events(pipe, state, now)
            if not events:
                continue
            trigger = combine(events)
            key = (pipe.name, trigger.detail)
            self.on_message(f"{pipe.name}: {trigger.kind} fired ({trigger.detail})")
            try:
                result = pipe.run(
                    runner=self.runner,
                    trigger=trigger,
                    on_event=self.on_event,
                    record_skip=key not in self._skips_recorded,
                )
            except Exception as exc:
                self.on_message(f"{pipe.name}: the run could not complete: {exc}")
                continue
            if result.status == SKIPPED:
                self._skips_recorded.add(key)
                self.on_message(f"{pipe.name}: skipped, will retry next tick ({result.reason})")
            else:
                said = result.governance_summary() if result.ok else result.error
                self.on_message(f"{pipe.name}: run {result.id[:8]} {result.status}: {said}")
            results.append(result)
            if self.on_run is not None:
                self.on_run(result)
        return results

    def _events(self, pipe: Pipeline, state: WatchState, now: datetime) -> list[TriggerEvent]:
        events: list[TriggerEvent] = []
        for spec in pipe.triggers:
            try:
                if spec.kind == SCHEDULE:
                    event = check_schedule(pipe.name, spec.value, state, now)
                elif spec.kind == NEW_DATA:
                    event = check_new_data(pipe.name, spec.value, state)
                elif spec.kind == DRIFT:
                    event = check_drift(spec.value, self.home)
                else:  # pragma: no cover - parse_triggers accepts nothing else
                    event = None
            except Exception as exc:
                self.on_message(f"{pipe.name}: trigger {spec} could not be checked: {exc}")
                continue
            if event is not None:
                events.append(event)
        return events

    def watch(
        self,
        interval: float = 30.0,
        *,
        once: bool = False,
        stop: threading.Event | None = None,
    ) -> list[PipelineRun]:
        """Tick every ``interval`` seconds until ``stop`` is set (or once). Holds the
        home's watcher lock for as long as it runs."""
        if interval <= 0:
            raise PipelineError("The watch interval must be a positive number of seconds.")
        stop = stop or threading.Event()
        guard = ModelLock("watch", self.home)
        if not guard.acquire():
            holder = guard.holder() or {}
            raise PipelineError(
                f"Another `prodline pipelines watch` is running on {self.home} (pid "
                f"{holder.get('pid', '?')} on {holder.get('host', '?')}); run one per home."
            )
        results: list[PipelineRun] = []
        try:
            while True:
                results.extend(self.tick())
                if once or stop.wait(interval):
                    break
        finally:
            guard.release()
            self.close()
        return results

    def close(self) -> None:
        if self._owns_runner:
            self.runner.close()
