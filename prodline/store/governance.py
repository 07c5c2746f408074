"""What governance reads and writes beyond the registry's own operations: approvals,
filtered audit events, dataset snapshot times in one query, and the per-model state a
governance decision re-checks inside its transaction.

A mixin of :class:`~prodline.store.store.Store`: it uses the registry's ``_``-prefixed
building blocks (``_model_id``, ``_version_id``, ``_event``) through ``self``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Text, cast, func, literal, select, tuple_, type_coerce

from prodline.store import tables as t
from prodline.store.base import StoreBase

if TYPE_CHECKING:
    from prodline.store.registry import RegistryStore

APPROVAL = "approval"
#: contract fields governance rules never read: left out of the evidence unless asked for
BULKY_CONTRACT_FIELDS = ("input_schema", "examples", "dependencies")


@dataclass(frozen=True)
class GovernedVersion:
    """One version as governance reads it: the contract (without the bulky fields when
    read with ``full=False``), aliases and labels with reasons."""

    version: int
    id: str
    created_at: datetime
    run_id: str | None
    contract: dict[str, Any]
    aliases: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


class GovernanceStore(StoreBase):
    """Approvals, audit events by kind, and the state governance locks and re-checks."""

    def _registry(self) -> RegistryStore:
        return self  # type: ignore[return-value]  # Store mixes RegistryStore in

    # approvals ------------------------------------------------------------------------
    def record_approval(
        self, name: str, version: int, *, actor: str, comment: str | None = None
    ) -> bool:
        """Record that ``actor`` approves ``name``/``version`` (a registry event of kind
        ``approval``). False, and nothing written, when ``actor`` already approved it."""
        registry = self._registry()
        with self.write() as conn:
            model_id = registry._lock_model(conn, name)
            version_id = registry._version_id(conn, model_id, name, version)
            e = t.registry_events
            already = conn.execute(
                select(e.c.id).where(
                    e.c.model_id == model_id,
                    e.c.version_id == version_id,
                    e.c.kind == APPROVAL,
                    e.c.actor == actor[:250],
                )
            ).first()
            if already is not None:
                return False
            registry._event(
                conn, model_id, version_id, APPROVAL, None, None, comment, actor, {"by": actor}
            )
            return True

    # versions -------------------------------------------------------------------------
    def governed_versions(self, name: str, *, full: bool = False) -> list[GovernedVersion]:
        """Every version of a model with its contract, aliases and labels, newest first,
        in one read transaction. With ``full=False`` the database leaves the contract's
        bulky fields (:data:`BULKY_CONTRACT_FIELDS`) out before they are sent and parsed:
        several times faster for models with many versions."""
        v, a, lbl = t.model_versions, t.model_aliases, t.model_labels
        with self.read() as conn:
            model_id = self._registry()._model_id(conn, name)
            contract: Any = v.c.contract if full else self._slim_contract(conn)
            rows = conn.execute(
                select(v.c.version, v.c.id, v.c.created_at, v.c.run_id, contract.label("contract"))
                .where(v.c.model_id == model_id)
                .order_by(v.c.version.desc())
            ).all()
            aliases: dict[str, list[str]] = {}
            for alias, version_id in conn.execute(
                select(a.c.alias, a.c.version_id)
                .where(a.c.model_id == model_id)
                .order_by(a.c.alias)
            ):
                aliases.setdefault(version_id, []).append(alias)
            labels: dict[str, dict[str, str]] = {}
            for version_id, label, reason in conn.execute(
                select(lbl.c.version_id, lbl.c.label, lbl.c.reason)
                .join(v, v.c.id == lbl.c.version_id)
                .where(v.c.model_id == model_id)
                .order_by(lbl.c.label)
            ):
                labels.setdefault(version_id, {})[label] = reason
        return [
            GovernedVersion(
                version=row.version,
                id=row.id,
                created_at=row.created_at,
                run_id=row.run_id,
                contract=row.contract if full else json.loads(row.contract),
                aliases=tuple(aliases.get(row.id, ())),
                labels=labels.get(row.id, {}),
            )
            for row in rows
        ]

    def _slim_contract(self, conn: Connection) -> Any:
        column = type_coerce(t.model_versions.c.contract, Text)
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            slim: Any = cast(column, JSONB)
            for key in BULKY_CONTRACT_FIELDS:
                slim = slim.op("-")(literal(key))
            return cast(slim, Text)
        return func.json_remove(column, *(literal(f"$.{key}") for key in BULKY_CONTRACT_FIELDS))

    # events ---------------------------------------------------------------------------
    def record_event(
        self,
        name: str,
        kind: str,
        *,
        actor: str,
        version: int | None = None,
        label: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event to a model's history (for example a failed notification)."""
        registry = self._registry()
        with self.write() as conn:
            model_id = registry._model_id(conn, name)
            version_id = (
                None if version is None else registry._version_id(conn, model_id, name, version)
            )
            registry._event(conn, model_id, version_id, kind, label, None, reason, actor, details)

    # datasets -------------------------------------------------------------------------
    def dataset_times(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], datetime]:
        """When each ``(name, version)`` dataset snapshot was stored, in one query."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        d = t.datasets
        out: dict[tuple[str, int], datetime] = {}
        with self.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = conn.execute(
                    select(d.c.name, d.c.version, d.c.created_at).where(
                        tuple_(d.c.name, d.c.version).in_(chunk)
                    )
                ).all()
                out.update({(row.name, row.version): row.created_at for row in rows})
        return out

    # the state a decision assumed -----------------------------------------------------
    def _governance_state(
        self, conn: Connection, model_id: str, alias: str
    ) -> tuple[int | None, dict[int, dict[str, str]]]:
        """Inside a transaction: the version holding ``alias`` and every version's labels
        (``{version: {label: reason}}``)."""
        a, v, lbl = t.model_aliases, t.model_versions, t.model_labels
        holder = conn.execute(
            select(v.c.version)
            .join(a, a.c.version_id == v.c.id)
            .where(a.c.model_id == model_id, a.c.alias == alias)
        ).scalar()
        labels: dict[int, dict[str, str]] = {}
        for version, label, reason in conn.execute(
            select(v.c.version, lbl.c.label, lbl.c.reason)
            .join(lbl, lbl.c.version_id == v.c.id)
            .where(v.c.model_id == model_id)
        ):
            labels.setdefault(version, {})[label] = reason
        return holder, labels

    def _version_ids(self, conn: Connection, model_id: str) -> dict[int, str]:
        v = t.model_versions
        return {
            version: version_id
            for version, version_id in conn.execute(
                select(v.c.version, v.c.id).where(v.c.model_id == model_id)
            )
        }
