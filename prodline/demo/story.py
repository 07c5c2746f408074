"""The demo, stage by stage: data → experiments → governance → serving → traffic with a
real shift → monitoring → drift-triggered retraining → promotion → hot reload → report."""

from __future__ import annotations

import argparse
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

MARKER = ".prodline-demo"


@dataclass
class Story:
    """What happened, for the final report and for the tests."""

    home: Path
    candidates: list[dict[str, Any]] = field(default_factory=list)
    first_decision: list[dict[str, Any]] = field(default_factory=list)
    champion: int | None = None
    baseline: dict[str, Any] = field(default_factory=dict)
    shifted: dict[str, Any] = field(default_factory=dict)
    drift: list[dict[str, Any]] = field(default_factory=list)
    drift_share: float | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    retrain: dict[str, Any] = field(default_factory=dict)
    reload: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    """Run the whole demo; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m prodline.demo", description=__doc__)
    parser.add_argument("--home", default=".prodline-demo", help="demo home folder (recreated)")
    parser.add_argument("--quick", action="store_true", help="fewer candidates and requests")
    parser.add_argument("--runner", choices=("local", "ray"), default="local",
                        help="where the retraining pipeline runs")  # fmt: skip
    args = parser.parse_args(argv)
    console = Console()
    story = run(Path(args.home), quick=args.quick, console=console, runner=args.runner)
    _closing(console, story)
    return 0


def run(
    home: Path, *, quick: bool = False, console: Console | None = None, runner: str = "local"
) -> Story:
    """The demo in a fresh ``home``; returns the story (also written as HTML). ``runner``
    runs the retraining pipeline in process (``local``) or on a local Ray (``ray``)."""
    import prodline

    console = console or Console(quiet=True)
    home = _fresh_home(home)
    prodline.init(home=home)
    story = Story(home=home)
    from prodline.demo import data as demo_data
    from prodline.demo.pipeline import MODEL, POLICY

    console.rule("[bold]prodline demo: from notebook to production and back")
    frame = demo_data.load_frame()
    eras = demo_data.split_eras(frame)
    console.print(
        f"[bold]1. Data[/] scikit-learn's breast-cancer set: {len(frame)} real cases, "
        f"{len(eras.features)} measurements. History: {len(eras.train)} train + "
        f"{len(eras.eval)} eval; later cases feed production: {len(eras.future)} before the "
        f"retrain, {len(eras.unseen)} unseen by any model after it."
    )
    _experiments(console, story, eras, quick, MODEL)
    _first_governance(console, story, MODEL, POLICY)
    from prodline.demo.server import DemoServer

    server = DemoServer(MODEL, home, home / "server.log")
    try:
        _serve_and_monitor(console, story, server, eras, quick, MODEL, POLICY)
        _retrain_and_reload(console, story, server, eras, quick, MODEL, runner)
    finally:
        server.stop()
    _reports(console, story, MODEL)
    return story


# --------------------------------------------------------------------------- stages
def _experiments(console: Console, story: Story, eras: Any, quick: bool, model: str) -> None:
    import prodline

    candidates = _candidates(quick)
    console.print(f"[bold]2. Experiments[/] {len(candidates)} candidate models, each a tracked run")
    with _progress(console) as progress:
        task = progress.add_task("training and packaging", total=len(candidates))
        for name, build in candidates.items():
            with prodline.start_run(experiment=model, name=name) as run:
                estimator = build()
                run.log_params({k: v for k, v in estimator.get_params().items() if _plain(v)})
                estimator.fit(eras.train[eras.features], eras.train["malignant"])
                version = run.log_model(
                    estimator,
                    model,
                    train=eras.train,
                    target="malignant",
                    eval=eras.eval,
                    owner="oncology-ml@example.org",
                    intended_use="triage of biopsy referrals; a clinician reviews every prediction",
                )
                contract = version.contract
                run.log_metrics({k: contract.metrics[k] for k in ("f1", "recall", "roc_auc")
                                 if contract.metrics.get(k) is not None})  # fmt: skip
            latency = contract.latency.get(version.serving_path, {})
            story.candidates.append(
                {
                    "name": name,
                    "version": version.version,
                    "f1": contract.metrics.get("f1"),
                    "recall": contract.metrics.get("recall"),
                    "path": version.serving_path,
                    "p99_ms": latency.get("p99_single_row_ms"),
                    "onnx": contract.package.get("onnx_conversion"),
                }
            )
            progress.advance(task)
    table = Table("version", "candidate", "f1", "recall", "serving path", "p99 1-row ms")
    for c in story.candidates:
        table.add_row(
            str(c["version"]), c["name"], _f(c["f1"]), _f(c["recall"]), c["path"], _f(c["p99_ms"])
        )
    console.print(table)


def _first_governance(console: Console, story: Story, model: str, policy: Path) -> None:
    import prodline

    result = prodline.govern(model, policy=policy, actor="demo")
    decision = result.decision
    console.print(f"[bold]3. Governance[/] policy {policy.name}: {decision.message}")
    table = Table("version", "outcome", "why")
    for candidate in sorted(decision.candidates, key=lambda c: c.version):
        failed = [r.reason for r in candidate.results if not r.passed]
        why = "; ".join(failed) if failed else candidate.note or "passes every rule"
        table.add_row(str(candidate.version), candidate.outcome, why)
        story.first_decision.append(
            {"version": candidate.version, "outcome": candidate.outcome, "why": why}
        )
    console.print(table)
    story.champion = decision.holder
    if story.champion is None:
        raise RuntimeError("no candidate passed the demo policy; see the reasons above")


def _serve_and_monitor(
    console: Console, story: Story, server: Any, eras: Any, quick: bool, model: str, policy: Path
) -> None:
    import httpx

    import prodline
    from prodline.demo import data as demo_data

    with httpx.Client() as client:
        health = server.wait_ready(client)
        console.print(
            f"[bold]4. Serving[/] {model}/{story.champion} at {server.url} "
            f"(prodline serve, {health.get('serving_path', 'onnx')} path, prediction logging on)"
        )
        n_before, n_after = (150, 300) if quick else (300, 600)
        before = demo_data.production_traffic(eras.future, n_before, shifted=False)
        after = demo_data.production_traffic(
            eras.future, n_after, shifted=True, seed=demo_data.SEED + 1
        )
        story.baseline = _replay(console, client, server, before, "usual referral mix")
        story.shifted = _replay(console, client, server, after, "screening programme starts")
        story.baseline["band_share"] = demo_data.band_share(before)
        story.shifted["band_share"] = demo_data.band_share(after)
        console.print(
            f"   mid-sized lesions: {story.baseline['band_share']:.0%} of referrals before, "
            f"{story.shifted['band_share']:.0%} after; diagnoses fed back through POST /feedback"
        )
    time.sleep(1.0)  # the server writes prediction logs off the request path
    result = prodline.monitor.monitor(model, window=f"{n_after}rows")
    report = result.drift
    drifted = [c for c in report.columns if c.drifted] if report else []
    story.drift_share = report.drift_share if report else None
    story.drift = [
        {
            "column": c.name,
            "psi": c.statistics.get("psi"),
            "wasserstein": c.statistics.get("wasserstein"),
        }
        for c in sorted(drifted, key=lambda c: -(c.statistics.get("psi") or 0))
    ]
    performance = result.performance
    live = performance.metrics if performance else {}
    contract = performance.contract if performance else {}
    story.shifted.update({"live_f1": live.get("f1"), "contract_f1": contract.get("f1"),
                          "labelled": performance.n_labelled if performance else 0})  # fmt: skip
    console.print(
        f"[bold]5. Monitoring[/] last {n_after} requests vs the training profile: "
        f"{len(drifted)} of {len(report.columns) if report else 0} features drift "
        f"(share {story.drift_share or 0:.0%}); live f1 {_f(live.get('f1'))} on "
        f"{story.shifted['labelled']} labelled cases vs {_f(contract.get('f1'))} in the contract"
    )
    table = Table("drifting feature", "PSI", "Wasserstein / ref. spread")
    for row in story.drift[:6]:
        table.add_row(row["column"], _f(row["psi"]), _f(row["wasserstein"]))
    console.print(table)
    check = prodline.monitor.check(model, window=f"{n_after}rows", policy=policy)
    story.alerts = [a.to_dict() for a in check.fired]
    for alert in check.fired:
        console.print(
            f"   [red]alert[/] {alert.rule}: {alert.message} → {', '.join(alert.actions)}"
        )
    for done in check.actions:
        if done["kind"] == "label":
            console.print(f"   {done['detail']} by the policy's action (the alert is the reason)")


def _retrain_and_reload(
    console: Console, story: Story, server: Any, eras: Any, quick: bool, model: str, runner: str
) -> None:
    import httpx

    from prodline.demo import data as demo_data
    from prodline.demo.pipeline import breast_cancer_retraining
    from prodline.pipelines import Watcher

    watcher = Watcher(lambda: {"breast_cancer_retraining": breast_cancer_retraining}, runner=runner)
    try:
        runs = watcher.tick()
    finally:
        watcher.close()
    if not runs:
        raise RuntimeError("monitoring's retrain request did not start the pipeline")
    pipeline_run = runs[0]
    governance = pipeline_run.governance or {}
    story.retrain = {
        "runner": pipeline_run.runner,
        "status": pipeline_run.status,
        "trigger": pipeline_run.trigger,
        "versions": pipeline_run.model_versions,
        "governance": governance,
        "steps": [{"name": s.node, "status": s.status} for s in pipeline_run.steps],
    }
    console.print(
        f"[bold]6. Retraining[/] drift request → pipeline {pipeline_run.pipeline} "
        f"{pipeline_run.status}: registered {', '.join(pipeline_run.model_versions) or 'nothing'}"
    )
    import prodline

    holder = prodline.get_model_version(f"{model}@production").version
    story.reload["holder"] = holder
    console.print(f"   governance: production → version {holder}")
    with httpx.Client() as client:
        story.reload.update(_wait_for_reload(client, server, eras, holder))
        console.print(
            f"[bold]7. Hot reload[/] the running server answered with version {holder} after "
            f"{story.reload['seconds']:.1f} s and {story.reload['requests']} requests, "
            f"{story.reload['failed']} failed"
        )
        n = 150 if quick else 300
        traffic = demo_data.production_traffic(
            eras.future, n, shifted=True, seed=demo_data.SEED + 2
        )
        story.after = _replay(console, client, server, traffic, "after the retrain")
    time.sleep(1.0)
    live = prodline.monitor.monitor(model, window=f"{n}rows").performance
    story.after["live_f1"] = live.metrics.get("f1") if live else None
    console.print(
        f"   live f1 on the shifted population: {_f(story.shifted.get('live_f1'))} before the "
        f"retrain, {_f(story.after.get('live_f1'))} after (on cases no model was trained on)"
    )


def _reports(console: Console, story: Story, model: str) -> None:
    import prodline
    from prodline.demo.report import write_story

    reports = story.home / "reports"
    reports.mkdir(exist_ok=True)
    check = prodline.monitor.monitor(model, window=f"{story.shifted.get('n', 300)}rows")
    drift_path = prodline.monitor.write_report(check, reports / "monitoring.html")
    story.reports["monitoring"] = str(drift_path)
    story.reports["story"] = str(write_story(story, reports / "demo-report.html", model))
    console.print(f"[bold]8. Report[/] {story.reports['story']}")


# --------------------------------------------------------------------------- helpers
def _candidates(quick: bool) -> dict[str, Any]:
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeClassifier

    found = {
        "decision-stump": lambda: DecisionTreeClassifier(max_depth=1, random_state=0),
        "hist-gradient-boosting": lambda: HistGradientBoostingClassifier(random_state=0),
        "random-forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0),
        "gradient-boosting": lambda: GradientBoostingClassifier(random_state=0),
    }
    if quick:
        del found["random-forest"]
    return found


def _replay(console: Console, client: Any, server: Any, rows: Any, label: str) -> dict[str, Any]:
    """Send each row as one request (MLflow ``dataframe_records``), then its diagnosis."""
    features = [c for c in rows.columns if c != "malignant"]
    versions: dict[str, int] = {}
    failed = 0
    labels = []
    with _progress(console) as progress:
        task = progress.add_task(f"   replaying: {label}", total=len(rows))
        for record in rows.to_dict("records"):
            request_id = uuid.uuid4().hex
            body = {"dataframe_records": [{k: record[k] for k in features}]}
            response = client.post(
                f"{server.url}/invocations", json=body, headers={"X-Request-Id": request_id}
            )
            if response.status_code != 200:
                failed += 1
            else:
                answered = response.headers.get("X-Prodline-Version", "?")
                versions[answered] = versions.get(answered, 0) + 1
                labels.append({"request_id": request_id, "label": int(record["malignant"])})
            progress.advance(task)
    for start in range(0, len(labels), 200):
        client.post(f"{server.url}/feedback", json={"labels": labels[start : start + 200]})
    return {"n": len(rows), "failed": failed, "versions": versions}


def _wait_for_reload(client: Any, server: Any, eras: Any, holder: int) -> dict[str, Any]:
    row = eras.future.drop(columns="malignant").iloc[0].to_dict()
    started = time.monotonic()
    requests = failed = 0
    while time.monotonic() - started < 30:
        response = client.post(f"{server.url}/invocations", json={"dataframe_records": [row]})
        requests += 1
        if response.status_code != 200:
            failed += 1
        elif response.headers.get("X-Prodline-Version", "").endswith(f"/{holder}"):
            return {"seconds": time.monotonic() - started, "requests": requests, "failed": failed}
        time.sleep(0.05)
    raise RuntimeError(f"the server did not switch to version {holder} within 30 s")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _fresh_home(home: Path) -> Path:
    home = home.absolute()
    if home.exists():
        if not (home / MARKER).exists():
            raise SystemExit(f"{home} exists and was not made by the demo; pass another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by python -m prodline.demo; safe to delete\n")
    return home


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _closing(console: Console, story: Story) -> None:
    import sys

    home = story.home
    holder = story.reload.get("holder")
    installed = Path(sys.executable).with_name("prodline")
    command = str(installed) if installed.exists() else "prodline"
    console.rule("[bold]what to open next")
    for line in (
        f"the story:        {story.reports.get('story')}",
        f"monitoring:       {story.reports.get('monitoring')}",
        f"runs:             {command} --home {home} runs list -e breast-cancer",
        f"the registry:     {command} --home {home} models show breast-cancer",
        f"the audit trail:  {command} --home {home} govern history breast-cancer",
        f"a contract:       {command} --home {home} models contract breast-cancer {holder}",
        f"drift, live:      {command} --home {home} monitor breast-cancer --window 300rows",
        "the tutorial:     docs/tutorial.md",
    ):
        console.print(f"  {line}")
