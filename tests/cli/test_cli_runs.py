"""``prodline runs list / show / compare`` against a real SQLite store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import prodline
from prodline.cli.compare import metric_goal
from prodline.cli.runs import choose_columns
from tests.cli.conftest import Sample, assert_one_line_error, json_out, quiet_run


def table_rows(output: str) -> list[list[str]]:
    """Rows of a Rich table printed without borders: cells split on 2+ spaces."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


def row_starting(output: str, *cells: str) -> list[str]:
    for row in table_rows(output):
        if row[: len(cells)] == list(cells):
            return row
    raise AssertionError(f"no row starting with {cells} in:\n{output}")


# ------------------------------------------------------------------------------ list
def test_list_table_shows_every_run_with_metrics_and_params(cli, sample: Sample) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == "4 runs"
    header = row_starting(out, "id", "experiment", "name", "status")
    assert header[4:6] == ["start (UTC)", "duration"]
    assert set(header[6:]) == {
        "metrics.f1", "metrics.val_loss", "metrics.auc", "params.C", "params.max_depth",
    }  # fmt: skip
    deeper = row_starting(out, sample.deeper.id[:8])
    assert deeper[1:4] == ["churn", "deeper", "finished"]
    assert "0.85" in deeper and "8" in deeper
    broken = row_starting(out, sample.broken.id[:8])
    assert broken[1:4] == ["churn", "broken", "failed"]
    assert "hidden" not in out


def test_list_newest_first(cli, sample: Sample) -> None:
    runs = json_out(cli("runs", "list", "--json"))["runs"]
    assert [run["name"] for run in runs] == ["f-1", "broken", "deeper", "baseline"]


def test_list_json_structure(cli, sample: Sample) -> None:
    data = json_out(cli("runs", "list", "--json"))
    assert set(data) == {"runs", "next_page_token"}
    assert data["next_page_token"] is None
    baseline = next(run for run in data["runs"] if run["name"] == "baseline")
    assert baseline["id"] == sample.baseline.id
    assert baseline["experiment"] == "churn"
    assert baseline["params"] == {"C": "1.0", "max_depth": "6"}
    assert baseline["metrics"] == {"f1": 0.80, "val_loss": 0.50}
    assert baseline["tags"] == {"team": "risk"}
    assert baseline["start_time"].endswith("+00:00")


def test_list_by_experiment_filter_and_order(cli, sample: Sample) -> None:
    churn = json_out(cli("runs", "list", "-e", "churn", "--json"))["runs"]
    assert {run["name"] for run in churn} == {"baseline", "deeper", "broken"}
    both = json_out(cli("runs", "list", "-e", "churn", "-e", "fraud", "--json"))["runs"]
    assert len(both) == 4
    good = json_out(cli("runs", "list", "-f", "metrics.f1 > 0.8", "--json"))["runs"]
    assert [run["name"] for run in good] == ["deeper"]
    text_filter = cli("runs", "list", "--filter", "params.max_depth = '6' and tags.team = 'risk'")
    assert text_filter.exit_code == 0
    assert text_filter.stdout.splitlines()[0] == "1 run"
    assert sample.baseline.id[:8] in text_filter.stdout
    ordered = json_out(cli("runs", "list", "-o", "metrics.val_loss ASC", "--json"))["runs"]
    assert [run["name"] for run in ordered][:2] == ["deeper", "baseline"]


def test_list_order_by_puts_that_column_first(cli, sample: Sample) -> None:
    out = cli("runs", "list", "-o", "metrics.val_loss DESC", "--max-columns", "1").stdout
    header = row_starting(out, "id", "experiment")
    assert header[-1] == "metrics.val_loss"
    assert "4 more columns hidden: metrics.f1, metrics.auc, params.C, params.max_depth" in out


def test_list_hides_columns_past_the_cap(cli, sample: Sample) -> None:
    result = cli("runs", "list", "--max-columns", "2")
    header = row_starting(result.stdout, "id", "experiment")
    assert header[6:] == ["metrics.f1", "metrics.val_loss"]
    assert "3 more columns hidden: metrics.auc, params.C, params.max_depth" in result.stdout


def test_choose_columns(sample: Sample) -> None:
    records = prodline.search_runs()
    shown, hidden = choose_columns(records, [], 3)
    # metrics first, most common first (f1 and val_loss: 2 runs, auc: 1), then params
    assert shown == [("metrics", "f1"), ("metrics", "val_loss"), ("metrics", "auc")]
    assert hidden == ["params.C", "params.max_depth"]
    shown, hidden = choose_columns(records, ["tags.team DESC", "params.`max_depth`"], 3)
    assert shown == [("tags", "team"), ("params", "max_depth"), ("metrics", "f1")]
    assert hidden == ["metrics.val_loss", "metrics.auc", "params.C"]
    assert choose_columns([], [], 8) == ([], [])


def test_list_pages(cli, sample: Sample) -> None:
    first = json_out(cli("runs", "list", "--limit", "3", "--json"))
    assert len(first["runs"]) == 3
    token = first["next_page_token"]
    assert token
    second = json_out(cli("runs", "list", "--limit", "3", "--page-token", token, "--json"))
    assert second["next_page_token"] is None
    ids = [run["id"] for run in first["runs"] + second["runs"]]
    assert len(set(ids)) == 4
    table = cli("runs", "list", "--limit", "3")
    assert f"more runs: --page-token {token}" in table.stdout


def test_list_empty_store(cli) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0
    assert result.stdout.strip() == "0 runs"
    assert json_out(cli("runs", "list", "--json")) == {"runs": [], "next_page_token": None}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-f", "metrics.f1 >"), "Expected a number"),
        (("-f", "params.C > 'x'"), "params.C is text"),
        (("-f", "metrics.f1 > 1 and"), "at the end"),
        (("-f", "colour = 'red'"), "Unknown run attribute"),
        (("-o", "colour DESC"), "Unknown run attribute"),
        (("--page-token", "not-a-token"), "page token"),
        (("-e", "nope"), "No experiment named 'nope'. Known experiments: churn, fraud."),
    ],
)
def test_list_bad_input_is_a_one_line_error(cli, sample: Sample, args, fragment: str) -> None:
    assert_one_line_error(cli("runs", "list", *args), fragment)
    assert_one_line_error(cli("runs", "list", "--json", *args), fragment)


# ------------------------------------------------------------------------------ show
def test_show_sections(cli, sample: Sample) -> None:
    result = cli("runs", "show", sample.baseline.id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert row_starting(out, "id") == ["id", sample.baseline.id]
    assert row_starting(out, "experiment") == ["experiment", "churn"]
    assert row_starting(out, "status") == ["status", "finished"]
    assert row_starting(out, "C") == ["C", "1.0"]
    assert row_starting(out, "max_depth") == ["max_depth", "6"]
    assert row_starting(out, "f1") == ["f1", "0.8"]
    assert row_starting(out, "val_loss") == ["val_loss", "0.5"]
    assert row_starting(out, "team") == ["team", "risk"]
    assert row_starting(out, "train") == ["train", "churn_train", "1", "5", sample_fp(sample)]
    digest = sample.baseline.record.artifacts[0].digest
    assert row_starting(out, "reports/summary.txt") == ["reports/summary.txt", "5 B", digest[:12]]
    assert "first try" in out
    assert "Code: none" in out and "Environment: none" in out
    assert "Error" not in out


def sample_fp(sample: Sample) -> str:
    return prodline.get_dataset("churn_train").fingerprint[:12]


def test_show_json_is_the_record(cli, sample: Sample) -> None:
    data = json_out(cli("runs", "show", sample.deeper.id, "--json"))
    assert data == json.loads(json.dumps(prodline.get_run(sample.deeper.id).to_dict()))
    assert [(d["name"], d["role"]) for d in data["datasets"]] == [
        ("churn_train", "train"),
        ("churn_eval", "eval"),
    ]


def test_show_failed_run_prints_the_traceback(cli, sample: Sample) -> None:
    out = cli("runs", "show", sample.broken.id).stdout
    assert row_starting(out, "status") == ["status", "failed"]
    assert "Error" in out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: boom" in out


def test_show_does_not_read_values_as_markup(cli) -> None:
    with quiet_run("markup", "[bold]run[/bold]") as run:
        run.log_param("layers", "[red]64, 32[/red]")
    out = cli("runs", "show", run.id).stdout
    assert "[bold]run[/bold]" in out
    assert row_starting(out, "layers") == ["layers", "[red]64, 32[/red]"]


def test_show_code_and_environment(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "train.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    (repo / "train.py").write_text("print(2)\n")  # uncommitted change: dirty
    monkeypatch.chdir(repo)
    with prodline.start_run("code", "captured") as run:
        pass
    record = prodline.get_run(run.id)
    out = cli("runs", "show", run.id).stdout
    assert row_starting(out, "kind")[1] == record.code["kind"]
    assert row_starting(out, "git commit") == ["git commit", commit]
    assert row_starting(out, "git dirty") == ["git dirty", "yes"]
    assert row_starting(out, "git diff artifact") == ["git diff artifact", "code/git.diff"]
    python = row_starting(out, "python")
    assert python[1].endswith(record.environment["python"])
    packages = len(record.environment["packages"])
    assert packages > 5
    assert row_starting(out, "packages") == ["packages", str(packages)]


def test_show_history(cli, sample: Sample) -> None:
    result = cli("runs", "show", sample.baseline.id, "--history", "f1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == f"f1 in run {sample.baseline.id[:8]} (baseline): 2 points"
    assert row_starting(out, "0")[:2] == ["0", "0.71"]
    assert row_starting(out, "1")[:2] == ["1", "0.8"]
    data = json_out(cli("runs", "show", sample.baseline.id, "--history", "f1", "--json"))
    assert data["run_id"] == sample.baseline.id and data["key"] == "f1"
    assert [(p["step"], p["value"]) for p in data["points"]] == [(0, 0.71), (1, 0.80)]


def test_show_history_of_a_missing_metric(cli, sample: Sample) -> None:
    result = cli("runs", "show", sample.baseline.id, "--history", "auc")
    assert_one_line_error(result, "has no metric 'auc'", "Its metrics: f1, val_loss.")


def test_show_missing_run(cli, sample: Sample) -> None:
    assert_one_line_error(cli("runs", "show", "deadbeef"), "No run whose id starts with")
    assert_one_line_error(cli("runs", "show", "deadbeef", "--json"), "No run whose id")


def test_show_too_short_prefix(cli, sample: Sample) -> None:
    assert_one_line_error(cli("runs", "show", sample.baseline.id[:3]), "too short")


def test_show_ambiguous_prefix(cli) -> None:
    seen: dict[str, str] = {}
    for number in range(5000):
        with quiet_run("many", f"r{number}") as run:
            pass
        if run.id[:4] in seen:
            break
        seen[run.id[:4]] = run.id
    else:  # pragma: no cover - 5000 random ids without a shared 4-hex prefix
        pytest.fail("no two runs shared a 4-character prefix")
    assert_one_line_error(cli("runs", "show", run.id[:4]), "ambiguous")
    assert_one_line_error(cli("runs", "compare", run.id, run.id[:4]), "ambiguous")
    assert json_out(cli("runs", "show", run.id, "--json"))["id"] == run.id
    assert json_out(cli("runs", "show", seen[run.id[:4]], "--json"))["name"] != run.name


# --------------------------------------------------------------------------- compare
def test_compare_table(cli, sample: Sample) -> None:
    a, b = sample.baseline.id, sample.deeper.id
    result = cli("runs", "compare", a[:6], b[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert row_starting(out, "name") == ["name", "baseline", "deeper"]
    assert row_starting(out, "C") == ["C", "1.0", "1.0"]  # same: not marked
    assert row_starting(out, "*", "max_depth") == ["*", "max_depth", "6", "8"]
    assert row_starting(out, "*", "f1") == ["*", "f1", "max", "0.8", "0.85 (best)"]
    assert row_starting(out, "*", "val_loss") == ["*", "val_loss", "min", "0.5", "0.4 (best)"]


def test_compare_json(cli, sample: Sample) -> None:
    a, b, c = sample.baseline.id, sample.deeper.id, sample.broken.id
    data = json_out(cli("runs", "compare", a, b, c, "--json"))
    assert [run["id"] for run in data["runs"]] == [a, b, c]
    params = {row["key"]: row for row in data["params"]}
    assert params["C"] == {"key": "C", "values": ["1.0", "1.0", "2.0"], "differs": True}
    assert params["max_depth"]["values"] == ["6", "8", None]
    metrics = {row["key"]: row for row in data["metrics"]}
    assert metrics["f1"] == {
        "key": "f1",
        "values": [0.80, 0.85, None],
        "differs": True,
        "goal": "max",
        "best": [b],
    }
    assert metrics["val_loss"]["goal"] == "min" and metrics["val_loss"]["best"] == [b]


def test_compare_goal_override_and_diff_only(cli, sample: Sample) -> None:
    a, b = sample.baseline.id, sample.deeper.id
    data = json_out(cli("runs", "compare", a, b, "--maximize", "val_loss", "--json"))
    val_loss = next(row for row in data["metrics"] if row["key"] == "val_loss")
    assert val_loss["goal"] == "max" and val_loss["best"] == [a]
    out = cli("runs", "compare", a, b, "--diff-only").stdout
    assert "max_depth" in out
    assert not any(row[0] == "C" for row in table_rows(out))


def test_compare_equal_metrics_have_no_best(cli) -> None:
    ids = []
    for name in ("x", "y"):
        with quiet_run("ties", name) as run:
            run.log_metric("acc", 0.5)
        ids.append(run.id)
    data = json_out(cli("runs", "compare", *ids, "--json"))
    assert data["metrics"] == [
        {"key": "acc", "values": [0.5, 0.5], "differs": False, "goal": "max", "best": []}
    ]
    assert "0.5 (best)" not in cli("runs", "compare", *ids).stdout


def test_compare_needs_two_runs(cli, sample: Sample) -> None:
    result = cli("runs", "compare", sample.baseline.id)
    assert result.exit_code == 2
    assert "at least two runs" in result.output


def test_compare_with_a_missing_run(cli, sample: Sample) -> None:
    assert_one_line_error(cli("runs", "compare", sample.baseline.id, "abcd0000"), "abcd0000")


@pytest.mark.parametrize(
    ("key", "goal"),
    [
        ("f1", "max"),
        ("accuracy", "max"),
        ("roc_auc", "max"),
        ("val_loss", "min"),
        ("logloss", "min"),
        ("rmse", "min"),
        ("mean_absolute_error", "min"),
        ("fit_time", "min"),
        ("neg_mean_squared_error", "max"),
        ("trainloss", "min"),
    ],
)
def test_metric_goal(key: str, goal: str) -> None:
    assert metric_goal(key) == goal
    assert metric_goal(key, maximize=[key]) == "max"
    assert metric_goal(key, minimize=[key]) == "min"
