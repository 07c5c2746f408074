"""Register, find, load, label and check model versions."""

from __future__ import annotations

import getpass
import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodline import _context, config
from prodline.errors import InvalidValueError
from prodline.registry.refs import parse_ref
from prodline.registry.versions import Model, ModelVersion
from prodline.store.checks import check_name
from prodline.store.records import ModelRecord, ModelVersionRecord, RegistryEvent

if TYPE_CHECKING:
    import pandas as pd

    from prodline.tracking.run import Run

CONTRACT_FILE = "contract.json"
PACKAGE_DIR = "package"


def log_model(
    run: Run,
    estimator: Any,
    name: str,
    *,
    train: Any,
    target: str | None,
    eval: Any,
    owner: str,
    intended_use: str,
    allow_pickle: bool = False,
    extra_trusted: tuple[str | type, ...] = (),
    actor: str | None = None,
) -> ModelVersion:
    """Package ``estimator`` safely, build its handover contract from ``train`` and
    ``eval``, record both datasets on ``run`` and register the next version of ``name``.

    Everything is checked before anything is registered: a bad estimator, data or name
    raises and leaves the registry unchanged.
    """
    from prodline.contract.build import build_contract
    from prodline.models.package import read_package, write_package

    check_name(name, "model")
    run._require_running()
    train_frame = _frame(train, "train")
    eval_frame, X_eval = _eval_frames(eval, target)
    with tempfile.TemporaryDirectory(prefix="prodline-package-") as scratch:
        package_dir = Path(scratch) / PACKAGE_DIR
        write_package(
            estimator, package_dir, X_verify=X_eval, allow_pickle=allow_pickle,
            extra_trusted=extra_trusted,
        )  # fmt: skip
        package = read_package(package_dir, allow_pickle=allow_pickle, extra_trusted=extra_trusted)
        contract = build_contract(
            estimator,
            train=train_frame,
            target=target,
            eval=eval,
            package=package,
            owner=owner,
            intended_use=intended_use,
            datasets={"train": {"name": f"{name}-train"}, "eval": {"name": f"{name}-eval"}},
            code=_code_reference(run),
        )
        for role, frame in (("train", train_frame), ("eval", eval_frame)):
            dataset = run.log_dataset(frame, name=f"{name}-{role}", role=role)
            contract.datasets.setdefault(role, {}).update(
                {"name": dataset.name, "version": dataset.version}
            )
        artifacts = _context.artifacts()
        files: dict[str, Any] = {}
        for path in sorted(p for p in package_dir.rglob("*") if p.is_file()):
            digest, size = artifacts.put_file(path)
            files[f"{PACKAGE_DIR}/{path.relative_to(package_dir).as_posix()}"] = {
                "sha256": digest,
                "size": size,
            }
        contract_bytes = contract.to_json().encode()
        files[CONTRACT_FILE] = {
            "sha256": artifacts.put_bytes(contract_bytes),
            "size": len(contract_bytes),
        }
    record = _context.store().create_model_version(
        name,
        run_id=run.id,
        files=files,
        contract=contract.to_dict(),
        serving_path=package.manifest.serving_path,
        actor=actor or owner or getpass.getuser(),
    )
    return ModelVersion(record)


def load_model(
    ref: str,
    *,
    validate: bool = True,
    enforce_ranges: bool = False,
    allow_pickle: bool = False,
    extra_trusted: tuple[str | type, ...] = (),
) -> Model:
    """Load ``churn@production``, ``churn@staging``, ``churn/3`` (or ``churn``, meaning
    its production alias) for prediction on the fastest verified path.

    Input is checked against the contract unless ``validate=False``; values outside the
    training range are refused only with ``enforce_ranges=True``."""
    from prodline.contract.contract import Contract
    from prodline.models.package import read_package

    record = get_model_version(ref).record
    directory = materialize(record)
    package = read_package(
        directory / PACKAGE_DIR,
        allow_pickle=allow_pickle,
        extra_trusted=extra_trusted,
        expected_digest=record.contract["package"]["digest"],
        lazy_estimator=True,
    )
    return Model(
        record,
        package,
        Contract.from_dict(record.contract),
        validate=validate,
        enforce_ranges=enforce_ranges,
    )


def get_model_version(ref: str) -> ModelVersion:
    """A registered version by reference, without loading it."""
    parsed = parse_ref(ref)
    store = _context.store()
    return ModelVersion(store.get_model_version(parsed.name, parsed.version, parsed.alias))


def list_models() -> list[ModelRecord]:
    """Every registered model with its latest version and aliases."""
    return _context.store().list_models()


def list_model_versions(name: str) -> list[ModelVersion]:
    """Every version of a model, newest first."""
    return [ModelVersion(r) for r in _context.store().list_model_versions(name)]


def set_alias(
    name: str, alias: str, version: int, *, actor: str | None = None, reason: str | None = None
) -> bool:
    """Point ``alias`` (e.g. ``production``) at ``version``; False if it already did."""
    return _context.store().set_alias(
        name, alias, version, actor=actor or getpass.getuser(), reason=reason
    )


def add_label(
    name: str, version: int, label: str, *, reason: str, actor: str | None = None
) -> bool:
    """Label a version (``rejected``, ``challenger``, ``archived``…) with a reason."""
    return _context.store().add_label(
        name, version, label, reason=reason, actor=actor or getpass.getuser()
    )


def remove_label(
    name: str, version: int, label: str, *, actor: str | None = None, reason: str | None = None
) -> bool:
    """Remove a label from a version (the removal is kept in the history)."""
    return _context.store().remove_label(
        name, version, label, actor=actor or getpass.getuser(), reason=reason
    )


def model_history(name: str) -> list[RegistryEvent]:
    """Every version created, alias moved and label changed for a model, oldest first."""
    return _context.store().registry_history(name)


def materialize(record: ModelVersionRecord) -> Path:
    """The version's files in the local cache (downloaded once, re-verified each time)."""
    from prodline.artifacts.store import sha256_file

    root = config.settings().home / "cache" / "models" / record.id
    artifacts = _context.artifacts()
    for relative, meta in record.files.items():
        target = root / relative
        if target.is_file() and sha256_file(target) == meta["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        artifacts.download(meta["sha256"], partial)
        os.replace(partial, target)
    return root


def _frame(data: Any, what: str) -> pd.DataFrame:
    import pandas as pd

    if hasattr(data, "frame") and hasattr(data, "fingerprint"):  # a prodline Dataset
        return data.frame
    if isinstance(data, pd.DataFrame):
        return data
    raise InvalidValueError(
        f"{what} must be a pandas DataFrame (features plus the target column) or a prodline "
        f"Dataset, got {type(data).__name__}."
    )


def _eval_frames(eval: Any, target: str | None) -> tuple[pd.DataFrame, Any]:
    """The eval data as one frame (to snapshot) and as model inputs (to verify on)."""
    import pandas as pd

    if isinstance(eval, tuple) and len(eval) == 2:
        X, y = eval
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        frame = X.copy()
        label = target or "target"
        frame[label] = list(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        return frame, X
    frame = _frame(eval, "eval")
    X = frame.drop(columns=[target]) if target and target in frame.columns else frame
    return frame, X


def _code_reference(run: Run) -> dict[str, Any]:
    code = (run.record.code or {}) if run is not None else {}
    git = code.get("git") or {}
    return {
        "run_id": run.id,
        "experiment": run.experiment,
        "kind": code.get("kind"),
        "entrypoint": code.get("entrypoint"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
    }
