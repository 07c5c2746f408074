"""Fixtures for the CLI tests: a real store filled through the public API, a CliRunner,
and a way to run the installed ``prodline`` script as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import prodline
from prodline.cli.main import app
from prodline.tracking.run import Run

PRODLINE_SCRIPT = Path(sys.executable).with_name("prodline")


@dataclass
class Sample:
    """Four runs in two experiments, two dataset snapshots."""

    baseline: Run
    deeper: Run
    broken: Run
    fraud: Run
    frame: pd.DataFrame


def quiet_run(experiment: str, name: str, **kwargs: Any) -> Run:
    """A run without code or environment capture (fast, and independent of the cwd)."""
    return prodline.start_run(
        experiment, name, capture_code=False, capture_environment=False, **kwargs
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenure": [1, 5, 12, 30, None],
            "plan": ["basic", "pro", "basic", "team", "pro"],
            "monthly": [9.5, 29.0, 9.5, 99.0, 29.0],
        }
    )


@pytest.fixture
def sample(frame: pd.DataFrame) -> Sample:
    with quiet_run("churn", "baseline", tags={"team": "risk"}) as baseline:
        baseline.log_params({"C": 1.0, "max_depth": 6})
        baseline.log_metric("f1", 0.71)
        baseline.log_metric("f1", 0.80)
        baseline.log_metric("val_loss", 0.50)
        baseline.log_dataset(frame, name="churn_train", role="train")
        baseline.add_note("first try")
        baseline.log_text("hello", "reports/summary.txt")
    with quiet_run("churn", "deeper") as deeper:
        deeper.log_params({"C": 1.0, "max_depth": 8})
        deeper.log_metrics({"f1": 0.85, "val_loss": 0.40})
        deeper.log_dataset(frame, name="churn_train", role="train")
        deeper.log_dataset(frame.head(3), name="churn_eval", role="eval")
    with pytest.raises(ValueError, match="boom"), quiet_run("churn", "broken") as broken:
        broken.log_param("C", 2.0)
        raise ValueError("boom")
    with quiet_run("fraud", "f-1") as fraud:
        fraud.log_metric("auc", 0.9)
    return Sample(baseline, deeper, broken, fraud, frame)


@pytest.fixture
def cli() -> Any:
    """``cli("runs", "list")`` runs the app in-process and returns the Click result."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="prodline")

    return invoke


def json_out(result: Result) -> Any:
    """The command's stdout parsed as JSON (after checking it succeeded)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit code 2, nothing on stdout, one ``error: ...`` line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def run_script(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``prodline`` console script with ``PRODLINE_HOME=home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env["PRODLINE_HOME"] = str(home)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(PRODLINE_SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or home.parent,
        timeout=120,
        check=False,
    )
