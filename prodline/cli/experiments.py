"""``prodline experiments ...``: the experiments runs are grouped in."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="List experiments.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


@app.command("list")
def list_experiments(json_output: JsonOption = False) -> None:
    """List every experiment with its number of runs, newest first.

    Example:
        prodline experiments list --json
    """
    import prodline
    from prodline.cli import render

    records = prodline.list_experiments()
    if json_output:
        render.emit_json({"experiments": [record.to_dict() for record in records]})
        return
    out = render.console()
    table = render.new_table(
        "name",
        "id",
        "runs",
        "last run (UTC)",
        "created (UTC)",
        right=["runs"],
    )
    for record in records:
        table.add_row(
            render.text(record.name),
            render.short_id(record.id),
            str(record.run_count),
            render.fmt_time(record.last_run_at),
            render.fmt_time(record.created_at),
        )
    render.listing(out, len(records), "experiment", table)
