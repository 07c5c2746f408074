"""A dataset snapshot as users see it: metadata plus the frame, loaded on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodline.store.records import DatasetRecord

if TYPE_CHECKING:
    import pandas as pd

    from prodline.artifacts.store import ArtifactStore
    from prodline.data.profile import Profile
    from prodline.data.schema import Schema


class Dataset:
    """A named, versioned, content-hashed snapshot of a table."""

    def __init__(
        self, record: DatasetRecord, artifacts: ArtifactStore, frame: pd.DataFrame | None = None
    ) -> None:
        self.record = record
        self._artifacts = artifacts
        self._frame = frame

    def __repr__(self) -> str:
        r = self.record
        return (
            f"Dataset(name={r.name!r}, version={r.version}, rows={r.n_rows}, "
            f"cols={r.n_cols}, fingerprint={r.fingerprint[:12]!r})"
        )

    id = property(lambda self: self.record.id)
    name = property(lambda self: self.record.name)
    version = property(lambda self: self.record.version)
    fingerprint = property(lambda self: self.record.fingerprint)
    source = property(lambda self: self.record.source)

    @property
    def frame(self) -> pd.DataFrame:
        """The snapshot's data (read from the artifact store the first time)."""
        if self._frame is None:
            from prodline.data.fingerprint import from_parquet_bytes

            self._frame = from_parquet_bytes(self._artifacts.get_bytes(self.record.digest))
        return self._frame

    def to_pandas(self) -> pd.DataFrame:
        """A copy of the snapshot's data."""
        return self.frame.copy()

    @property
    def schema(self) -> Schema:
        """The inferred schema (types, nullability, ranges, categories)."""
        from prodline.data.schema import Schema

        return Schema.from_dict(self.record.schema)

    @property
    def profile(self) -> Profile:
        """The profile (quantiles, histograms, frequencies): the drift reference."""
        from prodline.data.profile import Profile

        return Profile.from_dict(self.record.profile)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe metadata."""
        return self.record.to_dict()
