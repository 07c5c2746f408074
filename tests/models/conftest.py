"""Small real data sets for the model package tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

ONNX_INSTALLED = find_spec("skl2onnx") is not None and find_spec("onnxruntime") is not None


@pytest.fixture
def onnx_tools() -> None:
    """Skip a test that is about the ONNX twin when its optional tools are missing."""
    if not ONNX_INSTALLED:
        pytest.skip("skl2onnx and onnxruntime are not installed (the ONNX twin is optional)")


@dataclass
class Split:
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any


def _split(X: Any, y: Any, seed: int = 0) -> Split:
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
    return Split(X_train, X_test, y_train, y_test)


@pytest.fixture(scope="session")
def cancer() -> Split:
    """Binary classification, 30 numeric features, plain arrays."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return _split(X, y)


@pytest.fixture(scope="session")
def cancer_frame() -> Split:
    """The same data as a DataFrame with named numeric columns."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return _split(X, y)


@pytest.fixture(scope="session")
def iris() -> Split:
    """Three classes, four numeric features."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return _split(X, y)


@pytest.fixture(scope="session")
def diabetes() -> Split:
    """Regression, ten numeric features."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return _split(X, y)


def make_mixed_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric columns with gaps, a string column with gaps, a category column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age years": rng.normal(40, 12, n).round(1),
            "income": rng.lognormal(10, 0.5, n).round(2),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        }
    )
    frame.loc[::9, "age years"] = np.nan
    frame.loc[::13, "city"] = None
    score = (
        0.04 * frame["age years"].fillna(40)
        + (frame["city"] == "paris") * 1.5
        + (frame["plan"] == "pro") * 1.0
        + rng.normal(0, 0.5, n)
    )
    label = np.where(score > score.median(), "churn", "stay")
    return frame, label


@pytest.fixture(scope="session")
def mixed() -> Split:
    frame, label = make_mixed_frame()
    return _split(frame, label)


@pytest.fixture
def mixed_pipeline() -> Any:
    """An unfitted Pipeline(ColumnTransformer(impute+scale, one-hot) -> LogisticRegression)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age years", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])


@pytest.fixture(autouse=True, scope="session")
def _one_native_thread() -> Any:
    """OpenMP start-up dominates fits this small on two cores: run them on one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
