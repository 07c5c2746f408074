"""``prodline models ...``: the registry — versions, contracts, aliases, labels, lineage."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from prodline.cli import render

app = typer.Typer(no_args_is_help=True, help="Registered models: versions, contracts, aliases.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
NameArg = Annotated[str, typer.Argument(help="Registered model name, e.g. churn.")]
VersionArg = Annotated[int, typer.Argument(help="Version number, e.g. 3.")]


@app.command("list")
def list_models(json_output: JsonOption = False) -> None:
    """List registered models with their latest version and aliases.

    Example:
        prodline models list
    """
    import prodline

    records = prodline.list_models()
    if json_output:
        render.emit_json({"models": [record.to_dict() for record in records]})
        return
    table = render.new_table(
        "name", "versions", "latest", "aliases", "created (UTC)", right=["versions", "latest"]
    )
    for record in records:
        aliases = ", ".join(f"{alias}→{version}" for alias, version in record.aliases.items())
        table.add_row(
            render.text(record.name),
            str(record.version_count),
            str(record.latest_version or "-"),
            render.text(aliases or "-"),
            render.fmt_time(record.created_at),
        )
    render.listing(render.console(), len(records), "model", table)


@app.command("show")
def show_model(
    name: NameArg,
    version: Annotated[
        int | None, typer.Argument(help="A version (default: list them all).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show a model's versions, or one version in detail.

    Examples:
        prodline models show churn
        prodline models show churn 3 --json
    """
    import prodline

    if version is None:
        versions = prodline.list_model_versions(name)
        if json_output:
            render.emit_json({"model": name, "versions": [v.to_dict() for v in versions]})
            return
        table = render.new_table(
            "version", "aliases", "labels", "path", "f1/r2", "run", "created (UTC)"
        )
        for v in versions:
            metrics = v.record.contract.get("metrics", {})
            score = metrics.get("f1", metrics.get("r2", metrics.get("silhouette")))
            table.add_row(
                str(v.version),
                render.text(", ".join(v.aliases) or "-"),
                render.text(", ".join(label.label for label in v.labels) or "-"),
                v.serving_path,
                render.fmt_number(score),
                render.short_id(v.run_id),
                render.fmt_time(v.record.created_at),
            )
        render.listing(render.console(), len(versions), "version", table)
        return
    record = prodline.get_model_version(f"{name}/{version}").record
    if json_output:
        render.emit_json(record.to_dict())
        return
    out = render.console()
    contract = record.contract
    out.print(render.text(f"{record.ref}", "bold"))
    out.print(
        render.kv_table(
            [
                ("task", contract.get("task")),
                ("serving path", record.serving_path),
                ("aliases", ", ".join(record.aliases) or "-"),
                ("owner", contract.get("owner")),
                ("intended use", contract.get("intended_use")),
                ("run", record.run_id or "-"),
                ("created (UTC)", render.fmt_time(record.created_at)),
            ]
        )
    )
    out.print()
    metrics = {k: v for k, v in contract.get("metrics", {}).items() if isinstance(v, int | float)}
    render.section(
        out,
        "Eval metrics",
        render.kv_table((k, render.fmt_number(v)) for k, v in metrics.items()) if metrics else None,
    )
    labels = render.new_table("label", "reason", "by", "when (UTC)")
    for label in record.labels:
        labels.add_row(
            render.text(label.label),
            render.text(label.reason),
            render.text(label.actor),
            render.fmt_time(label.created_at),
        )
    render.section(out, "Labels", labels)


@app.command("contract")
def show_contract(name: NameArg, version: VersionArg, json_output: JsonOption = False) -> None:
    """Show a version's handover contract (inputs, outputs, metrics, latency, owner).

    Example:
        prodline models contract churn 3 --json
    """
    import prodline

    contract = prodline.get_model_version(f"{name}/{version}").record.contract
    if json_output:
        render.emit_json(contract)
        return
    out = render.console()
    out.print(
        render.text(f"{name}/{version} contract (format {contract.get('format_version')})", "bold")
    )
    columns = render.new_table("column", "dtype", "kind", "nullable", "min", "max", "categories")
    for column in contract["input_schema"]["columns"]:
        columns.add_row(
            render.text(column["name"]),
            column["dtype"],
            column["kind"],
            "yes" if column["nullable"] else "no",
            render.fmt_number(column.get("min")),
            render.fmt_number(column.get("max")),
            render.text(render.fmt_list(column.get("categories"))),
        )
    render.section(out, "Inputs", columns)
    render.section(
        out,
        "Outputs",
        render.kv_table((k, json.dumps(v)) for k, v in contract["output_schema"].items()),
    )
    latency = render.new_table(
        "path", "p50 single (ms)", "p99 single (ms)", "p50 per batch (ms)"
    )
    for path, numbers in contract.get("latency", {}).items():
        latency.add_row(path, *(render.fmt_number(numbers.get(k)) for k in _LATENCY_KEYS))
    render.section(out, "Latency", latency)
    render.section(
        out,
        "Handover",
        render.kv_table(
            [
                ("owner", contract.get("owner")),
                ("intended use", contract.get("intended_use")),
                ("package size", render.fmt_size(contract.get("package", {}).get("size_bytes"))),
                ("datasets", json.dumps(contract.get("datasets"))),
                ("code", json.dumps(contract.get("code"))),
            ]
        ),
    )


