"""Lineage and verification of a registered version."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodline import _context
from prodline.errors import ProdlineError
from prodline.registry.api import CONTRACT_FILE, PACKAGE_DIR, get_model_version


def lineage(ref: str) -> dict[str, Any]:
    """What made a version: its run (params, metrics), datasets with roles and sources,
    code reference and environment."""
    version = get_model_version(ref)
    record = version.record
    out: dict[str, Any] = {
        "model": record.model,
        "version": record.version,
        "created_at": record.created_at.isoformat(),
        "serving_path": record.serving_path,
        "contract_datasets": record.contract.get("datasets", {}),
        "dependencies": record.contract.get("dependencies", {}),
        "run": None,
        "datasets": [],
        "code": None,
        "environment": None,
    }
    if record.run_id is None:
        return out
    store = _context.store()
    run = store.get_run(record.run_id)
    out["run"] = {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status,
        "start_time": run.start_time.isoformat(),
        "params": run.params,
        "metrics": run.metrics,
    }
    for used in run.datasets:
        dataset = store.get_dataset_by_id(used.dataset_id)
        out["datasets"].append(
            {
                "name": used.name,
                "version": used.version,
                "role": used.role,
                "fingerprint": used.fingerprint,
                "rows": used.n_rows,
                "source": dataset.source,
            }
        )
    out["code"] = run.code
    environment = run.environment or {}
    out["environment"] = {
        "python": environment.get("python"),
        "platform": environment.get("platform"),
        "packages": len(environment.get("packages", {})),
    }
    return out


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Each check made on a stored version; ``ok`` when all passed."""

    ref: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def verify(ref: str) -> VerifyReport:
    """Re-check a stored version: every file against its recorded sha256, the package's
    own manifest and trust checks, the contract against the package, and the model on
    the contract's example rows."""
    from prodline.contract.contract import Contract
    from prodline.models.package import read_package
    from prodline.registry.versions import check_input

    record = get_model_version(ref).record
    report = VerifyReport(record.ref)
    artifacts = _context.artifacts()
    with tempfile.TemporaryDirectory(prefix="prodline-verify-") as scratch:
        root = Path(scratch)
        for relative, meta in sorted(record.files.items()):
            try:
                data = artifacts.get_bytes(meta["sha256"])
            except ProdlineError as exc:
                report.checks.append(Check(f"file {relative}", False, str(exc)))
                continue
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            report.checks.append(
                Check(
                    f"file {relative}", len(data) == meta["size"], f"sha256 {meta['sha256'][:12]}…"
                )
            )
        if not report.ok:
            return report
        try:
            package = read_package(
                root / PACKAGE_DIR, expected_digest=record.contract["package"]["digest"]
            )
            report.checks.append(
                Check(
                    "package",
                    True,
                    f"manifest hashes and trust checks pass ({package.manifest.serving_path} path)",
                )
            )
        except ProdlineError as exc:
            report.checks.append(Check("package", False, str(exc)))
            return report
        contract = Contract.from_dict(record.contract)
        stored = Contract.from_json((root / CONTRACT_FILE).read_bytes())
        report.checks.append(
            Check(
                "contract file",
                stored.to_dict() == contract.to_dict(),
                "contract.json matches the registry",
            )
        )
        same_files = {
            name: meta.get("sha256") for name, meta in contract.package.get("files", {}).items()
        } == {name: meta.get("sha256") for name, meta in package.manifest.files.items()}
        report.checks.append(
            Check("contract package", same_files, "contract lists the package's files and hashes")
        )
        try:
            if contract.examples:
                check_input(contract, contract.examples)
                predictions = package.predictor.predict(_frame(contract.examples))
                detail = f"{len(contract.examples)} example rows valid and scored"
                classes = contract.output_schema.get("classes")
                if classes is not None:
                    unknown = {str(p) for p in predictions} - {str(c) for c in classes}
                    if unknown:
                        raise ProdlineError(
                            f"predicted classes {sorted(unknown)} not in the contract"
                        )
            else:
                detail = "no example rows recorded"
            report.checks.append(Check("examples", True, detail))
        except ProdlineError as exc:
            report.checks.append(Check("examples", False, str(exc)))
    return report


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)
