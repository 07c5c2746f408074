"""``prodline govern ...``: the thin CLI over the Python API, tables and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from prodline.cli.main import app
from tests.govern._helpers import events, holder_of, labels_of, register

POLICY = """\
model: churn
candidates: {labels_not: [rejected]}
rules:
  - metric: f1
    at_least: 0.8
  - compare_to: production
    metric: f1
    min_improvement: 0.01
  - latency: p99_single_row_ms
    at_most: 20
choose: {best_by: f1}
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Runs ``prodline ...`` in-process from a folder holding policies/churn.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "churn.yaml").write_text(POLICY)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="prodline", env={"COLUMNS": "250"})

    return invoke


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_dry_run_shows_every_candidate_rule_and_what_would_happen(cli) -> None:
    register(f1=0.85)
    register(f1=0.7)
    register(f1=0.9, p99=45.0)
    result = cli("govern", "churn", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("DRY RUN: nothing is changed\nchurn: production: nobody -> v1 (f1 0.85)")
    for line in (
        "v3 rejected  fails: latency",
        "v2 rejected  fails: compare_to, metric",
        "v1 promoted  chosen for production (f1 0.85)",
    ):
        assert line in out
    assert out.count("f1 at least 0.8") == 3 and out.count("f1 improves on production") == 3
    assert "p99_single_row_ms on onnx 45 ms is over the budget of 20 ms" in out
    assert "f1 0.7 vs production (v1) 0.85: improvement -0.15, needs at least 0.01" in out
    assert "What would happen\n  - move production of churn from nobody to v1" in out
    assert "  - label v2 'rejected': f1 0.7 is below the minimum 0.8;" in out
    assert holder_of() is None and events("churn", "govern_decision") == []


def test_apply_then_json_then_nothing_to_change(cli) -> None:
    register(f1=0.85)
    register(f1=0.7)
    applied = cli("govern", "run", "churn", "--by", "ana")
    assert applied.exit_code == 0 and "What happened" in applied.stdout
    assert holder_of() == 1 and set(labels_of()[2]) == {"rejected"}
    again = cli("govern", "churn", "--json")
    data = json.loads(again.stdout)
    assert (data["applied"], data["changed"], data["decision"]["holder"]) == (False, False, 1)
    assert data["policy"]["source"] == "policies/churn.yaml" and data["attempts"] == 1
    [candidate] = data["decision"]["candidates"]  # v2 is rejected: filtered out now
    assert candidate["version"] == 1 and candidate["outcome"] == "holder"
    assert [r["kind"] for r in candidate["rules"]] == ["metric", "compare_to", "latency"]
    assert "Nothing to change" in cli("govern", "churn").stdout


def test_approve_rollback_and_history(cli) -> None:
    register(f1=0.85)
    assert cli("govern", "churn").exit_code == 0
    register(f1=0.9)
    assert cli("govern", "churn", "--by", "bo").exit_code == 0 and holder_of() == 2
    approved = cli("govern", "approve", "churn", "1", "--by", "ana", "--comment", "ok", "--json")
    assert json.loads(approved.stdout) == {
        "model": "churn",
        "version": 1,
        "by": "ana",
        "recorded": True,
    }
    assert "already approved by ana" in cli("govern", "approve", "churn", "1", "--by", "ana").stdout
    rolled = cli("govern", "rollback", "churn", "--by", "ana", "--reason", "latency spike")
    assert rolled.exit_code == 0, rolled.output
    assert rolled.stdout.startswith("production of churn: v2 -> v1 (rolled back by ana;")
    assert holder_of() == 1
    history = json.loads(cli("govern", "history", "churn", "--json").stdout)
    kinds = [e["kind"] for e in history["events"]]
    assert kinds.count("govern_decision") == 2 and kinds[-1] == "govern_rollback"
    assert "approval" in kinds
    table = cli("govern", "history", "churn", "--kind", "govern_rollback").stdout
    assert table.startswith("1 event\n") and "2->1" in table and "latency spike" in table
    limited = json.loads(cli("govern", "history", "churn", "--limit", "1", "--json").stdout)
    assert [e["kind"] for e in limited["events"]] == ["govern_rollback"]


def test_errors_are_one_line_with_the_key_and_line(cli, tmp_path: Path) -> None:
    register(f1=0.85)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: churn\nrules:\n  - metric: f1\n    at_least: high\n")
    line = one_line_error(cli("govern", "churn", "--policy", str(bad)))
    assert "line 4, key 'rules[0].at_least': must be a number, got 'high'" in line
    line = one_line_error(cli("govern", "check", str(bad)))
    assert f"Policy {bad} has 1 problem:" in line
    assert "No policy for model 'fraud'" in one_line_error(cli("govern", "fraud"))
    assert "has no 'production' alias: nothing to roll back" in one_line_error(
        cli("govern", "rollback", "churn")
    )
    assert "No registered model 'nope'" in one_line_error(cli("govern", "history", "nope"))
    usage = cli("govern", "approve", "churn", "1")  # --by is required
    assert usage.exit_code == 2 and "--by" in usage.output


def test_check_lists_the_rules(cli) -> None:
    result = cli("govern", "check", "policies/churn.yaml", "--json")
    data = json.loads(result.stdout)
    assert data["ok"] and data["model"] == "churn"
    assert [(r["kind"], r["line"]) for r in data["rules"]] == [
        ("metric", 4),
        ("compare_to", 6),
        ("latency", 9),
    ]
    table = cli("govern", "check", "policies/churn.yaml").stdout
    assert "f1 improves on production by at least 0.01" in table


@pytest.mark.parametrize("command", ["run", "check", "approve", "rollback", "history"])
def test_every_govern_command_has_help_with_an_example(cli, command: str) -> None:
    result = cli("govern", command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout
    assert f"prodline govern {command if command != 'run' else ''}".strip() in result.stdout
    assert "--json" in result.stdout
