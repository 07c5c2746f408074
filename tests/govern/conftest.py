"""Real registered models for the governance tests, built once per session in a template
home and copied into each test's own home (registering a model takes seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prodline
from prodline import _context
from tests.govern._helpers import register_real


@pytest.fixture(scope="session")
def cancer() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Breast-cancer data with a ``region`` column (0, 1, 2), split 70/30."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "region", np.random.default_rng(0).integers(0, 3, len(frame)))
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])


@pytest.fixture(scope="session")
def real_template(tmp_path_factory: pytest.TempPathFactory, cancer) -> Path:
    """A home holding model ``cancer``: v1 a scaled logistic regression (good everywhere),
    v2 a tree trained with region 2's labels flipped (bad on region 2 only)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    home = tmp_path_factory.mktemp("govern-template") / "home"
    train, test = cancer
    X, y = train.drop(columns="target"), train["target"]
    prodline.init(home=home)
    try:
        good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
        register_real(good, "cancer", train, test)
        flipped = y.where(train["region"] != 2, 1 - y)
        skewed = DecisionTreeClassifier(max_depth=8, random_state=0).fit(X, flipped)
        register_real(skewed, "cancer", train, test)
    finally:
        _context.reset()
        prodline.init()
    return home


@pytest.fixture
def real_home(real_template: Path, isolated_home: Path) -> Path:
    """This test's home, holding a copy of the template's store and artifacts."""
    _context.reset()
    shutil.copytree(real_template, isolated_home, dirs_exist_ok=True)
    prodline.init(home=isolated_home)
    return isolated_home
