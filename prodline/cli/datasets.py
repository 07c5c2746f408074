"""``prodline datasets ...``: dataset snapshots, their schema, profile and users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from prodline.cli import render

if TYPE_CHECKING:
    from rich.console import Console

    from prodline.store.records import DatasetRecord, RunRecord

app = typer.Typer(no_args_is_help=True, help="List and show dataset snapshots.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
#: runs listed under "Used by" (the JSON output lists them all)
MAX_USES_SHOWN = 50


@app.command("list")
def list_datasets(json_output: JsonOption = False) -> None:
    """List every dataset (its latest version), by name.

    Example:
        prodline datasets list
    """
    import prodline

    records = prodline.list_datasets()
    if json_output:
        render.emit_json({"datasets": [record.to_dict() for record in records]})
        return
    table = render.new_table(
        "name",
        "version",
        "rows",
        "cols",
        "source",
        "fingerprint",
        "created (UTC)",
        right=["version", "rows", "cols"],
    )
    for record in records:
        table.add_row(
            render.text(record.name),
            str(record.version),
            str(record.n_rows),
            str(record.n_cols),
            render.text(source_label(record.source)),
            record.fingerprint[:12],
            render.fmt_time(record.created_at),
        )
    render.listing(render.console(), len(records), "dataset", table)


@app.command("show")
def show_dataset(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The dataset's name.")],
    version: Annotated[
        int | None,
        typer.Option("--version", "-v", min=1, help="This version (default: the latest)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show a dataset: schema, profile, source and the runs that used it.

    Examples:
        prodline datasets show churn_train
        prodline datasets show churn_train --version 2 --json
    """
    import prodline

    record = prodline.get_dataset(name, version).record
    if json_output:
        render.emit_json(record.to_dict())
        return
    render_dataset(render.console(), record, _runs_of(record))


def source_label(source: dict[str, Any] | None) -> str:
    """``csv /data/train.csv``, ``sql postgresql://...``, ``dataframe``."""
    if not source:
        return "-"
    return " ".join(str(part) for part in (source.get("kind"), source.get("location")) if part)


def _runs_of(record: DatasetRecord) -> dict[str, RunRecord]:
    """The runs (shown ones only) that used a dataset, by id, in one search."""
    import prodline

    ids = list(dict.fromkeys(use.run_id for use in record.used_by[-MAX_USES_SHOWN:]))
    if not ids:
        return {}
    listed = ", ".join(f"'{run_id}'" for run_id in ids)
    found = prodline.search_runs(filter=f"run_id IN ({listed})", max_results=len(ids))
    return {run.id: run for run in found}


def render_dataset(out: Console, record: DatasetRecord, runs: dict[str, RunRecord]) -> None:
    """Print a dataset's details, section by section."""
    source = record.source or {}
    about = [
        ("name", record.name),
        ("version", record.version),
        ("id", record.id),
        ("rows", record.n_rows),
        ("columns", record.n_cols),
        ("fingerprint", record.fingerprint),
        ("digest", record.digest),
        ("created (UTC)", render.fmt_time(record.created_at)),
        ("source kind", source.get("kind") or "-"),
    ]
    if source.get("location"):
        about.append(("source location", source["location"]))
    if source.get("query"):
        about.append(("source query", source["query"]))
    render.section(out, f"Dataset {record.name} (version {record.version})", render.kv_table(about))

    schema = render.new_table("column", "dtype", "kind", "nullable", "min", "max", "categories")
    for column in (record.schema or {}).get("columns", []):
        schema.add_row(
            render.text(column.get("name", "")),
            render.text(column.get("dtype", "")),
            render.text(column.get("kind", "")),
            "yes" if column.get("nullable") else "no",
            render.text(render.fmt_number(column.get("min"))),
            render.text(render.fmt_number(column.get("max"))),
            render.text(render.fmt_list(column.get("categories"))),
        )
    render.section(out, "Schema", schema)

    numbers = ["count", "missing", "mean", "std", "min", "median", "max", "unique"]
    profile = render.new_table("column", "kind", *numbers, "most frequent", right=numbers)
    for column in (record.profile or {}).get("columns", []):
        quantiles = column.get("quantiles") or []
        median = quantiles[len(quantiles) // 2] if quantiles else None
        profile.add_row(
            render.text(column.get("name", "")),
            render.text(column.get("kind", "")),
            str(column.get("count", "")),
            f"{100 * (column.get('missing_rate') or 0):.1f}%",
            render.fmt_number(column.get("mean")),
            render.fmt_number(column.get("std")),
            render.text(render.fmt_number(column.get("min"))),
            render.fmt_number(median),
            render.text(render.fmt_number(column.get("max"))),
            render.fmt_number(column.get("n_unique")),
            render.text(_top_values(column.get("frequencies"))),
        )
    render.section(out, "Profile", profile)

    used = render.new_table(
        "run",
        "role",
        "experiment",
        "name",
        "status",
        "logged (UTC)",
    )
    for use in record.used_by[-MAX_USES_SHOWN:]:
        run = runs.get(use.run_id)
        used.add_row(
            render.short_id(use.run_id),
            render.text(use.role),
            render.text(run.experiment if run else "?"),
            render.text(run.name if run else "?"),
            render.status_text(run.status) if run else "?",
            render.fmt_time(use.logged_at),
        )
    render.section(
        out, f"Used by {len(record.used_by)} run{'s' * (len(record.used_by) != 1)}", used
    )
    if len(record.used_by) > MAX_USES_SHOWN:
        out.print(
            render.text(
                f"showing the latest {MAX_USES_SHOWN} of {len(record.used_by)} uses "
                "(--json lists them all)",
                "dim",
            )
        )


def _top_values(frequencies: list[list[Any]] | None, limit: int = 3) -> str:
    if not frequencies:
        return ""
    shown = ", ".join(
        f"{render.fmt_number(value)} ({count})" for value, count in frequencies[:limit]
    )
    if len(frequencies) > limit:
        shown += ", ..."
    return shown
