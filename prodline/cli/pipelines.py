"""``prodline pipelines ...``: list, show, run and watch pipelines, and their history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prodline.cli import render

if TYPE_CHECKING:
    from prodline.pipelines.records import PipelineRun, StepRun

app = typer.Typer(no_args_is_help=True, help="Pipelines: list, show, run, watch triggers, history.")

#: exit codes of ``run``: a failed pipeline is not a usage error (2)
EXIT_FAILED = 1
EXIT_SKIPPED = 3

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
NameArg = Annotated[str, typer.Argument(help="Pipeline name, e.g. churn_pipeline.")]
FileOption = Annotated[
    str | None,
    typer.Option(
        "--file",
        "-f",
        metavar="PATH",
        help="Python file defining pipelines (default: pipelines.py).",
    ),
]
ModuleOption = Annotated[
    str | None,
    typer.Option("--module", "-m", metavar="MODULE", help="Importable module defining pipelines."),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", metavar="KEY=VALUE",
        help="A pipeline parameter (repeatable); VALUE is read as JSON when it can be.",
    ),
]  # fmt: skip
RunnerOption = Annotated[
    str, typer.Option("--runner", "-r", metavar="local|ray", help="Where steps execute.")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address", metavar="ADDR",
        help="An existing Ray cluster (ray://host:10001 or auto); default: start a local Ray.",
    ),
]  # fmt: skip

_STEP_STYLES = {
    "finished": "green",
    "failed": "red",
    "blocked": "yellow",
    "running": "cyan",
    "pending": "dim",
}
_RUN_STYLES = {"succeeded": "green", "failed": "red", "skipped": "yellow", "running": "cyan"}


# ------------------------------------------------------------------------------ list
@app.command("list")
def list_pipelines(
    file: FileOption = None, module: ModuleOption = None, json_output: JsonOption = False
) -> None:
    """List the pipelines a file or module defines, with their model and triggers.

    Example:
        prodline pipelines list --file pipelines.py
    """
    from prodline.pipelines.loader import load_pipelines

    described = [p.describe() for p in load_pipelines(file, module).values()]
    if json_output:
        render.emit_json({"pipelines": described})
        return
    table = render.new_table("name", "model", "steps", "schedule", "triggers", "description")
    for item in described:
        table.add_row(
            render.text(item["name"]),
            render.text(item["model"] or "-"),
            str(len(item["nodes"])) if not item["error"] else render.text("?", "red"),
            render.text(item["schedule"] or "-"),
            render.text(
                ", ".join(t for t in item["triggers"] if not t.startswith("schedule:")) or "-"
            ),
            render.text(item["description"] or item["error"] or ""),
        )
    render.listing(render.console(), len(described), "pipeline", table)


# ------------------------------------------------------------------------------ show
@app.command("show")
def show_pipeline(
    name: NameArg,
    file: FileOption = None,
    module: ModuleOption = None,
    param: ParamOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a pipeline's DAG: steps, dependencies, schedule and triggers.

    Example:
        prodline pipelines show churn_pipeline --json
    """
    from prodline.pipelines.loader import get_pipeline
    from prodline.pipelines.triggers import next_fire
    from prodline.pipelines.watch import utcnow

    pipe = get_pipeline(name, file, module)
    params = _params(param)
    pipe.graph(**params)  # raises a one-line error when the DAG cannot be built
    data = pipe.describe(**params)
    if data["schedule"]:
        data["next_run"] = next_fire(data["schedule"], utcnow()).isoformat()
    if json_output:
        render.emit_json(data)
        return
    out = render.console()
    out.print(render.text(f"pipeline {data['name']}", "bold"))
    rows: list[tuple[str, Any]] = [
        ("model", data["model"] or "-"),
        (
            "schedule",
            f"{data['schedule']} (UTC; next {data['next_run'][:16]})" if data["schedule"] else "-",
        ),
        ("triggers", ", ".join(data["triggers"]) or "-"),
        ("policy", data["policy"] or "the model's own"),
        ("lock", data["lock"]),
        ("module", data["module"] or "-"),
    ]
    if data["description"]:
        rows.insert(0, ("description", data["description"]))
    out.print(render.kv_table(rows))
    out.print()
    table = render.new_table("step", "function", "depends on", "constants", "cache")
    for node in data["nodes"]:
        constants = ", ".join(f"{k}={v!r}" for k, v in node["constants"].items())
        flags = "yes" if node["cache"] else "no"
        if node["files"]:
            flags += f" + files {', '.join(node['files'])}"
        table.add_row(
            render.text(node["id"]),
            render.text(node["step"]),
            render.text(", ".join(node["depends_on"]) or "-"),
            render.text(constants or "-"),
            render.text(flags),
        )
    render.section(out, f"{len(data['nodes'])} steps", table)
    order = "  →  ".join(" | ".join(level) for level in data["levels"])
    out.print(render.text("order (steps joined by | can run in parallel):", "bold"))
    out.print(render.text(order))


