"""build_contract refuses bad input with a message that says what, where and how to fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from prodline.contract import build_contract
from prodline.errors import InvalidValueError
from tests.contract.conftest import Case


def _build(case: Case, **overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "train": case.train,
        "target": case.target,
        "eval": (case.X_eval, case.y_eval),
        "package": case.package,
        "owner": "me",
        "intended_use": "tests",
        "latency_calls": 0,
    }
    kwargs.update(overrides)
    estimator = kwargs.pop("estimator", case.estimator)
    return build_contract(estimator, **kwargs)


def test_an_unfitted_estimator(cancer: Case) -> None:
    from sklearn.base import clone

    with pytest.raises(InvalidValueError, match=r"Pipeline is not fitted: call \.fit\(X, y\)"):
        _build(cancer, estimator=clone(cancer.estimator))


def test_not_an_estimator(cancer: Case) -> None:
    with pytest.raises(InvalidValueError, match="dict has no predict method"):
        _build(cancer, estimator={"weights": [1, 2]})


def test_training_data_that_lacks_the_model_inputs(cancer: Case) -> None:
    train = cancer.train.drop(columns=["mean radius", "worst area"])
    with pytest.raises(InvalidValueError) as info:
        _build(cancer, train=train)
    message = str(info.value)
    assert "train does not describe the model's inputs" in message
    assert "['mean radius', 'worst area']" in message
    assert "Pass the training frame the model was fitted on" in message


def test_a_target_that_is_also_an_input(mixed: Case) -> None:
    with pytest.raises(InvalidValueError, match="'age' is one of the model's input columns"):
        _build(mixed, target="age")


def test_a_missing_target_column(mixed: Case) -> None:
    with pytest.raises(InvalidValueError) as info:
        _build(mixed, target="churned")
    message = str(info.value)
    assert "target column 'churned' is not in train" in message
    assert "'label'" in message  # lists what train has


def test_no_target_for_a_supervised_model(mixed: Case) -> None:
    with pytest.raises(InvalidValueError, match="target is None, but a classification model"):
        _build(mixed, target=None)


def test_eval_columns_that_differ_from_the_inputs(mixed: Case) -> None:
    X = mixed.X_eval.drop(columns=["income"]).assign(region="north", score=1.0)
    with pytest.raises(InvalidValueError) as info:
        _build(mixed, eval=(X, mixed.y_eval))
    message = str(info.value)
    assert "eval columns differ from the model's inputs" in message
    assert "missing ['income']" in message
    assert "extra ['region', 'score']" in message


def test_missing_labels_in_train(mixed: Case) -> None:
    train = mixed.train.copy()
    train.loc[train.index[[3, 8, 20]], "label"] = None
    with pytest.raises(InvalidValueError) as info:
        _build(mixed, train=train)
    message = str(info.value)
    assert "target column 'label' of train has 3 missing label(s)" in message
    assert "3, 8, 20" in message and "drop or fill" in message


def test_missing_labels_in_eval(diabetes: Case) -> None:
    y = np.asarray(diabetes.y_eval, dtype=float).copy()
    y[[0, 5]] = np.nan
    with pytest.raises(InvalidValueError, match="of eval has 2 missing label"):
        _build(diabetes, eval=(diabetes.X_eval, y))


def test_empty_eval(cancer: Case) -> None:
    with pytest.raises(InvalidValueError, match="eval is empty"):
        _build(cancer, eval=(cancer.X_eval.iloc[:0], cancer.y_eval[:0]))


def test_eval_frame_without_the_target(cancer: Case) -> None:
    with pytest.raises(InvalidValueError, match="eval is a DataFrame without the target"):
        _build(cancer, eval=cancer.X_eval)


def test_eval_labels_of_the_wrong_length(cancer: Case) -> None:
    with pytest.raises(InvalidValueError, match="one label per eval row"):
        _build(cancer, eval=(cancer.X_eval, cancer.y_eval[:10]))


def test_a_package_of_another_model(cancer: Case, diabetes: Case) -> None:
    with pytest.raises(InvalidValueError, match="the package holds a .*RandomForestRegressor"):
        _build(cancer, package=diabetes.package)


def test_a_package_that_is_not_one(cancer: Case) -> None:
    with pytest.raises(InvalidValueError, match="package must be what prodline.models"):
        _build(cancer, package={"files": {}})


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"owner": ""}, "owner must be a non-empty string"),
        ({"intended_use": None}, "intended_use must be a non-empty string"),
        ({"train": [[1, 2]]}, "train must be a pandas DataFrame"),
        ({"code": "abc123"}, "code must be a dict"),
        ({"code": {"when": object()}}, "code must hold only JSON values"),
        ({"datasets": {"train": 3}}, r"datasets\['train'\] must be a dict"),
        ({"latency_rows": 0}, "latency_rows must be an integer >= 1"),
    ],
)
def test_other_bad_arguments(cancer: Case, overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        _build(cancer, **overrides)


def test_an_outlier_detector_is_not_covered(cancer: Case) -> None:
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=5, random_state=0).fit(cancer.X_train)
    with pytest.raises(InvalidValueError, match="neither a classifier, a regressor nor"):
        _build(cancer, estimator=model)
