"""Registered models, their versions, aliases and labels, with an append-only history.

Aliases and labels hold the current state; ``registry_events`` keeps every change
(who, when, why) and is never updated or deleted. The ``_``-prefixed helpers take an
open write connection so that governance can combine several changes in one
transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from prodline.errors import InvalidValueError, NotFoundError
from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.checks import check_name
from prodline.store.ids import new_id
from prodline.store.records import (
    LabelRecord,
    ModelRecord,
    ModelVersionRecord,
    RegistryEvent,
)
from prodline.store.types import utcnow

_TAG = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def check_tag_name(value: Any, what: str) -> str:
    """An alias or label: lowercase letters, digits, ``_`` and ``-``; at most 64 chars."""
    if not isinstance(value, str) or not _TAG.match(value):
        raise InvalidValueError(
            f"Invalid {what} {str(value)[:70]!r}: use 1-64 lowercase letters, digits, '_' or '-' "
            f"(for example 'production', 'staging', 'challenger')."
        )
    return value


class RegistryStore(StoreBase):
    """The model registry's tables."""

    # versions ---------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        *,
        run_id: str | None,
        files: dict[str, Any],
        contract: dict[str, Any],
        serving_path: str,
        actor: str,
    ) -> ModelVersionRecord:
        """Register the next version of model ``name`` (created on first use)."""
        check_name(name, "model")
        for _attempt in range(5):
            try:
                with self.write() as conn:
                    model_id = self._model_id(conn, name, create=True)
                    number = (
                        conn.execute(
                            select(func.max(t.model_versions.c.version)).where(
                                t.model_versions.c.model_id == model_id
                            )
                        ).scalar()
                        or 0
                    ) + 1
                    version_id = new_id()
                    conn.execute(
                        insert(t.model_versions).values(
                            id=version_id,
                            model_id=model_id,
                            version=number,
                            run_id=run_id,
                            files=files,
                            contract=contract,
                            serving_path=serving_path,
                            created_at=utcnow(),
                        )
                    )
                    self._event(
                        conn, model_id, version_id, "version_created", None, None, None, actor
                    )
                break
            except IntegrityError:
                continue  # a concurrent registration took this number; try the next
        else:  # pragma: no cover - pathological contention only
            raise InvalidValueError(f"Could not register a version of {name!r} after 5 attempts.")
        return self.get_model_version(name, number)

    def get_model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersionRecord:
        """A version by number or by alias."""
        with self.read() as conn:
            model_id = self._model_id(conn, name)
            v = t.model_versions
            query = select(v).where(v.c.model_id == model_id)
            if alias is not None:
                query = query.join(t.model_aliases, t.model_aliases.c.version_id == v.c.id).where(
                    t.model_aliases.c.alias == alias
                )
            elif version is not None:
                query = query.where(v.c.version == version)
            else:
                query = query.order_by(v.c.version.desc()).limit(1)
            row = conn.execute(query).first()
            if row is None:
                known = self._version_numbers(conn, model_id)
                what = f"alias {alias!r}" if alias is not None else f"version {version}"
                raise NotFoundError(
                    f"Model {name!r} has no {what}. Versions: {known or 'none'}; "
                    f"aliases: {self._aliases(conn, model_id) or 'none'}."
                )
            return self._version_records(conn, name, [row])[0]

    def list_model_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of a model, newest first, with its aliases and labels."""
        with self.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                select(t.model_versions)
                .where(t.model_versions.c.model_id == model_id)
                .order_by(t.model_versions.c.version.desc())
            ).all()
            return self._version_records(conn, name, rows)

    def list_models(self) -> list[ModelRecord]:
        """Every registered model with its latest version and aliases."""
        m, v = t.registered_models, t.model_versions
        with self.read() as conn:
            rows = conn.execute(
                select(m.c.id, m.c.name, m.c.created_at, func.max(v.c.version), func.count(v.c.id))
                .select_from(m.outerjoin(v, v.c.model_id == m.c.id))
                .group_by(m.c.id, m.c.name, m.c.created_at)
                .order_by(m.c.name)
            ).all()
            return [
                ModelRecord(
                    id=row[0],
                    name=row[1],
                    created_at=row[2],
                    latest_version=row[3],
                    version_count=row[4],
                    aliases=self._aliases(conn, row[0]),
                )
                for row in rows
            ]

    # aliases and labels -------------------------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int, *, actor: str, reason: str | None = None
    ) -> bool:
        """Point ``alias`` at ``version``; returns False when it already did (no event)."""
        with self.write() as conn:
            return self._set_alias(conn, name, alias, version, actor=actor, reason=reason)

    def remove_alias(self, name: str, alias: str, *, actor: str, reason: str | None = None) -> bool:
        """Remove an alias; returns False when it did not exist."""
        check_tag_name(alias, "alias")
        with self.write() as conn:
            model_id = self._model_id(conn, name)
            held = conn.execute(
                select(t.model_aliases.c.version_id).where(
                    t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias
                )
            ).scalar()
            if held is None:
                return False
            conn.execute(
                delete(t.model_aliases).where(
                    t.model_aliases.c.model_id == model_id, t.model_aliases.c.alias == alias
                )
            )
            self._event(conn, model_id, None, "alias_removed", alias, held, reason, actor)
            return True

    def add_label(self, name: str, version: int, label: str, *, reason: str, actor: str) -> bool:
        """Label a version with a reason; returns False when identical already (no event)."""
        with self.write() as conn:
            return self._add_label(conn, name, version, label, reason=reason, actor=actor)

    def remove_label(
        self, name: str, version: int, label: str, *, actor: str, reason: str | None = None
    ) -> bool:
        """Remove a label from a version; returns False when it was not there."""
        with self.write() as conn:
            return self._remove_label(conn, name, version, label, actor=actor, reason=reason)

    def registry_history(
        self,
        name: str,
        kinds: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        conn: Connection | None = None,
    ) -> list[RegistryEvent]:
        """A model's registry events of the given kinds (all when ``None``), oldest first;
        with ``limit``, only the newest ``limit`` of them (still oldest first)."""
        if conn is None:
            with self.read() as own:
                return self.registry_history(name, kinds, limit=limit, conn=own)
        e, v = t.registry_events, t.model_versions
        previous = v.alias("previous")
        query = (
            select(e, v.c.version.label("version"), previous.c.version.label("previous"))
            .outerjoin(v, v.c.id == e.c.version_id)
            .outerjoin(previous, previous.c.id == e.c.previous_version_id)
            .where(e.c.model_id == self._model_id(conn, name))
        )
        if kinds is not None:
            query = query.where(e.c.kind.in_(list(kinds)))
        newest_first = limit is not None
        query = query.order_by(e.c.id.desc() if newest_first else e.c.id).limit(limit)
        rows = conn.execute(query).all()
        if newest_first:
            rows.reverse()
        return [
            RegistryEvent(
                id=row.id,
                model=name,
                version=row.version,
                kind=row.kind,
                name=row.name,
                previous_version=row.previous,
                reason=row.reason,
                actor=row.actor,
                details=row.details,
                created_at=row.created_at,
            )
            for row in rows
        ]

    # building blocks for one-transaction changes ---------------------------------------------
    def _lock_model(self, conn: Connection, name: str) -> str:
        """Serialise changes to one model: a row lock on PostgreSQL (SQLite's write
        transactions are already exclusive). Returns the model id."""
        m = t.registered_models
        query = select(m.c.id).where(m.c.name == name)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        found = conn.execute(query).scalar()
        return found if found is not None else self._model_id(conn, name)

    def _set_alias(
        self,
        conn: Connection,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        reason: str | None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        check_tag_name(alias, "alias")
        model_id = self._model_id(conn, name)
        version_id = self._version_id(conn, model_id, name, version)
        a = t.model_aliases
        held = conn.execute(
            select(a.c.version_id).where(a.c.model_id == model_id, a.c.alias == alias)
        ).scalar()
        if held == version_id:
            return False
        if held is None:
            conn.execute(
                insert(a).values(
                    model_id=model_id, alias=alias, version_id=version_id, updated_at=utcnow()
                )
            )
        else:
            conn.execute(
                update(a)
                .where(a.c.model_id == model_id, a.c.alias == alias)
                .values(version_id=version_id, updated_at=utcnow())
            )
        self._event(conn, model_id, version_id, "alias_set", alias, held, reason, actor, details)
        return True

    def _add_label(
        self,
        conn: Connection,
        name: str,
        version: int,
        label: str,
        *,
        reason: str,
        actor: str,
        details: dict[str, Any] | None = None,
    ) -> bool:
        check_tag_name(label, "label")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidValueError(f"Labelling {name}/{version} {label!r} needs a reason.")
        model_id = self._model_id(conn, name)
        version_id = self._version_id(conn, model_id, name, version)
        lbl = t.model_labels
        found = conn.execute(
            select(lbl.c.reason).where(lbl.c.version_id == version_id, lbl.c.label == label)
        ).first()
        if found is not None and found.reason == reason:
            return False
        if found is None:
            conn.execute(
                insert(lbl).values(
                    version_id=version_id,
                    label=label,
                    reason=reason,
                    actor=actor,
                    created_at=utcnow(),
                )
            )
        else:
            conn.execute(
                update(lbl)
                .where(lbl.c.version_id == version_id, lbl.c.label == label)
                .values(reason=reason, actor=actor, created_at=utcnow())
            )
        self._event(conn, model_id, version_id, "label_added", label, None, reason, actor, details)
        return True

    def _remove_label(
        self, conn: Connection, name: str, version: int, label: str, *, actor: str,
        reason: str | None,
    ) -> bool:  # fmt: skip
        check_tag_name(label, "label")
        model_id = self._model_id(conn, name)
        version_id = self._version_id(conn, model_id, name, version)
        removed = conn.execute(
            delete(t.model_labels).where(
                t.model_labels.c.version_id == version_id, t.model_labels.c.label == label
            )
        ).rowcount
        if removed:
            self._event(conn, model_id, version_id, "label_removed", label, None, reason, actor)
        return bool(removed)

    def _event(
        self,
        conn: Connection,
        model_id: str,
        version_id: str | None,
        kind: str,
        name: str | None,
        previous_version_id: str | None,
        reason: str | None,
        actor: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(actor, str) or not actor.strip():
            raise InvalidValueError("Every registry change needs an actor (who made it).")
        conn.execute(
            insert(t.registry_events).values(
                model_id=model_id,
                version_id=version_id,
                kind=kind,
                name=name,
                previous_version_id=previous_version_id,
                reason=reason,
                actor=actor[:250],
                details=details,
                created_at=utcnow(),
            )
        )

    def _model_id(self, conn: Connection, name: str, create: bool = False) -> str:
        m = t.registered_models
        found = conn.execute(select(m.c.id).where(m.c.name == name)).scalar()
        if found is not None:
            return found
        if not create:
            names = conn.execute(select(m.c.name).order_by(m.c.name)).scalars().all()
            raise NotFoundError(
                f"No registered model {name!r}. "
                f"Registered models: {', '.join(names) or 'none yet'}."
            )
        model_id = new_id()
        conn.execute(insert(m).values(id=model_id, name=name, created_at=utcnow()))
        return model_id

    def _version_id(self, conn: Connection, model_id: str, name: str, version: int) -> str:
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidValueError(f"A model version is an integer, got {version!r}.")
        found = conn.execute(
            select(t.model_versions.c.id).where(
                t.model_versions.c.model_id == model_id, t.model_versions.c.version == version
            )
        ).scalar()
        if found is None:
            known = self._version_numbers(conn, model_id)
            raise NotFoundError(
                f"Model {name!r} has no version {version}. Versions: {known or 'none'}."
            )
        return found

    def _version_numbers(self, conn: Connection, model_id: str) -> list[int]:
        return list(
            conn.execute(
                select(t.model_versions.c.version)
                .where(t.model_versions.c.model_id == model_id)
                .order_by(t.model_versions.c.version)
            ).scalars()
        )

    def _aliases(self, conn: Connection, model_id: str) -> dict[str, int]:
        a, v = t.model_aliases, t.model_versions
        rows = conn.execute(
            select(a.c.alias, v.c.version)
            .join(v, v.c.id == a.c.version_id)
            .where(a.c.model_id == model_id)
            .order_by(a.c.alias)
        ).all()
        return {alias: version for alias, version in rows}

    def _version_records(self, conn: Connection, name: str, rows: Any) -> list[ModelVersionRecord]:
        ids = [row.id for row in rows]
        aliases: dict[str, list[str]] = {i: [] for i in ids}
        labels: dict[str, list[LabelRecord]] = {i: [] for i in ids}
        if ids:
            for alias, version_id in conn.execute(
                select(t.model_aliases.c.alias, t.model_aliases.c.version_id)
                .where(t.model_aliases.c.version_id.in_(ids))
                .order_by(t.model_aliases.c.alias)
            ):
                aliases[version_id].append(alias)
            lbl = t.model_labels
            for row in conn.execute(
                select(lbl).where(lbl.c.version_id.in_(ids)).order_by(lbl.c.label)
            ):
                labels[row.version_id].append(
                    LabelRecord(row.label, row.reason, row.actor, row.created_at)
                )
        return [
            ModelVersionRecord(
                id=row.id,
                model=name,
                version=row.version,
                run_id=row.run_id,
                files=row.files,
                contract=row.contract,
                serving_path=row.serving_path,
                created_at=row.created_at,
                aliases=aliases[row.id],
                labels=labels[row.id],
            )
            for row in rows
        ]
