"""``prodline monitor``: MODEL (show), check and compare, for people and with --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from prodline import _context
from prodline.cli.main import app
from tests.monitor.conftest import MODEL, Registry, sample, serve_rows


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="prodline")


def one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def logged(registry: Registry) -> Registry:
    """Today's traffic (from a few minutes ago), with one feature shifted."""
    import time

    store = _context.store()
    now = int(time.time() * 1000)
    X = sample(registry.features, 400, seed=1)
    X["mean_texture"] = X["mean_texture"] + 8
    rows = serve_rows(registry.champion, X, version=1, start_ms=now - 400 * 1000)
    store.log_predictions(rows)
    store.log_feedback(MODEL, [(r["request_id"], r["outputs"]["prediction"]) for r in rows])
    return registry


def test_monitor_model_prints_the_drift_table_and_performance(logged: Registry) -> None:
    result = cli("monitor", MODEL)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "cancer v1 · window 1d" in out and "400 rows" in out
    assert "Features" in out and "mean_texture" in out and "drift" in out
    assert "Predictions" in out and "proba_1" in out
    assert "Performance (400 of 400 rows labelled)" in out and "accuracy" in out
    assert "Operations" in out and "latency" in out
    # the same through the explicit command, options before the model, and as JSON
    assert cli("monitor", "show", MODEL).exit_code == 0
    assert cli("monitor", "--window", "100rows", MODEL).exit_code == 0
    data = json.loads(cli("monitor", MODEL, "--window", "100rows", "--json").stdout)
    assert data["n_rows"] == 100 and data["window"] == "100rows"
    assert data["drifted_columns"] == ["mean_texture"]
    assert data["versions"][0]["performance"]["metrics"]["accuracy"] == 1.0


def test_monitor_report_option_writes_html(logged: Registry, tmp_path: Path) -> None:
    target = tmp_path / "out" / "drift.html"
    result = cli("monitor", MODEL, "--since", "1d", "--report", str(target))
    assert result.exit_code == 0, result.output
    assert f"report written to {target}" in result.stdout
    assert "<svg" in target.read_text()


def test_check_exits_1_when_an_alert_fires(
    logged: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    policy = tmp_path / "policies" / f"{MODEL}.yaml"
    policy.write_text("monitor:\n  alerts:\n    - features: [mean_texture]\n")
    result = cli("monitor", "check", MODEL)
    assert result.exit_code == 1, result.output
    assert "FIRED" in result.stdout and "mean_texture" in result.stdout
    data = json.loads(cli("monitor", "check", MODEL, "--json").stdout)
    assert data["fired"] == ["features-1"] and data["ok"] is False
    policy.write_text("monitor:\n  alerts:\n    - features: [mean_radius]\n")
    quiet = cli("monitor", "check", MODEL)
    assert quiet.exit_code == 0 and "no alert" in quiet.stdout


def test_compare_two_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b"], 3000)})
    cur = pd.DataFrame({"x": rng.normal(1, 1, 3000), "c": rng.choice(["a", "b"], 3000)})
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    args = ("monitor", "compare", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.csv"))
    result = cli(*args, "--report", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert "x" in result.stdout and "DATASET DRIFT" in result.stdout
    assert (tmp_path / "r.html").exists()
    data = json.loads(cli(*args, "--json").stdout)
    assert data["drifted_columns"] == ["x"] and "plot" not in data["columns"][0]
    relaxed = json.loads(cli(*args, "-t", "x.wasserstein=5", "-t", "x.psi=9", "--json").stdout)
    assert relaxed["drifted_columns"] == []
    assert cli(*args, "--fail-on-drift").exit_code == 1


def test_errors_are_one_line(registry: Registry, tmp_path: Path) -> None:
    one_line_error(cli("monitor", "nosuch"), "No registered model 'nosuch'")
    one_line_error(cli("monitor", MODEL, "--window", "fortnight"), "window 'fortnight'")
    one_line_error(cli("monitor", MODEL, "--since", "last tuesday"), "since 'last tuesday'")
    one_line_error(
        cli("monitor", "compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")),
        "does not exist",
    )
    one_line_error(
        cli("monitor", "check", MODEL, "--policy", str(tmp_path / "none.yaml")), "does not exist"
    )


def test_help_shows_the_model_shortcut_and_examples() -> None:
    result = cli("monitor", "--help")
    assert result.exit_code == 0
    assert "MODEL [OPTIONS] | COMMAND" in result.stdout
    for command in ("show", "check", "compare"):
        assert command in result.stdout
        sub = cli("monitor", command, "--help")
        assert sub.exit_code == 0 and "Example" in sub.stdout
        assert f"prodline monitor {'' if command == 'show' else command}".strip() in sub.stdout
