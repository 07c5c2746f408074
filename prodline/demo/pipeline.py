"""The demo's retraining pipeline: refit the production recipe on the newer data.

``retrain_on=["drift"]``: monitoring's retrain requests start it (through
``prodline pipelines watch`` or ``Watcher.tick()``); after the steps, prodline governs
the new version with the model's policy, and running servers hot-reload on promotion.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import prodline
from prodline.demo.data import SEED, TARGET
from prodline.pipelines import current_run
from prodline.registry.versions import ModelVersion

MODEL = "breast-cancer"
POLICY = Path(__file__).with_name("policy.yaml")


@prodline.step
def historical_training_data() -> pd.DataFrame:
    """The training snapshot of the version in production."""
    contract = prodline.get_model_version(f"{MODEL}@production").contract
    train = contract.datasets["train"]
    return prodline.get_dataset(train["name"], train["version"]).to_pandas()


@prodline.step
def labelled_production_data() -> pd.DataFrame:
    """Production rows whose diagnosis has come back (feedback), one row per case."""
    from prodline import _context

    logs = _context.store().read_predictions(MODEL)
    rows = [{**log.inputs, TARGET: int(log.label)} for log in logs if log.label is not None]
    return pd.DataFrame(rows).drop_duplicates().reset_index(drop=True)


@prodline.step
def retrain(history: pd.DataFrame, recent: pd.DataFrame) -> ModelVersion:
    """Refit gradient boosting on history plus 60 % of the recent cases; evaluate on the
    other 40 % (the population the model now serves) and register the result."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    recent_train, recent_eval = train_test_split(
        recent, test_size=0.4, stratify=recent[TARGET], random_state=SEED
    )
    train = pd.concat([history, recent_train], ignore_index=True)
    features = [c for c in train.columns if c != TARGET]
    model = GradientBoostingClassifier(random_state=0).fit(train[features], train[TARGET])
    return current_run().log_model(
        model,
        MODEL,
        train=train,
        target=TARGET,
        eval=recent_eval,
        owner="oncology-ml@example.org",
        intended_use="triage of biopsy referrals; a clinician reviews every prediction",
    )


@prodline.pipeline(model=MODEL, retrain_on=["drift"], policy=POLICY)
def breast_cancer_retraining() -> None:
    """Retrain on newer data when monitoring asks for it."""
    retrain(historical_training_data(), labelled_production_data())
