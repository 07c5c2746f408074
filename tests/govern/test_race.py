"""Several `govern` processes on the same model at once, on SQLite and on PostgreSQL:
exactly one promotion, one audit event, and labels that match the decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import prodline.govern as governance
from tests.govern._helpers import events, holder_of, labels_of, register

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3

# Each process reads the evidence, waits until every process has read it (so they all
# decide on the same, soon stale, state), then races to apply.
SCRIPT = """
import json, os, sys, time
from pathlib import Path
import prodline.govern as governance
from prodline.govern import api

sync, me, total = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
real_apply = api._apply

def apply_after_everyone_decided(*args, **kwargs):
    (sync / f"decided-{me}-{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 60
    while len(list(sync.glob("decided-*"))) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    return real_apply(*args, **kwargs)

api._apply = apply_after_everyone_decided
(sync / f"ready-{me}").touch()
while not (sync / "go").exists():
    time.sleep(0.01)
result = governance.govern("churn", sys.argv[4], actor=f"process-{me}")
print(json.dumps({"applied": result.applied, "attempts": result.attempts,
                  "holder": result.holder, "event_id": result.event_id}))
"""

POLICY = """\
model: churn
rules:
  - metric: f1
    at_least: 0.8
  - compare_to: production
    metric: f1
    min_improvement: 0.01
choose: {best_by: f1}
"""


def test_racing_govern_processes_promote_exactly_once(use_store: str, tmp_path: Path) -> None:
    for f1 in (0.82, 0.75, 0.9, 0.86):
        register(f1=f1)
    policy = tmp_path / "churn.yaml"
    policy.write_text(POLICY)
    sync = tmp_path / "sync"
    sync.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env.update(
        PRODLINE_STORE_URL=use_store, PRODLINE_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT)
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(sync), str(i), str(PROCESSES), str(policy)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(sync.glob("ready-*"))) < PROCESSES:
        assert time.monotonic() < deadline, "the govern processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.02)
    (sync / "go").touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    assert sum(o["applied"] for o in outputs) == 1, outputs
    assert {o["holder"] for o in outputs} == {3}
    assert max(o["attempts"] for o in outputs) == 2  # the losers saw the change and re-decided
    assert holder_of() == 3
    [move] = events("churn", "alias_set")
    [decision] = events("churn", "govern_decision")
    assert move.version == 3 and decision.id == next(o["event_id"] for o in outputs if o["applied"])
    added = [(e.version, e.name) for e in events("churn", "label_added")]
    assert sorted(added) == [(1, "rejected"), (2, "rejected"), (4, "rejected")]  # no duplicates
    assert {n: set(labels) for n, labels in labels_of().items()} == {
        1: {"rejected"},
        2: {"rejected"},
        3: set(),
        4: {"rejected"},
    }
    again = governance.govern("churn", str(policy))
    assert not again.changed
