"""Triggers (cron with a fixed clock, new files, drift requests), the watcher, and the
one-run-per-model lock across two real processes."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from prodline.pipelines import ModelLock, Watcher, cron_due, history, request_retrain
from prodline.pipelines.triggers import next_fire
from tests.pipelines.conftest import Project, run_script, start_script

TRIGGERED = """
import glob

import pandas as pd

from prodline.pipelines import pipeline, step


@step(files="incoming/*.csv")
def load() -> pd.DataFrame:
    paths = sorted(glob.glob("incoming/*.csv"))
    return pd.concat([pd.read_csv(p) for p in paths]) if paths else pd.DataFrame({"x": [0]})


@step
def count(df: pd.DataFrame) -> int:
    return len(df)


@pipeline(model="churn", schedule="0 3 * * 1")
def weekly():
    count(load())


@pipeline(model="churn", retrain_on=["drift"])
def on_drift():
    count(load())


@pipeline(retrain_on=["new_data:incoming/*.csv"])
def on_files():
    count(load())
"""

SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MONDAY_3AM = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _watcher(project: Project, name: str, clock: Clock | None = None) -> Watcher:
    return Watcher(lambda: {name: project.pipeline(name)}, clock=clock or Clock(SUNDAY_NOON))


@pytest.fixture
def triggered(project: Project) -> Project:
    project.write(TRIGGERED)
    return project


# --------------------------------------------------------------------------- cron
def test_cron_due_with_a_fixed_clock() -> None:
    weekly = "0 3 * * 1"
    assert next_fire(weekly, SUNDAY_NOON) == MONDAY_3AM
    assert next_fire(weekly, MONDAY_3AM) == MONDAY_3AM + timedelta(days=7)
    assert cron_due(weekly, SUNDAY_NOON, MONDAY_3AM - timedelta(seconds=1)) is None
    assert cron_due(weekly, SUNDAY_NOON, MONDAY_3AM) == MONDAY_3AM
    assert cron_due(weekly, MONDAY_3AM, MONDAY_3AM + timedelta(days=6)) is None
    # three missed Mondays make one event, for the first of them
    assert cron_due(weekly, SUNDAY_NOON, MONDAY_3AM + timedelta(days=15)) == MONDAY_3AM
    # naive times are UTC
    assert cron_due("*/15 * * * *", datetime(2026, 1, 1, 0, 1), datetime(2026, 1, 1, 0, 15))


def test_a_schedule_fires_once_when_due_and_survives_a_restart(triggered: Project) -> None:
    clock = Clock(SUNDAY_NOON)
    watcher = _watcher(triggered, "weekly", clock)
    assert watcher.tick() == []  # the first look starts the schedule from now
    clock.now = MONDAY_3AM - timedelta(minutes=1)
    assert watcher.tick() == []
    clock.now = MONDAY_3AM + timedelta(seconds=30)
    (run,) = watcher.tick()
    assert run.ok and run.trigger["kind"] == "schedule"
    assert run.trigger["due"] == MONDAY_3AM.isoformat()
    assert "0 3 * * 1 (due 2026-11-23T03:00" in run.trigger["detail"]
    assert watcher.tick() == []
    # a new watcher (a restart) remembers; weeks of downtime give one catch-up run
    clock.now = MONDAY_3AM + timedelta(days=21, hours=5)
    restarted = _watcher(triggered, "weekly", clock)
    assert len(restarted.tick()) == 1
    assert restarted.tick() == []
    assert [r.trigger["kind"] for r in history("weekly")] == ["schedule", "schedule"]


# ----------------------------------------------------------------------- new data
def test_new_and_changed_files_fire_once(triggered: Project) -> None:
    incoming = triggered.root / "incoming"
    incoming.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_csv(incoming / "a.csv", index=False)
    watcher = _watcher(triggered, "on_files")
    (run,) = watcher.tick()
    assert run.trigger["kind"] == "new_data" and run.trigger["files"] == ["incoming/a.csv"]
    assert run.output("count") == 2
    assert watcher.tick() == []
    pd.DataFrame({"x": [3]}).to_csv(incoming / "b.csv", index=False)
    (run,) = watcher.tick()
    assert run.trigger["files"] == ["incoming/b.csv"] and run.output("count") == 3
    later = time.time() + 5
    os.utime(incoming / "a.csv", (later, later))
    (run,) = watcher.tick()
    assert run.trigger["files"] == ["incoming/a.csv"]
    assert [s.cached for s in run.steps] == [True, True]  # same content: cache hits
    (incoming / "b.csv").unlink()
    assert watcher.tick() == []


# -------------------------------------------------------------------------- drift
def test_a_drift_request_starts_a_retrain_and_is_consumed(triggered: Project) -> None:
    path = request_retrain("churn", "PSI 0.41 on tenure", feature="tenure", psi=0.41)
    assert path.parent == triggered.home / "triggers" / "churn"
    assert json.loads(path.read_text())["reason"] == "PSI 0.41 on tenure"
    watcher = _watcher(triggered, "on_drift")
    (run,) = watcher.tick()
    assert run.ok and run.trigger["kind"] == "drift"
    assert "1 retrain request(s) for churn: PSI 0.41 on tenure" == run.trigger["detail"]
    (request,) = run.trigger["requests"]
    assert request["file"] == path.name and request["request"]["psi"] == 0.41
    assert not path.exists() and (path.parent / "done" / path.name).exists()
    assert watcher.tick() == []


def test_a_trigger_for_a_busy_model_is_skipped_recorded_once_and_kept(
    triggered: Project,
) -> None:
    path = request_retrain("churn", "accuracy fell to 0.71")
    watcher = _watcher(triggered, "on_drift")
    held = ModelLock("model.churn")
    assert held.acquire(pipeline="someone-else", pipeline_run="abcdef0123")
    try:
        (first,) = watcher.tick()
        (second,) = watcher.tick()
    finally:
        held.release()
    assert first.status == second.status == "skipped"
    assert "model.churn is busy: run abcdef01 of pipeline someone-else" in first.reason
    assert path.exists()  # still pending
    assert [r.status for r in history("on_drift")] == ["skipped"]  # recorded once
    (run,) = watcher.tick()
    assert run.ok and run.trigger["kind"] == "drift" and not path.exists()
    assert [r.status for r in history("on_drift")] == ["succeeded", "skipped"]


SLOW = """
import os
import time

