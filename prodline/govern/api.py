"""Governance from Python: ``govern``, ``approve``, ``rollback``, ``history``.

``govern`` gathers the evidence, decides (a pure function), then applies the decision in
ONE store transaction: it locks the model, re-reads who holds the alias and the labels
the decision assumed (and starts over from fresh evidence if another process changed
them meanwhile), moves the alias, writes the labels and appends a ``govern_decision``
audit event holding the policy's content and hash, the evidence, the decision and the
actor. A run that would change nothing writes nothing, so applying a policy twice to
the same evidence leaves the registry as it was. Notifications go out after the commit
and can never undo or break a decision.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prodline import _context
from prodline.errors import InvalidValueError, NotFoundError, StoreError
from prodline.govern.engine import Decision, decide
from prodline.govern.evidence import Evidence, canonical_hash, gather, version_evidence_hash
from prodline.govern.notify import NotifyResult, notify_all
from prodline.govern.policy import ROLLED_BACK, Policy, default_policy_path, resolve_policy
from prodline.store.records import RegistryEvent

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from prodline.store.store import Store

DECISION_EVENT = "govern_decision"
ROLLBACK_EVENT = "govern_rollback"
APPROVAL_EVENT = "approval"
NOTIFY_FAILED_EVENT = "notify_failed"
MAX_ATTEMPTS = 5


@dataclass
class GovernResult:
    """The outcome of :func:`govern`: the decision, whether it was applied, and what
    changed. ``str(result)`` is a readable explanation."""

    decision: Decision
    policy: Policy
    evidence: Evidence
    dry_run: bool
    applied: bool  # the decision's changes were written (False for dry runs and no-ops)
    actor: str
    event_id: int | None = None
    attempts: int = 1
    notifications: list[NotifyResult] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the decision changes (dry run: would change) the alias or any label."""
        return self.decision.changed

    @property
    def promoted(self) -> bool:
        return self.decision.promoted

    @property
    def holder(self) -> int | None:
        """The version holding the target alias after this decision."""
        return self.decision.holder

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.decision.model,
            "alias": self.decision.alias,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "changed": self.changed,
            "actor": self.actor,
            "event_id": self.event_id,
            "attempts": self.attempts,
            "policy": {"source": self.policy.source, "hash": self.policy.hash},
            "evidence_hash": evidence_hash(self.evidence, self.decision),
            "now": self.evidence.now.isoformat(),
            "decision": self.decision.to_dict(),
            "notifications": [n.to_dict() for n in self.notifications],
        }

    def __str__(self) -> str:
        return explain(self)


@dataclass(frozen=True)
class RollbackResult:
    """The outcome of :func:`rollback`."""

    model: str
    alias: str
    rolled_back: int  # the version that held the alias
    restored: int  # the version that holds it now
    actor: str
    reason: str | None
    evidence_hash: str
    event_id: int | None = None
    notifications: tuple[NotifyResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "rolled_back": self.rolled_back,
            "restored": self.restored,
            "actor": self.actor,
            "reason": self.reason,
            "evidence_hash": self.evidence_hash,
            "event_id": self.event_id,
            "notifications": [n.to_dict() for n in self.notifications],
        }

    def __str__(self) -> str:
        return (
            f"{self.alias} of {self.model}: v{self.rolled_back} -> v{self.restored} "
            f"(rolled back by {self.actor}; v{self.rolled_back} labelled {ROLLED_BACK})"
        )


# --------------------------------------------------------------------------------- govern
def govern(
    model: str,
    policy: Any = None,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    now: datetime | None = None,
) -> GovernResult:
    """Apply ``model``'s policy: promote the best version that passes every rule to the
    target alias, and label every other candidate with its reasons.

    ``policy`` is a path, a mapping, a :class:`~prodline.govern.policy.Policy`, or
    ``None`` for ``policies/<model>.yaml``. ``dry_run=True`` decides and explains but
    writes nothing. ``now`` fixes the clock time rules see (default: the current time).
    """
    resolved = resolve_policy(model, policy)
    who = _actor(actor)
    store = _context.store()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        evidence = gather(resolved, model, store=store, now=now)
        decision = decide(resolved, evidence)
        result = GovernResult(decision, resolved, evidence, dry_run, False, who, attempts=attempt)
        if dry_run or not decision.changed:
            return result
        event_id = _apply(store, resolved, evidence, decision, who)
        if event_id is None:
            continue  # the registry changed since the evidence was read: decide again
        result.applied = True
        result.event_id = event_id
        result.notifications = _notify_decision(store, resolved, result)
        return result
    raise StoreError(
        f"Governing {model!r}: the registry changed under the decision {MAX_ATTEMPTS} times "
        "in a row (other processes are changing this model); try again."
    )


