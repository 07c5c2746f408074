"""Dataset snapshots (metadata only; the Parquet bytes live in the artifact store)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from prodline.errors import InvalidValueError, NotFoundError
from prodline.store import tables as t
from prodline.store.base import StoreBase
from prodline.store.checks import check_name
from prodline.store.ids import new_id
from prodline.store.records import DatasetRecord, DatasetUse, RunDatasetRecord
from prodline.store.runs import dialect_insert
from prodline.store.types import utcnow

_ROLE_MAX = 64


class DatasetsStore(StoreBase):
    """Named, versioned dataset snapshots and the runs that used them."""

    def add_dataset(
        self,
        name: str,
        *,
        fingerprint: str,
        digest: str,
        n_rows: int,
        n_cols: int,
        source: dict[str, Any],
        schema: dict[str, Any],
        profile: dict[str, Any],
    ) -> DatasetRecord:
        """Register a snapshot under ``name``. The same content under the same name is
        the same dataset (returned as is); new content becomes the next version."""
        check_name(name, "dataset")
        d = t.datasets
        for _attempt in range(5):
            existing = self.find_dataset(name, fingerprint)
            if existing is not None:
                return existing
            try:
                with self.write() as conn:
                    version = (
                        conn.execute(select(func.max(d.c.version)).where(d.c.name == name)).scalar()
                        or 0
                    ) + 1
                    conn.execute(
                        insert(d).values(
                            id=new_id(),
                            name=name,
                            version=version,
                            fingerprint=fingerprint,
                            digest=digest,
                            n_rows=n_rows,
                            n_cols=n_cols,
                            source=source,
                            schema=schema,
                            profile=profile,
                            created_at=utcnow(),
                        )
                    )
            except IntegrityError:
                continue  # another process registered this name concurrently; look again
        found = self.find_dataset(name, fingerprint)
        if found is None:  # pragma: no cover - only under pathological contention
            raise InvalidValueError(f"Could not register dataset {name!r} after 5 attempts.")
        return found

    def link_dataset(self, run_id: str, dataset_id: str, role: str) -> None:
        """Record that a run used a dataset in ``role`` (train, eval, test, ...)."""
        if not isinstance(role, str) or not role or len(role) > _ROLE_MAX:
            raise InvalidValueError(
                f"Dataset role must be a non-empty string of at most {_ROLE_MAX} characters, "
                f"got {role!r} (typical roles: train, eval, test)."
            )
        with self.write() as conn:
            conn.execute(
                dialect_insert(conn, t.run_datasets)
                .values(run_id=run_id, dataset_id=dataset_id, role=role, logged_at=utcnow())
                .on_conflict_do_nothing()
            )

    def get_dataset(self, name: str, version: int | None = None) -> DatasetRecord:
        """A dataset by name (latest version unless ``version``), with the runs that used it."""
        d = t.datasets
        query = select(d).where(d.c.name == name)
        query = (
            query.where(d.c.version == version)
            if version is not None
            else query.order_by(d.c.version.desc()).limit(1)
        )
        with self.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                names = conn.execute(select(d.c.name).distinct()).scalars().all()
                known = ", ".join(sorted(names)) or "none yet"
                which = f"{name!r} version {version}" if version is not None else repr(name)
                raise NotFoundError(f"No dataset {which}. Known datasets: {known}.")
            uses = conn.execute(
                select(t.run_datasets.c.run_id, t.run_datasets.c.role, t.run_datasets.c.logged_at)
                .where(t.run_datasets.c.dataset_id == row.id)
                .order_by(t.run_datasets.c.logged_at)
            ).all()
        return _record(row, [DatasetUse(*use) for use in uses])

    def get_dataset_by_id(self, dataset_id: str) -> DatasetRecord:
        """A dataset by its id."""
        with self.read() as conn:
            row = conn.execute(select(t.datasets).where(t.datasets.c.id == dataset_id)).first()
        if row is None:
            raise NotFoundError(f"No dataset with id {dataset_id!r}.")
        return _record(row, [])

    def list_datasets(self) -> list[DatasetRecord]:
        """The latest version of every dataset name, by name."""
        d = t.datasets
        latest = (
            select(d.c.name, func.max(d.c.version).label("version")).group_by(d.c.name).subquery()
        )
        query = (
            select(d)
            .join(latest, (d.c.name == latest.c.name) & (d.c.version == latest.c.version))
            .order_by(d.c.name)
        )
        with self.read() as conn:
            return [_record(row, []) for row in conn.execute(query).all()]

    def run_datasets(self, run_ids: list[str]) -> dict[str, list[RunDatasetRecord]]:
        """The datasets each run used, with roles."""
        d, rd = t.datasets, t.run_datasets
        out: dict[str, list[RunDatasetRecord]] = {run_id: [] for run_id in run_ids}
        if not run_ids:
            return out
        with self.read() as conn:
            rows = conn.execute(
                select(
                    rd.c.run_id,
                    d.c.id,
                    d.c.name,
                    d.c.version,
                    rd.c.role,
                    d.c.fingerprint,
                    d.c.n_rows,
                )
                .join(d, d.c.id == rd.c.dataset_id)
                .where(rd.c.run_id.in_(run_ids))
                .order_by(rd.c.logged_at)
            ).all()
        for run_id, *rest in rows:
            out[run_id].append(RunDatasetRecord(*rest))
        return out

    def find_dataset(self, name: str, fingerprint: str) -> DatasetRecord | None:
        """The dataset called ``name`` with this content fingerprint, if stored."""
        d = t.datasets
        with self.read() as conn:
            row = conn.execute(
                select(d).where(d.c.name == name, d.c.fingerprint == fingerprint)
            ).first()
        return None if row is None else _record(row, [])


def _record(row: Row[Any], uses: list[DatasetUse]) -> DatasetRecord:
    m = row._mapping
    return DatasetRecord(
        id=m["id"],
        name=m["name"],
        version=m["version"],
        fingerprint=m["fingerprint"],
        digest=m["digest"],
        n_rows=m["n_rows"],
        n_cols=m["n_cols"],
        source=m["source"],
        schema=m["schema"],
        profile=m["profile"],
        created_at=m["created_at"],
        used_by=uses,
    )