_LATENCY_KEYS = ("p50_single_row_ms", "p99_single_row_ms", "p50_batch_ms")


@app.command("alias")
def set_alias(
    name: NameArg,
    alias: Annotated[str, typer.Argument(help="Alias, e.g. production or staging.")],
    version: VersionArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the history).")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the OS user).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Point an alias at a version (the previous holder is kept in the history).

    Example:
        prodline models alias churn production 3 --reason "approved in review"
    """
    import prodline

    changed = prodline.set_alias(name, alias, version, actor=by, reason=reason)
    if json_output:
        render.emit_json({"model": name, "alias": alias, "version": version, "changed": changed})
        return
    message = (
        f"{name}@{alias} → version {version}"
        if changed
        else f"{name}@{alias} already was version {version}"
    )
    render.console().print(render.text(message))


@app.command("label")
def add_label(
    name: NameArg,
    version: VersionArg,
    label: Annotated[str, typer.Argument(help="Label, e.g. archived, rejected, challenger.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required, kept in the history).")],
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the OS user).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the label instead.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Label a version with a reason (or remove a label with --remove).

    Example:
        prodline models label churn 3 archived --reason "replaced by v4"
    """
    import prodline

    if remove:
        changed = prodline.remove_label(name, version, label, actor=by, reason=reason)
    else:
        changed = prodline.add_label(name, version, label, reason=reason, actor=by)
    if json_output:
        render.emit_json(
            {
                "model": name,
                "version": version,
                "label": label,
                "removed": remove,
                "changed": changed,
            }
        )
        return
    verb = "removed from" if remove else "added to"
    render.console().print(
        render.text(f"label {label!r} {verb} {name}/{version}" if changed else "nothing changed")
    )


@app.command("history")
def history(name: NameArg, json_output: JsonOption = False) -> None:
    """Every version created, alias moved and label changed, oldest first.

    Example:
        prodline models history churn
    """
    import prodline

    events = prodline.model_history(name)
    if json_output:
        render.emit_json({"model": name, "events": [e.to_dict() for e in events]})
        return
    table = render.new_table("when (UTC)", "event", "name", "version", "previous", "by", "reason")
    for event in events:
        table.add_row(
            render.fmt_time(event.created_at),
            event.kind,
            render.text(event.name or "-"),
            str(event.version or "-"),
            str(event.previous_version or "-"),
            render.text(event.actor),
            render.text(event.reason or ""),
        )
    render.listing(render.console(), len(events), "event", table)


@app.command("lineage")
def lineage(name: NameArg, version: VersionArg, json_output: JsonOption = False) -> None:
    """What made a version: run, params, metrics, datasets, code and environment.

    Example:
        prodline models lineage churn 3
    """
    from prodline.registry.inspect import lineage as build

    found = build(f"{name}/{version}")
    if json_output:
        render.emit_json(found)
        return
    out = render.console()
    run: dict[str, Any] | None = found["run"]
    out.print(render.text(f"{name}/{version} lineage", "bold"))
    if run is None:
        out.print(render.text("registered without a run", "dim"))
        return
    render.section(
        out,
        "Run",
        render.kv_table(
            [
                ("id", run["id"]),
                ("name", run["name"]),
                ("experiment", run["experiment"]),
                ("status", run["status"]),
            ]
        ),
    )
    render.section(out, "Params", render.kv_table(run["params"].items()) if run["params"] else None)
    datasets = render.new_table("role", "name", "version", "rows", "fingerprint", "source")
    for d in found["datasets"]:
        source = d["source"] or {}
        datasets.add_row(
            d["role"],
            render.text(d["name"]),
            str(d["version"]),
            str(d["rows"]),
            d["fingerprint"][:12],
            render.text(source.get("location") or source.get("kind")),
        )
    render.section(out, "Datasets", datasets)
    code = found["code"] or {}
    git = code.get("git") or {}
    render.section(
        out,
        "Code",
        render.kv_table(
            [
                ("kind", code.get("kind")),
                ("entrypoint", code.get("entrypoint") or "-"),
                ("git commit", git.get("commit") or "-"),
                ("dirty", str(git.get("dirty", "-"))),
            ]
        ),
    )
    env = found["environment"] or {}
    render.section(
        out,
        "Environment",
        render.kv_table(
            [
                ("python", env.get("python")),
                ("platform", env.get("platform")),
                ("packages", str(env.get("packages"))),
            ]
        ),
    )


@app.command("verify")
def verify(name: NameArg, version: VersionArg, json_output: JsonOption = False) -> None:
    """Re-check a stored version against its hashes and its contract (exit 1 on failure).

    Example:
        prodline models verify churn 3
    """
    from prodline.registry.inspect import verify as run_checks

    report = run_checks(f"{name}/{version}")
    if json_output:
        render.emit_json(report.to_dict())
    else:
        table = render.new_table("check", "result", "detail")
        for check in report.checks:
            table.add_row(
                render.text(check.name),
                render.text("ok" if check.ok else "FAILED", "green" if check.ok else "red"),
                render.text(check.detail),
            )
        render.console().print(table)
    if not report.ok:
        raise typer.Exit(1)
