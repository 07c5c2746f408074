"""``prodline pipelines list / show / run / history``, tables and --json."""

from __future__ import annotations

import json

import pytest

from tests.pipelines.conftest import LIGHT, TOY, Project, run_script

MORE = """
from prodline.pipelines import pipeline, step


@step
def numbers(n: int = 3) -> list:
    return list(range(n))


@step
def total(values: list) -> int:
    if len(values) > 5:
        raise ValueError("too many values")
    return sum(values)


@pipeline(model="churn", schedule="30 2 * * *", retrain_on=["drift", "new_data:in/*.csv"])
def nightly(n: int = 3):
    \"\"\"Sum some numbers every night.\"\"\"
    return total(numbers(n))
"""


@pytest.fixture
def files(project: Project) -> Project:
    project.write(LIGHT + "\n" + MORE.replace("from prodline.pipelines import pipeline, step", ""))
    project.write(TOY, "other.py")
    return project


def _json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line


def test_list(files: Project, cli) -> None:
    data = _json(cli("pipelines", "list", "--json"))
    assert [p["name"] for p in data["pipelines"]] == ["light", "nightly"]
    nightly = data["pipelines"][1]
    assert nightly["model"] == "churn" and nightly["schedule"] == "30 2 * * *"
    assert nightly["triggers"] == ["schedule:30 2 * * *", "drift", "new_data:in/*.csv"]
    assert nightly["description"] == "Sum some numbers every night."
    assert [n["id"] for n in nightly["nodes"]] == ["numbers", "total"]
    table = cli("pipelines", "list")
    assert table.exit_code == 0 and table.stdout.splitlines()[0] == "2 pipelines"
    assert "nightly" in table.stdout and "drift, new_data:in/*.csv" in table.stdout
    other = _json(cli("pipelines", "list", "--file", "other.py", "--json"))
    assert [p["name"] for p in other["pipelines"]] == ["toy"]


def test_show(files: Project, cli) -> None:
    data = _json(cli("pipelines", "show", "nightly", "--json"))
    assert data["edges"] == [["numbers", "total"]] and data["levels"] == [["numbers"], ["total"]]
    assert data["next_run"].endswith("02:30:00+00:00")
    assert data["nodes"][0]["constants"] == {"n": 3}
    assert data["lock"] == "model.churn"
    assert _json(cli("pipelines", "show", "nightly", "-p", "n=7", "--json"))["nodes"][0][
        "constants"
    ] == {"n": 7}
    table = cli("pipelines", "show", "light")
    assert table.exit_code == 0, table.output
    assert "load  →  train  →  score" in table.stdout
    for cell in ("schedule", "triggers", "train", "n=120", "Train and score"):
        assert cell in table.stdout


def test_run_and_history(files: Project, cli) -> None:
    result = cli("pipelines", "run", "nightly", "--json", "--trigger", "ci")
    data = _json(result)
    assert data["status"] == "succeeded" and data["trigger"]["kind"] == "ci"
    assert [s["node"] for s in data["steps"]] == ["numbers", "total"]
    assert data["counts"]["executed"] == 2
    table = cli("pipelines", "run", "nightly")
    assert table.exit_code == 0, table.output
    assert "↺ numbers" in table.stdout and "cached" in table.stdout
    assert "succeeded" in table.stdout

    failed = cli("pipelines", "run", "nightly", "--param", "n=9")
    assert failed.exit_code == 1
    assert "✗ total" in failed.stdout and "ValueError: too many values" in failed.stdout
    assert "Traceback" in failed.stdout

    runs = _json(cli("pipelines", "history", "nightly", "--json"))["runs"]
    assert [(r["status"], r["trigger"]["kind"]) for r in runs] == [
        ("failed", "manual"), ("succeeded", "manual"), ("succeeded", "ci"),
    ]  # fmt: skip
    assert runs[0]["params"] == {"n": 9} and runs[0]["steps"][1]["status"] == "failed"
    assert runs[1]["counts"]["cached"] == 2
    assert len(_json(cli("pipelines", "history", "nightly", "-n", "1", "--json"))["runs"]) == 1
    table = cli("pipelines", "history", "nightly")
    assert table.stdout.splitlines()[0] == "3 runs of nightly"
    assert _json(cli("pipelines", "history", "never_ran", "--json"))["runs"] == []


def test_errors_are_one_line(project: Project, files: Project, cli) -> None:
    _one_line_error(cli("pipelines", "show", "nope"), "No pipeline named 'nope'", "light, nightly")
    _one_line_error(cli("pipelines", "run", "nope"), "No pipeline named 'nope'")
    _one_line_error(cli("pipelines", "list", "--file", "missing.py"), "No pipelines file")
    _one_line_error(cli("pipelines", "list", "--module", "no_such_module"), "No module named")
    project.write("raise RuntimeError('half written')", "broken.py")
    _one_line_error(
        cli("pipelines", "list", "--file", "broken.py"),
        "Loading broken.py failed: RuntimeError: half written",
    )
    _one_line_error(cli("pipelines", "show", "nightly", "-p", "m=1"), "cannot be built with params")
    _one_line_error(cli("pipelines", "history", "bad name"), "Invalid pipeline name")
    usage = cli("pipelines", "run", "nightly", "--runner", "spark")
    assert usage.exit_code == 2 and "use 'local' or 'ray'" in usage.output


def test_module_option_and_the_installed_script(files: Project) -> None:
    (files.root / "team_flows.py").write_text((files.root / "other.py").read_text())
    listed = run_script(files.home, files.root, "pipelines", "list", "-m", "team_flows", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)["pipelines"]] == ["toy"]
    ran = run_script(files.home, files.root, "pipelines", "run", "nightly", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "succeeded"