def _apply(
    store: Store, policy: Policy, evidence: Evidence, decision: Decision, actor: str
) -> int | None:
    """Write the decision in one transaction; None when the state it assumed is gone."""
    model = evidence.model
    scope = decision.scope
    with store.write() as conn:
        model_id = store._lock_model(conn, model)
        holder, labels = store._governance_state(conn, model_id, decision.alias)
        if holder != evidence.holder or any(
            labels.get(v, {}) != evidence.versions[v].labels for v in scope
        ):
            return None
        ids = store._version_ids(conn, model_id)
        details = {"policy_hash": policy.hash, "govern": True}
        for action in decision.actions:
            if action.op == "set_alias":
                store._set_alias(
                    conn,
                    model,
                    action.name,
                    action.version,
                    actor=actor,
                    reason=f"governance: {decision.message}",
                    details=details,
                )
            elif action.op == "add_label":
                store._add_label(
                    conn,
                    model,
                    action.version,
                    action.name,
                    reason=str(action.reason),
                    actor=actor,
                    details=details,
                )
            else:
                store._remove_label(
                    conn,
                    model,
                    action.version,
                    action.name,
                    actor=actor,
                    reason=f"governance: {action.reason}",
                )
        audit = {
            "policy_hash": policy.hash,
            "policy_source": policy.source,
            "policy": policy.document,
            "evidence_hash": evidence_hash(evidence, decision),
            "evidence": evidence.to_dict(scope),
            "decision": decision.to_dict(compact=True),
            "actor": actor,
        }
        target = decision.holder if decision.holder is not None else None
        store._event(
            conn,
            model_id,
            ids.get(target) if target is not None else None,
            DECISION_EVENT,
            decision.alias,
            ids.get(decision.previous) if decision.previous is not None else None,
            decision.message,
            actor,
            audit,
        )
        return _last_event_id(conn, model_id, DECISION_EVENT)


def evidence_hash(evidence: Evidence, decision: Decision) -> str:
    """sha256 of the evidence a decision looked at (its versions; not the clock time)."""
    summary = evidence.to_dict(decision.scope)
    summary.pop("now", None)
    return canonical_hash(summary)


def _last_event_id(conn: Connection, model_id: str, kind: str) -> int | None:
    from sqlalchemy import func, select

    from prodline.store import tables as t

    e = t.registry_events
    return conn.execute(
        select(func.max(e.c.id)).where(e.c.model_id == model_id, e.c.kind == kind)
    ).scalar()


def _notify_decision(store: Store, policy: Policy, result: GovernResult) -> list[NotifyResult]:
    if not policy.notify:
        return []
    d = result.decision
    payload = {
        "event": "promoted" if d.promoted else "not_promoted",
        "model": d.model,
        "alias": d.alias,
        "version": d.holder,
        "previous_version": d.previous,
        "message": d.message,
        "actor": result.actor,
        "policy_hash": policy.hash,
        "event_id": result.event_id,
        "at": datetime.now(UTC).isoformat(),
        "candidates": [
            {"version": c.version, "outcome": c.outcome, "reasons": c.reasons} for c in d.candidates
        ],
    }
    return _send(store, d.model, policy, payload, result.actor)


def _send(
    store: Store, model: str, policy: Policy, payload: dict[str, Any], actor: str
) -> list[NotifyResult]:
    results = notify_all(policy.notify, payload)
    for failed in (r for r in results if not r.ok):
        try:  # the audit trail records the failure; the decision stands regardless
            store.record_event(
                model,
                NOTIFY_FAILED_EVENT,
                actor=actor,
                reason=failed.error,
                details={**failed.to_dict(), "payload_event_id": payload.get("event_id")},
            )
        except Exception:  # pragma: no cover - the store just committed; nothing to do
            pass
    return results


# -------------------------------------------------------------------------------- approve
def approve(model: str, version: int, *, by: str, comment: str | None = None) -> bool:
    """Record that the person ``by`` approves ``model``/``version`` (for policies with
    ``approval: required``). False when ``by`` had already approved it. The alias moves
    on the next :func:`govern` run, if the version passes every other rule."""
    if not isinstance(by, str) or not by.strip():
        raise InvalidValueError("An approval needs the approver's name: approve(..., by='ana').")
    return _context.store().record_approval(model, version, actor=by.strip(), comment=comment)


