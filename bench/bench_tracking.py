"""Tracking benchmark: prodline against MLflow 3.x (SQLite backend), same work, one run.

    .venv-bench/bin/python bench/bench_tracking.py            # full run (~10 min cold, ~4 warm)
    .venv-bench/bin/python bench/bench_tracking.py --quick    # smaller trials, 2,000-run search
    .venv-bench/bin/python bench/bench_tracking.py --json out.json --profile

Tasks (targets from the "Foundation" issue):

1. a synchronous ``log_metric`` loop of 2,000 steps: prodline >= 100x MLflow's throughput;
2. batched metrics: ``run.log_batch`` with 1,000-point batches >= 200,000 points/s (also
   ``run.log_metrics`` with 100 keys per step, reported without a target);
3. ``search_runs`` with a metric filter and an ordering over 10,000 runs: <= 100 ms and
   >= 10x faster than MLflow's ``search_runs`` (pandas and list output both compared);
4. ``python -c "import prodline"``: <= 0.3 s (median of fresh subprocesses).

The machine is shared and noisy: every number is the median of repeated trials, the
trials of MLflow and prodline are interleaved, and ratios compare medians from the same
run. The populated 10,000-run databases are cached in ``bench/results/cache/`` keyed by
a content version, so re-runs skip the slow MLflow population.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import logging
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# MLflow must not try to phone home (there is no network here, and a timing-out
# telemetry thread would make MLflow look slower than it is).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CACHE = RESULTS / "cache"

# Bump when the generated search content changes: it keys the cached databases.
CONTENT_VERSION = "search-v1"
SEED = 20240611
SEARCH_EXPERIMENT = "bench-search"
SEARCH_FILTER = "metrics.f1 > 0.9 and params.max_depth = '6'"
SEARCH_WIDE_FILTER = "metrics.f1 > 0.6"
SEARCH_ORDER = ["metrics.f1 DESC"]
SEARCH_MAX = 1000


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table: trials of both sides and how to judge them."""

    task: str
    unit: str  # "ms/call", "points/s", "ms", "s"
    higher_is_better: bool
    mlflow: list[float] = field(default_factory=list)
    prodline: list[float] = field(default_factory=list)
    # the same trials measured in process CPU time (less sensitive to other load)
    mlflow_cpu: list[float] = field(default_factory=list)
    prodline_cpu: list[float] = field(default_factory=list)
    target: str = ""
    min_ratio: float | None = None  # prodline must be at least this many times better
    max_prodline: float | None = None  # prodline median must be at most this
    min_prodline: float | None = None  # prodline median must be at least this
    note: str = ""

    @property
    def mlflow_median(self) -> float | None:
        return statistics.median(self.mlflow) if self.mlflow else None

    @property
    def prodline_median(self) -> float | None:
        return statistics.median(self.prodline) if self.prodline else None

    @property
    def ratio(self) -> float | None:
        """How many times better prodline is (time ratio or throughput ratio)."""
        m, p = self.mlflow_median, self.prodline_median
        if m is None or p is None or m == 0 or p == 0:
            return None
        return p / m if self.higher_is_better else m / p

    def cpu_note(self) -> str:
        if not self.prodline_cpu:
            return ""
        m = statistics.median(self.mlflow_cpu) if self.mlflow_cpu else None
        p = statistics.median(self.prodline_cpu)
        text = f"CPU-time medians: MLflow {fmt(m, self.unit)}, prodline {fmt(p, self.unit)}"
        if m:
            ratio = p / m if self.higher_is_better else m / p
            text += f", ratio {ratio:,.1f}x"
        return text

    @property
    def verdict(self) -> str:
        checks = []
        p, r = self.prodline_median, self.ratio
        if self.min_ratio is not None:
            checks.append(r is not None and r >= self.min_ratio)
        if self.max_prodline is not None:
            checks.append(p is not None and p <= self.max_prodline)
        if self.min_prodline is not None:
            checks.append(p is not None and p >= self.min_prodline)
        if not checks:
            return "info"
        return "PASS" if all(checks) else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "mlflow_trials": self.mlflow,
            "prodline_trials": self.prodline,
            "mlflow_cpu_trials": self.mlflow_cpu,
            "prodline_cpu_trials": self.prodline_cpu,
            "mlflow_median": self.mlflow_median,
            "prodline_median": self.prodline_median,
            "ratio": self.ratio,
            "target": self.target,
            "verdict": self.verdict,
            "note": self.note,
        }


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "points/s":
        return f"{value:,.0f} pts/s"
    if unit == "ms/call":
        return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:.4g} {unit}"