# ------------------------------------------------------------------------------- run
@app.command("run")
def run_pipeline(
    name: NameArg,
    file: FileOption = None,
    module: ModuleOption = None,
    runner: RunnerOption = "local",
    ray_address: RayAddressOption = None,
    param: ParamOption = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step, even when its result is cached.")
    ] = False,
    trigger: Annotated[
        str,
        typer.Option("--trigger", metavar="TEXT", help="Why it runs, recorded (e.g. ci, manual)."),
    ] = "manual",
    json_output: JsonOption = False,
) -> None:
    """Run a pipeline now: each step tracked, unchanged steps reused from the cache,
    new model versions governed.

    Exit code 0 when it succeeded, 1 when a step or governance failed, 3 when it was
    skipped because another run of the same model holds the lock.

    Examples:
        prodline pipelines run churn_pipeline
        prodline pipelines run churn_pipeline --runner ray --param n_rows=5000
    """
    from prodline.pipelines.loader import get_pipeline

    if runner not in ("local", "ray"):
        raise typer.BadParameter("use 'local' or 'ray'", param_hint="--runner")
    if ray_address and runner == "local":
        runner = "ray"
    pipe = get_pipeline(name, file, module)
    out = render.console()
    on_event = None
    if not json_output:
        out.print(render.text(f"running pipeline {pipe.name} ({runner} runner)", "bold"))
        on_event = _printer(out)
    result = pipe.run(
        runner=runner,
        ray_address=ray_address,
        params=_params(param),
        cache=not no_cache,
        trigger=trigger,
        on_event=on_event,
    )
    if json_output:
        render.emit_json(result.to_dict())
    else:
        out.print()
        _print_run(out, result)
    if result.status == "failed":
        raise typer.Exit(EXIT_FAILED)
    if result.status == "skipped":
        raise typer.Exit(EXIT_SKIPPED)


def _printer(out: Any) -> Any:
    marks = {
        "finished": ("✓", "green"),
        "cached": ("↺", "cyan"),
        "failed": ("✗", "red"),
        "blocked": ("·", "yellow"),
    }

    def on_event(event: str, step: StepRun) -> None:
        if event not in marks:
            return
        mark, style = marks[event]
        line = render.text(f"  {mark} {step.node:<24} ", style)
        if event == "finished":
            line.append(
                f"{render.fmt_duration(step.duration_s)}  run {render.short_id(step.run_id)}"
            )
        elif event == "cached":
            line.append(f"cached (run {render.short_id(step.run_id)})")
        elif event == "failed":
            line.append(step.error or "failed")
        else:
            line.append(f"blocked by {step.blocked_by}")
        out.print(line)

    return on_event


def _print_run(out: Any, result: PipelineRun) -> None:
    status = render.text(result.status, _RUN_STYLES.get(result.status))
    rows: list[tuple[str, Any]] = [
        ("pipeline run", result.id or "-"),
        ("status", status),
        ("trigger", _trigger_text(result.trigger)),
        ("runner", result.runner),
        ("duration", render.fmt_duration(result.duration_s)),
    ]
    if result.reason:
        rows.append(("reason", result.reason))
    if result.model_versions:
        rows.append(("new model versions", ", ".join(result.model_versions)))
    rows.append(("governance", result.governance_summary()))
    out.print(render.kv_table(rows))
    if result.steps:
        out.print()
        out.print(_steps_table(result.steps))
    models = result.governance.get("models")
    for name, outcome in models.items() if isinstance(models, dict) else []:
        if outcome.get("explanation"):
            out.print()
            out.print(render.text(f"governance of {name}:", "bold"))
            out.print(render.text(outcome["explanation"]))
    failed = [s for s in result.steps if s.status == "failed"]
    for step in failed:
        out.print()
        out.print(render.text(f"step {step.node} failed:", "bold red"))
        out.print(render.text((step.traceback or step.error or "").rstrip()))


