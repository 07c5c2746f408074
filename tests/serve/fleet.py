"""The registered models the serving tests run against, and the data they came from.

``cancer`` (six numeric breast-cancer features):
  v1 random forest (production), v2 logistic regression (staging), v3 a second forest,
  v4 :class:`~tests.serve.custom_models.Quirky` (slow, fails on a negative first feature).
``shop`` (mixed types: integer tenure, categorical plan, nullable float monthly):
  v1 one-hot + logistic regression pipeline (production).

Building takes a while (each version is packaged, verified and timed), so the home is
built once and cached between test sessions, keyed by the sources it depends on.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
CANCER_FEATURES = [
    "mean_radius", "mean_texture", "mean_perimeter", "mean_area", "mean_smoothness",
    "mean_compactness",
]  # fmt: skip
TRUST = "tests.serve.custom_models.Quirky"
# What the packaged files depend on. A store or registry change does not invalidate the
# cache: the store migrates itself when it is opened.
_SOURCES = ("prodline/models", "prodline/contract")


def cancer_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame = frame[[*CANCER_FEATURES, "target"]]
    return train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])


def shop_frame(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    plan = rng.choice(["basic", "pro", "team"], n)
    monthly = np.round(rng.uniform(5, 120, n), 2)
    monthly[rng.random(n) < 0.1] = np.nan
    score = -tenure / 20 + (plan == "basic") * 1.5 + rng.normal(0, 0.5, n)
    return pd.DataFrame(
        {"tenure": tenure, "plan": plan, "monthly": monthly, "churn": (score > 0).astype(int)}
    )


def fleet_key() -> str:
    """Changes when any source the packaged models depend on changes."""
    import sklearn

    digest = hashlib.sha256(sklearn.__version__.encode())
    for folder in _SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    for name in ("fleet.py", "custom_models.py"):
        digest.update((ROOT / "tests" / "serve" / name).read_bytes())
    return digest.hexdigest()[:16]


def build_fleet(home: Path) -> None:
    """Register every test model into a new prodline home at ``home``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import prodline
    from prodline import _context
    from tests.serve.custom_models import Quirky

    prodline.init(home=home)
    try:
        train, test = cancer_frames()
        X, y = train.drop(columns="target"), train["target"]
        evaluation = (test.drop(columns="target"), test["target"])
        cancer = [
            RandomForestClassifier(n_estimators=10, random_state=0),
            make_pipeline(StandardScaler(), LogisticRegression()),
            RandomForestClassifier(n_estimators=12, random_state=1),
            Quirky(delay=0.25, fail_below=0.0),
        ]
        for estimator in cancer:
            extra = (Quirky,) if isinstance(estimator, Quirky) else ()
            with prodline.start_run(
                experiment="serve-tests", capture_code=False, capture_environment=False
            ) as run:
                run.log_model(
                    estimator.fit(X, y), "cancer", train=train, target="target", eval=evaluation,
                    owner="serve-tests@example.com", intended_use="serving tests",
                    extra_trusted=extra,
                )  # fmt: skip
        prodline.set_alias("cancer", "production", 1, reason="tests")
        prodline.set_alias("cancer", "staging", 2, reason="tests")

        shop = shop_frame()
        shop_train, shop_test = shop.iloc[:300], shop.iloc[300:]
        pipeline = make_pipeline(
            ColumnTransformer(
                [
                    ("num", SimpleImputer(), ["tenure", "monthly"]),
                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                ]
            ),
            LogisticRegression(),
        )
        pipeline.fit(shop_train.drop(columns="churn"), shop_train["churn"])
        with prodline.start_run(
            experiment="serve-tests", capture_code=False, capture_environment=False
        ) as run:
            run.log_model(
                pipeline, "shop", train=shop_train, target="churn",
                eval=(shop_test.drop(columns="churn"), shop_test["churn"]),
                owner="serve-tests@example.com", intended_use="serving tests",
            )  # fmt: skip
        prodline.set_alias("shop", "production", 1, reason="tests")
        for name, version in (("cancer", 1), ("cancer", 2), ("cancer", 3), ("shop", 1)):
            prodline.load_model(f"{name}/{version}")  # fill the local model cache
        prodline.load_model("cancer/4", extra_trusted=(TRUST,))
    finally:
        _context.reset()
        prodline.init()


def cached_fleet(cache_root: Path) -> Path:
    """The fleet home, built on first use and reused while its sources are unchanged
    (safe with several test sessions at once: each builds aside, the first rename wins)."""
    import os
    import time

    key = fleet_key()
    ready = cache_root / key
    if (ready / "DONE").is_file():
        return ready / "home"
    cache_root.mkdir(parents=True, exist_ok=True)
    for old in cache_root.iterdir():  # other keys, unused for a day
        if old.name != key and time.time() - old.stat().st_mtime > 86_400:
            shutil.rmtree(old, ignore_errors=True)
    scratch = cache_root / f".{key}.{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    build_fleet(scratch / "home")
    (scratch / "DONE").write_text(key)
    try:
        scratch.rename(ready)
    except OSError:  # another session finished first
        shutil.rmtree(scratch, ignore_errors=True)
    return ready / "home"
