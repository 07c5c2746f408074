"""The app itself: help, version, global options, error handling, the installed script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import prodline
from tests.cli.conftest import (
    PRODLINE_SCRIPT,
    Sample,
    assert_one_line_error,
    json_out,
    run_script,
)

COMMANDS = [
    ("experiments", "list"),
    ("runs", "list"),
    ("runs", "show"),
    ("runs", "compare"),
    ("runs", "reproduce"),
    ("datasets", "list"),
    ("datasets", "show"),
]


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"prodline {prodline.__version__}"


def test_help_lists_the_command_groups(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("experiments", "runs", "datasets", "--store-url", "--home", "--artifacts-url"):
        assert group in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(cli, command: tuple[str, str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert f"prodline {' '.join(command)}" in result.stdout
    if command[1] != "reproduce":
        assert "--json" in result.stdout


def test_no_arguments_prints_help(cli) -> None:
    result = cli("runs")
    assert "list" in result.output and "compare" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "show"),  # missing RUN
        ("runs", "list", "--no-such-option"),
        ("runs", "list", "--limit", "0"),
        ("runs", "frobnicate"),
        ("datasets", "show", "x", "--version", "zero"),
    ],
)
def test_usage_errors_exit_2(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_home_option_points_at_another_store(cli, sample: Sample, tmp_path: Path) -> None:
    assert len(json_out(cli("runs", "list", "--json"))["runs"]) == 4
    other = tmp_path / "elsewhere"
    assert json_out(cli("--home", str(other), "runs", "list", "--json"))["runs"] == []
    assert (other / "prodline.db").is_file()


def test_store_url_option(cli, sample: Sample, isolated_home: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{isolated_home / 'prodline.db'}"
    runs = json_out(
        cli("--home", str(tmp_path / "h2"), "--store-url", url, "runs", "list", "--json")
    )
    assert {run["name"] for run in runs["runs"]} == {"baseline", "deeper", "broken", "f-1"}


def test_bad_store_url_is_a_one_line_error(cli) -> None:
    result = cli("--store-url", "nosuchdb://host/x", "runs", "list")
    assert_one_line_error(result, "nosuchdb")


def test_cli_import_is_light() -> None:
    """``prodline --help`` must not load pandas, SQLAlchemy or the store."""
    code = (
        "import sys\n"
        "from prodline.cli.main import app\n"
        "heavy = [m for m in ('pandas', 'sqlalchemy', 'numpy', 'prodline.store.store') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# --- the installed console script, as a user runs it ---------------------------------
def test_script_lists_runs_as_json(sample: Sample, isolated_home: Path) -> None:
    assert PRODLINE_SCRIPT.is_file()
    done = run_script(isolated_home, "runs", "list", "--json", "-o", "metrics.f1 DESC")
    assert done.returncode == 0, done.stderr
    names = [run["name"] for run in json.loads(done.stdout)["runs"]]
    assert names[:2] == ["deeper", "baseline"]
    assert sorted(names[2:]) == ["broken", "f-1"]


def test_script_shows_a_table(sample: Sample, isolated_home: Path) -> None:
    done = run_script(isolated_home, "runs", "show", sample.baseline.id[:6])
    assert done.returncode == 0, done.stderr
    assert sample.baseline.id in done.stdout
    assert "max_depth" in done.stdout and "churn_train" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour codes when piped


def test_script_missing_run_exits_2_with_one_line(sample: Sample, isolated_home: Path) -> None:
    done = run_script(isolated_home, "runs", "show", "ffffffff")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: No run whose id starts with 'ffffffff'. See `prodline runs list`."
    ]


def test_script_bad_filter_exits_2(sample: Sample, isolated_home: Path) -> None:
    done = run_script(isolated_home, "runs", "list", "-f", "metrics.f1 >> 2")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_script_version_and_home_option(tmp_path: Path) -> None:
    done = run_script(tmp_path / "unused", "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"prodline {prodline.__version__}"
    other = tmp_path / "other-home"
    done = run_script(tmp_path / "unused", "--home", str(other), "experiments", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"experiments": []}
    assert (other / "prodline.db").is_file()
    assert not (tmp_path / "unused").exists()


def test_docs_cover_every_command_and_option() -> None:
    """docs/cli.md has a section per command and mentions each of its options."""
    import typer.main

    from prodline.cli.main import app

    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    root = typer.main.get_command(app)
    for option in (o for p in root.params for o in p.opts if o.startswith("--")):
        assert f"`{option}" in docs, option
    for group_name, group in root.commands.items():
        commands = getattr(group, "commands", None) or {"": group}
        for command_name, command in commands.items():
            title = f"prodline {group_name} {command_name}".rstrip()
            assert f"## `{title}" in docs, title
            for param in command.params:
                for option in param.opts:
                    if option.startswith("-") and option not in ("--help", "-h"):
                        assert f"`{option}" in docs or f", {option}" in docs, option
