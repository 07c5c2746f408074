"""A test-only estimator for the shadow guarantees: slow, and failing on some valid input.

The serving tests start servers with ``--trust tests.serve.custom_models.Quirky`` so the
package (skops) may load it.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class Quirky(ClassifierMixin, BaseEstimator):
    """Logistic regression that sleeps ``delay`` seconds per call and raises when the
    first feature is below ``fail_below`` (a value the contract accepts: ranges are
    not enforced by default)."""

    def __init__(self, delay: float = 0.0, fail_below: float = -np.inf) -> None:
        self.delay = delay
        self.fail_below = fail_below

    def fit(self, X, y):  # noqa: ANN001, ANN201
        self.model_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.model_.n_features_in_
        if hasattr(self.model_, "feature_names_in_"):
            self.feature_names_in_ = self.model_.feature_names_in_
        return self

    def _check(self, X):  # noqa: ANN001, ANN202
        time.sleep(self.delay)
        first = np.asarray(X)[:, 0].astype(float)
        if (first < self.fail_below).any():
            raise RuntimeError("Quirky refuses a negative first feature")
        return X

    def predict(self, X):  # noqa: ANN001, ANN201
        return self.model_.predict(self._check(X))

    def predict_proba(self, X):  # noqa: ANN001, ANN201
        return self.model_.predict_proba(self._check(X))
