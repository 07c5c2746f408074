"""Batch scoring of CSV and Parquet files, in chunks, checked against the contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import prodline
from prodline.cli.main import app
from prodline.errors import ContractViolationError, DataSourceError, InvalidValueError
from prodline.serve.score import score_file
from tests.serve.fleet import CANCER_FEATURES, cancer_frames, shop_frame


@pytest.fixture
def cancer_input(home, tmp_path) -> pd.DataFrame:
    _, test = cancer_frames()
    frame = test[CANCER_FEATURES].reset_index(drop=True)
    frame.insert(0, "patient", [f"p{i}" for i in range(len(frame))])
    return frame


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="prodline")


@pytest.mark.parametrize(
    ("source", "target"),
    [("csv", "parquet"), ("parquet", "csv"), ("csv", "csv"), ("parquet", "parquet")],
)
def test_scores_every_row_in_chunks_like_the_model(home, tmp_path, cancer_input, source,
                                                   target) -> None:  # fmt: skip
    path = tmp_path / f"in.{source}"
    if source == "csv":
        cancer_input.to_csv(path, index=False)
    else:
        cancer_input.to_parquet(path, index=False)
    out = tmp_path / f"scored.{target}"
    result = _cli("--home", str(home), "score", "cancer", str(path), "-o", str(out),
                  "--chunk-size", "40")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"scored {len(cancer_input):,} rows with cancer/1" in result.stdout
    scored = pd.read_parquet(out) if target == "parquet" else pd.read_csv(out)
    assert list(scored.columns) == [*cancer_input.columns, "prediction", "proba_0", "proba_1"]
    assert scored["patient"].tolist() == cancer_input["patient"].tolist()
    model = prodline.load_model("cancer/1")
    np.testing.assert_array_equal(scored["prediction"], model.predict(cancer_input))
    np.testing.assert_allclose(scored[["proba_0", "proba_1"]], model.predict_proba(cancer_input),
                               atol=1e-5)  # fmt: skip


def test_mixed_types_and_missing_values_from_csv(home, tmp_path) -> None:
    frame = shop_frame(120, seed=3).drop(columns="churn")
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    summary = score_file("shop", path, tmp_path / "out.parquet", chunk_rows=50, proba=False)
    assert (summary.rows, summary.chunks) == (120, 3)
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert "proba_0" not in scored.columns
    model = prodline.load_model("shop")
    np.testing.assert_array_equal(scored["prediction"], model.predict(frame))


def test_a_contract_violation_stops_the_job_and_writes_nothing(
    home, tmp_path, cancer_input
) -> None:
    bad = cancer_input.copy()
    bad.loc[57, "mean_texture"] = None  # in the second chunk of 40
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path, index=False)
    out = tmp_path / "out.parquet"
    with pytest.raises(ContractViolationError) as caught:
        score_file("cancer", path, out, chunk_rows=40)
    violation = caught.value.report.violations[0]
    assert (violation.column, violation.problem, violation.rows) == (
        "mean_texture", "null_not_allowed", [57],
    )  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob(".out.parquet*"))
    result = _cli("--home", str(home), "score", "cancer", str(path), "-o", str(out))
    assert result.exit_code == 2
    assert "mean_texture" in result.stderr and "row 57" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_or_misnamed_files(home, tmp_path, cancer_input) -> None:
    with pytest.raises(InvalidValueError, match=".csv or .parquet"):
        score_file("cancer", tmp_path / "in.xlsx", tmp_path / "out.csv")
    with pytest.raises(DataSourceError, match="does not exist"):
        score_file("cancer", tmp_path / "none.csv", tmp_path / "out.csv")
    text = tmp_path / "text.csv"
    frame = cancer_input.astype({"mean_radius": object})
    frame.loc[3, "mean_radius"] = "huge"
    frame.to_csv(text, index=False)
    with pytest.raises(DataSourceError, match="mean_radius|huge"):
        score_file("cancer", text, tmp_path / "out.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(CANCER_FEATURES) + "\n")
    with pytest.raises(InvalidValueError, match="no rows"):
        score_file("cancer", empty, tmp_path / "out.csv")


def test_score_json_summary(home, tmp_path, cancer_input) -> None:
    path = tmp_path / "in.parquet"
    cancer_input.to_parquet(path, index=False)
    result = _cli("--home", str(home), "score", "cancer@staging", str(path), "-o",
                  str(tmp_path / "o.parquet"), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ref"] == "cancer/2" and summary["rows"] == len(cancer_input)
