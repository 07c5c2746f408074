"""``prodline govern ...``: apply a model's promotion policy, approve, roll back, audit.

``prodline govern MODEL`` is short for ``prodline govern run MODEL`` (a model whose name
is also a sub-command, such as ``history``, needs the long form).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from prodline.cli import render


class _GovernGroup(TyperGroup):
    """Routes ``prodline govern MODEL ...`` to the ``run`` command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_GovernGroup,
    no_args_is_help=True,
    help="Promotion policies: decide and move aliases by rules, approve, roll back, audit.\n\n"
    "prodline govern MODEL [--dry-run] is short for prodline govern run MODEL.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
NameArg = Annotated[str, typer.Argument(help="Registered model name, e.g. churn.")]
PolicyOption = Annotated[
    str | None,
    typer.Option("--policy", metavar="PATH", help="Policy file (default: policies/MODEL.yaml)."),
]
ByOption = Annotated[
    str | None, typer.Option("--by", metavar="NAME", help="Who acts (default: the OS user).")
]

_OUTCOME_STYLES = {
    "promoted": "bold green",
    "holder": "green",
    "challenger": "cyan",
    "awaiting_approval": "yellow",
    "rejected": "red",
    "rolled_back": "magenta",
}


@app.command("run")
def run_policy(
    name: NameArg,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show every candidate, rule and evidence; change nothing."),
    ] = False,
    policy: PolicyOption = None,
    by: ByOption = None,
    json_output: JsonOption = False,
) -> None:
    """Apply a model's policy: promote the best passing version, label the rest.

    The alias moves to the best version that passes every rule; every other candidate
    is labelled with its reasons. --dry-run shows every candidate, every rule with its
    evidence and pass or fail, and what would happen.

    Examples:
        prodline govern churn --dry-run
        prodline govern churn --policy policies/churn.yaml --by ana
    """
    from prodline.govern import govern

    result = govern(name, policy, dry_run=dry_run, actor=by)
    if json_output:
        render.emit_json(result.to_dict())
        return
    _print_result(result)


@app.command("check")
def check_policy(
    path: Annotated[str, typer.Argument(help="Policy file, e.g. policies/churn.yaml.")],
    json_output: JsonOption = False,
) -> None:
    """Check a policy file without touching the registry.

    Exits 2 listing every problem with its key and line.

    Example:
        prodline govern check policies/churn.yaml
    """
    from prodline.govern import load_policy

    policy = load_policy(path)
    rules = [
        {"index": r.index, "line": r.line, "kind": r.kind, "rule": r.name or r.describe()}
        for r in policy.rules
    ]
    if json_output:
        render.emit_json(
            {
                "source": policy.source,
                "ok": True,
                "hash": policy.hash,
                "model": policy.model,
                "target_alias": policy.target_alias,
                "rules": rules,
            }
        )
        return
    out = render.console()
    out.print(render.text(f"{policy.source}: OK (sha256 {policy.hash[:12]})", "bold"))
    table = render.new_table("#", "line", "kind", "rule", right=["#", "line"])
    for r in rules:
        table.add_row(str(r["index"]), str(r["line"] or ""), r["kind"], render.text(r["rule"]))
    out.print(table)


