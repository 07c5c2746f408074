"""Store-backed dataset operations: snapshot, load, list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodline import _context
from prodline.data.dataset import Dataset
from prodline.store.records import DatasetRecord

if TYPE_CHECKING:
    from prodline.artifacts.store import ArtifactStore
    from prodline.store.store import Store


def snapshot(
    store: Store,
    artifacts: ArtifactStore,
    source: Any = None,
    *,
    name: str,
    query: str | None = None,
    url: str | None = None,
    sheet: str | int | None = None,
) -> Dataset:
    """Read a source, and store it as a Parquet snapshot with schema and profile.

    The same content under the same name is stored once: the existing version is
    returned and no bytes are written again.
    """
    from prodline.data.fingerprint import frame_fingerprint, to_parquet_bytes
    from prodline.data.profile import profile
    from prodline.data.readers import read_source
    from prodline.data.schema import infer_schema
    from prodline.store.checks import check_name

    check_name(name, "dataset")
    frame, info = read_source(source, query=query, url=url, sheet=sheet)
    fingerprint = frame_fingerprint(frame)
    existing = store.find_dataset(name, fingerprint)
    if existing is not None:
        return Dataset(existing, artifacts, frame)
    digest = artifacts.put_bytes(to_parquet_bytes(frame))
    record = store.add_dataset(
        name,
        fingerprint=fingerprint,
        digest=digest,
        n_rows=len(frame),
        n_cols=frame.shape[1],
        source=info.to_dict(),
        schema=infer_schema(frame).to_dict(),
        profile=profile(frame).to_dict(),
    )
    return Dataset(record, artifacts, frame)


def load(store: Store, artifacts: ArtifactStore, record: DatasetRecord) -> Dataset:
    """A Dataset for a stored record (its frame loads on first access)."""
    return Dataset(record, artifacts)


def dataset_used_by(store: Store, run_id: str, name: str, role: str) -> DatasetRecord | None:
    """The dataset called ``name`` that run ``run_id`` used in ``role``, if any."""
    for used in store.run_datasets([run_id])[run_id]:
        if used.name == name and used.role == role:
            return store.get_dataset_by_id(used.dataset_id)
    return None


def get_dataset(name: str, version: int | None = None) -> Dataset:
    """A stored dataset by name (latest version unless ``version`` is given)."""
    return Dataset(_context.store().get_dataset(name, version), _context.artifacts())


def list_datasets() -> list[DatasetRecord]:
    """The latest version of every dataset."""
    return _context.store().list_datasets()
