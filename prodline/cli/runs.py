"""``prodline runs ...``: list, show, compare and reproduce runs (rendering: ``run_view``,
``compare``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prodline.cli import compare, render, run_view

if TYPE_CHECKING:
    from prodline.store.records import MetricPoint, RunRecord

app = typer.Typer(no_args_is_help=True, help="List, show and compare runs.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
RunArgument = Annotated[
    str,
    typer.Argument(metavar="RUN", help="A run id, or a unique prefix of at least 4 characters."),
]
#: metric/param columns ``runs list`` shows by default
DEFAULT_MAX_COLUMNS = 8
#: longest cell in ``runs list`` (longer names and values end in an ellipsis)
LIST_CELL_WIDTH = 32


# ------------------------------------------------------------------------------ list
@app.command("list")
def list_runs(
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment", "-e", metavar="NAME", help="Only runs of this experiment (repeatable)."
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="EXPR",
            help="Search filter, e.g. \"metrics.f1 > 0.9 and params.max_depth = '6'\".",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            metavar="'FIELD DESC'",
            help="Sort key such as 'metrics.f1 DESC' or 'start_time' (repeatable). "
            "Default: newest first.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=50_000, help="Runs per page.")
    ] = 50,
    page_token: Annotated[
        str | None,
        typer.Option("--page-token", metavar="TOKEN", help="Next page, from a previous listing."),
    ] = None,
    max_columns: Annotated[
        int,
        typer.Option(
            "--max-columns",
            min=0,
            help="Metric and param columns to show; the others are named under the table.",
        ),
    ] = DEFAULT_MAX_COLUMNS,
    json_output: JsonOption = False,
) -> None:
    """List runs, newest first, with their metrics and params.

    Examples:
        prodline runs list -e churn -o "metrics.f1 DESC" -n 20
        prodline runs list -f "metrics.f1 > 0.8 and params.C = '1.0'" --json
    """
    import prodline

    records = prodline.search_runs(
        experiments=experiment or None,
        filter=filter_,
        order_by=order_by or None,
        max_results=limit,
        page_token=page_token,
    )
    if json_output:
        render.emit_json(
            {
                "runs": [record.to_dict() for record in records],
                "next_page_token": records.next_page_token,
            }
        )
        return
    columns, hidden = choose_columns(records, order_by or [], max_columns)
    table = render.new_table(
        "id",
        "experiment",
        "name",
        "status",
        "start (UTC)",
        "duration",
        *[f"{kind}.{key}" for kind, key in columns],
        right=["duration", *[f"metrics.{key}" for kind, key in columns if kind == "metrics"]],
        max_width=LIST_CELL_WIDTH,
    )
    for record in records:
        cells: list[Any] = []
        for kind, key in columns:
            value = getattr(record, kind).get(key)
            cells.append(render.text(render.fmt_number(value) if value is not None else ""))
        table.add_row(
            render.short_id(record.id),
            render.text(record.experiment),
            render.text(record.name),
            render.status_text(record.status),
            render.fmt_time(record.start_time),
            render.fmt_duration(record.duration_s),
            *cells,
        )
    out = render.console()
    render.listing(out, len(records), "run", table)
    if hidden:
        out.print(
            render.text(
                f"{len(hidden)} more column{'s' * (len(hidden) != 1)} hidden: "
                f"{', '.join(hidden)} (use --max-columns, or --json for everything)",
                "dim",
            )
        )
    if records.next_page_token:
        out.print(render.text(f"more runs: --page-token {records.next_page_token}", "dim"))


def choose_columns(
    records: Sequence[RunRecord], order_by: Sequence[str], max_columns: int
) -> tuple[list[tuple[str, str]], list[str]]:
    """Which ``(kind, key)`` columns to show and which ``kind.key`` names are hidden.

    Columns named in ``order_by`` come first, then metrics, then params, each by how
    many of the runs have them (most first), then by name. Tags appear only when
    sorted by."""
    wanted: list[tuple[str, str]] = []
    for spec in order_by:
        field = spec.strip()
        head, _, direction = field.rpartition(" ")
        if direction.upper() in ("ASC", "DESC"):
            field = head.strip()
        kind, dot, key = field.partition(".")
        kind = {"metric": "metrics", "param": "params", "tag": "tags"}.get(kind, kind)
        if dot and kind in ("metrics", "params", "tags"):
            key = key[1:-1] if key[:1] in '`"' and key[-1:] == key[:1] else key
            if (kind, key) not in wanted:
                wanted.append((kind, key))
    for kind in ("metrics", "params"):
        counts = Counter(key for record in records for key in getattr(record, kind))
        for key, _n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            if (kind, key) not in wanted:
                wanted.append((kind, key))
    shown = wanted[:max_columns]
    hidden = [f"{kind}.{key}" for kind, key in wanted[max_columns:]]
    return shown, hidden


# ------------------------------------------------------------------------------ show
@app.command("show")
def show_run(
    run: RunArgument,
    history: Annotated[
        str | None,
        typer.Option("--history", metavar="METRIC", help="Print every step of this metric."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show everything recorded about one run.

    Attributes, params, latest metrics, tags, notes, datasets, artifacts,
    code, environment, and the traceback of a failed run.

    Examples:
        prodline runs show 3f9a2c1e
        prodline runs show 3f9a2c1e --history val_loss
    """
    import prodline

    record = prodline.get_run(run)
    if history is not None:
        points = metric_history(record, history)
        if json_output:
            render.emit_json(
                {
                    "run_id": record.id,
                    "key": history,
                    "points": [point.to_dict() for point in points],
                }
            )
        else:
            run_view.render_history(render.console(), record, history, points)
        return
    if json_output:
        render.emit_json(record.to_dict())
        return
    run_view.render_run(render.console(), record)


