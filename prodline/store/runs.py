"""Experiments and runs: creation, status, params, tags, notes and artifact records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from prodline.errors import ArtifactError, ImmutableValueError, InvalidValueError, NotFoundError
from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.checks import check_key, check_name, check_text_value
from prodline.store.ids import new_id
from prodline.store.records import ArtifactRecord, ExperimentRecord
from prodline.store.types import utcnow

RUN_STATUSES = ("running", "finished", "failed", "killed")


def dialect_insert(connection: Connection, table: t.Table) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


class RunsStore(StoreBase):
    """Experiments, runs and the small things logged to a run."""

    # experiments ----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> str:
        """The id of the experiment called ``name``, created if missing."""
        check_name(name, "experiment")
        with self.read() as conn:
            found = conn.execute(select(t.experiments.c.id).where(t.experiments.c.name == name))
            experiment_id = found.scalar()
        if experiment_id:
            return experiment_id
        with self.write() as conn:
            conn.execute(
                dialect_insert(conn, t.experiments)
                .values(id=new_id(), name=name, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["name"])
            )
            return conn.execute(
                select(t.experiments.c.id).where(t.experiments.c.name == name)
            ).scalar_one()

    def list_experiments(self) -> list[ExperimentRecord]:
        """Every experiment with its run count and latest run start, newest first."""
        e, r = t.experiments, t.runs
        query = (
            select(e, func.count(r.c.id), func.max(r.c.start_time))
            .select_from(e.outerjoin(r, r.c.experiment_id == e.c.id))
            .group_by(e.c.id, e.c.name, e.c.created_at)
            .order_by(e.c.created_at.desc())
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [
            ExperimentRecord(
                id=row.id,
                name=row.name,
                created_at=row.created_at,
                run_count=row[3],
                last_run_at=row[4],
            )
            for row in rows
        ]

    def experiment_id(self, name: str) -> str:
        """The id of an existing experiment, or NotFoundError listing what exists."""
        with self.read() as conn:
            found = conn.execute(
                select(t.experiments.c.id).where(t.experiments.c.name == name)
            ).scalar()
            if found is None:
                names = conn.execute(select(t.experiments.c.name)).scalars().all()
        if found is None:
            known = ", ".join(sorted(names)) or "none yet"
            raise NotFoundError(f"No experiment named {name!r}. Known experiments: {known}.")
        return found

    # runs -------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        *,
        code: dict[str, Any] | None = None,
        environment: dict[str, Any] | None = None,
        reproduced_from: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> tuple[str, str, datetime]:
        """Create a running run; returns ``(run_id, run_name, start_time)``."""
        run_id = new_id()
        run_name = name or f"run-{run_id[:8]}"
        if len(run_name) > 250:
            raise InvalidValueError("A run name is at most 250 characters.")
        checked_tags = _checked_pairs(tags or {}, "tag")
        started = utcnow()
        with self.write() as conn:
            conn.execute(
                insert(t.runs).values(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=run_name,
                    status="running",
                    start_time=started,
                    code=code,
                    environment=environment,
                    reproduced_from=reproduced_from,
                )
            )
            if checked_tags:
                conn.execute(
                    insert(t.tags),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in checked_tags],
                )
        return run_id, run_name, started

    def end_run(self, run_id: str, status: str, error: str | None = None) -> datetime:
        """Mark a run ended with ``status`` (and the traceback of a failure)."""
        if status not in RUN_STATUSES or status == "running":
            raise InvalidValueError(f"Cannot end a run with status {status!r}.")
        ended = utcnow()
        with self.write() as conn:
            changed = conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, end_time=ended, error=error)
            ).rowcount
        if not changed:
            raise NotFoundError(f"No run with id {run_id!r}.")
        return ended

    def set_run_code(self, run_id: str, code: dict[str, Any]) -> None:
        """Record what code produced a run (git reference, captured source)."""
        with self.write() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(code=code))

    def resolve_run_id(self, run_ref: str) -> str:
        """A full run id from a full id or a unique prefix (at least 4 characters)."""
        if not isinstance(run_ref, str) or len(run_ref) < 4:
            raise InvalidValueError(
                f"Run reference {run_ref!r} is too short: give at least 4 characters of the id."
            )
        with self.read() as conn:
            matches = (
                conn.execute(
                    select(t.runs.c.id)
                    .where(t.runs.c.id.startswith(run_ref, autoescape=True))
                    .limit(2)
                )
                .scalars()
                .all()
            )
        if not matches:
            raise NotFoundError(
                f"No run whose id starts with {run_ref!r}. See `prodline runs list`."
            )
        if len(matches) > 1:
            raise InvalidValueError(
                f"Run reference {run_ref!r} is ambiguous; give more characters."
            )
        return matches[0]

    # params and tags -------------------------------------------------------------------
    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Record params. A param is immutable: a different value for a logged key fails
        and nothing of this call is written."""
        pairs = _checked_pairs(values, "param")
        if not pairs:
            return
        with self.write() as conn:
            keys = [k for k, _ in pairs]
            existing = dict(
                conn.execute(
                    select(t.params.c.key, t.params.c.value).where(
                        t.params.c.run_id == run_id, t.params.c.key.in_(keys)
                    )
                ).all()
            )
            clashes = [(k, existing[k], v) for k, v in pairs if k in existing and existing[k] != v]
            if clashes:
                listed = "; ".join(f"{k!r}: logged {old!r}, now {new!r}" for k, old, new in clashes)
                raise ImmutableValueError(
                    f"Params are immutable within a run ({listed}). Start a new run to try "
                    "other values, or log the changing value as a metric or tag."
                )
            fresh = [
                {"run_id": run_id, "key": k, "value": v} for k, v in pairs if k not in existing
            ]
            if fresh:
                conn.execute(insert(t.params), fresh)

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set tags (mutable: a new value replaces the old one)."""
        pairs = _checked_pairs(values, "tag")
        if not pairs:
            return
        with self.write() as conn:
            stmt = dialect_insert(conn, t.tags)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                ),
                [{"run_id": run_id, "key": k, "value": v} for k, v in pairs],
            )

    def add_note(self, run_id: str, text: str) -> None:
        """Append a free-text note to a run (notes are never overwritten)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidValueError("A note must be a non-empty string.")
        check_text_value(text, "Note", "text")
        with self.write() as conn:
            conn.execute(insert(t.run_notes).values(run_id=run_id, created_at=utcnow(), text=text))

    # artifacts ---------------------------------------------------------------------------
    def record_artifact(self, run_id: str, path: str, digest: str, size: int) -> ArtifactRecord:
        """Record that ``path`` in a run holds the blob ``digest``. Re-logging the same
        content is a no-op; other content under a logged path is refused."""
        created = utcnow()
        with self.write() as conn:
            found = conn.execute(
                select(t.run_artifacts.c.digest, t.run_artifacts.c.created_at).where(
                    t.run_artifacts.c.run_id == run_id, t.run_artifacts.c.path == path
                )
            ).first()
            if found is not None:
                if found.digest != digest:
                    raise ArtifactError(
                        f"Artifact {path!r} was already logged to run {run_id[:8]} with other "
                        "content; artifacts are immutable. Log it under another path."
                    )
                return ArtifactRecord(path, digest, size, found.created_at)
            conn.execute(
                insert(t.run_artifacts).values(
                    run_id=run_id, path=path, digest=digest, size=size, created_at=created
                )
            )
        return ArtifactRecord(path, digest, size, created)

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        """Every artifact of a run, by path."""
        a = t.run_artifacts
        with self.read() as conn:
            rows = conn.execute(
                select(a.c.path, a.c.digest, a.c.size, a.c.created_at)
                .where(a.c.run_id == run_id)
                .order_by(a.c.path)
            ).all()
        return [ArtifactRecord(*row) for row in rows]


def _checked_pairs(values: Mapping[str, Any], what: str) -> list[tuple[str, str]]:
    if not isinstance(values, Mapping):
        raise InvalidValueError(f"{what}s must be given as a mapping of key to value.")
    return [
        (check_key(k, what), check_text_value(v, what.capitalize(), k)) for k, v in values.items()
    ]


def chunked(items: Iterable[Any], size: int = 500) -> Iterable[list[Any]]:
    """Split ``items`` into lists of at most ``size`` (bounded IN clauses)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
