"""User-facing handles on registered versions and loaded models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodline.store.records import ModelVersionRecord

if TYPE_CHECKING:
    from prodline.contract.contract import Contract
    from prodline.models.package import LoadedPackage


class ModelVersion:
    """A registered version: its contract, aliases, labels and the run that made it."""

    def __init__(self, record: ModelVersionRecord) -> None:
        self.record = record

    def __repr__(self) -> str:
        r = self.record
        return f"ModelVersion({r.ref!r}, path={r.serving_path!r}, aliases={r.aliases})"

    name = property(lambda self: self.record.model)
    version = property(lambda self: self.record.version)
    ref = property(lambda self: self.record.ref)
    run_id = property(lambda self: self.record.run_id)
    aliases = property(lambda self: self.record.aliases)
    labels = property(lambda self: self.record.labels)
    serving_path = property(lambda self: self.record.serving_path)

    @property
    def contract(self) -> Contract:
        """The handover contract recorded with this version."""
        from prodline.contract.contract import Contract

        return Contract.from_dict(self.record.contract)

    def load(self, **options: Any) -> Model:
        """Load this version for prediction (see ``prodline.load_model``)."""
        from prodline.registry.api import load_model

        return load_model(self.ref, **options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description."""
        return self.record.to_dict()


class Model:
    """A loaded model: ``predict``/``predict_proba`` on its fastest verified path, with
    input checked against the contract first (``validate=False`` turns that off)."""

    def __init__(
        self,
        record: ModelVersionRecord,
        package: LoadedPackage,
        contract: Contract,
        *,
        validate: bool = True,
        enforce_ranges: bool = False,
    ) -> None:
        self.record = record
        self.package = package
        self.contract = contract
        self.validate = validate
        self.enforce_ranges = enforce_ranges

    def __repr__(self) -> str:
        return f"Model({self.record.ref!r}, path={self.serving_path!r})"

    name = property(lambda self: self.record.model)
    version = property(lambda self: self.record.version)
    ref = property(lambda self: self.record.ref)
    serving_path = property(lambda self: self.package.manifest.serving_path)

    def predict(self, X: Any) -> Any:
        """Predicted labels, values or cluster ids."""
        return self.package.predictor.predict(self._checked(X))

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, one column per class in ``contract.output_schema``."""
        if not self.package.predictor.has_proba:
            from prodline.errors import InvalidValueError

            raise InvalidValueError(
                f"{self.ref} is a {self.contract.task} model: no predict_proba."
            )
        return self.package.predictor.predict_proba(self._checked(X))

    def _checked(self, X: Any) -> Any:
        if self.validate:
            check_input(self.contract, X, enforce_ranges=self.enforce_ranges)
        return X


RANGE_PROBLEMS = frozenset({"below_min", "above_max"})
#: frames up to this size are validated value by value (no pandas overhead per call)
FAST_PATH_MAX_ROWS = 1_000


def check_input(contract: Contract, X: Any, *, enforce_ranges: bool = False) -> None:
    """Raise ContractViolationError listing every problem in ``X`` (a DataFrame, one row
    as a dict, a list of row dicts, or a dict of column lists).

    Missing columns, wrong types, nulls where the training data had none and unknown
    categories always block. Values outside the training range block only with
    ``enforce_ranges=True``: by default they are served (new data legitimately goes
    past the training extremes) and left to drift monitoring.
    """
    from prodline.data.validate import ValidationReport
    from prodline.errors import ContractViolationError

    if isinstance(X, dict):
        if X and all(isinstance(v, list | tuple) for v in X.values()):
            report = contract.validate_columns(X)
        else:
            report = contract.validate_records([X])
    elif isinstance(X, list):
        report = contract.validate_records(X)
    elif hasattr(X, "columns") and len(X) <= FAST_PATH_MAX_ROWS:
        report = contract.validate_columns({column: X[column].tolist() for column in X.columns})
    elif hasattr(X, "columns"):
        report = contract.validate(X)
    else:
        return  # arrays carry no column names: the predictor checks their shape
    if not enforce_ranges:
        report = ValidationReport(
            [v for v in report.violations if v.problem not in RANGE_PROBLEMS], report.n_rows
        )
    if not report.ok:
        raise ContractViolationError(contract.describe_violations(report), report=report)
