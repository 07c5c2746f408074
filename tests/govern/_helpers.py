"""Helpers for the governance tests: hand-written contracts, versions registered straight
into the store, and in-memory evidence for the pure decision engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prodline import _context
from prodline.govern import Approval, Decision, Evidence, VersionEvidence

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


def contract(
    f1: float | None = 0.85,
    recall: float | None = 0.80,
    *,
    precision: float = 0.8,
    per_class: dict[str, dict[str, float]] | None = None,
    p99: float = 5.0,
    p50_batch: float = 2.0,
    serving_path: str = "onnx",
    size: int = 20_000,
    owner: str = "ana@example.com",
    intended_use: str = "weekly churn-risk ranking",
    train_rows: int = 5000,
    eval_rows: int = 500,
    train_fp: str = "a" * 64,
    eval_fp: str = "b" * 64,
    train: dict[str, Any] | None = None,
    task: str = "classification",
    **metrics: Any,
) -> dict[str, Any]:
    """A contract.json as the registry stores it, with only what governance reads."""
    return {
        "format_version": "1.0",
        "task": task,
        "owner": owner,
        "intended_use": intended_use,
        "serving_path": serving_path,
        "input_schema": {"columns": []},
        "output_schema": {"target": "target", "classes": [0, 1]},
        "metrics": {
            "f1": f1,
            "recall": recall,
            "precision": precision,
            "per_class": per_class or {"0": {"recall": 0.9}, "1": {"recall": recall}},
            **metrics,
        },
        "latency": {
            serving_path: {
                "p50_single_row_ms": p99 / 3,
                "p99_single_row_ms": p99,
                "p50_batch_ms": p50_batch,
            },
        },
        "package": {"size_bytes": size, "digest": "0" * 64},
        "datasets": {
            "train": {"n_rows": train_rows, "fingerprint": train_fp, **(train or {})},
            "eval": {"n_rows": eval_rows, "fingerprint": eval_fp},
        },
        "code": {"git_commit": "abc123"},
    }


def register(model: str = "churn", **kwargs: Any) -> int:
    """Register the next version of ``model`` with a hand-written contract."""
    record = _context.store().create_model_version(
        model,
        run_id=None,
        files={},
        contract=contract(**kwargs),
        serving_path="onnx",
        actor="tests",
    )
    return record.version


def version(
    number: int,
    *,
    labels: dict[str, str] | None = None,
    approvals: tuple[str, ...] = (),
    age_days: float = 1.0,
    train_snapshot_days: float | None = None,
    **kwargs: Any,
) -> VersionEvidence:
    """In-memory evidence for one version."""
    created = NOW - timedelta(days=age_days)
    return VersionEvidence(
        version=number,
        id=f"id{number}",
        created_at=created,
        run_id=None,
        contract=contract(**kwargs),
        labels=dict(labels or {}),
        approvals=tuple(Approval(by, created + timedelta(hours=1)) for by in approvals),
        train_snapshot_at=None
        if train_snapshot_days is None
        else NOW - timedelta(days=train_snapshot_days),
    )


def evidence(
    *versions: VersionEvidence,
    holder: int | None = None,
    alias: str = "production",
    model: str = "churn",
    aliases: dict[str, int] | None = None,
) -> Evidence:
    all_aliases = dict(aliases or {})
    if holder is not None:
        all_aliases[alias] = holder
    return Evidence(
        model=model,
        target_alias=alias,
        versions={v.version: v for v in versions},
        aliases=all_aliases,
        now=NOW,
    )


def applied(ev: Evidence, decision: Decision) -> Evidence:
    """The evidence as it reads after ``decision``'s actions (a pure replay of apply)."""
    versions = {n: replace(v, labels=dict(v.labels)) for n, v in ev.versions.items()}
    aliases = dict(ev.aliases)
    for action in decision.actions:
        if action.op == "set_alias":
            aliases[action.name] = action.version
        elif action.op == "add_label":
            versions[action.version].labels[action.name] = action.reason
        else:
            versions[action.version].labels.pop(action.name)
    return replace(ev, versions=versions, aliases=aliases)


def outcomes(decision: Decision) -> dict[int, str]:
    return {c.version: c.outcome for c in decision.candidates}


def labels_of(model: str = "churn") -> dict[int, dict[str, str]]:
    """Every version's current labels, from the store."""
    return {
        r.version: {label.label: label.reason for label in r.labels}
        for r in _context.store().list_model_versions(model)
    }


def holder_of(model: str = "churn", alias: str = "production") -> int | None:
    for r in _context.store().list_model_versions(model):
        if alias in r.aliases:
            return r.version
    return None


def events(model: str = "churn", *kinds: str) -> list[Any]:
    return _context.store().registry_history(model, list(kinds) or None)


def register_real(
    estimator: Any,
    name: str,
    train: Any,
    test: Any,
    *,
    target: str = "target",
    owner: str = "ana@example.com",
) -> int:
    """Register a fitted model the way ``run.log_model`` does (package, contract, train
    and eval datasets recorded on a run), minus the ONNX twin and the latency timing,
    which take seconds and which governance tests do not need."""
    import tempfile
    from pathlib import Path

    import prodline
    from prodline.contract.build import build_contract
    from prodline.models.package import read_package, write_package

    with prodline.start_run(
        experiment="govern-tests", capture_code=False, capture_environment=False
    ) as run:
        with tempfile.TemporaryDirectory() as scratch:
            package_dir = Path(scratch) / "package"
            write_package(estimator, package_dir, X_verify=test.drop(columns=target), onnx=False)
            package = read_package(package_dir)
            built = build_contract(
                estimator,
                train=train,
                target=target,
                eval=test,
                package=package,
                owner=owner,
                intended_use="governance tests",
                latency_calls=0,
                code={"run_id": run.id},
            )
            for role, frame in (("train", train), ("eval", test)):
                dataset = run.log_dataset(frame, name=f"{name}-{role}", role=role)
                built.datasets[role].update(name=dataset.name, version=dataset.version)
            artifacts = _context.artifacts()
            files: dict[str, Any] = {}
            for path in sorted(p for p in package_dir.rglob("*") if p.is_file()):
                digest, size = artifacts.put_file(path)
                files[f"package/{path.relative_to(package_dir).as_posix()}"] = {
                    "sha256": digest,
                    "size": size,
                }
            text = built.to_json().encode()
            files["contract.json"] = {"sha256": artifacts.put_bytes(text), "size": len(text)}
        record = _context.store().create_model_version(
            name,
            run_id=run.id,
            files=files,
            contract=built.to_dict(),
            serving_path=package.manifest.serving_path,
            actor=owner,
        )
    return record.version
