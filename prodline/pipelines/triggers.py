"""Triggers: when ``prodline pipelines watch`` starts a pipeline on its own.

- ``schedule="0 3 * * 1"``: a cron expression, in UTC. The watcher remembers when it
  last looked; a tick fires when a scheduled time has passed since then (several
  missed times fire once). A new watcher starts looking from now.
- ``"new_data:data/incoming/*.csv"``: files matching the glob (relative to the working
  folder) that were not seen before, or whose size or modification time changed.
- ``"drift"``: retrain requests for the pipeline's model, JSON files that monitoring
  writes to ``<home>/triggers/<model>/*.json``; consumed by moving them to ``done/``.

An event is *committed* (the schedule advanced, the files marked seen, the requests
moved) only once the pipeline run has taken the model's lock. A trigger that arrives
while another run of the model holds the lock stays pending for the next tick.
"""

from __future__ import annotations

import glob
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodline.errors import PipelineError

DRIFT = "drift"
NEW_DATA = "new_data"
SCHEDULE = "schedule"
STATE_FILE = "pipelines/watch-state.json"


@dataclass(frozen=True)
class TriggerSpec:
    """One declared trigger of a pipeline."""

    kind: str  # schedule | new_data | drift
    value: str = ""  # the cron expression, the glob, or the model

    def __str__(self) -> str:
        return self.kind if self.kind == DRIFT else f"{self.kind}:{self.value}"


@dataclass
class TriggerEvent:
    """Why a pipeline should run now. ``commit()`` consumes what fired it."""

    kind: str
    detail: str
    payload: dict[str, Any] = field(default_factory=dict)
    commit: Callable[[], None] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, **self.payload}


def combine(events: list[TriggerEvent]) -> TriggerEvent:
    """Several events of one tick as one run's trigger."""
    if len(events) == 1:
        return events[0]
    commits = [e.commit for e in events if e.commit is not None]

    def commit_all() -> None:
        for commit in commits:
            commit()

    return TriggerEvent(
        "+".join(e.kind for e in events),
        "; ".join(e.detail for e in events),
        {"events": [e.to_dict() for e in events]},
        commit_all,
    )


# ------------------------------------------------------------------------ parsing
def parse_triggers(
    schedule: str | None, retrain_on: Iterable[str] | str | None, model: str | None
) -> list[TriggerSpec]:
    """Check and normalise a pipeline's ``schedule`` and ``retrain_on``."""
    specs: list[TriggerSpec] = []
    if schedule is not None:
        specs.append(TriggerSpec(SCHEDULE, check_cron(schedule)))
    if isinstance(retrain_on, str):
        retrain_on = [retrain_on]
    for entry in retrain_on or ():
        if not isinstance(entry, str):
            raise PipelineError(f"retrain_on entries are strings, not {entry!r}.")
        kind, _, value = entry.strip().partition(":")
        kind = kind.strip()
        if kind == DRIFT and not value:
            if not model:
                raise PipelineError(
                    'retrain_on=["drift"] needs the pipeline\'s model: @pipeline(model="churn", '
                    "...), so that drift alerts of that model start it."
                )
            specs.append(TriggerSpec(DRIFT, model))
        elif kind == NEW_DATA and value.strip():
            specs.append(TriggerSpec(NEW_DATA, value.strip()))
        elif kind in (SCHEDULE, "cron") and value.strip():
            specs.append(TriggerSpec(SCHEDULE, check_cron(value.strip())))
        else:
            raise PipelineError(
                f"Unknown trigger {entry!r}: use 'drift', 'new_data:GLOB' (e.g. "
                "'new_data:data/incoming/*.csv') or 'schedule:CRON'."
            )
    return specs


def check_cron(expression: str) -> str:
    """A valid five-field cron expression (checked with croniter when installed)."""
    if not isinstance(expression, str) or not expression.strip():
        raise PipelineError("A schedule is a cron expression such as '0 3 * * 1'.")
    expression = " ".join(expression.split())
    try:
        from croniter import croniter
    except ImportError:  # pragma: no cover - checked again when the watcher runs
        return expression
    if not croniter.is_valid(expression):
        raise PipelineError(
            f"Schedule {expression!r} is not a valid cron expression: use five fields, "
            "minute hour day-of-month month day-of-week, e.g. '0 3 * * 1' (Mondays 03:00 UTC)."
        )
    return expression


