"""Governance benchmark: evaluating a policy over 1,000 versions of one model.

    .venv/bin/python bench/bench_govern.py            # 1,000 versions, 9 trials per task
    .venv/bin/python bench/bench_govern.py --quick    # 5 trials
    .venv/bin/python bench/bench_govern.py --versions 5000 --json out.json

Target (from the "Govern" issue): evaluating a policy over 1,000 versions takes at most
1 s. "Evaluating" is what ``prodline govern MODEL --dry-run`` does: read the evidence
from the registry (every version's contract, aliases, labels, approvals, dataset
snapshot times) and decide. Reported without targets: the pure decision alone, the
first apply (one transaction that moves the alias and labels ~1,000 versions) and an
unchanged re-run (which writes nothing).

The policy uses every rule type that reads registry evidence: metric thresholds (one
per-class), compare_to the production holder, latency, package size, contract fields,
data rules (rows, eval distinct from train, freshness of the stored snapshot) and
approval. Slice rules are left out: they load each version's model and eval data, which
is model work, not governance work. There is no peer: MLflow has no policy engine.
Contracts are hand-written to the shape ``run.log_model`` produces (30 input columns).
Every number is the median of the trials; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TARGET_S = 1.0
POLICY = {
    "model": "churn",
    "target_alias": "production",
    "candidates": {"labels_not": ["archived"], "newer_than": "365d"},
    "rules": [
        {"metric": "f1", "at_least": 0.80},
        {"metric": "recall", "class": "1", "at_least": 0.70},
        {"compare_to": "production", "metric": "f1", "min_improvement": 0.005},
        {"latency": "p99_single_row_ms", "at_most": 20},
        {"package_size": {"at_most": "50MB"}},
        {"contract_fields": ["owner", "intended_use", "code.git_commit"]},
        {"data": {"train_rows_at_least": 1000, "eval_differs_from_train": True, "fresh": "90d"}},
        {"approval": "required"},
    ],
    "choose": {"best_by": "f1", "tie_break": "newest"},
}


def contract(rng: random.Random, dataset: dict[str, Any]) -> dict[str, Any]:
    f1, recall = rng.uniform(0.7, 0.95), rng.uniform(0.6, 0.95)
    columns = [
        {
            "name": f"feature_{i}",
            "dtype": "float64",
            "kind": "float",
            "nullable": False,
            "min": rng.uniform(-5, 0),
            "max": rng.uniform(1, 5),
        }
        for i in range(30)
    ]
    return {
        "format_version": "1.0",
        "task": "classification",
        "created_at": "2026-11-20T09:00:00+00:00",
        "owner": rng.choice(["ana@example.com", "bo@example.com", ""]),
        "intended_use": "weekly churn-risk ranking for the retention team",
        "input_schema": {"columns": columns},
        "output_schema": {
            "target": "churned",
            "dtype": "int64",
            "classes": [0, 1],
            "proba_columns": ["proba_0", "proba_1"],
        },
        "examples": [{c["name"]: 0.5 for c in columns}],
        "metrics": {
            "n_rows": 2000,
            "average": "binary",
            "positive_class": 1,
            "accuracy": f1 + 0.02,
            "precision": f1 - 0.01,
            "recall": recall,
            "f1": f1,
            "roc_auc": min(f1 + 0.05, 0.99),
            "log_loss": 0.3,
            "per_class": {
                "0": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 1500},
                "1": {"precision": f1, "recall": recall, "f1": f1, "support": 500},
            },
        },
        "latency": {
            "onnx": {
                "p50_single_row_ms": 0.05,
                "p99_single_row_ms": rng.uniform(0.1, 30),
                "p50_batch_ms": 2.0,
            },
            "python": {"p50_single_row_ms": 1.0, "p99_single_row_ms": 4.0, "p50_batch_ms": 9.0},
        },
        "serving_path": "onnx",
        "package": {
            "digest": "0" * 64,
            "size_bytes": rng.randint(10_000, 80_000_000),
            "files": {},
            "estimator_class": "sklearn.pipeline.Pipeline",
        },
        "dependencies": {"scikit-learn": "1.9.1", "numpy": "2.3.0"},
        "datasets": {
            "train": {
                "fingerprint": "a" * 64,
                "n_rows": rng.choice([800, 5000, 20000]),
                "name": dataset["name"],
                "version": dataset["version"],
            },
            "eval": {"fingerprint": rng.choice(["b" * 64, "a" * 64]), "n_rows": 2000},
        },
        "code": {"git_commit": "abc1234", "entrypoint": "train.py"},
    }


def populate(n: int, seed: int = 0) -> None:
    """``n`` versions of ``churn``, a production holder, a few approvals."""
    import pandas as pd

    from prodline import _context
    from prodline.data.api import snapshot

    rng = random.Random(seed)
    store = _context.store()
    frame = pd.DataFrame({"x": [1.0, 2.0], "churned": [0, 1]})
    dataset = snapshot(store, _context.artifacts(), frame, name="churn-train")
    ref = {"name": dataset.name, "version": dataset.version}
    for _ in range(n):
        store.create_model_version(
            "churn",
            run_id=None,
            files={},
            contract=contract(rng, ref),
            serving_path="onnx",
            actor="bench",
        )
    store.set_alias("churn", "production", n // 2, actor="bench", reason="initial")
    for number in rng.sample(range(1, n + 1), k=max(1, n // 10)):
        store.record_approval("churn", number, actor=rng.choice(["ana", "bo"]))


def timed(fn: Any, trials: int) -> tuple[tuple[list[float], list[float]], Any]:
    """Wall and process-CPU seconds of ``trials`` calls, and the last result."""
    wall, cpu, result = [], [], None
    for _ in range(trials):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (wall, cpu), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 trials instead of 9")
    parser.add_argument("--versions", type=int, default=1000, help="versions (default 1,000)")
    parser.add_argument("--json", metavar="PATH", help="write the trials and verdicts as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target fails")
    cfg = parser.parse_args(argv)
    trials = 5 if cfg.quick else 9

    import prodline
    import prodline.govern as governance
    from prodline.govern import decide, gather, parse_policy

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="prodline-bench-govern-") as tmp:
        prodline.init(home=Path(tmp) / "home")
        start = time.perf_counter()
        populate(cfg.versions)
        print(
            f"registered {cfg.versions:,} versions in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        policy = parse_policy(POLICY)

        governance.govern("churn", policy, dry_run=True)  # warm: imports, connection pool
        dry, result = timed(lambda: governance.govern("churn", policy, dry_run=True), trials)
        candidates = len([c for c in result.decision.candidates if c.candidate])
        rows.append(
            row(
                f"evaluate a policy over {cfg.versions:,} versions (govern --dry-run)",
                dry,
                TARGET_S,
                f"{candidates} candidates judged, {len(result.decision.actions)} actions planned",
            )
        )
        evidence = gather(policy, "churn")
        pure, _ = timed(lambda: decide(policy, evidence), trials)
        rows.append(row("  of which: decide (pure, evidence in memory)", pure, None))
        gathered, _ = timed(lambda: gather(policy, "churn"), trials)
        rows.append(row("  of which: gather the evidence from the registry", gathered, None))
        first, applied = timed(lambda: governance.govern("churn", policy, actor="bench"), 1)
        rows.append(
            row(
                "apply (first run: alias + labels + audit, one transaction)",
                first,
                None,
                f"{len(applied.decision.actions)} changes",
            )
        )
        again, rerun = timed(lambda: governance.govern("churn", policy, actor="bench"), trials)
        assert not rerun.applied, "a re-run on unchanged evidence must write nothing"
        rows.append(row("apply again (unchanged evidence: writes nothing)", again, None))
        prodline.init(home=Path(tmp) / "closed")

    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{os.cpu_count()} x {platform.processor() or platform.machine()}",
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": cfg.versions,
        "trials": trials,
    }
    print()
    print(
        f"prodline governance, {cfg.versions:,} versions, median of {trials} trials, "
        f"{info['machine']}, load {info['loadavg']}, {info['date']}"
    )
    print(table(rows))
    if cfg.json:
        Path(cfg.json).write_text(json.dumps({**info, "rows": rows}, indent=2))
    failed = [r for r in rows if r["verdict"] == "FAIL"]
    return 1 if cfg.strict and failed else 0


def row(
    task: str, trials: tuple[list[float], list[float]], target: float | None, note: str = ""
) -> dict[str, Any]:
    wall, cpu = trials
    median = statistics.median(wall)
    verdict = "info" if target is None else ("PASS" if median <= target else "FAIL")
    return {
        "task": task,
        "unit": "s",
        "prodline_trials": wall,
        "prodline_median": median,
        "prodline_cpu_trials": cpu,
        "prodline_cpu_median": statistics.median(cpu),
        "target": None if target is None else f"<= {target:g} s",
        "verdict": verdict,
        "note": note,
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = ["task", "median", "min", "max", "CPU median", "target", "result", "note"]
    body = [
        [
            r["task"],
            f"{r['prodline_median'] * 1000:,.0f} ms",
            f"{min(r['prodline_trials']) * 1000:,.0f} ms",
            f"{max(r['prodline_trials']) * 1000:,.0f} ms",
            f"{r['prodline_cpu_median'] * 1000:,.0f} ms",
            r["target"] or "-",
            r["verdict"],
            r["note"],
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