def _steps_table(steps: list[StepRun]) -> Any:
    table = render.new_table(
        "step", "status", "cached", "duration", "run", "note", right=["duration"]
    )
    for step in steps:
        note = step.error if step.status == "failed" else ""
        if step.status == "blocked":
            note = f"blocked by {step.blocked_by}"
        table.add_row(
            render.text(step.node),
            render.text(step.status, _STEP_STYLES.get(step.status)),
            "yes" if step.cached else "no",
            render.fmt_duration(step.duration_s),
            render.short_id(step.run_id),
            render.text(note or ""),
        )
    return table


def _trigger_text(trigger: dict[str, Any]) -> str:
    detail = trigger.get("detail")
    return f"{trigger.get('kind', 'manual')}" + (f": {detail}" if detail else "")


# --------------------------------------------------------------------------- history
@app.command("history")
def pipeline_history(
    name: NameArg,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="Most recent N runs.")
    ] = 20,
    json_output: JsonOption = False,
) -> None:
    """Past runs of a pipeline, newest first: status, trigger, steps, governance.

    Example:
        prodline pipelines history churn_pipeline -n 5
    """
    from prodline.pipelines.records import history

    runs = history(name, limit)
    if json_output:
        render.emit_json({"pipeline": name, "runs": [r.to_dict() for r in runs]})
        return
    table = render.new_table(
        "run", "status", "trigger", "start (UTC)", "duration", "executed", "cached", "failed",
        "versions", "governance",
        right=["duration", "executed", "cached", "failed"],
    )  # fmt: skip
    from datetime import datetime

    for r in runs:
        counts = r.counts()
        started = datetime.fromisoformat(r.started) if r.started else None
        table.add_row(
            render.short_id(r.id),
            render.text(r.status, _RUN_STYLES.get(r.status)),
            render.text(_trigger_text(r.trigger)[:40]),
            render.fmt_time(started),
            render.fmt_duration(r.duration_s),
            str(counts["executed"]),
            str(counts["cached"]),
            str(counts["failed"] + counts["blocked"]),
            render.text(", ".join(r.model_versions) or "-"),
            render.text(str(r.governance.get("status", "-"))),
        )
    out = render.console()
    out.print(render.text(f"{len(runs)} run{'s' * (len(runs) != 1)} of {name}", "bold"))
    if runs:
        out.print(table)


# ----------------------------------------------------------------------------- watch
@app.command("watch")
def watch_pipelines(
    file: FileOption = None,
    module: ModuleOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Evaluate the triggers once and exit.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", "-i", min=0.1, metavar="SECONDS", help="Time between checks."),
    ] = 30.0,
    runner: RunnerOption = "local",
    ray_address: RayAddressOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per pipeline run, nothing else.")
    ] = False,
) -> None:
    """Run pipelines when their triggers fire: cron schedules, new files, drift alerts.

    Runs until interrupted (Ctrl-C or SIGTERM), or one check with --once.

    Examples:
        prodline pipelines watch --interval 60
        prodline pipelines watch --once --json
    """
    import signal
    import sys
    import threading

    from prodline.pipelines.loader import load_pipelines
    from prodline.pipelines.watch import Watcher

    if runner not in ("local", "ray"):
        raise typer.BadParameter("use 'local' or 'ray'", param_hint="--runner")
    if ray_address and runner == "local":
        runner = "ray"
    out = render.console()

    def message(text: str) -> None:
        from datetime import UTC, datetime

        line = f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {text}"
        if json_output:
            print(line, file=sys.stderr, flush=True)
        else:
            out.print(render.text(line))

    def on_run(result: PipelineRun) -> None:
        if json_output:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))

    watched = load_pipelines(file, module)
    watcher = Watcher(
        lambda: load_pipelines(file, module),
        runner=runner,
        ray_address=ray_address,
        on_message=message,
        on_event=None if json_output else _printer(out),
        on_run=on_run,
    )
    triggers = {n: [str(t) for t in p.triggers] for n, p in watched.items() if p.triggers}
    message(
        f"watching {len(triggers)} pipeline(s) with triggers, every {interval:g}s: "
        + ("; ".join(f"{n} [{', '.join(t)}]" for n, t in triggers.items()) or "none")
    )
    stop = threading.Event()
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread
        previous = None
    try:
        watcher.watch(interval, once=once, stop=stop)
    except KeyboardInterrupt:
        message("stopped")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- helpers
def _params(pairs: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: write KEY=VALUE", param_hint="--param")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params