def render_table(rows: list[Row], markdown: bool = False) -> str:
    header = ["task", "MLflow median", "prodline median", "ratio", "target", "result"]
    body = [
        [
            row.task,
            fmt(row.mlflow_median, row.unit),
            fmt(row.prodline_median, row.unit),
            "-" if row.ratio is None else f"{row.ratio:,.1f}x",
            row.target or "-",
            row.verdict,
        ]
        for row in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in body]
    return "\n".join(lines)


class Clock:
    """Wall and process-CPU seconds of a ``with`` block."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = None
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "loadavg_at_start": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("prodline", "mlflow", "SQLAlchemy", "alembic", "pandas"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    import sqlite3

    out["sqlite"] = sqlite3.sqlite_version
    return out


def quiet_mlflow() -> None:
    """Silence MLflow's and Alembic's INFO chatter (migrations on first use)."""
    for name in ("mlflow", "alembic", "alembic.runtime.migration", "mlflow.store"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=FutureWarning)


def mlflow_uri(db: Path) -> str:
    return f"sqlite:///{db}"


def mlflow_experiment(client: Any, name: str, root: Path) -> str:
    """Create ``name`` with its artifacts under ``root`` (not in the working directory)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=(root / "mlartifacts").as_uri())


def use_prodline(home: Path) -> Any:
    import prodline

    prodline.init(home=home)
    return prodline


def pl_run(prodline: Any, experiment: str, name: str | None = None) -> Any:
    return prodline.start_run(
        experiment=experiment, name=name, capture_code=False, capture_environment=False
    )


def interleave(trials_a: int, trials_b: int) -> Iterator[tuple[bool, bool]]:
    """Yield (do_a, do_b) so the two sides alternate and share the machine's noise."""
    for i in range(max(trials_a, trials_b)):
        yield i < trials_a, i < trials_b


@contextlib.contextmanager
def profiled(name: str, enabled: bool) -> Iterator[None]:
    """cProfile the block into bench/results/profile-NAME.txt when ``enabled``."""
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        path = RESULTS / f"profile-{name}.txt"
        path.write_text(out.getvalue())
        profiler.dump_stats(RESULTS / f"profile-{name}.prof")
        log(f"profile written to {path}")


# --------------------------------------------------------------------------------------
# 1. log_metric loop
# --------------------------------------------------------------------------------------
def bench_log_metric(work: Path, cfg: argparse.Namespace) -> Row:
    import mlflow

    steps, ml_steps = cfg.metric_steps, cfg.mlflow_metric_steps
    rng = random.Random(SEED)
    values = [rng.random() for _ in range(steps)]
    row = Row(
        f"log_metric loop, {steps:,} steps (ms/call)",
        "ms/call",
        higher_is_better=False,
        target=">= 100x MLflow",
        min_ratio=100,
    )
    if ml_steps != steps:
        row.note = f"MLflow timed over {ml_steps:,} steps per trial (same per-call work)"

    mlflow.set_tracking_uri(mlflow_uri(work / "mlflow-log.db"))
    client = mlflow.MlflowClient()
    mlflow.set_experiment(experiment_id=mlflow_experiment(client, "bench", work))
    prodline = use_prodline(work / "pl-log")
    with pl_run(prodline, "bench") as run:  # warm-up: open and migrate the store
        run.log_metric("warm", 0.0, step=0)
    with mlflow.start_run():
        mlflow.log_metric("warm", 0.0, step=0)

    for do_ml, do_pl in interleave(cfg.trials_mlflow, cfg.trials):
        if do_ml:
            with mlflow.start_run(), Clock() as clock:
                for i in range(ml_steps):
                    mlflow.log_metric("loss", values[i], step=i)
            row.mlflow.append(clock.wall / ml_steps * 1e3)
            row.mlflow_cpu.append(clock.cpu / ml_steps * 1e3)
        if do_pl:
            with pl_run(prodline, "bench") as run, Clock() as clock:
                for i in range(steps):
                    run.log_metric("loss", values[i], step=i)
            row.prodline.append(clock.wall / steps * 1e3)
            row.prodline_cpu.append(clock.cpu / steps * 1e3)

    with profiled("log_metric", cfg.profile), pl_run(prodline, "bench") as run:
        for i in range(steps):
            run.log_metric("loss", values[i], step=i)
    return row


