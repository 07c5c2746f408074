"""Per-window aggregates of a model's logged predictions, kept up to date incrementally.

The state is a small JSON file per model and window spec,
``<home>/monitor/<model>/history-<window>.json``: the id of the last prediction read,
where the open (unfinished) window starts, and one compact summary per finished window
(rows, errors, latency, and per version: drift share, drifted features, per-feature
scores, prediction drift, metrics). Each update reads only the predictions logged after
the open window's start, so checking the latest window never rescans history. Labels
that arrive after a window closed are picked up for the last ``label_horizon`` windows
(their rows are re-read, at most once an hour, while some still lack labels); later
ones are not (``rebuild=True`` recomputes all).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prodline.monitor.windows import Window
from prodline.store.predictions import PredictionLog

FORMAT = 1
#: predictions read from the store per query
CHUNK = 20_000
#: finished windows kept in the state (older ones are dropped)
MAX_WINDOWS = 1000
#: a finished window still lacking labels is re-read for them at most this often
LABEL_RECHECK_MS = 3_600_000

Summarise = Callable[[list[PredictionLog], dict[str, Any]], dict[str, Any]]
Refresh = Callable[[list[PredictionLog], dict[str, Any]], dict[str, Any]]


def state_path(directory: Path, window: Window) -> Path:
    return directory / f"history-{window.text}.json"


def load_state(path: Path, window: Window) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return None
    if state.get("window") != window.text:
        return None
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(state, allow_nan=False, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def new_state(window: Window, since_ms: int | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "window": window.text,
        "since_ms": since_ms,
        "last_id": 0,
        "rows_seen": 0,
        "open": None,
        "windows": [],
        "fired": {},
    }


def window_bounds(window: Window, key: int) -> tuple[int | None, int | None]:
    """Start and end (epoch ms) of a time window; None for row windows."""
    if window.is_time:
        return key * window.size, (key + 1) * window.size
    return None, None


def update(
    read: Callable[..., list[PredictionLog]],
    state: dict[str, Any],
    window: Window,
    *,
    now_ms: int,
    summarise: Summarise,
    refresh: Refresh | None = None,
    label_horizon: int = 2,
    rows_of: Callable[[PredictionLog], int] = lambda log: 1,
) -> dict[str, Any]:
    """Bring ``state`` up to date with the predictions logged since it was saved.

    ``read`` is ``store.read_predictions`` bound to the model. ``summarise(logs,
    info)`` turns a finished window's logs into its summary; ``refresh(logs, summary)``
    recomputes a recent window's performance when it still lacked labels.
    """
    opened = state.get("open")
    after = (opened["first_id"] - 1) if opened else int(state.get("last_id", 0))
    since = state.get("since_ms") if not state["windows"] and not opened else None
    open_key: int | None = opened["key"] if opened else None
    open_logs: list[PredictionLog] = []
    open_rows = 0
    late = 0

    def close() -> None:
        nonlocal open_logs, open_rows, late
        if open_logs:
            start, end = window_bounds(window, open_key or 0)
            info = {
                "key": open_key,
                "start_ms": start if start is not None else open_logs[0].timestamp_ms,
                "end_ms": end if end is not None else open_logs[-1].timestamp_ms,
                "first_id": open_logs[0].id,
                "last_id": open_logs[-1].id,
                "n_logs": len(open_logs),
                "late": late,
                "complete": True,
            }
            summary = summarise(open_logs, info)
            summary["labels_checked_ms"] = now_ms
            state["windows"].append(summary)
            state["rows_seen"] = int(state.get("rows_seen", 0)) + open_rows
        open_logs, open_rows, late = [], 0, 0

    for log in read_all(read, after, since):
        state["last_id"] = max(int(state.get("last_id", 0)), log.id)
        n = rows_of(log)
        if window.is_time:
            key = log.timestamp_ms // window.size
        else:
            key = (int(state.get("rows_seen", 0)) + open_rows) // window.size
        if open_key is None:
            open_key = key
        if key > open_key:
            close()
            open_key = key
        elif key < open_key:
            late += 1  # logged after its window closed: counted in the open one
        open_logs.append(log)
        open_rows += n
        if not window.is_time and open_rows >= window.size:
            close()
            open_key = None
    if window.is_time and open_key is not None and open_logs:
        if (open_key + 1) * window.size <= now_ms:
            close()
            open_key = None
    state["open"] = {"key": open_key, "first_id": open_logs[0].id} if open_logs else None
    if len(state["windows"]) > MAX_WINDOWS:
        del state["windows"][: len(state["windows"]) - MAX_WINDOWS]
    if refresh is not None and label_horizon > 0:
        windows = state["windows"]
        for index in range(max(len(windows) - label_horizon, 0), len(windows)):
            summary = windows[index]
            if not summary.get("needs_labels"):
                continue
            if now_ms - int(summary.get("labels_checked_ms") or 0) < LABEL_RECHECK_MS:
                continue
            logs = [
                log
                for log in read(after_id=summary["first_id"] - 1, limit=summary["n_logs"])
                if log.id <= summary["last_id"]
            ]
            windows[index] = refresh(logs, summary)
            windows[index]["labels_checked_ms"] = now_ms
    state["updated_ms"] = now_ms
    return state


def read_all(
    read: Callable[..., list[PredictionLog]], after: int, since: int | None
) -> Iterator[PredictionLog]:
    """Every prediction with id > ``after`` (and time >= ``since``), in chunks."""
    while True:
        chunk = read(after_id=after, since_ms=since, limit=CHUNK)
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].id
        if len(chunk) < CHUNK:
            return