from prodline.pipelines import pipeline, step


@step(cache=False)
def wait_for_release() -> str:
    open("started", "w").close()
    deadline = time.time() + 60
    while not os.path.exists("release"):
        if time.time() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    return "released"


@pipeline(model="churn")
def slow():
    wait_for_release()
"""


def test_two_processes_never_retrain_one_model_at_once(project: Project) -> None:
    project.write(SLOW)
    first = start_script(project.home, project.root, "pipelines", "run", "slow")
    try:
        _wait_for(project.root / "started", first)
        second = run_script(project.home, project.root, "pipelines", "run", "slow", "--json")
        assert second.returncode == 3, second.stderr
        skipped = json.loads(second.stdout)
        assert skipped["status"] == "skipped" and skipped["steps"] == []
        assert "model.churn is busy" in skipped["reason"]
        assert f"pid {first.pid}" in skipped["reason"]
    finally:
        (project.root / "release").touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert "succeeded" in out
    assert [r.status for r in history("slow")] == ["skipped", "succeeded"]
    assert ModelLock("model.churn").acquire()  # released when the run ended


def _wait_for(path: Path, process, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the first run ended early: {process.communicate()}")
        if time.time() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


# -------------------------------------------------------------------- watch command
def test_watch_once_json_runs_what_fired(triggered: Project, cli) -> None:
    request_retrain("churn", "drift")
    result = cli("pipelines", "watch", "--once", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["pipeline"], r["trigger"]["kind"], r["status"]) for r in lines] == [
        ("on_drift", "drift", "succeeded"),
    ]
    # the schedule started counting, the files were noticed: nothing more fires
    again = cli("pipelines", "watch", "--once", "--json")
    assert again.exit_code == 0 and again.stdout == ""


def test_one_watcher_per_home(triggered: Project, cli) -> None:
    guard = ModelLock("watch")
    assert guard.acquire()
    try:
        result = cli("pipelines", "watch", "--once")
    finally:
        guard.release()
    assert result.exit_code == 2
    assert "Another `prodline pipelines watch` is running" in result.stderr