# --------------------------------------------------------------------------------------
# 2. batched metrics
# --------------------------------------------------------------------------------------
def batch_points(batches: int, keys: int = 10, per_batch: int = 1000) -> list[list[tuple]]:
    """``batches`` lists of ``per_batch`` (key, value, step) points over ``keys`` keys."""
    rng = random.Random(SEED + 1)
    steps_per_batch = per_batch // keys
    out = []
    for b in range(batches):
        out.append(
            [
                (f"metric_{k}", rng.random(), b * steps_per_batch + s)
                for s in range(steps_per_batch)
                for k in range(keys)
            ]
        )
    return out


def bench_batches(work: Path, cfg: argparse.Namespace) -> list[Row]:
    import mlflow
    from mlflow.entities import Metric

    batches = batch_points(cfg.batches)
    n_points = sum(len(b) for b in batches)
    row_batch = Row(
        f"log_batch, {cfg.batches} x 1,000 points (points/s)",
        "points/s",
        higher_is_better=True,
        target=">= 200,000 pts/s",
        min_prodline=200_000,
    )
    key_names = [f"k_{i:03d}" for i in range(100)]
    rng = random.Random(SEED + 2)
    step_dicts = [{k: rng.random() for k in key_names} for _ in range(cfg.metrics_steps)]
    row_dict = Row(
        f"log_metrics, 100 keys x {cfg.metrics_steps} steps (points/s)",
        "points/s",
        higher_is_better=True,
        target="report only",
    )

    mlflow.set_tracking_uri(mlflow_uri(work / "mlflow-batch.db"))
    client = mlflow.MlflowClient()
    experiment_id = mlflow_experiment(client, "bench", work)
    mlflow.set_experiment(experiment_id=experiment_id)
    prodline = use_prodline(work / "pl-batch")
    with pl_run(prodline, "bench") as run:
        run.log_batch(metrics=batches[0][:10])
    with mlflow.start_run() as warm:
        client.log_batch(warm.info.run_id, metrics=[Metric("warm", 0.0, 0, 0)])

    def mlflow_batch() -> Clock:
        with mlflow.start_run() as active, Clock() as clock:
            run_id = active.info.run_id
            for batch in batches:
                stamp = int(time.time() * 1000)
                client.log_batch(run_id, metrics=[Metric(k, v, stamp, s) for k, v, s in batch])
        return clock

    def prodline_batch() -> Clock:
        with pl_run(prodline, "bench") as run, Clock() as clock:
            for batch in batches:
                run.log_batch(metrics=batch)
        return clock

    def mlflow_dicts() -> Clock:
        with mlflow.start_run(), Clock() as clock:
            for step, values in enumerate(step_dicts):
                mlflow.log_metrics(values, step=step)
        return clock

    def prodline_dicts() -> Clock:
        with pl_run(prodline, "bench") as run, Clock() as clock:
            for step, values in enumerate(step_dicts):
                run.log_metrics(values, step=step)
        return clock

    def record(row: Row, side: str, clock: Clock, points: int) -> None:
        getattr(row, side).append(points / clock.wall)
        getattr(row, f"{side}_cpu").append(points / clock.cpu)

    dict_points = 100 * len(step_dicts)
    for do_ml, do_pl in interleave(cfg.trials_mlflow, cfg.trials):
        if do_ml:
            record(row_batch, "mlflow", mlflow_batch(), n_points)
            record(row_dict, "mlflow", mlflow_dicts(), dict_points)
        if do_pl:
            record(row_batch, "prodline", prodline_batch(), n_points)
            record(row_dict, "prodline", prodline_dicts(), dict_points)

    with profiled("log_batch", cfg.profile):
        prodline_batch()
    with profiled("log_metrics", cfg.profile):
        prodline_dicts()
    return [row_batch, row_dict]


