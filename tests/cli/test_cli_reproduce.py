"""``prodline runs reproduce``: re-run a captured script and report the differences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import prodline
from tests.cli.conftest import assert_one_line_error, json_out, quiet_run, run_script

SCRIPT = """\
import os
import sys

import prodline

if os.environ.get("PRODLINE_REPRODUCE_OF") and "--crash-on-rerun" in sys.argv:
    sys.exit("the re-run failed\\nwith a second line")
with prodline.start_run("repro", "original", capture_environment=False) as run:
    run.log_param("alpha", 0.5)
    run.log_metric("score", 0.75)
    print(run.id)
"""


@pytest.fixture
def original(tmp_path: Path, isolated_home: Path):
    """Run a real script (as a user would) that logs one run; returns a way to do it."""
    work = tmp_path / "project"
    work.mkdir()
    script = work / "train.py"
    script.write_text(SCRIPT)

    def make(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
        env["PRODLINE_HOME"] = str(isolated_home)
        done = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip().splitlines()[-1]

    return make


def test_reproduce_identical(cli, original) -> None:
    run_id = original()
    result = cli("runs", "reproduce", run_id[:8])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"run {run_id[:8]} (original) reproduced as ")
    assert first.endswith("(finished): identical")
    assert "score" in result.stdout and "+0" in result.stdout
    assert "Params that differ: none" in result.stdout
    reruns = prodline.search_runs(experiments="repro")
    assert len(reruns) == 2
    rerun = next(run for run in reruns if run.id != run_id)
    assert prodline.get_run(rerun.id).reproduced_from == run_id


def test_reproduce_json_through_the_script(original, isolated_home: Path) -> None:
    run_id = original()
    done = run_script(isolated_home, "runs", "reproduce", run_id, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["original"] == run_id
    assert report["identical"] is True
    assert report["metrics"] == [
        {"key": "score", "original": 0.75, "reproduced": 0.75, "delta": 0.0}
    ]
    assert report["param_differences"] == {}


def test_reproduce_failure_is_one_line(cli, original) -> None:
    run_id = original("--crash-on-rerun")
    result = cli("runs", "reproduce", run_id)
    assert_one_line_error(result, "started no run", "the re-run failed with a second line")


def test_reproduce_run_without_code(cli) -> None:
    with quiet_run("repro", "no-code") as run:
        run.log_metric("m", 1.0)
    assert_one_line_error(cli("runs", "reproduce", run.id), "cannot be re-run")
    assert json_out(cli("runs", "show", run.id, "--json"))["code"] is None
