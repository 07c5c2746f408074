"""Real processes: many writers at once, and SIGKILL in the middle of logging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import prodline
from prodline import _context

WRITER = textwrap.dedent(
    """
    import sys, prodline
    worker, points = sys.argv[1], int(sys.argv[2])
    with prodline.start_run(experiment="shared", name=f"worker-{worker}") as run:
        run.log_params({"worker": worker})
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            print(step, flush=True)
    """
)


def _env(store_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env.update(PRODLINE_STORE_URL=store_url, PRODLINE_HOME=str(home))
    return env


def test_many_processes_logging_at_once_lose_nothing(use_store: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(n), "150"],
            env=_env(use_store, tmp_path / "home"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    errors = [w.communicate(timeout=240)[1].decode() for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], errors
    runs = prodline.search_runs("shared", order_by=["name"])
    assert [r.name for r in runs] == [f"worker-{n}" for n in range(4)]
    assert all(r.status == "finished" for r in runs)
    store = _context.store()
    for run in runs:
        steps = [p.step for p in store.metric_history(run.id, "loss")]
        assert steps == list(range(150))
    assert [e.name for e in prodline.list_experiments()] == ["shared"]


def test_sigkill_loses_nothing_a_call_had_returned_from(use_store: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), "k", "100000"],
        env=_env(use_store, tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    acknowledged = -1
    assert child.stdout is not None
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    [run] = prodline.search_runs("shared")
    assert run.status == "running"  # killed before it could end
    steps = [p.step for p in _context.store().metric_history(run.id, "loss")]
    assert steps[: acknowledged + 1] == list(range(acknowledged + 1))
    assert run.params == {"worker": "k"}
