"""The drift reference of a registered model version: the profile of the training
snapshot its contract names, and the distribution of the model's own predictions on
that training data (computed once per version and cached under the prodline home)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline import config
from prodline.contract._metrics import class_key
from prodline.contract.contract import Contract
from prodline.data.profile import Profile
from prodline.errors import MonitorError, NotFoundError, ProdlineError

#: rows of the training data the model predicts to build its prediction reference
PREDICTION_SAMPLE = 50_000
PREDICTION = "prediction"


@dataclass
class VersionReference:
    """What one version is compared with."""

    model: str
    version: int
    contract: Contract
    features: Profile
    predictions: Profile | None
    prediction_source: str
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.contract.task

    @property
    def input_columns(self) -> list[str]:
        return self.contract.input_columns

    @property
    def classes(self) -> list[str]:
        return [class_key(c) for c in self.contract.output_schema.get("classes") or []]

    @property
    def proba_column(self) -> str | None:
        """The probability column monitored for a binary classifier (its positive class)."""
        classes = self.classes
        if self.task == "classification" and len(classes) == 2:
            return f"proba_{classes[1]}"
        return None


def monitor_dir(model: str) -> Path:
    """``<home>/monitor/<model>``: the model's monitoring state and caches."""
    return config.settings().home / "monitor" / model


class References:
    """Version references of one model, loaded on first use."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._cache: dict[int, VersionReference] = {}

    def get(self, version: int) -> VersionReference:
        if version not in self._cache:
            self._cache[version] = load_reference(self.model, version)
        return self._cache[version]


def load_reference(model: str, version: int) -> VersionReference:
    """The reference of ``model`` version ``version`` (see the module doc)."""
    import prodline

    try:
        mv = prodline.get_model_version(f"{model}/{version}")
    except NotFoundError as e:
        raise MonitorError(
            f"predictions of {model} were served by version {version}, which is not in the "
            f"registry ({e}); monitoring needs each serving version's training profile"
        ) from e
    contract = mv.contract
    train = dict(contract.datasets.get("train") or {})
    if not train.get("name"):
        raise MonitorError(
            f"{model}/{version}'s contract names no training dataset (datasets.train.name); "
            "log the model with run.log_model(..., train=...) so it has a drift reference"
        )
    try:
        dataset = prodline.get_dataset(train["name"], train.get("version"))
    except NotFoundError as e:
        raise MonitorError(
            f"{model}/{version} was trained on dataset {train['name']!r} version "
            f"{train.get('version')}, which is not in the store: {e}"
        ) from e
    full = dataset.profile
    inputs = [c for c in contract.input_columns if c in full.names]
    features = Profile([full[c] for c in inputs], full.n_rows)
    reference = VersionReference(
        model=model,
        version=version,
        contract=contract,
        features=features,
        predictions=None,
        prediction_source="none",
        train={
            "name": dataset.name,
            "version": dataset.version,
            "fingerprint": dataset.fingerprint,
            "n_rows": full.n_rows,
        },
    )
    reference.predictions, reference.prediction_source = _prediction_reference(reference, dataset)
    return reference


def _prediction_reference(ref: VersionReference, dataset: Any) -> tuple[Profile | None, str]:
    """The model's predictions on (a sample of) its training data, cached; else the
    training labels; else nothing."""
    cache = monitor_dir(ref.model) / f"reference-v{ref.version}.json"
    fingerprint = ref.train.get("fingerprint")
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("train_fingerprint") == fingerprint:
            return Profile.from_dict(cached["profile"]), str(cached["source"])
    except (OSError, ValueError, KeyError, ProdlineError):
        pass
    from prodline.data.profile import profile

    frame = None
    source = "none"
    try:
        frame = _predict_training(ref, dataset)
        source = "the model's predictions on its training data"
    except Exception as e:  # noqa: BLE001 - any failure to load/predict falls back
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        target = ref.contract.output_schema.get("target")
        try:
            data = dataset.frame
        except ProdlineError:
            data = None
        if target and data is not None and target in data.columns:
            import pandas as pd

            labels = data[target]
            if ref.task != "regression":
                labels = labels.map(class_key)
            frame = pd.DataFrame({PREDICTION: labels})
            source = f"the training labels (the model could not predict: {reason})"
    if frame is None:
        return None, source
    result = profile(frame)
    _write_json(
        cache,
        {"train_fingerprint": fingerprint, "source": source, "profile": result.to_dict()},
    )
    return result, source


def _predict_training(ref: VersionReference, dataset: Any) -> Any:
    import warnings

    import numpy as np
    import pandas as pd

    import prodline

    data = dataset.frame
    X = data[ref.input_columns]
    if len(X) > PREDICTION_SAMPLE:
        X = X.sample(PREDICTION_SAMPLE, random_state=0)
    model = prodline.load_model(f"{ref.model}/{ref.version}", validate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = np.asarray(model.predict(X))
        out: dict[str, Any] = {}
        if ref.task == "regression":
            out[PREDICTION] = pred.astype(float)
        else:
            out[PREDICTION] = [class_key(v) for v in pred.tolist()]
        column = ref.proba_column
        if column is not None and model.package.predictor.has_proba:
            proba = np.asarray(model.predict_proba(X))
            out[column] = proba[:, 1].astype(float)
    return pd.DataFrame(out)


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(value, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)