# ------------------------------------------------------------------------------- rollback
def rollback(
    model: str,
    *,
    alias: str | None = None,
    policy: Any = None,
    actor: str | None = None,
    reason: str | None = None,
) -> RollbackResult:
    """Return the alias to the version that held it before the current holder, label the
    current holder ``rolled_back`` (with its evidence hash, so :func:`govern` does not
    promote it again unless its evidence changes), and record a ``govern_rollback`` event.

    The alias is ``alias``, else the policy's ``target_alias`` (the policy is optional
    here: ``policies/<model>.yaml`` is used when it exists), else ``production``.
    Versions that were themselves rolled back are skipped when looking back.
    """
    resolved: Policy | None = None
    if policy is not None or default_policy_path(model).is_file():
        resolved = resolve_policy(model, policy)
    target = alias or (resolved.target_alias if resolved else "production")
    who = _actor(actor)
    store = _context.store()
    outcome_labels = (
        resolved.outcome_labels if resolved else ("rejected", "challenger", "awaiting_approval")
    )
    for _attempt in range(MAX_ATTEMPTS):
        records = {r.version: r for r in store.governed_versions(model)}
        current = next((n for n, r in records.items() if target in r.aliases), None)
        if current is None:
            raise NotFoundError(f"Model {model!r} has no {target!r} alias: nothing to roll back.")
        moves = [e for e in store.registry_history(model, ["alias_set"]) if e.name == target]
        restored = _previous_holder(moves, current, records)
        if restored is None:
            raise InvalidValueError(
                f"{target} of {model} has no earlier holder to return to (v{current} is the "
                "first, or every earlier one was rolled back). Point the alias by hand: "
                f"prodline models alias {model} {target} VERSION."
            )
        approvals = tuple(
            _approval(e)
            for e in store.registry_history(model, [APPROVAL_EVENT])
            if e.version == current
        )
        record = records[current]
        digest = version_evidence_hash(record.contract, record.run_id, approvals)
        why = f": {reason}" if reason else ""
        label_reason = (
            f"rolled back from {target} to v{restored} by {who}{why} [evidence {digest[:16]}]"
        )
        with store.write() as conn:
            model_id = store._lock_model(conn, model)
            holder, _labels = store._governance_state(conn, model_id, target)
            if holder != current:
                continue
            details = {
                "rollback_of": current,
                "restored": restored,
                "evidence_hash": digest,
                "reason": reason,
                "actor": who,
            }
            store._set_alias(
                conn,
                model,
                target,
                restored,
                actor=who,
                reason=f"rollback of v{current}{why}",
                details=details,
            )
            store._add_label(
                conn, model, current, ROLLED_BACK, reason=label_reason, actor=who, details=details
            )
            for label in outcome_labels:
                store._remove_label(
                    conn,
                    model,
                    restored,
                    label,
                    actor=who,
                    reason=f"holds {target} again after a rollback",
                )
            ids = store._version_ids(conn, model_id)
            store._event(
                conn,
                model_id,
                ids[restored],
                ROLLBACK_EVENT,
                target,
                ids[current],
                reason,
                who,
                details,
            )
            event_id = _last_event_id(conn, model_id, ROLLBACK_EVENT)
        sent: list[NotifyResult] = []
        if resolved is not None and resolved.notify:
            payload = {
                "event": "rolled_back",
                "model": model,
                "alias": target,
                "version": restored,
                "previous_version": current,
                "message": f"{target}: v{current} -> v{restored} (rollback{why})",
                "actor": who,
                "policy_hash": resolved.hash,
                "event_id": event_id,
                "at": datetime.now(UTC).isoformat(),
            }
            sent = _send(store, model, resolved, payload, who)
        return RollbackResult(
            model, target, current, restored, who, reason, digest, event_id, tuple(sent)
        )
    raise StoreError(f"Rolling back {model!r}: the alias kept moving; try again.")


def _approval(event: RegistryEvent) -> Any:
    from prodline.govern.evidence import Approval

    return Approval(by=event.actor, at=event.created_at, comment=event.reason)


def _previous_holder(
    moves: list[RegistryEvent], current: int, records: dict[int, Any]
) -> int | None:
    """The latest earlier holder of the alias that was not rolled back itself."""
    timeline: list[int] = []
    for event in moves:
        if event.previous_version is not None and not timeline:
            timeline.append(event.previous_version)
        if event.version is not None:
            timeline.append(event.version)
    for number in reversed(timeline):
        if number == current or number not in records:
            continue
        if ROLLED_BACK in records[number].labels:
            continue
        return number
    return None


# -------------------------------------------------------------------------------- history
def history(
    model: str, *, kinds: list[str] | None = None, limit: int | None = None
) -> list[RegistryEvent]:
    """The audit trail of a model, oldest first: every version registered, alias moved,
    label changed, approval, governance decision and rollback (``kinds`` filters, e.g.
    ``["govern_decision", "govern_rollback"]``; ``limit`` keeps the newest N)."""
    return _context.store().registry_history(model, kinds, limit=limit)


def _actor(actor: str | None) -> str:
    if actor is not None:
        if not isinstance(actor, str) or not actor.strip():
            raise InvalidValueError("actor must be a non-empty name, e.g. actor='ana'.")
        return actor.strip()
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database (some containers)
        return "prodline"


# -------------------------------------------------------------------------------- explain
def explain(result: GovernResult) -> str:
    """Plain text: every candidate, every rule with its evidence, what happens."""
    d = result.decision
    head = "DRY RUN: " if result.dry_run else ""
    read = result.evidence.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        f"{head}{d.model}: {d.message}",
        f"policy {result.policy.source} (sha256 {result.policy.hash[:12]}), evidence read "
        f"{read} UTC",
    ]
    for c in d.candidates:
        flag = "" if c.candidate else " (not a candidate)"
        lines.append(f"  v{c.version}: {c.outcome}{flag} - {c.note}")
        for r in c.results:
            lines.append(f"    [{'pass' if r.passed else 'FAIL'}] {r.rule}: {r.reason}")
    if d.actions:
        lines.append("What happened:" if result.applied else "What would happen:")
        lines += [f"  - {a.describe(d.model)}" for a in d.actions]
    else:
        lines.append("Nothing to change.")
    return "\n".join(lines)
