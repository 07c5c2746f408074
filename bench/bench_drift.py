"""Drift benchmark: prodline.monitor.compare against Evidently's DataDriftPreset and a
plain NumPy floor, on the same frames, in one run.

    .venv/bin/python bench/bench_drift.py              # 1,000,000 x 1,000,000 rows, 20 columns
    .venv/bin/python bench/bench_drift.py --quick      # 200,000 rows
    .venv/bin/python bench/bench_drift.py --json out.json --rows 500000

Targets (from the "Monitor" issue): prodline at least 20x faster than Evidently's
``DataDriftPreset`` and within 3x of the NumPy floor (each column sorted or counted
once per side: ``np.sort`` of every numeric column, ``pd.factorize`` + ``np.bincount``
of every categorical one, single-threaded). Peak memory is reported for each.

The frames (12 numeric columns: normal, log-normal, integer-valued, some with missing
values; 8 text columns with 5 to 100 categories; shifts planted in 3 columns) are
written once to Parquet under ``bench/results/cache/`` and every contender reads the
same files in its own fresh process, which reports its time (wall clock, and process
CPU time: the sum over threads, far less sensitive to other load on a shared machine)
and its peak resident memory above the loaded frames (``ru_maxrss`` after the run minus
after loading). The floor and prodline alternate, one fresh process per trial. Text
columns are handed to every contender as ``object``
columns, the representation Evidently's pandas 2 reads them as.

Evidently runs in its own virtualenv, ``.venv-evidently`` (created on first use:
``python3 -m venv .venv-evidently && .venv-evidently/bin/pip install -e '.[dev]'
evidently 'pandas<3'``; Evidently 0.7 does not import under pandas 3), so the project's
environment is not disturbed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / "results" / "cache"
EVIDENTLY_VENV = ROOT / ".venv-evidently"
CONTENT_VERSION = "drift-v1"
SEED = 20261122
N_NUMERIC, N_TEXT = 12, 8
SHIFTED = ("n0", "n4", "c1")
TARGET_VS_EVIDENTLY = 20.0
TARGET_VS_FLOOR = 3.0


# ------------------------------------------------------------------------------ data


def make_frames(rows: int, directory: Path) -> tuple[Path, Path]:
    """Write the reference and current frames (cached by size and content version)."""
    import numpy as np
    import pandas as pd

    ref_path, cur_path = directory / "reference.parquet", directory / "current.parquet"
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    directory.mkdir(parents=True, exist_ok=True)

    def frame(seed: int, shifted: bool) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data: dict[str, Any] = {}
        for i in range(N_NUMERIC):
            kind = i % 3
            if kind == 0:
                col = rng.normal(50 + (5 if shifted and f"n{i}" in SHIFTED else 0), 10, rows)
            elif kind == 1:
                sigma = 1.4 if shifted and f"n{i}" in SHIFTED else 1.0
                col = rng.lognormal(0, sigma, rows)
            else:
                col = rng.integers(0, 100, rows).astype(np.float64)
            if i % 4 == 3:
                col[rng.random(rows) < 0.02] = np.nan
            data[f"n{i}"] = col
        for i in range(N_TEXT):
            k = (5, 10, 30, 100)[i % 4]
            names = np.array([f"cat{i}_{j}" for j in range(k)], dtype=object)
            weights = np.linspace(1, 3, k)
            if shifted and f"c{i}" in SHIFTED:
                weights = weights[::-1]
            data[f"c{i}"] = names[rng.choice(k, rows, p=weights / weights.sum())]
        return pd.DataFrame(data)

    frame(SEED, False).to_parquet(ref_path, index=False)
    frame(SEED + 1, True).to_parquet(cur_path, index=False)
    return ref_path, cur_path


def load(path: Path) -> Any:
    import pandas as pd

    df = pd.read_parquet(path)
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c].dtype):
            df[c] = df[c].astype(object)
    return df


# ------------------------------------------------------------------------------ workers


def run_floor(ref: Any, cur: Any) -> dict[str, Any]:
    """Each column sorted (numeric) or factorized and counted (text) once per side."""
    import numpy as np
    import pandas as pd

    for name in ref.columns:
        for frame in (ref, cur):
            s = frame[name]
            if pd.api.types.is_numeric_dtype(s.dtype):
                np.sort(s.to_numpy(dtype=np.float64))
            else:
                codes, _ = pd.factorize(s)
                np.bincount(codes + 1)
    return {}


def run_prodline(ref: Any, cur: Any) -> dict[str, Any]:
    from prodline.monitor import compare

    report = compare(ref, cur)
    return {"drifted": report.drifted_columns, "drift_share": report.drift_share}


def run_evidently(ref: Any, cur: Any) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c.startswith("n")],
        categorical_columns=[c for c in ref.columns if c.startswith("c")],
    )
    report = Report([DataDriftPreset()])
    snapshot = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    drifted = []
    share = None
    for metric in snapshot.dict()["metrics"]:
        config, value = metric.get("config", {}), metric.get("value")
        if "column" in config and "threshold" in config and value is not None:
            if float(value) >= float(config["threshold"]):
                drifted.append(config["column"])
        elif isinstance(value, dict) and "share" in value:
            share = float(value["share"])
    return {"drifted": sorted(drifted), "drift_share": share}


WORKERS = {"floor": run_floor, "prodline": run_prodline, "evidently": run_evidently}


def worker(kind: str, directory: Path, repeat: int) -> None:
    """Run one contender in this (fresh) process and print its result as JSON."""
    import gc

    ref, cur = load(directory / "reference.parquet"), load(directory / "current.parquet")
    gc.collect()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu, result = [], [], {}
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = WORKERS[kind](ref, cur)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "kind": kind,
                "times_s": times,
                "cpu_s": cpu,
                "frames_rss_mib": base / 1024,
                "peak_above_frames_mib": (peak - base) / 1024,
                **result,
            }
        )
    )


# ------------------------------------------------------------------------------ driver


def evidently_python(given: str | None) -> Path | None:
    if given:
        return Path(given)
    python = EVIDENTLY_VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {EVIDENTLY_VENV} for Evidently (once)...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "-e", f"{ROOT}[dev]", "evidently", "pandas<3"], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"could not set up Evidently ({e}); its column is skipped", file=sys.stderr)
        return None
    return python


def spawn(python: Path | str, kind: str, directory: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    command = [str(python), str(Path(__file__).resolve()), "--worker", kind,
               "--data", str(directory), "--repeat", str(repeat)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _merge(results: dict[str, dict[str, Any]], trial: dict[str, Any]) -> None:
    entry = results.setdefault(trial["kind"], {"times_s": [], "cpu_s": [], "peaks_mib": []})
    entry["times_s"] += trial["times_s"]
    entry["cpu_s"] += trial["cpu_s"]
    entry["peaks_mib"].append(trial["peak_above_frames_mib"])
    entry["frames_rss_mib"] = trial["frames_rss_mib"]
    for key in ("drifted", "drift_share"):
        if key in trial:
            entry[key] = trial[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, help="rows per frame (overrides --quick)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of prodline and the floor")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--evidently-python", metavar="PATH", help="Evidently's interpreter")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.repeat)
        return 0

    rows = args.rows or (200_000 if args.quick else 1_000_000)
    directory = CACHE / f"{CONTENT_VERSION}-n{rows}"
    print(f"frames: {rows:,} x {rows:,} rows, {N_NUMERIC + N_TEXT} columns -> {directory}")
    make_frames(rows, directory)
    results: dict[str, dict[str, Any]] = {}
    # the floor and prodline alternate, one fresh process per trial, so that both see
    # the same machine noise; each trial's peak memory is its own process's
    for trial in range(args.repeat):
        for kind in ("floor", "prodline"):
            print(f"trial {trial + 1}/{args.repeat}: {kind}...", flush=True)
            _merge(results, spawn(sys.executable, kind, directory, 1))
    if not args.skip_evidently:
        python = evidently_python(args.evidently_python)
        if python is not None:
            print("running evidently (DataDriftPreset; minutes at a million rows)...", flush=True)
            _merge(results, spawn(python, "evidently", directory, 1))
    for r in results.values():
        r["median_s"] = statistics.median(r["times_s"])
        r["median_cpu_s"] = statistics.median(r["cpu_s"])
        r["peak_above_frames_mib"] = statistics.median(r["peaks_mib"])

    p, f = results["prodline"], results["floor"]
    e = results.get("evidently")
    print()
    print(f"{'contender':<12}{'wall (s)':>10}{'CPU (s)':>10}{'peak above frames':>20}  drifted")
    for kind in ("evidently", "prodline", "floor"):
        r = results.get(kind)
        if r is None:
            continue
        drifted = ", ".join(r.get("drifted", [])) if kind != "floor" else "-"
        print(
            f"{kind:<12}{r['median_s']:>10.3f}{r['median_cpu_s']:>10.3f}"
            f"{r['peak_above_frames_mib']:>16.0f} MiB  {drifted}"
        )
    rows_out = []
    wall, cpu = p["median_s"] / f["median_s"], p["median_cpu_s"] / f["median_cpu_s"]
    ok = max(wall, cpu) <= TARGET_VS_FLOOR
    rows_out.append(
        {
            "task": "prodline time / NumPy floor time",
            "value": wall,
            "cpu_ratio": cpu,
            "target": f"<= {TARGET_VS_FLOOR:g}",
            "verdict": "PASS" if ok else "FAIL",
        }
    )
    print()
    print(
        f"prodline / floor:     {wall:6.2f}x wall, {cpu:5.2f}x CPU "
        f"(target <= {TARGET_VS_FLOOR:g}x)  {rows_out[-1]['verdict']}"
    )
    if e is not None:
        wall, cpu = e["median_s"] / p["median_s"], e["median_cpu_s"] / p["median_cpu_s"]
        ok = min(wall, cpu) >= TARGET_VS_EVIDENTLY
        rows_out.append(
            {
                "task": "Evidently time / prodline time",
                "value": wall,
                "cpu_ratio": cpu,
                "target": f">= {TARGET_VS_EVIDENTLY:g}",
                "verdict": "PASS" if ok else "FAIL",
            }
        )
        mem = e["peak_above_frames_mib"] / max(p["peak_above_frames_mib"], 1)
        print(
            f"evidently / prodline: {wall:6.1f}x wall, {cpu:5.1f}x CPU "
            f"(target >= {TARGET_VS_EVIDENTLY:g}x)  {rows_out[-1]['verdict']}; "
            f"peak memory {mem:.1f}x prodline's"
        )
    print(f"planted shifts: {', '.join(SHIFTED)}")
    if args.json:
        payload = {
            "benchmark": "drift",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            "rows_per_frame": rows,
            "columns": N_NUMERIC + N_TEXT,
            "results": results,
            "rows": rows_out,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
