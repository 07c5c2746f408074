"""``prodline monitor ...``: drift, performance and alerts of served models, and drift
between any two data files.

``prodline monitor MODEL`` is short for ``prodline monitor show MODEL``: the group
routes anything that is not one of its commands to ``show``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from prodline.cli import render

if TYPE_CHECKING:
    from rich.console import Console

    from prodline.monitor.drift import ColumnDrift, DriftReport
    from prodline.monitor.service import MonitorResult

#: exit code of ``check`` when an alert fires (errors exit 2)
ALERT_EXIT_CODE = 1
#: history windows shown in the terminal (the JSON and the report have all)
HISTORY_SHOWN = 10


class _DefaultToShow(TyperGroup):
    """``prodline monitor churn`` runs ``show churn``; ``check``/``compare`` as usual."""

    default = "show"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, "MODEL [OPTIONS] | COMMAND [ARGS]...")


app = typer.Typer(
    cls=_DefaultToShow,
    no_args_is_help=True,
    help="Monitor served models (drift, performance, alerts) and compare datasets.\n\n"
    "prodline monitor MODEL is short for prodline monitor show MODEL.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Registered model name.")]
WindowOption = Annotated[
    str | None,
    typer.Option(
        "--window",
        "-w",
        metavar="SPAN",
        help="A time span (1d, 6h, 30m, 2w) or a row count (5000rows). "
        "Default: the policy's monitor.window, else 1d.",
    ),
]
AliasOption = Annotated[
    str, typer.Option("--alias", help="The version the report is about when several served.")
]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", metavar="FILE", help="Policy file (default policies/MODEL.yaml)."),
]
ReportOption = Annotated[
    Path | None,
    typer.Option("--report", metavar="FILE", help="Also write a self-contained HTML report."),
]


@app.command("show")
def show(
    model: ModelArg,
    window: WindowOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Cover everything logged since then: 7d (back from now) or an ISO date/time.",
        ),
    ] = None,
    alias: AliasOption = "production",
    policy: PolicyOption = None,
    report: ReportOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute the window history from the first log.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Drift, performance and operations of a served model over its latest window.

    Examples:
        prodline monitor churn
        prodline monitor churn --window 5000rows
        prodline monitor churn --since 7d --report drift.html
        prodline monitor churn --json
    """
    from prodline.monitor.service import monitor

    result = monitor(model, window=window, since=since, alias=alias, policy=policy, rebuild=rebuild)
    written = result.write_html(report) if report is not None else None
    if json_output:
        payload = result.to_dict()
        if written is not None:
            payload["report"] = str(written)
        render.emit_json(payload)
        return
    out = render.console()
    render_result(out, result)
    if written is not None:
        out.print(render.text(f"report written to {written}", "bold"))


