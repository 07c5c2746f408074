"""How one run is printed: its details, a metric's history, a reproduction report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prodline.cli import render

if TYPE_CHECKING:
    from rich.console import Console

    from prodline.store.records import MetricPoint, RunRecord
    from prodline.tracking.reproduce import ReproduceReport


def render_history(
    out: Console, record: RunRecord, key: str, points: Sequence[MetricPoint]
) -> None:
    """One metric's points: step, value, time logged."""
    table = render.new_table(
        "step",
        "value",
        "logged (UTC)",
        right=["step", "value"],
    )
    for point in points:
        table.add_row(
            str(point.step), render.fmt_number(point.value), render.fmt_time(point.timestamp)
        )
    render.section(
        out,
        f"{key} in run {render.short_id(record.id)} ({record.name}): "
        f"{len(points)} point{'s' * (len(points) != 1)}",
        table,
    )


def render_run(out: Console, record: RunRecord) -> None:
    """Print a run's details, section by section."""
    attributes = [
        ("id", record.id),
        ("name", record.name),
        ("experiment", record.experiment),
        ("status", render.status_text(record.status)),
        ("start (UTC)", render.fmt_time(record.start_time)),
        ("end (UTC)", render.fmt_time(record.end_time) or "-"),
        ("duration", render.fmt_duration(record.duration_s) or "running"),
    ]
    if record.reproduced_from:
        attributes.append(("reproduced from", record.reproduced_from))
    render.section(out, f"Run {record.name}", render.kv_table(attributes))
    render.section(out, "Params", render.kv_table(record.params.items(), ("param", "value")))
    render.section(
        out, "Metrics", render.kv_table(record.metrics.items(), ("metric", "latest value"))
    )
    render.section(out, "Tags", render.kv_table(record.tags.items(), ("tag", "value")))

    notes = render.new_table("time (UTC)", "note")
    for note in record.notes:
        created = note.get("created_at")
        notes.add_row(
            created if isinstance(created, str) else render.fmt_time(created),
            render.text(note.get("text", "")),
        )
    render.section(out, "Notes", notes)

    datasets = render.new_table(
        "role", "name", "version", "rows", "fingerprint", right=["version", "rows"]
    )
    for used in record.datasets:
        datasets.add_row(
            render.text(used.role),
            render.text(used.name),
            str(used.version),
            str(used.n_rows),
            used.fingerprint[:12],
        )
    render.section(out, "Datasets", datasets)

    artifacts = render.new_table("path", "size", "digest", right=["size"])
    for artifact in record.artifacts:
        artifacts.add_row(
            render.text(artifact.path), render.fmt_size(artifact.size), artifact.digest[:12]
        )
    render.section(out, "Artifacts", artifacts)

    code = code_summary(record.code)
    render.section(out, "Code", render.kv_table(code) if code else None)
    environment = environment_summary(record.environment)
    render.section(out, "Environment", render.kv_table(environment) if environment else None)
    if record.error:
        out.print(render.text("Error", "bold red"))
        out.print(render.text(record.error.rstrip(), "red"))


def code_summary(code: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Key facts of a run's code capture: kind, entry point, git commit and state."""
    if not code:
        return []
    rows: list[tuple[str, Any]] = [("kind", code.get("kind", "?"))]
    if code.get("entrypoint"):
        rows.append(("entrypoint", code["entrypoint"]))
    if code.get("argv"):
        rows.append(("arguments", " ".join(str(arg) for arg in code["argv"])))
    if code.get("cells") is not None:
        rows.append(("notebook cells", code["cells"]))
    if code.get("source_artifact"):
        rows.append(("source artifact", code["source_artifact"]))
    git = code.get("git")
    if isinstance(git, dict):
        commit = git.get("commit") or "(no commit yet)"
        rows.append(("git commit", commit))
        rows.append(("git dirty", "yes" if git.get("dirty") else "no"))
        if git.get("diff_artifact"):
            rows.append(("git diff artifact", git["diff_artifact"]))
        if git.get("untracked"):
            rows.append(("untracked files", len(git["untracked"])))
    else:
        rows.append(("git", "not a git repository"))
    if code.get("cwd"):
        rows.append(("working directory", code["cwd"]))
    return rows


def environment_summary(environment: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Key facts of a run's environment: Python, platform, number of packages."""
    if not environment:
        return []
    python = " ".join(
        str(part) for part in (environment.get("implementation"), environment.get("python")) if part
    )
    rows: list[tuple[str, Any]] = [("python", python or "?")]
    if environment.get("platform"):
        rows.append(("platform", environment["platform"]))
    if environment.get("cpu_count") is not None:
        rows.append(("cpus", environment["cpu_count"]))
    rows.append(("packages", len(environment.get("packages") or {})))
    return rows


def render_reproduction(out: Console, report: ReproduceReport) -> None:
    """The verdict, then metric deltas and differing params."""
    identical = report.identical()
    original, reproduction = report.original, report.reproduction
    out.print(
        render.text(
            f"run {render.short_id(original.id)} ({original.name}) reproduced as "
            f"{render.short_id(reproduction.id)} ({reproduction.status}): "
            + ("identical" if identical else "DIFFERENT"),
            "bold green" if identical else "bold red",
        )
    )
    out.print()
    metrics = render.new_table(
        "metric", "original", "reproduced", "delta", right=["original", "reproduced", "delta"]
    )
    for difference in report.metrics:
        delta = difference.delta
        metrics.add_row(
            render.text(difference.key),
            render.fmt_number(difference.original),
            render.fmt_number(difference.reproduced),
            "-" if delta is None else f"{delta:+.6g}",
        )
    render.section(out, "Metrics", metrics)
    params = render.new_table("param", "original", "reproduced")
    for key, (old, new) in report.params.items():
        params.add_row(render.text(key), render.text(old or "-"), render.text(new or "-"))
    render.section(out, "Params that differ", params)
