"""The handover contract: what a model expects, promises, achieved, and who owns it.

A :class:`Contract` is written by the model builder (usually through
:func:`prodline.contract.build_contract`) and read by whoever runs the model. It is
stored as ``contract.json``, a versioned format (see ``docs/contract.md``):

* ``format_version`` is ``"<major>.<minor>"``. A minor bump only adds optional fields,
  which older readers ignore; a major bump may rename or remove fields, and readers
  refuse a major version they do not know.

:meth:`Contract.validate` checks input against the contract's input schema and lists
every violation by column and row; :meth:`Contract.check` raises
:class:`~prodline.errors.ContractViolationError` instead. :meth:`Contract.validate_records`
and :meth:`Contract.validate_columns` do the same for plain Python rows without building
a DataFrame: the path a model server takes for every request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodline.data.schema import Schema
from prodline.errors import ContractViolationError, InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

    from prodline.contract._fast import RecordValidator
    from prodline.data.validate import ValidationReport

FORMAT_VERSION = "1.0"
FORMAT_MAJOR = 1
TASKS = ("classification", "regression", "clustering")
SERVING_PATHS = ("onnx", "python")
FILENAME = "contract.json"

_REQUIRED = (
    "format_version",
    "task",
    "input_schema",
    "output_schema",
    "metrics",
    "package",
    "serving_path",
    "owner",
    "intended_use",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Contract:
    """The handover contract of one model. Every field is JSON-safe except
    ``input_schema``, a :class:`~prodline.data.schema.Schema`.

    - ``task``: ``"classification"``, ``"regression"`` or ``"clustering"``.
    - ``input_schema``: the model's input columns, from the training data: names,
      dtypes, kinds, nullability, numeric/datetime ranges, allowed categories.
    - ``output_schema``: what the model returns (``target``, ``dtype``; ``classes`` and
      ``proba_columns`` for classifiers; ``cluster_ids`` for clusterers).
    - ``metrics``: evaluation metrics on the eval data.
    - ``package``: the model package (``digest``, ``size_bytes``, ``files`` with sha256).
    - ``serving_path``: ``"onnx"`` or ``"python"``, the path the package serves with.
    - ``owner``, ``intended_use``: who answers for the model, and what it is for.
    - ``examples``: up to five example input rows (``{column: value}``).
    - ``latency``: per serving path, single-row p50/p99 and batch p50 in milliseconds.
    - ``dependencies``: ``{package: version}`` installed when the contract was built.
    - ``datasets``: ``{"train": {...}, "eval": {...}}`` with fingerprint and row count.
    - ``code``: free-form provenance (run id, git commit, entrypoint...).
    - ``created_at``: UTC ISO timestamp.
    """

    task: str
    input_schema: Schema
    output_schema: dict[str, Any]
    metrics: dict[str, Any]
    package: dict[str, Any]
    serving_path: str
    owner: str
    intended_use: str
    examples: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)
    dependencies: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    format_version: str = FORMAT_VERSION
    _validator: RecordValidator | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidValueError(
                f"contract task {self.task!r} is not supported; use one of {', '.join(TASKS)}"
            )
        if not isinstance(self.input_schema, Schema):
            raise InvalidValueError(
                "contract input_schema must be a prodline.data.schema.Schema, not "
                f"{type(self.input_schema).__name__} (use Schema.from_dict for a dict)"
            )
        if self.serving_path not in SERVING_PATHS:
            raise InvalidValueError(
                f"contract serving_path {self.serving_path!r} is not one of "
                f"{', '.join(SERVING_PATHS)}"
            )
        _parse_version(self.format_version)

    # ------------------------------------------------------------------ inputs

    @property
    def input_columns(self) -> list[str]:
        """The names of the model's input columns, in order."""
        return self.input_schema.names

    def validate(
        self,
        data: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        allow_extra_columns: bool = True,
    ) -> ValidationReport:
        """Check input against the input schema and report every violation: missing
        columns, values of the wrong type, missing values where the column is not
        nullable, numbers/datetimes outside the training range, unknown categories.
        Each :class:`~prodline.data.validate.Violation` names the column, the problem,
        how many rows have it and the first 20 of them (0-based positions).

        ``data`` is a DataFrame, a list of ``{column: value}`` rows, or one such row.
        Columns the model does not use are ignored unless ``allow_extra_columns=False``.
        """
        if isinstance(data, Mapping) or (
            isinstance(data, Sequence) and not isinstance(data, str | bytes)
        ):
            return self.validate_records(data, allow_extra_columns=allow_extra_columns)
        from prodline.data.validate import validate

        return validate(data, self.input_schema, allow_extra_columns=allow_extra_columns)

    def check(
        self,
        data: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        allow_extra_columns: bool = True,
    ) -> None:
        """Like :meth:`validate`, but raise :class:`ContractViolationError` (its
        ``.report`` holds the :class:`ValidationReport`) when the input violates the
        contract."""
        report = self.validate(data, allow_extra_columns=allow_extra_columns)
        if not report.ok:
            raise ContractViolationError(self.describe_violations(report), report=report)

    def validate_records(
        self,
        records: Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        allow_extra_columns: bool = True,
    ) -> ValidationReport:
        """The fast path of :meth:`validate` for plain Python input: a list of
        ``{column: value}`` rows, or one such row. No DataFrame is built; the report
        equals the one :meth:`validate` gives for ``pd.DataFrame(records)``."""
        return self.record_validator.validate_records(
            records, allow_extra_columns=allow_extra_columns
        )

    def validate_columns(
        self, columns: Mapping[str, Sequence[Any]], *, allow_extra_columns: bool = True
    ) -> ValidationReport:
        """The fast path for column-wise input: ``{column: [value, ...]}``."""
        return self.record_validator.validate_columns(
            columns, allow_extra_columns=allow_extra_columns
        )

    @property
    def record_validator(self) -> RecordValidator:
        """The input schema compiled for the fast paths (built once, on first use)."""
        validator = self._validator
        if validator is None or validator.schema is not self.input_schema:
            from prodline.contract._fast import RecordValidator

            validator = RecordValidator(self.input_schema)
            self._validator = validator
        return validator

    def describe_violations(self, report: ValidationReport) -> str:
        """A readable message for a failed validation: one line per problem."""
        n = len(report.violations)
        rows = "row" if report.n_rows == 1 else "rows"
        what = self.package.get("estimator_class") or f"{self.task} model"
        lines = [
            f"input ({report.n_rows} {rows}) violates the contract of {what} "
            f"(owner: {self.owner}): {n} problem{'s' * (n != 1)}"
        ]
        lines.extend(f"  - {v}" for v in report.violations)
        lines.append(
            "Send the columns and values the contract's input_schema describes (rows are "
            "0-based positions in the input)."
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """The contract as a JSON-safe dict, the content of ``contract.json``."""
        return {
            "format_version": self.format_version,
            "task": self.task,
            "created_at": self.created_at,
            "owner": self.owner,
            "intended_use": self.intended_use,
            "input_schema": self.input_schema.to_dict(),
            "output_schema": _copy(self.output_schema),
            "examples": _copy(self.examples),
            "metrics": _copy(self.metrics),
            "latency": _copy(self.latency),
            "serving_path": self.serving_path,
            "package": _copy(self.package),
            "dependencies": dict(self.dependencies),
            "datasets": _copy(self.datasets),
            "code": _copy(self.code),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contract:
        """The contract from ``to_dict()`` output. Refuses a major format version this
        prodline does not know; ignores fields added by a newer minor version."""
        if not isinstance(data, Mapping):
            raise InvalidValueError(f"a contract must be a JSON object, not {type(data).__name__}")
        _parse_version(data.get("format_version"))
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise InvalidValueError(
                f"the contract lacks required field(s) {', '.join(missing)}; it is not a "
                "prodline contract.json, or it was cut short"
            )
        for name, kind in (
            ("output_schema", dict),
            ("metrics", dict),
            ("package", dict),
            ("examples", list),
            ("latency", dict),
            ("dependencies", dict),
            ("datasets", dict),
            ("code", dict),
        ):
            value = data.get(name, kind())
            if not isinstance(value, kind):
                raise InvalidValueError(
                    f"contract field {name!r} must be a JSON "
                    f"{'object' if kind is dict else 'array'}, not {type(value).__name__}"
                )
        for name in ("owner", "intended_use", "task", "serving_path"):
            if not isinstance(data[name], str):
                raise InvalidValueError(f"contract field {name!r} must be a string")
        try:
            schema = Schema.from_dict(data["input_schema"])
        except InvalidValueError as e:
            raise InvalidValueError(f"contract field 'input_schema' is invalid: {e}") from e
        return cls(
            task=data["task"],
            input_schema=schema,
            output_schema=_copy(data["output_schema"]),
            metrics=_copy(data["metrics"]),
            package=_copy(data["package"]),
            serving_path=data["serving_path"],
            owner=data["owner"],
            intended_use=data["intended_use"],
            examples=_copy(data.get("examples", [])),
            latency=_copy(data.get("latency", {})),
            dependencies={str(k): str(v) for k, v in data.get("dependencies", {}).items()},
            datasets=_copy(data.get("datasets", {})),
            code=_copy(data.get("code", {})),
            created_at=str(data.get("created_at", "")),
            format_version=str(data["format_version"]),
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """``contract.json``'s text. Non-finite numbers are refused (the contract stores
        them as null)."""
        try:
            return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise InvalidValueError(
                f"the contract holds a value JSON cannot store ({e}); contract fields must "
                "hold plain strings, numbers, booleans, null, lists and dicts"
            ) from e

    @classmethod
    def from_json(cls, text: str | bytes) -> Contract:
        """The contract from ``contract.json``'s text."""
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidValueError(f"contract.json is not valid JSON: {e}") from e
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``contract.json`` to ``path`` (a file, or a directory to write
        ``contract.json`` into). Returns the file's path."""
        target = Path(path)
        if target.is_dir():
            target = target / FILENAME
        text = self.to_json()
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Contract:
        """Read a ``contract.json`` file (or the one in directory ``path``)."""
        source = Path(path)
        if source.is_dir():
            source = source / FILENAME
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidValueError(f"cannot read contract {source}: {e}") from e
        try:
            return cls.from_json(text)
        except InvalidValueError as e:
            raise InvalidValueError(f"{source}: {e}") from e


def _parse_version(version: Any) -> tuple[int, int]:
    """(major, minor) of a format version; refuses an unknown major version."""
    try:
        major_text, minor_text = str(version).split(".")
        major, minor = int(major_text), int(minor_text)
        if major < 0 or minor < 0 or not isinstance(version, str):
            raise ValueError
    except ValueError:
        raise InvalidValueError(
            f'contract format_version {version!r} is not a "<major>.<minor>" string such '
            f"as {FORMAT_VERSION!r}"
        ) from None
    if major != FORMAT_MAJOR:
        advice = (
            "upgrade prodline to read it"
            if major > FORMAT_MAJOR
            else "rebuild the contract with this prodline"
        )
        raise InvalidValueError(
            f"contract format version {version} is not supported: this prodline reads "
            f"format {FORMAT_MAJOR}.x contracts only; {advice}"
        )
    return major, minor


def _copy(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists, scalars)."""
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
