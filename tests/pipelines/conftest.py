"""Fixtures for pipeline tests: a project folder with a pipelines file, a stand-in for
the governance module, and helpers to run the ``prodline`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from prodline.cli.main import app
from prodline.pipelines import Pipeline, load_pipelines

PRODLINE_SCRIPT = Path(sys.executable).with_name("prodline")

#: load → train → register, on a small synthetic frame; registers model "toy"
TOY = '''
import numpy as np
import pandas as pd

from prodline.pipelines import current_run, pipeline, step


@step
def load(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    return frame


@step
def train(df: pd.DataFrame, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C).fit(df[["a", "b"]], df["y"])
    current_run().log_metric("train_accuracy", model.score(df[["a", "b"]], df["y"]))
    return model


@step
def register(model, df: pd.DataFrame):
    return current_run().log_model(
        model, "toy", train=df, target="y", eval=df, owner="tests", intended_use="tests"
    )


@pipeline(model="toy")
def toy(n: int = 120):
    """Train and register the toy model."""
    df = load(n)
    register(train(df), df)
'''


#: the same shape without registering a model (fast): load → train → score
LIGHT = (
    TOY.replace(
        """@step
def register(model, df: pd.DataFrame):
    return current_run().log_model(
        model, "toy", train=df, target="y", eval=df, owner="tests", intended_use="tests"
    )
""",
        """@step
def score(model, df: pd.DataFrame) -> dict:
    return {"accuracy": float(model.score(df[["a", "b"]], df["y"]))}
""",
    )
    .replace("register(train(df), df)", "score(train(df), df)")
    .replace('@pipeline(model="toy")\ndef toy(', "@pipeline\ndef light(")
    .replace("Train and register", "Train and score")
)


class Project:
    """A working folder holding ``pipelines.py``."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.home = home
        self.file = root / "pipelines.py"

    def write(self, source: str, name: str = "pipelines.py") -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    def load(self) -> dict[str, Pipeline]:
        return load_pipelines(self.file)

    def pipeline(self, name: str) -> Pipeline:
        return self.load()[name]


@pytest.fixture
def project(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return Project(root, isolated_home)


@pytest.fixture(autouse=True)
def no_governance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import prodline.govern`` fail, so results do not depend on whether the
    governance package exists yet; tests of the hook install a stand-in."""
    monkeypatch.setitem(sys.modules, "prodline.govern", None)


@pytest.fixture
def cli() -> Any:
    """``cli("pipelines", "list")`` runs the app in-process."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), prog_name="prodline")

    return invoke


def script_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env["PRODLINE_HOME"] = str(home)
    env["COLUMNS"] = "200"
    return env


def run_script(
    home: Path, cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the installed ``prodline`` script with ``PRODLINE_HOME=home``."""
    return subprocess.run(
        [str(PRODLINE_SCRIPT), *args],
        capture_output=True, text=True, env=script_env(home), cwd=cwd, timeout=timeout,
        check=False,
    )  # fmt: skip


def start_script(home: Path, cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(PRODLINE_SCRIPT), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=script_env(home), cwd=cwd,
    )  # fmt: skip


@pytest.fixture
def toy(project: Project) -> Iterator[Pipeline]:
    project.write(TOY)
    yield project.pipeline("toy")