def metric_history(record: RunRecord, key: str) -> list[MetricPoint]:
    """Every point of metric ``key`` in a run, by step (NotFoundError if never logged)."""
    import prodline

    return prodline.get_metric_history(record.id, key)


# --------------------------------------------------------------------------- compare
@app.command("compare")
def compare_runs(
    runs: Annotated[
        list[str],
        typer.Argument(metavar="RUN", help="Two or more run ids or unique prefixes."),
    ],
    diff_only: Annotated[
        bool, typer.Option("--diff-only", help="Show only params and metrics that differ.")
    ] = False,
    maximize: Annotated[
        list[str] | None,
        typer.Option("--maximize", metavar="METRIC", help="Higher is better for this metric."),
    ] = None,
    minimize: Annotated[
        list[str] | None,
        typer.Option("--minimize", metavar="METRIC", help="Lower is better for this metric."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Compare runs side by side, marking differences and the best metric values.

    Best is the highest value, or the lowest for metrics named like losses, errors
    or times (loss, rmse, mae, latency...). Override with --maximize / --minimize.

    Example:
        prodline runs compare 3f9a2c1e 77b01d4a --minimize logloss
    """
    import prodline

    if len(runs) < 2:
        raise typer.BadParameter("give at least two runs to compare.", param_hint="RUN")
    records = [prodline.get_run(ref) for ref in runs]
    comparison = compare.compare(records, maximize or [], minimize or [])
    if json_output:
        render.emit_json(comparison)
        return
    compare.render_comparison(render.console(), records, comparison, diff_only)


# ------------------------------------------------------------------------- reproduce
@app.command("reproduce")
def reproduce_run(
    run: RunArgument,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, metavar="SECONDS", help="Stop the re-run after this."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Re-run a run's captured code on its dataset snapshots and compare the results.

    The re-run is a new run, linked to the original; its params and final metrics
    are compared with the original's.

    Example:
        prodline runs reproduce 3f9a2c1e --timeout 600
    """
    import prodline

    report = prodline.reproduce(run, timeout=timeout)
    if json_output:
        render.emit_json(report.to_dict())
        return
    run_view.render_reproduction(render.console(), report)