# --------------------------------------------------------------------------- cron
def next_fire(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expression`` names (UTC)."""
    try:
        from croniter import croniter
    except ImportError:
        raise PipelineError("Schedules need croniter: pip install croniter.") from None
    return croniter(expression, _utc(after)).get_next(datetime).astimezone(UTC)


def cron_due(expression: str, last_checked: datetime, now: datetime) -> datetime | None:
    """The first scheduled time in ``(last_checked, now]``, if any: several missed times
    make one event."""
    fire = next_fire(expression, last_checked)
    return fire if fire <= _utc(now) else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -------------------------------------------------------------------------- state
class WatchState:
    """What the watcher remembers between ticks and restarts, in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    @classmethod
    def for_home(cls, home: Path | None = None) -> WatchState:
        if home is None:
            from prodline import config

            home = config.settings().home
        return cls(Path(home) / STATE_FILE)

    def section(self, pipeline: str, key: str) -> dict[str, Any]:
        return self.data.setdefault(pipeline, {}).setdefault(key, {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        partial.write_text(json.dumps(self.data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)


def check_schedule(
    pipeline: str, expression: str, state: WatchState, now: datetime
) -> TriggerEvent | None:
    """A schedule event if a scheduled time passed since the last look."""
    section = state.section(pipeline, SCHEDULE)
    last = section.get(expression)
    if last is None:  # first look: start from now, do not fire for the past
        section[expression] = _utc(now).isoformat()
        state.save()
        return None
    due = cron_due(expression, datetime.fromisoformat(last), now)
    if due is None:
        return None

    def commit() -> None:
        section[expression] = _utc(now).isoformat()
        state.save()

    return TriggerEvent(
        SCHEDULE,
        f"{expression} (due {due.isoformat(timespec='minutes')})",
        {"schedule": expression, "due": due.isoformat()},
        commit,
    )


def check_new_data(pipeline: str, pattern: str, state: WatchState) -> TriggerEvent | None:
    """A new-data event for files matching ``pattern`` that are new or changed."""
    section = state.section(pipeline, NEW_DATA)
    seen: dict[str, list[int]] = section.setdefault(pattern, {})
    current: dict[str, list[int]] = {}
    for path in sorted(glob.glob(pattern, recursive=True)):
        try:
            info = os.stat(path)
        except OSError:
            continue
        if os.path.isfile(path):
            current[path] = [info.st_mtime_ns, info.st_size]
    gone = [path for path in seen if path not in current]
    if gone:
        for path in gone:
            del seen[path]
        state.save()
    fresh = [path for path, mark in current.items() if seen.get(path) != mark]
    if not fresh:
        return None

    def commit() -> None:
        for path in fresh:
            seen[path] = current[path]
        state.save()

    shown = ", ".join(fresh[:5]) + (f" (+{len(fresh) - 5} more)" if len(fresh) > 5 else "")
    return TriggerEvent(NEW_DATA, f"{pattern}: {shown}", {"glob": pattern, "files": fresh}, commit)


# ------------------------------------------------------------------------- drift
def requests_folder(model: str, home: Path | None = None) -> Path:
    """Where monitoring drops retrain requests for ``model``."""
    if home is None:
        from prodline import config

        home = config.settings().home
    return Path(home) / "triggers" / model


def check_drift(model: str, home: Path | None = None) -> TriggerEvent | None:
    """A drift event for the pending retrain requests of ``model`` (all of them)."""
    folder = requests_folder(model, home)
    pending = sorted(p for p in folder.glob("*.json") if p.is_file())
    if not pending:
        return None
    requests = []
    for path in pending:
        try:
            body: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            body = {"unreadable": f"{type(exc).__name__}: {exc}"}
        requests.append({"file": path.name, "request": body})

    def commit() -> None:
        done = folder / "done"
        done.mkdir(parents=True, exist_ok=True)
        for path in pending:
            target = done / path.name
            if target.exists():
                target = done / f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}"
            try:
                os.replace(path, target)
            except FileNotFoundError:  # consumed by someone else meanwhile
                pass

    reasons = [
        str(r["request"].get("reason")) for r in requests
        if isinstance(r["request"], dict) and r["request"].get("reason")
    ]  # fmt: skip
    detail = f"{len(pending)} retrain request(s) for {model}"
    if reasons:
        detail += ": " + "; ".join(reasons[:3])
    return TriggerEvent(DRIFT, detail, {"model": model, "requests": requests}, commit)


def request_retrain(model: str, reason: str, **details: Any) -> Path:
    """Ask for a retrain of ``model``, as monitoring does: write a request file that
    ``prodline pipelines watch`` picks up. The file appears whole (written, then moved)."""
    from prodline.store.checks import check_name

    check_name(model, "model")
    folder = requests_folder(model)
    folder.mkdir(parents=True, exist_ok=True)
    moment = datetime.now(UTC)
    body = {"model": model, "reason": reason, "created_at": moment.isoformat(), **details}
    name = f"{moment.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.json"
    partial = folder / f".{name}.tmp"
    partial.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
    os.replace(partial, folder / name)
    return folder / name
