"""Content fingerprints of frames, and frames as Parquet bytes."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
import pandas as pd

from prodline.errors import DataSourceError, InvalidValueError


def frame_fingerprint(df: pd.DataFrame) -> str:
    """The sha256 hex digest of ``df``'s content: column names and order, dtypes, every
    value and the index. Stable across processes and machines; equal frames (including
    0.0 vs -0.0 and any NaN) give equal digests."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(
            f"frame_fingerprint() needs a pandas DataFrame, not {type(df).__name__}"
        )
    h = hashlib.sha256()
    h.update(json.dumps(_header(df), separators=(",", ":")).encode())
    h.update(b"\0")
    if len(df.columns) == 0:
        # no columns: the rows are still identified by the index
        values = pd.util.hash_pandas_object(_normal_index(df.index), index=False)
    else:
        normal = pd.DataFrame(
            {i: _normal_values(df.iloc[:, i]) for i in range(df.shape[1])},
            index=_normal_index(df.index),
        )
        values = pd.util.hash_pandas_object(normal, index=True)
    h.update(np.ascontiguousarray(values.to_numpy(dtype=np.uint64)).astype("<u8").tobytes())
    return h.hexdigest()


def _header(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "shape": list(df.shape),
        "columns": [_describe(name, df.iloc[:, i]) for i, name in enumerate(df.columns)],
        "index": {
            "names": [_name(n) for n in df.index.names],
            "dtypes": [str(d) for d in _index_dtypes(df.index)],
        },
    }


def _describe(name: Any, s: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {"name": _name(name), "dtype": str(s.dtype)}
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        out["ordered"] = bool(dtype.ordered)
        out["categories_dtype"] = str(dtype.categories.dtype)
        cats = pd.util.hash_pandas_object(dtype.categories, index=False).to_numpy()
        out["categories"] = hashlib.sha256(cats.astype("<u8").tobytes()).hexdigest()
    elif pd.api.types.is_object_dtype(dtype):
        # hash_pandas_object hashes non-string objects by str(); keep 1 and "1" apart
        out["inferred"] = pd.api.types.infer_dtype(s, skipna=False)
    return out


def _name(name: Any) -> list[str]:
    return [type(name).__name__, str(name)]


def _index_dtypes(index: pd.Index) -> list[Any]:
    if isinstance(index, pd.MultiIndex):
        return list(index.dtypes)
    return [index.dtype]


def _normal_values(s: pd.Series) -> pd.Series | np.ndarray:
    """Floats with -0.0 as 0.0 and every NaN as the same NaN, so equal frames hash equal."""
    if s.dtype.kind == "f" and isinstance(s.dtype, np.dtype):
        return _canonical_floats(s.to_numpy())
    return s.array


def _normal_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex) or index.dtype.kind != "f":
        return index
    return pd.Index(_canonical_floats(index.to_numpy()), name=index.name)


def _canonical_floats(values: np.ndarray) -> np.ndarray:
    out = values + values.dtype.type(0.0)  # a copy with -0.0 turned into 0.0
    nan = np.isnan(out)
    if nan.any():
        out[nan] = np.nan  # one NaN bit pattern
    return out


# ---------------------------------------------------------------- Parquet


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as a zstd-compressed Parquet file in memory. The index is kept unless it is
    the default ``RangeIndex`` (0..n-1, unnamed). Column names must be unique strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(
            f"to_parquet_bytes() needs a pandas DataFrame, not {type(df).__name__}"
        )
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise InvalidValueError(
            f"Parquet needs string column names; {bad[:5]!r} are not strings; "
            "rename them first, for example df.columns = df.columns.astype(str)"
        )
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise InvalidValueError(
            f"Parquet needs unique column names; {dupes!r} appear more than once"
        )
    try:
        table = pa.Table.from_pandas(df, preserve_index=not _is_default_index(df.index))
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise InvalidValueError(
            f"cannot store the frame as Parquet: {e}; a column probably mixes types "
            "(for example numbers and strings): cast it with df[col].astype(str)"
        ) from e
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def from_parquet_bytes(data: bytes) -> pd.DataFrame:
    """The frame stored by ``to_parquet_bytes`` (dtypes restored, including categoricals,
    timezone-aware datetimes and object columns of strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, TypeError) as e:
        raise DataSourceError(f"the bytes are not a readable Parquet file: {e}") from e
    df = table.to_pandas()
    meta = table.schema.pandas_metadata or {}
    for col in meta.get("columns", []):
        name = col.get("name")
        if name not in df.columns:
            continue
        dtype = df[name].dtype
        if col.get("numpy_type") == "object" and isinstance(dtype, pd.StringDtype):
            df[name] = df[name].astype(object)  # pandas 3 reads text back as "str"
        elif col.get("pandas_type") == "categorical" and not isinstance(
            dtype, pd.CategoricalDtype
        ):  # a category column without any category comes back as plain values
            ordered = bool((col.get("metadata") or {}).get("ordered", False))
            df[name] = df[name].astype(pd.CategoricalDtype(ordered=ordered))
    return df


def _is_default_index(index: pd.Index) -> bool:
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )
