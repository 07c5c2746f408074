"""``prodline datasets list / show`` and ``prodline experiments list``."""

from __future__ import annotations

import json

import pandas as pd

import prodline
from tests.cli.conftest import Sample, assert_one_line_error, json_out, quiet_run
from tests.cli.test_cli_runs import row_starting


# ------------------------------------------------------------------------ experiments
def test_experiments_table(cli, sample: Sample) -> None:
    result = cli("experiments", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == "2 experiments"
    churn = row_starting(out, "churn")
    assert churn[2] == "3"
    fraud = row_starting(out, "fraud")
    assert fraud[2] == "1"
    assert fraud[1] == next(e.id for e in prodline.list_experiments() if e.name == "fraud")[:8]


def test_experiments_json(cli, sample: Sample) -> None:
    data = json_out(cli("experiments", "list", "--json"))
    by_name = {e["name"]: e for e in data["experiments"]}
    assert set(by_name) == {"churn", "fraud"}
    assert by_name["churn"]["run_count"] == 3
    assert set(by_name["churn"]) == {"id", "name", "created_at", "run_count", "last_run_at"}


def test_experiments_empty(cli) -> None:
    assert cli("experiments", "list").stdout.strip() == "0 experiments"
    assert json_out(cli("experiments", "list", "--json")) == {"experiments": []}


# --------------------------------------------------------------------------- datasets
def test_datasets_list(cli, sample: Sample) -> None:
    out = cli("datasets", "list").stdout
    assert out.splitlines()[0] == "2 datasets"
    train = row_starting(out, "churn_train")
    assert train[1:6] == [
        "1",
        "5",
        "3",
        "dataframe",
        prodline.get_dataset("churn_train").fingerprint[:12],
    ]
    assert row_starting(out, "churn_eval")[1:4] == ["1", "3", "3"]
    data = json_out(cli("datasets", "list", "--json"))
    assert [d["name"] for d in data["datasets"]] == ["churn_eval", "churn_train"]
    assert data["datasets"][1]["n_rows"] == 5


def test_datasets_list_empty(cli) -> None:
    assert cli("datasets", "list").stdout.strip() == "0 datasets"
    assert json_out(cli("datasets", "list", "--json")) == {"datasets": []}


def test_dataset_show(cli, sample: Sample) -> None:
    result = cli("datasets", "show", "churn_train")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert row_starting(out, "rows") == ["rows", "5"]
    assert row_starting(out, "source kind") == ["source kind", "dataframe"]
    # schema: column, dtype, kind, nullable, min, max, categories
    assert row_starting(out, "tenure", "float64") == [
        "tenure", "float64", "float", "yes", "1", "30", "-",
    ]  # fmt: skip
    plan_dtype = prodline.get_dataset("churn_train").schema["plan"].dtype
    plan = row_starting(out, "plan", plan_dtype)
    assert plan[2:4] == ["categorical", "no"]
    assert plan[-1] == "basic, pro, team"
    # profile: column, kind, count, missing, mean, std, min, median, max, unique, top
    tenure = row_starting(out, "tenure", "float", "4")
    assert tenure[3] == "20.0%"
    assert tenure[4] == "12"  # mean of 1, 5, 12, 30
    top = row_starting(out, "plan", "categorical", "5")[-1]
    assert sorted(top.split(", ")) == ["basic (2)", "pro (2)", "team (1)"]
    assert "Used by 2 runs" in out
    for run, name in ((sample.baseline, "baseline"), (sample.deeper, "deeper")):
        assert row_starting(out, run.id[:8])[1:5] == ["train", "churn", name, "finished"]


def test_dataset_show_json(cli, sample: Sample) -> None:
    data = json_out(cli("datasets", "show", "churn_train", "--json"))
    record = prodline.get_dataset("churn_train").record
    assert data == json.loads(json.dumps(record.to_dict()))
    assert [(use["run_id"], use["role"]) for use in data["used_by"]] == [
        (sample.baseline.id, "train"),
        (sample.deeper.id, "train"),
    ]
    assert [c["name"] for c in data["schema"]["columns"]] == ["tenure", "plan", "monthly"]


def test_dataset_show_version(cli, sample: Sample) -> None:
    bigger = pd.concat([sample.frame, sample.frame], ignore_index=True)
    with quiet_run("churn", "more-data") as run:
        run.log_dataset(bigger, name="churn_train", role="train")
    latest = json_out(cli("datasets", "show", "churn_train", "--json"))
    assert (latest["version"], latest["n_rows"]) == (2, 10)
    first = json_out(cli("datasets", "show", "churn_train", "--version", "1", "--json"))
    assert (first["version"], first["n_rows"]) == (1, 5)
    out = cli("datasets", "show", "churn_train", "-v", "2").stdout
    assert row_starting(out, "version") == ["version", "2"]
    assert "Used by 1 run" in out
    assert row_starting(out, run.id[:8])[1:3] == ["train", "churn"]


def test_dataset_show_missing(cli, sample: Sample) -> None:
    assert_one_line_error(
        cli("datasets", "show", "nope"),
        "No dataset 'nope'. Known datasets: churn_eval, churn_train.",
    )
    assert_one_line_error(cli("datasets", "show", "churn_train", "--version", "9"), "version 9")
    assert_one_line_error(cli("datasets", "show", "nope", "--json"), "No dataset 'nope'")
