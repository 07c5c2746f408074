"""Real models on real data, packaged and contracted once per session.

Five cases cover the three tasks, both serving paths, every way to pass a package
(LoadedPackage, PackageManifest, directory) and models with and without
predict_proba:

- ``cancer``: breast cancer, StandardScaler + LogisticRegression, binary; full latency.
- ``mixed``: a mixed-type frame (numbers with gaps, text with gaps, a category column),
  Pipeline(ColumnTransformer) + LogisticRegression, three string classes.
- ``diabetes``: RandomForestRegressor.
- ``clusters``: iris, StandardScaler + KMeans(3), no target; package as a directory.
- ``noproba``: iris, RidgeClassifier (no predict_proba); package as its manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

from prodline.contract import Contract, build_contract  # noqa: E402

CASES = ("cancer", "mixed", "diabetes", "clusters", "noproba")
FAST_LATENCY = {"latency_calls": 20, "latency_batches": 3, "latency_rows": 200}


@dataclass
class Case:
    name: str
    estimator: Any
    train: pd.DataFrame  # inputs + target
    target: str | None
    X_train: pd.DataFrame
    X_eval: pd.DataFrame
    y_eval: Any
    package: Any  # what was passed to build_contract
    directory: Path
    contract: Contract


def make_mixed_frame(n: int = 450, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with gaps, a text column with gaps, a category column; three classes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.lognormal(10, 0.5, n).round(2),
            "tenure years": rng.normal(5, 2, n).round(1),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": pd.Categorical(rng.choice(["basic", "pro", "team"], n)),
        }
    )
    frame.loc[::11, "tenure years"] = np.nan
    frame["city"] = frame["city"].astype(object)
    frame.loc[::13, "city"] = None
    score = (
        0.03 * frame["age"]
        + 0.2 * frame["tenure years"].fillna(5)
        + (frame["city"] == "paris") * 1.0
        + (frame["plan"] == "pro") * 1.0
        + rng.normal(0, 0.6, n)
    )
    label = np.where(
        score < score.quantile(0.33), "low", np.where(score < score.quantile(0.66), "mid", "high")
    )
    return frame, label


def mixed_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(), StandardScaler()),
                ["age", "income", "tenure years"],
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])


@pytest.fixture(autouse=True, scope="session")
def _one_native_thread() -> Any:
    """OpenMP start-up dominates fits this small: run them on one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def packages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract-packages")


def _split(X: pd.DataFrame, y: Any, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=0.3, random_state=seed)


def _build(
    name: str,
    estimator: Any,
    X: pd.DataFrame,
    y: Any,
    packages_dir: Path,
    *,
    target: str | None = "target",
    package_as: str = "loaded",
    **kwargs: Any,
) -> Case:
    from prodline.models import read_package, write_package

    if y is None:
        X_train, X_eval = _split(X, np.zeros(len(X)))[0:2]
        y_train = y_eval = None
        estimator.fit(X_train)
        train = X_train
    else:
        X_train, X_eval, y_train, y_eval = _split(X, y)
        estimator.fit(X_train, y_train)
        train = X_train.assign(**{target: np.asarray(y_train)})
    directory = packages_dir / name
    manifest = write_package(estimator, directory, X_verify=X_eval)
    package: Any = {
        "loaded": lambda: read_package(directory),
        "manifest": lambda: manifest,
        "directory": lambda: str(directory),
    }[package_as]()
    contract = build_contract(
        estimator,
        train=train,
        target=target,
        eval=(X_eval, y_eval),
        package=package,
        owner="risk-team@example.com",
        intended_use=f"{name}: tests of the handover contract",
        datasets={"train": {"name": f"{name}-train", "version": 1}},
        code={"run_id": f"run-{name}", "git_commit": "0" * 40, "entrypoint": "train.py"},
        **kwargs,
    )
    return Case(
        name, estimator, train, target, X_train, X_eval, y_eval, package, directory, contract
    )


@pytest.fixture(scope="session")
def cancer(packages_dir: Path) -> Case:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return _build("cancer", model, X, y, packages_dir)  # default latency settings


@pytest.fixture(scope="session")
def mixed(packages_dir: Path) -> Case:
    X, y = make_mixed_frame()
    return _build("mixed", mixed_pipeline(), X, y, packages_dir, target="label", **FAST_LATENCY)


@pytest.fixture(scope="session")
def diabetes(packages_dir: Path) -> Case:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = RandomForestRegressor(n_estimators=20, max_depth=5, random_state=0)
    return _build("diabetes", model, X, y, packages_dir, target="progression", **FAST_LATENCY)


@pytest.fixture(scope="session")
def clusters(packages_dir: Path) -> Case:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = load_iris(as_frame=True).data
    model = make_pipeline(StandardScaler(), KMeans(n_clusters=3, n_init=3, random_state=0))
    return _build(
        "clusters",
        model,
        X,
        None,
        packages_dir,
        target=None,
        package_as="directory",
        **FAST_LATENCY,
    )


@pytest.fixture(scope="session")
def noproba(packages_dir: Path) -> Case:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import RidgeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    return _build(
        "noproba",
        RidgeClassifier(),
        X,
        y,
        packages_dir,
        target="species",
        package_as="manifest",
        **FAST_LATENCY,
    )


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue(request.param)
