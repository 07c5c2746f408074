"""Serving benchmark (the "Serve" issue): prodline against `mlflow models serve` and a
trivial ASGI endpoint, same model, same requests, same load generator, one run.

    python bench/bench_serve.py            # 3 interleaved trials of 5 s per measurement
    python bench/bench_serve.py --quick    # 2 trials of 3 s
    python bench/bench_serve.py --json out.json --markdown

The model is a 100-tree random forest on scikit-learn's breast-cancer data (all 30
features). Every request is one row in MLflow's ``dataframe_split`` JSON, sent by wrk
(Debian's ``wrk``, a Lua script for the POST body) to a server with one worker:

- ``mlflow models serve`` from ``.venv-bench`` (MLflow 3, the same pickled estimator,
  saved with an inferred signature so MLflow checks the input schema too);
- ``prodline serve`` with prediction logging on and off, micro-batching on and off;
- a trivial ASGI app on uvicorn + uvloop + httptools that reads the body and returns a
  constant: the floor of the HTTP stack itself.

Targets (prodline's default configuration: logging on, batching left to prodline,
which measures it and leaves it off for this model): throughput at concurrency 16 at
least 100x MLflow's; p50 latency at concurrency 1 at most 1 ms; throughput at least
25% of the trivial endpoint's. The machine is shared and noisy: every figure is the
median of interleaved trials, and ratios compare medians from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_VENV = ROOT / ".venv-bench"
TRIVIAL_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"predictions": [1]}'})
"""
SAVE_MLFLOW = """
import pickle, sys
import mlflow.sklearn
from mlflow.models import infer_signature
import pandas as pd
model, columns, values = pickle.load(open(sys.argv[1], "rb"))
X = pd.DataFrame(values, columns=columns)
mlflow.sklearn.save_model(
    model, sys.argv[2], signature=infer_signature(X, model.predict(X)),
    skops_trusted_types=["sklearn.tree._tree.Tree"],
)
"""