@app.command("approve")
def approve_version(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="Version number, e.g. 7.")],
    by: Annotated[str, typer.Option("--by", metavar="NAME", help="Who approves (required).")],
    comment: Annotated[
        str | None, typer.Option("--comment", help="Why (kept in the audit trail).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a version (for policies with approval: required).

    The alias moves on the next `prodline govern MODEL` run if the version passes
    every other rule.

    Example:
        prodline govern approve churn 7 --by ana --comment "reviewed in the risk meeting"
    """
    from prodline.govern import approve

    recorded = approve(name, version, by=by, comment=comment)
    if json_output:
        render.emit_json({"model": name, "version": version, "by": by, "recorded": recorded})
        return
    note = "" if recorded else f" (already approved by {by}: nothing recorded)"
    render.console().print(render.text(f"{name}/{version} approved by {by}{note}"))


@app.command("rollback")
def rollback_alias(
    name: NameArg,
    by: ByOption = None,
    alias: Annotated[
        str | None,
        typer.Option(
            "--alias",
            help="Alias to roll back (default: the policy's target alias, else production).",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in the trail).")] = None,
    policy: PolicyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Return the alias to its previous holder; label the current one rolled_back.

    A rolled-back version is not promoted again unless its evidence changes.

    Example:
        prodline govern rollback churn --by ana --reason "error rate up after deploy"
    """
    from prodline.govern import rollback

    result = rollback(name, alias=alias, policy=policy, actor=by, reason=reason)
    if json_output:
        render.emit_json(result.to_dict())
        return
    out = render.console()
    out.print(render.text(str(result), "bold"))
    for sent in result.notifications:
        status = "sent" if sent.ok else f"FAILED: {sent.error}"
        out.print(render.text(f"notify {sent.kind} {sent.target}: {status}"))


@app.command("history")
def show_history(
    name: NameArg,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Only these event kinds (repeatable), e.g. govern_decision."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the newest N events.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print a model's audit trail, oldest first.

    Versions registered, alias moves, labels, approvals, decisions and rollbacks.

    Example:
        prodline govern history churn --kind govern_decision --json
    """
    from prodline.govern import history

    events = history(name, kinds=kind or None, limit=limit)
    if json_output:
        render.emit_json({"model": name, "events": [e.to_dict() for e in events]})
        return
    table = render.new_table(
        "#", "when (UTC)", "event", "version", "alias/label", "by", "reason", right=["#", "version"]
    )
    for e in events:
        version = "" if e.version is None else str(e.version)
        if e.previous_version is not None:
            version = f"{e.previous_version}->{version or '-'}"
        table.add_row(
            str(e.id),
            render.fmt_time(e.created_at),
            render.text(e.kind),
            version,
            render.text(e.name or ""),
            render.text(e.actor),
            render.text(e.reason or ""),
        )
    render.listing(render.console(), len(events), "event", table)


def _print_result(result: Any) -> None:
    d = result.decision
    out = render.console()
    if result.dry_run:
        out.print(render.text("DRY RUN: nothing is changed", "bold yellow"))
    out.print(render.text(f"{d.model}: {d.message}", "bold"))
    out.print(
        render.text(
            f"policy {result.policy.source} (sha256 {result.policy.hash[:12]}); evidence read "
            f"{render.fmt_time(result.evidence.now)} UTC",
            "dim",
        )
    )
    out.print()
    if not d.candidates:
        out.print(
            render.text("No candidates: no version matches the policy's candidates filter.", "dim")
        )
    for c in d.candidates:
        head = render.text(f"v{c.version} ", "bold")
        head.append(c.outcome, style=_OUTCOME_STYLES.get(c.outcome, ""))
        if not c.candidate:
            head.append(" (holder; not a candidate)", style="dim")
        head.append(f"  {c.note}")
        out.print(head)
        table = render.new_table("rule", "result", "evidence", "line", right=["line"])
        for r in c.results:
            table.add_row(
                render.text(r.rule),
                render.text("pass", "green") if r.passed else render.text("FAIL", "bold red"),
                render.text(r.reason),
                "" if r.line is None else str(r.line),
            )
        out.print(table)
        out.print()
    if d.actions:
        verb = "What would happen" if result.dry_run else "What happened"
        out.print(render.text(verb, "bold"))
        for action in d.actions:
            out.print(render.text(f"  - {action.describe(d.model)}"))
    else:
        out.print(
            render.text("Nothing to change: the registry already matches the decision.", "bold")
        )
    for sent in result.notifications:
        status = "sent" if sent.ok else f"FAILED (recorded in the history): {sent.error}"
        out.print(render.text(f"notify {sent.kind} {sent.target}: {status}"))
