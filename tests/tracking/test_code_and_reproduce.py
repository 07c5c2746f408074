"""Code capture (with and without git), environment capture, and reproduce-a-run,
using real scripts run in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import prodline
from prodline import _context
from prodline.errors import ReproduceError

TRAIN = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import prodline
    from sklearn.linear_model import LogisticRegression

    C = float(sys.argv[1])
    with prodline.start_run(experiment="repro") as run:
        data = run.log_dataset("data.csv", name="data", role="train").frame
        run.log_params({"C": C})
        model = LogisticRegression(C=C, max_iter=500).fit(data[["x1", "x2"]], data["y"])
        run.log_metrics({"accuracy": model.score(data[["x1", "x2"]], data["y"]),
                         "rows": float(len(data))})
    """
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env["PRODLINE_HOME"] = str(home)
    return env


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(TRAIN)
    rows = 60
    frame = pd.DataFrame(
        {
            "x1": [i % 7 for i in range(rows)],
            "x2": [(i * 3) % 5 for i in range(rows)],
            "y": [int(i % 7 + (i * 3) % 5 > 5) for i in range(rows)],
        }
    )
    frame.to_csv(project / "data.csv", index=False)
    return project


def _run_script(project: Path, home: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "train.py", *args], cwd=project, env=_env(home), check=True, timeout=120
    )


def test_script_without_git_keeps_its_source(tmp_path: Path, isolated_home: Path) -> None:
    project = _project(tmp_path)
    _run_script(project, isolated_home, "0.5")
    [run] = prodline.search_runs("repro")
    record = prodline.get_run(run.id)
    assert record.code["kind"] == "script" and "git" not in record.code
    assert record.code["entrypoint"] == str(project / "train.py")
    assert record.code["argv"] == ["0.5"]
    source = next(a for a in record.artifacts if a.path == "code/train.py")
    assert _context.artifacts().get_bytes(source.digest).decode() == TRAIN
    assert record.environment["packages"]["scikit-learn"]


def test_script_in_a_git_repo_records_commit_and_diff(tmp_path: Path, isolated_home: Path) -> None:
    project = _project(tmp_path)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=project, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()
    with (project / "train.py").open("a") as handle:
        handle.write("# an uncommitted change\n")
    _run_script(project, isolated_home, "1.0")
    record = prodline.get_run(prodline.search_runs("repro")[0].id)
    assert record.code["git"]["commit"] == commit
    assert record.code["git"]["dirty"] is True
    diff = next(a for a in record.artifacts if a.path == "code/git.diff")
    assert b"+# an uncommitted change" in _context.artifacts().get_bytes(diff.digest)


def test_reproduce_uses_the_snapshot_and_reports_no_difference(
    tmp_path: Path, isolated_home: Path
) -> None:
    project = _project(tmp_path)
    _run_script(project, isolated_home, "0.5")
    [original] = prodline.search_runs("repro")
    # the data changes after the run: reproduction must still use the snapshot
    pd.DataFrame({"x1": [0, 1], "x2": [1, 0], "y": [0, 1]}).to_csv(
        project / "data.csv", index=False
    )
    report = prodline.reproduce(original.id)
    assert report.reproduction.reproduced_from == original.id
    assert report.reproduction.metrics["rows"] == 60.0
    assert report.identical(), str(report)
    assert report.to_dict()["identical"] is True
    used = report.reproduction.datasets[0]
    assert used.fingerprint == prodline.get_run(original.id).datasets[0].fingerprint


def test_reproduce_reports_changed_params_and_metrics(tmp_path: Path, isolated_home: Path) -> None:
    project = _project(tmp_path)
    _run_script(project, isolated_home, "0.5")
    _run_script(project, isolated_home, "0.001")
    first, second = prodline.search_runs("repro", order_by=["start_time"])
    from prodline.tracking.reproduce import compare

    report = compare(prodline.get_run(first.id), prodline.get_run(second.id))
    assert report.params == {"C": ("0.5", "0.001")}
    assert not report.identical()
    assert "DIFFERENT" in str(report) and "param C" in str(report)


def test_reproduce_without_captured_code_is_a_clear_error(use_store: str) -> None:
    with prodline.start_run(capture_code=False) as run:
        run.log_metric("m", 1.0)
    with pytest.raises(ReproduceError, match="no captured script"):
        prodline.reproduce(run.id)