@app.command("check")
def check(
    model: ModelArg,
    window: WindowOption = None,
    alias: AliasOption = "production",
    policy: PolicyOption = None,
    report: ReportOption = None,
    no_actions: Annotated[
        bool, typer.Option("--no-actions", help="Evaluate the rules but run no action.")
    ] = False,
    repeat: Annotated[
        bool,
        typer.Option("--repeat", help="Run the actions even if they ran for this window already."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Evaluate the alert rules of the model's policy (monitor.alerts); exit 1 when one
    fires, 0 when none does (for cron and CI).

    Examples:
        prodline monitor check churn
        prodline monitor check churn --policy policies/churn.yaml --no-actions --json
    """
    from prodline.monitor.alerts import check as run_check

    result = run_check(
        model, window, alias=alias, policy=policy, run_actions=not no_actions, repeat=repeat
    )
    written = None
    if report is not None:
        from prodline.monitor.report import write_report

        written = write_report(result, report)
    if json_output:
        payload = result.to_dict()
        if written is not None:
            payload["report"] = str(written)
        render.emit_json(payload)
    else:
        out = render.console()
        _render_check(out, result)
        if written is not None:
            out.print(render.text(f"report written to {written}", "bold"))
    if result.fired:
        raise typer.Exit(ALERT_EXIT_CODE)


@app.command("compare")
def compare_files(
    reference: Annotated[
        Path, typer.Argument(metavar="REFERENCE", help="Reference data (Parquet, CSV, JSON).")
    ],
    current: Annotated[
        Path, typer.Argument(metavar="CURRENT", help="Current data (Parquet, CSV, JSON).")
    ],
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="A,B", help="Compare only these columns."),
    ] = None,
    prediction: Annotated[
        str | None,
        typer.Option("--prediction", metavar="COLUMN", help="The column holding predictions."),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            "-t",
            metavar="KEY=VALUE",
            help="Change a threshold (wasserstein, psi, jensen_shannon, drift_share, ...); "
            "COLUMN.KEY=VALUE for one column. Repeatable.",
        ),
    ] = None,
    report: ReportOption = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when the dataset drifts.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compare two data files column by column (no model or server needed).

    Examples:
        prodline monitor compare train.parquet today.csv
        prodline monitor compare train.parquet today.csv --report drift.html
        prodline monitor compare a.csv b.csv -t wasserstein=0.2 -t income.psi=0.3 --json
    """
    from prodline.monitor.drift import compare

    for path in (reference, current):
        if not path.exists():
            from prodline.errors import InvalidValueError

            raise InvalidValueError(f"{path} does not exist")
    result = compare(
        reference,
        current,
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        thresholds=_thresholds(threshold or []),
        prediction=prediction,
    )
    written = None
    if report is not None:
        written = result.write_html(report, title=f"Drift: {current.name} against {reference.name}")
    if json_output:
        payload = result.to_dict(plot=False)
        if written is not None:
            payload["report"] = str(written)
        render.emit_json(payload)
    else:
        out = render.console()
        out.print(
            render.text(
                f"{current} ({result.n_current:,} rows) against {reference} "
                f"({result.n_reference:,} rows)",
                "bold",
            )
        )
        out.print()
        render_drift(out, result)
        if written is not None:
            out.print(render.text(f"report written to {written}", "bold"))
    if fail_on_drift and result.dataset_drift:
        raise typer.Exit(ALERT_EXIT_CODE)


def _thresholds(items: list[str]) -> dict[str, Any]:
    from prodline.errors import InvalidValueError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidValueError(f"--threshold {item!r}: write KEY=VALUE, e.g. psi=0.25")
        try:
            number: Any = float(value)
        except ValueError:
            if value.strip().lower() not in ("true", "false"):
                raise InvalidValueError(
                    f"--threshold {item!r}: the value must be a number"
                ) from None
            number = value.strip().lower() == "true"
        key = key.strip()
        if "." in key:
            column, _, stat = key.rpartition(".")
            out.setdefault("columns", {}).setdefault(column, {})[stat] = number
        else:
            out[key] = int(number) if key == "small_sample" else number
    return out


# ============================================================================ rendering


def render_result(out: Console, result: MonitorResult) -> None:
    """A monitoring result for people."""
    start = render.fmt_time(_dt(result.start_ms)) if result.start_ms is not None else "start"
    head = f"{result.model}"
    if result.version is not None:
        head += f" v{result.version}"
    out.print(
        render.text(
            f"{head} · window {result.window} ({start} to {render.fmt_time(_dt(result.end_ms))}"
            f" UTC) · {result.n_rows:,} rows",
            "bold",
        )
    )
    for note in result.notes:
        out.print(render.text(f"note: {note}", "yellow"))
    out.print()
    primary = result.primary
    if primary is not None and primary.reference:
        ref = primary.reference
        out.print(
            render.text(
                f"reference: dataset {ref.get('name')} v{ref.get('version')} "
                f"({ref.get('n_rows', 0):,} rows); predictions: {ref.get('predictions')}",
                "dim",
            )
        )
    if result.drift is not None:
        render_drift(out, result.drift)
    if result.performance is not None:
        _render_performance(out, result)
    for v in result.versions:
        if v.version == result.version:
            continue
        roles = ", ".join(f"{r} {n:,}" for r, n in v.roles.items())
        line = f"version {v.version} ({roles} rows)"
        if v.drift is not None:
            line += f": {v.drift.summary()}"
        if v.problem:
            line += f": {v.problem}"
        out.print(render.text(line))
    if result.ab is not None:
        style = "green" if result.ab.winner else "yellow"
        out.print(render.text("champion/challenger: " + result.ab.summary(), style))
        out.print()
    _render_operations(out, result)
    _render_history(out, result)


def render_drift(out: Console, report: DriftReport) -> None:
    """The per-feature drift table, the prediction table and the verdict."""
    render.section(out, "Features", _drift_table(report.columns) if report.columns else None)
    if report.prediction:
        render.section(out, "Predictions", _drift_table(report.prediction))
    if report.missing_columns:
        out.print(
            render.text(
                "missing from the current data: " + ", ".join(report.missing_columns), "yellow"
            )
        )
    style = "red" if report.dataset_drift else ("yellow" if report.drifted_columns else "green")
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    out.print(render.text(f"{verdict}: {report.summary()}", style))
    out.print()


def _drift_table(columns: list[ColumnDrift]) -> Any:
    table = render.new_table(
        "column",
        "kind",
        "statistic",
        "score",
        "psi",
        "p",
        "status",
        "missing ref→cur",
        "notes",
        right=["score", "psi", "p"],
    )
    for c in columns:
        p = c.statistics.get("ks_p_value", c.statistics.get("chi2_p_value"))
        if c.drifted:
            status = render.text("drift", "red bold")
        elif c.skipped:
            status = render.text("skipped", "dim")
        else:
            status = render.text("ok", "green")
        notes = []
        if c.skipped:
            notes.append(c.skipped)
        notes.extend(c.reasons)
        if c.new_categories_flag:
            notes.append(f"new: {', '.join(list(c.new_categories)[:3])}")
        missing = f"{c.missing_rate_reference:.1%}→{c.missing_rate_current:.1%}"
        table.add_row(
            render.text(c.name),
            c.kind,
            c.score_name if not c.skipped else "-",
            render.fmt_number(_round(c.score)),
            render.fmt_number(_round(c.statistics.get("psi"))),
            _fmt_p(p),
            status,
            render.text(missing, "yellow" if c.missing_changed else None),
            render.text("; ".join(notes)),
        )
    return table


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _render_performance(out: Console, result: MonitorResult) -> None:
    perf = result.performance
    assert perf is not None
    title = f"Performance ({perf.n_labelled:,} of {perf.n_rows:,} rows labelled)"
    if not perf.n_labelled:
        out.print(render.text(f"{title}: no feedback labels yet", "dim"))
        out.print()
        return
    table = render.new_table(
        "metric", "window", "contract", "difference", right=["window", "contract", "difference"]
    )
    for key, value in perf.metrics.items():
        delta = perf.deltas.get(key)
        drop = perf.drop(key)
        style = "red" if drop is not None and drop > 0.02 else None
        table.add_row(
            key,
            render.fmt_number(_round(value)),
            render.fmt_number(_round(perf.contract.get(key))),
            render.text(render.fmt_number(_round(delta)), style),
        )
    render.section(out, title, table)


def _render_operations(out: Console, result: MonitorResult) -> None:
    ops = result.operations
    if not ops.get("n_requests"):
        return
    lat = ops.get("latency_ms") or {}
    traffic = ops.get("traffic") or {}
    rows = [
        ("requests", f"{ops['n_requests']:,} ({ops['n_rows']:,} rows)"),
        ("error rate", f"{ops['error_rate']:.2%}" if ops.get("error_rate") is not None else "-"),
        (
            "latency p50 / p95 / p99",
            f"{lat.get('p50', 0):.2f} / {lat.get('p95', 0):.2f} / {lat.get('p99', 0):.2f} ms",
        ),
    ]
    if traffic.get("rows_per_hour") is not None:
        line = f"{traffic['rows_per_hour']:,.1f} rows/h"
        if traffic.get("baseline_rows_per_hour"):
            line += (
                f" (mean of the last {traffic['baseline_windows']} windows: "
                f"{traffic['baseline_rows_per_hour']:,.1f})"
            )
        rows.append(("traffic", line))
    render.section(out, "Operations", render.kv_table(rows))


def _render_history(out: Console, result: MonitorResult) -> None:
    windows = [w for w in result.history if w.get("complete")]
    if not windows:
        return
    shown = windows[-HISTORY_SHOWN:]
    metric = None
    for w in shown:
        v = w.get("versions", {}).get(str(w.get("primary")), {})
        for key, value in (v.get("metrics") or {}).items():
            if value is not None:
                metric = key
                break
        if metric:
            break
    columns = ["window end (UTC)", "rows", "version", "drift share", "drifted"]
    if metric:
        columns.append(metric)
    table = render.new_table(*columns, right=["rows", "drift share", metric or ""])
    for w in shown:
        v = w.get("versions", {}).get(str(w.get("primary")), {})
        row = [
            render.fmt_time(_dt(w.get("end_ms"))),
            f"{w.get('n_rows', 0):,}",
            str(w.get("primary") or "-"),
            render.fmt_number(_round(v.get("drift_share"))),
            render.text(", ".join(v.get("drifted") or []) or "-"),
        ]
        if metric:
            row.append(render.fmt_number(_round((v.get("metrics") or {}).get(metric))))
        table.add_row(*row)
    title = f"History ({len(windows)} finished window(s) of {result.window}"
    title += f", last {len(shown)})" if len(windows) > len(shown) else ")"
    render.section(out, title, table)


def _render_check(out: Console, result: Any) -> None:
    table = render.new_table("rule", "condition", "status", "detail", "actions")
    for a in result.alerts:
        if a.fired:
            status = render.text("FIRED", "red bold")
        elif a.evaluated:
            status = render.text("ok", "green")
        else:
            status = render.text("not evaluated", "dim")
        table.add_row(
            render.text(a.rule),
            a.kind,
            status,
            render.text(a.message),
            render.text(", ".join(a.actions) or "-"),
        )
    policy = result.policy or "no policy file"
    out.print(render.text(f"{result.model} · window {result.window} · {policy}", "bold"))
    if not result.alerts:
        out.print(render.text("no alert rules (add monitor.alerts to the policy)", "yellow"))
    else:
        out.print(table)
    for action in result.actions:
        style = "green" if action["ok"] else "red"
        out.print(
            render.text(f"action {action['action']} ({action['kind']}): {action['detail']}", style)
        )
    out.print()
    style = "red bold" if result.fired else "green"
    out.print(render.text(result.summary(), style))


def _dt(ms: int | None) -> Any:
    from datetime import UTC, datetime

    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)