# --------------------------------------------------------------------------------------
# 3. search_runs over many runs
# --------------------------------------------------------------------------------------
def run_content(n: int) -> Iterator[dict[str, Any]]:
    """The same ``n`` runs for both stores: 3 params, 5 metrics, 2 tags each."""
    rng = random.Random(SEED)
    for i in range(n):
        f1 = rng.uniform(0.5, 1.0)
        yield {
            "name": f"run-{i:05d}",
            "params": {
                "max_depth": str(rng.randint(2, 10)),
                "learning_rate": rng.choice(["0.01", "0.03", "0.1", "0.3"]),
                "n_estimators": rng.choice(["50", "100", "200", "400"]),
            },
            "metrics": {
                "f1": f1,
                "accuracy": rng.uniform(0.5, 1.0),
                "precision": rng.uniform(0.4, 1.0),
                "recall": rng.uniform(0.4, 1.0),
                "loss": rng.uniform(0.01, 2.0),
            },
            "tags": {
                "team": rng.choice(["risk", "growth", "ops"]),
                "model_type": rng.choice(["gbm", "rf", "linear"]),
            },
        }


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def prodline_schema_version() -> str:
    """A hash of prodline's migrations: a schema change re-populates the cache."""
    import prodline.store

    versions_dir = Path(prodline.store.__file__).parent / "migrations" / "versions"
    files = sorted(versions_dir.glob("*.py"))
    return _digest([(f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files])


class progress:  # noqa: N801 - used like a function
    """A progress bar on a terminal; a log line every 5% otherwise (CI, redirected)."""

    def __init__(self, description: str, total: int) -> None:
        self.description, self.total, self.done = description, total, 0
        self.bar: Any = None
        self.start = time.perf_counter()
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                f"[bench] {description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> progress:
        if self.bar is not None:
            self.bar.__enter__()
            self.task = self.bar.add_task(self.description, total=self.total)
        else:
            log(f"{self.description} ...")
        return self

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.done % max(1, self.total // 20) == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.done * (self.total - self.done)
            log(f"  {self.done:,}/{self.total:,} ({elapsed:,.0f} s, ~{left:,.0f} s left)")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def populate_mlflow(target: Path, n: int) -> None:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    build = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    try:
        client = mlflow.MlflowClient(tracking_uri=mlflow_uri(build / "mlflow.db"))
        experiment_id = mlflow_experiment(client, SEARCH_EXPERIMENT, build)
        with progress(f"populating MLflow with {n:,} runs", n) as bar:
            for run in run_content(n):
                created = client.create_run(experiment_id, run_name=run["name"])
                run_id = created.info.run_id
                stamp = int(time.time() * 1000)
                client.log_batch(
                    run_id,
                    metrics=[Metric(k, v, stamp, 0) for k, v in run["metrics"].items()],
                    params=[Param(k, v) for k, v in run["params"].items()],
                    tags=[RunTag(k, v) for k, v in run["tags"].items()],
                )
                client.set_terminated(run_id)
                bar.advance()
        (build / "experiment_id").write_text(experiment_id)
        os.replace(build, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def populate_prodline(target: Path, n: int) -> None:
    build = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    try:
        prodline = use_prodline(build)
        with progress(f"populating prodline with {n:,} runs", n) as bar:
            for run in run_content(n):
                with pl_run(prodline, SEARCH_EXPERIMENT, run["name"]) as live:
                    live.log_batch(
                        metrics=[(k, v, 0) for k, v in run["metrics"].items()],
                        params=run["params"],
                        tags=run["tags"],
                    )
                bar.advance()
        prodline.init(home=build / "elsewhere")  # closes the store (checkpoints the WAL)
        shutil.rmtree(build / "elsewhere", ignore_errors=True)
        os.replace(build, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def cached_stores(n: int) -> tuple[Path, Path]:
    """Paths of the populated MLflow and prodline folders, built once per content key."""
    import mlflow

    key = f"{CONTENT_VERSION}-n{n}"
    ml_dir = CACHE / f"{key}-mlflow-{mlflow.__version__}"
    pl_dir = CACHE / f"{key}-prodline-{prodline_schema_version()}"
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (ml_dir / "mlflow.db").exists():
        log(f"no cached MLflow store at {ml_dir}; populating (slow, done once)")
        start = time.perf_counter()
        populate_mlflow(ml_dir, n)
        log(f"MLflow populated in {time.perf_counter() - start:,.0f} s")
    else:
        log(f"using cached MLflow store {ml_dir.name}")
    if not (pl_dir / "prodline.db").exists():
        log(f"no cached prodline store at {pl_dir}; populating")
        start = time.perf_counter()
        populate_prodline(pl_dir, n)
        log(f"prodline populated in {time.perf_counter() - start:,.0f} s")
        for stale in CACHE.glob(f"{key}-prodline-*"):  # older schemas of the same content
            if stale != pl_dir:
                shutil.rmtree(stale, ignore_errors=True)
    else:
        log(f"using cached prodline store {pl_dir.name}")
    return ml_dir, pl_dir


def bench_search(work: Path, cfg: argparse.Namespace) -> list[Row]:
    import mlflow

    ml_cached, pl_cached = cached_stores(cfg.runs)
    # Query copies, so nothing the benchmark opens can alter the cache.
    ml_dir, pl_dir = work / "search-mlflow", work / "search-prodline"
    shutil.copytree(ml_cached, ml_dir)
    shutil.copytree(pl_cached, pl_dir)
    experiment_id = (ml_dir / "experiment_id").read_text().strip()
    mlflow.set_tracking_uri(mlflow_uri(ml_dir / "mlflow.db"))
    prodline = use_prodline(pl_dir)

    rows = []
    for label, filter_string in (("", SEARCH_FILTER), ("wide ", SEARCH_WIDE_FILTER)):
        expected = sorted(
            (r for r in run_content(cfg.runs) if eval_filter(r, filter_string)),
            key=lambda r: -r["metrics"]["f1"],
        )[:SEARCH_MAX]
        expected_names = [r["name"] for r in expected]

        def ml_pandas(f: str = filter_string) -> list[str]:
            frame = mlflow.search_runs(
                experiment_ids=[experiment_id],
                filter_string=f,
                order_by=SEARCH_ORDER,
                max_results=SEARCH_MAX,
            )
            return list(frame["tags.mlflow.runName"]) if len(frame) else []

        def ml_list(f: str = filter_string) -> list[str]:
            found = mlflow.search_runs(
                experiment_ids=[experiment_id],
                filter_string=f,
                order_by=SEARCH_ORDER,
                max_results=SEARCH_MAX,
                output_format="list",
            )
            return [r.info.run_name for r in found]

        def pl_search(f: str = filter_string) -> list[str]:
            found = prodline.search_runs(
                experiments=[SEARCH_EXPERIMENT],
                filter=f,
                order_by=SEARCH_ORDER,
                max_results=SEARCH_MAX,
            )
            return [r.name for r in found]

        # correctness first: the same runs, in the same order, as computed here directly
        got = {"mlflow pandas": ml_pandas(), "mlflow list": ml_list(), "prodline": pl_search()}
        for who, names in got.items():
            assert set(names) == set(expected_names), (
                f"{who} returned {len(names)} runs for {filter_string!r}, expected "
                f"{len(expected_names)}; differing: "
                f"{sorted(set(names) ^ set(expected_names))[:10]}"
            )
            assert names == expected_names, f"{who} returned the right runs in the wrong order"
        assert set(got["prodline"]) == set(got["mlflow pandas"]) == set(got["mlflow list"])

        what = f"{len(expected_names):,} of {cfg.runs:,} runs"
        pandas_row = Row(
            f"search_runs {label}({what}) vs MLflow pandas (ms)",
            "ms",
            higher_is_better=False,
            target="<= 100 ms, >= 10x",
            min_ratio=10,
            max_prodline=100,
            note=f"filter {filter_string!r}, order_by {SEARCH_ORDER}, max_results {SEARCH_MAX}",
        )
        list_row = Row(
            f"search_runs {label}({what}) vs MLflow list (ms)",
            "ms",
            higher_is_better=False,
            target="<= 100 ms, >= 10x",
            min_ratio=10,
            max_prodline=100,
            note="MLflow output_format='list' (no DataFrame)",
        )
        for do_ml, do_pl in interleave(cfg.search_trials_mlflow, cfg.search_trials):
            if do_ml:
                for row, call in ((pandas_row, ml_pandas), (list_row, ml_list)):
                    with Clock() as clock:
                        call()
                    row.mlflow.append(clock.wall * 1e3)
                    row.mlflow_cpu.append(clock.cpu * 1e3)
            if do_pl:
                with Clock() as clock:
                    pl_search()
                for row in (pandas_row, list_row):
                    row.prodline.append(clock.wall * 1e3)
                    row.prodline_cpu.append(clock.cpu * 1e3)
        rows += [pandas_row, list_row]
        with profiled(f"search_runs{'_wide' if label else ''}", cfg.profile):
            for _ in range(5):
                pl_search()
    return rows


def eval_filter(run: dict[str, Any], filter_string: str) -> bool:
    """The two benchmark filters, evaluated in Python (the ground truth)."""
    if filter_string == SEARCH_FILTER:
        return run["metrics"]["f1"] > 0.9 and run["params"]["max_depth"] == "6"
    if filter_string == SEARCH_WIDE_FILTER:
        return run["metrics"]["f1"] > 0.6
    raise ValueError(filter_string)


# --------------------------------------------------------------------------------------
# 4. import time
# --------------------------------------------------------------------------------------
def import_seconds(module: str, trials: int, cwd: Path) -> list[float]:
    command = [sys.executable, "-c", f"import {module}"]
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)  # warm .pyc files
    out = []
    for _ in range(trials):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def import_offenders(module: str, cwd: Path, top: int = 15) -> list[tuple[float, float, str]]:
    """``python -X importtime``: (cumulative ms, self ms, module) sorted by cumulative."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (p.strip() for p in line[12:].split("|", 2))
        entries.append((int(cumulative_us) / 1e3, int(self_us) / 1e3, name.rstrip()))
    entries.sort(reverse=True)
    return entries[:top]


def bench_import(work: Path, cfg: argparse.Namespace) -> tuple[Row, dict[str, Any]]:
    row = Row(
        'python -c "import X" (s)',
        "s",
        higher_is_better=False,
        target="<= 0.3 s",
        max_prodline=0.3,
    )
    baseline: list[float] = []
    for _ in range(cfg.import_trials):  # interleaved, one of each per round
        row.mlflow += import_seconds("mlflow", 1, work)
        row.prodline += import_seconds("prodline", 1, work)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=work, check=True)
        baseline.append(time.perf_counter() - start)
    row.note = f"bare interpreter start-up median {statistics.median(baseline):.3f} s"
    details = {
        "interpreter_startup_s": baseline,
        "prodline_importtime_top": import_offenders("prodline", work),
    }
    # What the first real call pulls in: start a run in a fresh process.
    probe = (
        "import time, prodline; t = time.perf_counter(); "
        f"prodline.init(home={str(work / 'pl-import')!r}); "
        "r = prodline.start_run('bench', capture_code=False, capture_environment=False); "
        "r.log_metric('x', 1.0); r.end(); print(time.perf_counter() - t)"
    )
    first = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, check=True, capture_output=True, text=True
    )
    details["first_start_run_s"] = float(first.stdout.strip().splitlines()[-1])
    return row, details


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials, 2,000-run search")
    parser.add_argument("--json", metavar="PATH", help="write every trial and verdict as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile prodline's side")
    parser.add_argument(
        "--only",
        action="append",
        choices=["log_metric", "batch", "search", "import"],
        help="run only these tasks (repeatable)",
    )
    parser.add_argument("--runs", type=int, help="runs in the search stores (default 10,000)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    cfg = parser.parse_args(argv)
    if cfg.json:
        cfg.json = str(Path(cfg.json).resolve())
    quick = cfg.quick
    cfg.metric_steps = 2000
    cfg.mlflow_metric_steps = 300 if quick else 2000
    cfg.trials = 5 if quick else 9
    cfg.trials_mlflow = 3 if quick else 5
    cfg.batches = 10 if quick else 20
    cfg.metrics_steps = 30 if quick else 100
    cfg.runs = cfg.runs or (2000 if quick else 10_000)
    cfg.search_trials = 9 if quick else 15
    cfg.search_trials_mlflow = 3 if quick else 7
    cfg.import_trials = 5 if quick else 7
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    quiet_mlflow()
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "mode": "quick" if cfg.quick else "full",
    }
    machine = info["machine"]
    log(f"{info['mode']} run on {machine['nproc']} cores, load {machine['loadavg_at_start']}")
    tasks = cfg.only or ["log_metric", "batch", "search", "import"]
    rows: list[Row] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="prodline-bench-") as tmp:
        work = Path(tmp)
        os.chdir(work)  # anything a library writes to the working directory lands here
        if "log_metric" in tasks:
            log("1/4 log_metric loop")
            rows.append(bench_log_metric(work, cfg))
        if "batch" in tasks:
            log("2/4 batched metrics")
            rows += bench_batches(work, cfg)
        if "search" in tasks:
            log("3/4 search_runs")
            rows += bench_search(work, cfg)
        if "import" in tasks:
            log("4/4 import time")
            row, details["import"] = bench_import(work, cfg)
            rows.append(row)
        with contextlib.suppress(Exception):
            import prodline

            prodline.init(home=work / "closed")  # release SQLite files before cleanup
        os.chdir(ROOT)

    print()
    print(
        f"prodline {info['versions']['prodline']} vs MLflow {info['versions']['mlflow']} "
        f"(SQLAlchemy {info['versions']['SQLAlchemy']}, Python {info['versions']['python']}, "
        f"SQLite {info['versions']['sqlite']}), {info['mode']} mode, {info['date']}"
    )
    print(
        f"{info['machine']['nproc']} x {info['machine']['cpu']}, {info['machine']['ram']} RAM, "
        f"load at start {info['machine']['loadavg_at_start']}"
    )
    print()
    print(render_table(rows))
    for row in rows:
        notes = [n for n in (row.note, row.cpu_note()) if n]
        if notes:
            print(f"  * {row.task}: {'; '.join(notes)}")
    if "import" in details:
        imp = details["import"]
        print(
            f"  * first start_run + log_metric in a fresh process: {imp['first_start_run_s']:.3f} s"
        )
        failed = any(r.task.startswith("python -c") and r.verdict == "FAIL" for r in rows)
        print(
            "\n  import prodline, -X importtime top (cumulative ms, self ms, module)"
            + (" -- OVER BUDGET" if failed else "")
            + ":"
        )
        for cumulative, own, name in imp["prodline_importtime_top"][: 15 if failed else 8]:
            print(f"    {cumulative:9.1f} {own:8.1f}  {name}")

    if cfg.json:
        payload = {
            **info,
            "rows": [r.to_dict() for r in rows],
            "details": details,
            "markdown_table": render_table(rows, markdown=True),
        }
        Path(cfg.json).write_text(json.dumps(payload, indent=2))
        log(f"wrote {cfg.json}")
    failed = [r for r in rows if r.verdict == "FAIL"]
    return 1 if cfg.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