@dataclass
class Target:
    """One server under test."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    rps: list[float] = field(default_factory=list)  # concurrency 16
    p50_ms: list[float] = field(default_factory=list)  # concurrency 1
    rps_c1: list[float] = field(default_factory=list)
    errors: int = 0
    completed: int = 0  # responses wrk counted, every run (warm-up included)

    @property
    def rps_median(self) -> float:
        return statistics.median(self.rps) if self.rps else 0.0

    @property
    def p50_median(self) -> float:
        return statistics.median(self.p50_ms) if self.p50_ms else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_ready(target: Target, path: str, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert target.process is not None
        if target.process.poll() is not None:
            raise RuntimeError(f"{target.name} exited:\n{target.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{target.port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{target.name} did not start in {timeout} s")


def start(target: Target, workdir: Path) -> None:
    target.port = free_port()
    target.log = workdir / f"{target.name.replace(' ', '_').replace('/', '-')}.log"
    command = [part.replace("{port}", str(target.port)) for part in target.command]
    with target.log.open("wb") as out:
        target.process = subprocess.Popen(
            command, cwd=workdir, env=target.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def stop(target: Target) -> None:
    process = target.process
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and its children
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port: int, script: Path, connections: int, seconds: float) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "--latency", "-s", str(script), f"http://127.0.0.1:{port}/invocations"],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    text = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    match = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", text)
    p50 = float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")
    done_count = re.search(r"(\d+) requests in", text)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    completed = int(done_count.group(1)) if done_count else 0
    return {"rps": rps, "p50_ms": p50, "errors": errors, "completed": completed}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 trials of 3 s")
    parser.add_argument("--json", dest="json_path", help="write the results here")
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--skip-mlflow", action="store_true", help="no MLflow (no .venv-bench)")
    args = parser.parse_args(argv)
    trials = args.trials or (2 if args.quick else 3)
    seconds = args.seconds or (3.0 if args.quick else 5.0)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    mlflow_bin = BENCH_VENV / "bin" / "mlflow"
    use_mlflow = not args.skip_mlflow and mlflow_bin.exists()
    if not use_mlflow and not args.skip_mlflow:
        print(f"{mlflow_bin} not found: create .venv-bench with mlflow, or --skip-mlflow",
              file=sys.stderr)  # fmt: skip
        return 2

    import pickle

    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import train_test_split

    import prodline

    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="prodline-bench-serve-"))
    targets: list[Target] = []
    batching: dict[str, bool] = {}
    dropped = 0
    try:
        frame = load_breast_cancer(as_frame=True).frame
        frame.columns = [c.replace(" ", "_") for c in frame.columns]
        train, test = train_test_split(frame, test_size=0.3, random_state=0)
        X_train, X_test = train.drop(columns="target"), test.drop(columns="target")
        forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(
            X_train, train["target"]
        )
        home = workdir / "home"
        log("registering the model with prodline")
        prodline.init(home=home)
        with prodline.start_run(experiment="bench-serve", capture_code=False) as run:
            run.log_model(
                forest, "bench-forest", train=train, target="target",
                eval=(X_test, test["target"]), owner="bench", intended_use="benchmark",
            )  # fmt: skip
        prodline.set_alias("bench-forest", "production", 1)
        # a model without an ONNX twin (skl2onnx rejects HistGradientBoosting here): the
        # Python path, where one call costs milliseconds and micro-batching pays
        boosted = HistGradientBoostingClassifier(random_state=0).fit(X_train, train["target"])
        with prodline.start_run(experiment="bench-serve", capture_code=False) as run:
            run.log_model(
                boosted, "bench-hgb", train=train, target="target",
                eval=(X_test, test["target"]), owner="bench", intended_use="benchmark",
            )  # fmt: skip
        prodline.set_alias("bench-hgb", "production", 1)
        prodline.init()
        row = X_test.iloc[0]
        body = json.dumps(
            {"dataframe_split": {"columns": list(X_test.columns), "data": [row.tolist()]}}
        )
        script = workdir / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n"
        )
        (workdir / "trivial_app.py").write_text(TRIVIAL_APP)
        python = sys.executable
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
        base = [python, "-m", "prodline.cli.main", "--home", str(home), "serve"]
        options = ["--port", "{port}", "--log-level", "warning"]
        serve = [*base, "bench-forest", *options]
        serve_hgb = [*base, "bench-hgb", *options, "--no-log-predictions"]
        targets = [
            Target("trivial ASGI (uvicorn+uvloop+httptools)",
                   [python, "-m", "uvicorn", "trivial_app:app", "--port", "{port}", "--loop",
                    "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                   env),
            Target("prodline default: log on, batching auto (off)", serve, env),
            Target("prodline, log on, batch on", [*serve, "--batching"], env),
            Target("prodline, log off, batch off", [*serve, "--no-log-predictions",
                                                    "--no-batching"], env),
            Target("prodline, log off, batch on", [*serve, "--no-log-predictions", "--batching"],
                   env),
            Target("python path (HistGB), log off, batch off", [*serve_hgb, "--no-batching"], env),
            Target("python path (HistGB), log off, batching auto (on)", serve_hgb, env),
        ]  # fmt: skip
        if use_mlflow:
            pickled = workdir / "forest.pkl"
            pickled.write_bytes(
                pickle.dumps((forest, list(X_train.columns), X_train.head(50).to_numpy()))
            )
            model_dir = workdir / "mlflow-model"
            bench_python = str(BENCH_VENV / "bin" / "python")
            log("saving the same estimator with mlflow.sklearn.save_model (.venv-bench)")
            saved = subprocess.run(
                [bench_python, "-c", SAVE_MLFLOW, str(pickled), str(model_dir)],
                cwd=workdir, capture_output=True, text=True,
            )  # fmt: skip
            if saved.returncode != 0:
                raise RuntimeError(f"mlflow could not save the model:\n{saved.stderr[-3000:]}")
            mlflow_env = {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
            # MLflow starts `uvicorn` from PATH: the one in .venv-bench
            mlflow_env["PATH"] = f"{BENCH_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            targets.append(
                Target("mlflow models serve",
                       [str(mlflow_bin), "models", "serve", "-m", str(model_dir), "--env-manager",
                        "local", "--port", "{port}", "--workers", "1"], mlflow_env)
            )  # fmt: skip
        for target in targets:
            log(f"starting {target.name}")
            start(target, workdir)
        for target in targets:  # the trivial app answers any path
            wait_ready(target, "/invocations" if target.name.startswith("trivial") else "/ping")
        answers = check_answers(targets, body, {"prodline": forest, "mlflow": forest,
                                                "python path": boosted}, row)  # fmt: skip
        batching = decided_batching(targets)
        log(f"micro-batching as running: {batching}")
        log(f"answers agree: {answers}")
        for target in targets:  # warm-up
            target.completed += wrk(target.port, script, 16, 1.0)["completed"] + 1
        for trial in range(trials):
            for target in targets:
                time.sleep(1.0)  # let the previous server's log writer settle
                c16 = wrk(target.port, script, 16, seconds)
                c1 = wrk(target.port, script, 1, seconds)
                target.rps.append(c16["rps"])
                target.p50_ms.append(c1["p50_ms"])
                target.rps_c1.append(c1["rps"])
                target.errors += int(c16["errors"] + c1["errors"])
                target.completed += c16["completed"] + c1["completed"]
                log(f"trial {trial + 1}/{trials} {target.name}: {c16['rps']:,.0f} req/s at c=16, "
                    f"p50 {c1['p50_ms']:.3f} ms at c=1")  # fmt: skip
        dropped = sum(logs_dropped(t) for t in targets if "log on" in t.name or "default" in t.name)
    finally:
        for target in targets:
            stop(target)
    logging = {}
    if targets:
        prodline.init(home=workdir / "home")
        from prodline import _context

        answered = sum(t.completed for t in targets if "log on" in t.name or "default" in t.name)
        logging = {
            "answered_by_logging_servers": answered,
            "rows_logged": _context.store().prediction_count("bench-forest"),
            "dropped": dropped,
        }
        _context.reset()
        prodline.init()
        log(f"prediction logging: {logging}")
    results = report(targets, info, trials, seconds, use_mlflow)
    results["batching"] = batching
    results["logging"] = logging
    print(results["table"])
    if logging:
        print(
            f"prediction logging (log-on servers): {logging['answered_by_logging_servers']:,} "
            f"requests answered, {logging['rows_logged']:,} rows in the store after shutdown, "
            f"{logging['dropped']:,} dropped"
        )
    if batching:
        print("micro-batching while running: " + ", ".join(
            f"{name}: {'on' if on else 'off'}" for name, on in batching.items()))  # fmt: skip
    if args.markdown:
        print()
        print(results["markdown"])
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2, default=str))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(t.errors == 0 for t in targets) else 1


def check_answers(targets: list[Target], body: str, models: dict[str, Any], row: Any) -> str:
    """Every model server answers the benchmark request with its model's prediction."""
    import httpx
    import pandas as pd

    frame = pd.DataFrame([row])
    for target in targets:
        model = next((m for prefix, m in models.items() if target.name.startswith(prefix)), None)
        if model is None:
            continue
        response = httpx.post(
            f"http://127.0.0.1:{target.port}/invocations", content=body,
            headers={"content-type": "application/json"}, timeout=60,
        )  # fmt: skip
        response.raise_for_status()
        got, want = response.json()["predictions"][0], model.predict(frame)[0]
        if int(got) != int(want):
            raise RuntimeError(f"{target.name} predicted {got}, the model {want}")
    return "every model server gives its model's prediction"


