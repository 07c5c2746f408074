"""scikit-learn autologging on real estimators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import prodline
from prodline import _context


@pytest.fixture(autouse=True)
def autologging(use_store: str) -> Iterator[None]:
    prodline.autolog()
    yield
    prodline.autolog(disable=True)


def test_pipeline_fit_logs_params_metrics_and_model_once() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(X, y)
    [run] = prodline.search_runs("default")
    record = prodline.get_run(run.id)
    assert record.status == "finished" and record.name == "Pipeline"
    assert record.params["logisticregression__C"] == "0.5"
    assert record.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert record.metrics["training_accuracy"] == pytest.approx(model.score(X, y))
    assert {"training_f1", "training_roc_auc", "training_log_loss"} <= set(record.metrics)
    artifact = next(a for a in record.artifacts if a.path == "model/model.skops")
    blob = _context.artifacts().get_bytes(artifact.digest)
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    assert (loaded.predict(X) == model.predict(X)).all()


def test_fit_inside_an_active_run_logs_into_it_and_regressors_get_regression_metrics() -> None:
    X, y = load_diabetes(return_X_y=True)
    with prodline.start_run(experiment="mine") as run:
        RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    record = prodline.get_run(run.id)
    assert record.params["n_estimators"] == "5"
    assert {"training_mae", "training_rmse", "training_r2"} <= set(record.metrics)
    assert [e.name for e in prodline.list_experiments()] == ["mine"]


def test_nested_fits_of_a_grid_search_are_logged_once() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, cv=2).fit(X[:200], y[:200])
    assert len(prodline.search_runs("default")) == 1


def test_disable_restores_plain_fit() -> None:
    prodline.autolog(disable=True)
    X, y = load_breast_cancer(return_X_y=True)
    LogisticRegression(max_iter=200).fit(X[:100], y[:100])
    assert prodline.search_runs() == []
