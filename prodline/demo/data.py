"""The demo's data: historical referrals, and production traffic with a real shift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TARGET = "malignant"
#: the referral change: mid-sized lesions, where benign and malignant overlap
BAND_COLUMN = "mean_radius"
BAND = (12.5, 16.5)
BAND_WEIGHT = 10.0
SEED = 5


@dataclass(frozen=True)
class Eras:
    """Training-era data (train/eval); the later cases production draws from before the
    retrain (``future``); and cases no model has seen, for traffic after it (``unseen``)."""

    train: pd.DataFrame
    eval: pd.DataFrame
    future: pd.DataFrame
    unseen: pd.DataFrame

    @property
    def features(self) -> list[str]:
        return [c for c in self.train.columns if c != TARGET]


def load_frame() -> pd.DataFrame:
    """The breast-cancer table with readable column names and ``malignant`` (1 = cancer)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda name: name.replace(" ", "_"))
    frame[TARGET] = 1 - bunch.target  # scikit-learn codes benign as 1
    return frame


def split_eras(frame: pd.DataFrame, seed: int = SEED) -> Eras:
    """60 % history (70/30 train/eval), 40 % production (60/40 before/after the
    retrain), all stratified on the diagnosis."""
    from sklearn.model_selection import train_test_split

    history, later = train_test_split(
        frame, test_size=0.4, stratify=frame[TARGET], random_state=seed
    )
    train, evaluation = train_test_split(
        history, test_size=0.3, stratify=history[TARGET], random_state=seed
    )
    future, unseen = train_test_split(
        later, test_size=0.4, stratify=later[TARGET], random_state=seed
    )
    return Eras(train, evaluation, future, unseen)


def production_traffic(
    future: pd.DataFrame, n: int, *, shifted: bool, seed: int = SEED
) -> pd.DataFrame:
    """``n`` referrals drawn from the later population; with ``shifted`` the mid-sized
    lesions are ``BAND_WEIGHT`` times as likely as before."""
    rng = np.random.default_rng(seed)
    in_band = future[BAND_COLUMN].between(*BAND).to_numpy()
    weights = np.where(in_band, BAND_WEIGHT if shifted else 1.0, 1.0)
    picks = rng.choice(len(future), size=n, p=weights / weights.sum())
    return future.iloc[picks]


def band_share(frame: pd.DataFrame) -> float:
    """Share of rows in the mid-sized band."""
    return float(frame[BAND_COLUMN].between(*BAND).mean())
