"""The Run API end to end through ``prodline``: the issue's example and its bad inputs."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import prodline  # noqa: E402
from prodline import _context  # noqa: E402
from prodline.errors import (  # noqa: E402
    ArtifactError,
    DataSourceError,
    ImmutableValueError,
    InvalidValueError,
    RunStateError,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"tenure": [1, 5, 12, 30], "plan": ["a", "b", "a", "c"], "churned": [1, 0, 0, 1]}
    )


def test_issue_example_end_to_end(use_store: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("<h1>report</h1>")
    figure, axes = plt.subplots()
    axes.plot([0, 1], [0, 1])
    with prodline.start_run(experiment="churn") as run:
        train = run.log_dataset(frame, name="train", role="train")
        run.log_params({"C": 1.0, "max_depth": 6})
        for epoch, loss in enumerate([0.9, 0.5, 0.3]):
            run.log_metric("loss", loss, step=epoch)
        run.log_metrics({"f1": 0.91, "auc": 0.95})
        run.log_figure(figure, "roc.png")
        run.log_artifact(report)
    plt.close(figure)
    assert run.status == "finished"
    [found] = prodline.search_runs(
        "churn", filter="metrics.f1 > 0.9 and params.max_depth = '6'", order_by=["metrics.f1 DESC"]
    )
    record = prodline.get_run(found.id[:8])
    assert record.status == "finished" and record.end_time is not None
    assert record.params == {"C": "1.0", "max_depth": "6"}
    assert record.metrics == {"auc": 0.95, "f1": 0.91, "loss": 0.3}
    paths = {a.path for a in record.artifacts}
    assert {"roc.png", "report.html"} <= paths
    png = next(a for a in record.artifacts if a.path == "roc.png")
    assert _context.artifacts().get_bytes(png.digest)[:8] == b"\x89PNG\r\n\x1a\n"
    [used] = record.datasets
    assert (used.name, used.role, used.n_rows, used.fingerprint) == (
        "train", "train", 4, train.fingerprint
    )  # fmt: skip
    assert record.environment["python"] and "pandas" in record.environment["packages"]
    assert record.code["kind"] in ("script", "interactive")


def test_exception_inside_with_marks_the_run_failed_with_traceback(use_store: str) -> None:
    with pytest.raises(ZeroDivisionError):
        with prodline.start_run(experiment="x") as run:
            run.log_metric("before", 1.0)
            1 / 0  # noqa: B018
    record = prodline.get_run(run.id)
    assert record.status == "failed"
    assert "ZeroDivisionError" in record.error and "Traceback" in record.error
    assert record.metrics == {"before": 1.0}


def test_steps_default_to_a_counter_per_key(use_store: str) -> None:
    with prodline.start_run() as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metrics({"acc": 0.1})
        run.log_metrics({"acc": 0.2})
    store = _context.store()
    assert [p.step for p in store.metric_history(run.id, "loss")] == [0, 1, 2]
    assert [p.step for p in store.metric_history(run.id, "acc")] == [0, 1]


def test_a_run_used_after_it_ended_is_refused(use_store: str) -> None:
    with prodline.start_run() as run:
        pass
    for call in (
        lambda: run.log_metric("m", 1.0),
        lambda: run.log_params({"a": 1}),
        lambda: run.set_tag("t", "v"),
        lambda: run.log_text("x", "x.txt"),
        lambda: run.end(),
    ):
        with pytest.raises(RunStateError, match="has ended"):
            call()
    assert prodline.active_run() is None


def test_param_logged_twice_with_a_different_value(use_store: str) -> None:
    with prodline.start_run() as run:
        run.log_param("C", 1.0)
        with pytest.raises(ImmutableValueError):
            run.log_param("C", 2.0)
    assert prodline.get_run(run.id).params == {"C": "1.0"}


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "a/../../b", "~/x", "c:\\x", ""])
def test_artifact_paths_that_escape_the_run_are_refused(use_store: str, path: str) -> None:
    with prodline.start_run() as run:
        with pytest.raises(ArtifactError):
            run.log_text("data", path)
    assert [a for a in prodline.get_run(run.id).artifacts if not a.path.startswith("code/")] == []


def test_missing_artifact_file(use_store: str, tmp_path: Path) -> None:
    with prodline.start_run() as run:
        with pytest.raises(ArtifactError, match="does not exist"):
            run.log_artifact(tmp_path / "nope.txt")


def test_nan_metric_is_stored_and_read_back_as_nan(use_store: str) -> None:
    with prodline.start_run() as run:
        run.log_metric("loss", float("nan"))
    assert math.isnan(prodline.get_run(run.id).metrics["loss"])


def test_wrong_metric_type(use_store: str) -> None:
    with prodline.start_run() as run:
        with pytest.raises(InvalidValueError, match="real number"):
            run.log_metric("loss", "low")
        with pytest.raises(InvalidValueError):
            run.log_metrics([("loss", 1.0)])  # type: ignore[arg-type]


def test_datasets_from_files_and_sql_are_snapshotted_once(
    use_store: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    csv = tmp_path / "train.csv"
    frame.to_csv(csv, index=False)
    database = tmp_path / "warehouse.db"
    with sqlite3.connect(database) as conn:
        frame.to_sql("customers", conn, index=False)
    with prodline.start_run() as run:
        from_csv = run.log_dataset(str(csv), name="customers", role="train")
        again = run.log_dataset(str(csv), name="customers", role="eval")
        from_sql = run.log_dataset(
            query="SELECT * FROM customers WHERE tenure > 2",
            url=f"sqlite:///{database}",
            name="recent",
            role="test",
        )
    assert again.id == from_csv.id and again.version == 1  # same content: stored once
    assert from_csv.source["kind"] == "csv" and from_csv.source["location"] == str(csv)
    assert from_sql.source["kind"] == "sql" and "tenure > 2" in from_sql.source["query"]
    assert len(from_sql.frame) == 3
    stored = prodline.get_dataset("customers")
    assert [(u.run_id, u.role) for u in stored.record.used_by] == [
        (run.id, "train"), (run.id, "eval")
    ]  # fmt: skip
    pd.testing.assert_frame_equal(stored.frame, pd.read_csv(csv))
    frame.loc[0, "tenure"] = 99
    frame.to_csv(csv, index=False)
    with prodline.start_run() as run2:
        changed = run2.log_dataset(str(csv), name="customers")
    assert changed.version == 2 and changed.fingerprint != from_csv.fingerprint


def test_dataset_source_errors_leave_the_run_clean(use_store: str, tmp_path: Path) -> None:
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b'a,b\n1,2\n\xff\xfe,\x00"unterminated\n')
    with prodline.start_run() as run:
        with pytest.raises(DataSourceError):
            run.log_dataset(str(tmp_path / "missing.csv"), name="x")
        with pytest.raises(DataSourceError):
            run.log_dataset(
                query="SELECT * FROM nowhere", url=f"sqlite:///{tmp_path}/e.db", name="x"
            )
    record = prodline.get_run(run.id)
    assert record.datasets == [] and record.status == "finished"
    assert prodline.list_datasets() == []


def test_runs_in_a_fresh_folder_need_no_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prodline.init()  # defaults: ./.prodline
    with prodline.start_run(experiment="first") as run:
        run.log_metric("m", 1.0)
        run.log_text("hello", "hello.txt")
    assert (tmp_path / ".prodline" / "prodline.db").is_file()
    assert (tmp_path / ".prodline" / "artifacts").is_dir()