def logs_dropped(target: Target) -> int:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{target.port}/metrics", timeout=10).text
    found = re.search(r"^prodline_prediction_logs_dropped_total (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def decided_batching(targets: list[Target]) -> dict[str, bool]:
    """Whether each prodline server batches (from /health): checks the auto decision."""
    import httpx

    out = {}
    for target in targets:
        if target.name.startswith(("prodline", "python path")):
            health = httpx.get(f"http://127.0.0.1:{target.port}/health", timeout=10).json()
            out[target.name] = health["routing"]["champion"]["batching"]
    return out


def report(targets: list[Target], info: dict[str, Any], trials: int, seconds: float,
           use_mlflow: bool) -> dict[str, Any]:  # fmt: skip
    trivial = targets[0]
    mlflow = next((t for t in targets if t.name.startswith("mlflow")), None)
    rows = []
    for target in targets:
        row: dict[str, Any] = {
            "server": target.name,
            "rps_c16": target.rps_median,
            "p50_ms_c1": target.p50_median,
            "rps_trials": target.rps,
            "p50_trials": target.p50_ms,
            "errors": target.errors,
        }
        if target.name.startswith("prodline"):  # the forest: the targets apply
            row["x_mlflow"] = target.rps_median / mlflow.rps_median if mlflow else None
            row["share_of_trivial"] = target.rps_median / trivial.rps_median
            checks = {
                "x_mlflow >= 100": row["x_mlflow"] is not None and row["x_mlflow"] >= 100,
                "p50 <= 1 ms": row["p50_ms_c1"] <= 1.0,
                ">= 25% of trivial": row["share_of_trivial"] >= 0.25,
            }
            row["checks"] = checks
            row["verdict"] = "PASS" if all(checks.values()) and not target.errors else "FAIL"
        rows.append(row)
    header = ["server", "req/s c=16", "p50 c=1", "x MLflow", "% of trivial", "result"]
    body = []
    for row in rows:
        body.append([
            row["server"], f"{row['rps_c16']:,.0f}", f"{row['p50_ms_c1']:.3f} ms",
            "-" if row.get("x_mlflow") is None else f"{row['x_mlflow']:,.0f}x",
            "-" if "share_of_trivial" not in row else f"{100 * row['share_of_trivial']:.0f}%",
            row.get("verdict", "-"),
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    lines.append(
        f"medians of {trials} interleaved trials of {seconds:g} s per measurement; "
        f"{info['cpu']}, {info['cores']} cores, load average at start "
        f"{' '.join(f'{x:.1f}' for x in info['load_average'])}; {info['date']}"
    )
    markdown = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(r) + " |" for r in body]
    return {
        "machine": info,
        "trials": trials,
        "seconds": seconds,
        "mlflow": use_mlflow,
        "rows": [{"task": r["server"], "verdict": r.get("verdict", "info"), **r} for r in rows],
        "table": "\n".join(lines),
        "markdown": "\n".join(markdown),
    }


if __name__ == "__main__":
    sys.exit(main())
