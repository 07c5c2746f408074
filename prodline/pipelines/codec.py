"""How step inputs and outputs become artifacts, and back, without pickle by default.

- pandas DataFrame: Parquet (``to_parquet_bytes``), kind ``parquet``;
- pandas Series: a one-column Parquet file, kind ``series``;
- numpy array (not of Python objects): ``.npy`` without pickle, kind ``npy``;
- None, bool, int, float, str, and lists and dicts of them: JSON, kind ``json`` (tuples
  inside come back as lists, numpy scalars as plain numbers);
- a scikit-learn estimator: skops, loaded back through prodline's trusted-type check
  (``prodline.models.trust.load_estimator_bytes``), kind ``skops``;
- a registered model version: a JSON reference ``{"model", "version"}``;
- bytes: as they are;
- anything else: refused, unless the step says ``@step(allow_pickle=True)``.

A step that returns a tuple has several outputs; each item is stored on its own.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from prodline.errors import PipelineError

EXTENSIONS = {
    "parquet": "parquet",
    "series": "parquet",
    "npy": "npy",
    "json": "json",
    "skops": "skops",
    "model_version": "json",
    "bytes": "bin",
    "pickle": "pkl",
}
_SERIES_COLUMN = "__series__"


@dataclass(frozen=True)
class Encoded:
    """A value as bytes, and the kind that says how to read it back."""

    kind: str
    data: bytes

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.kind]


def encode(
    value: Any,
    *,
    where: str,
    allow_pickle: bool = False,
    extra_trusted: tuple[str, ...] = (),
) -> Encoded:
    """Serialise one value; ``where`` names it in errors (``"output of step 'train'"``)."""
    module = type(value).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return Encoded("parquet", _frame_bytes(value, where))
        if isinstance(value, pd.Series):
            name = value.name
            frame = value.to_frame(name=_SERIES_COLUMN)
            data = _frame_bytes(frame, where)
            meta = json.dumps({"name": name}).encode() if _json_ok(name) else b'{"name": null}'
            return Encoded("series", len(meta).to_bytes(4, "big") + meta + data)
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return _fallback(
                    value, where, allow_pickle,
                    "it is a numpy array of Python objects, which .npy cannot hold without "
                    "pickle; convert it to a numeric or string dtype, or a DataFrame",
                )  # fmt: skip
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            return Encoded("npy", buffer.getvalue())
    if _is_estimator(value):
        return _encode_estimator(value, where, allow_pickle, extra_trusted)
    if _is_model_version(value):
        body = {"model": value.name, "version": int(value.version)}
        return Encoded("model_version", json.dumps(body, sort_keys=True).encode())
    if isinstance(value, bytes | bytearray):
        return Encoded("bytes", bytes(value))
    try:
        plain = to_json_value(value)
    except _NotJson as problem:
        return _fallback(value, where, allow_pickle, str(problem))
    return Encoded("json", canonical_json(plain))


def decode(
    kind: str,
    data: bytes,
    *,
    where: str,
    allow_pickle: bool = False,
    extra_trusted: tuple[str, ...] = (),
) -> Any:
    """Read back a value written by :func:`encode`."""
    if kind == "json":
        return json.loads(data)
    if kind == "parquet":
        from prodline.data.fingerprint import from_parquet_bytes

        return from_parquet_bytes(data)
    if kind == "series":
        from prodline.data.fingerprint import from_parquet_bytes

        size = int.from_bytes(data[:4], "big")
        meta = json.loads(data[4 : 4 + size])
        series = from_parquet_bytes(data[4 + size :])[_SERIES_COLUMN]
        series.name = meta.get("name")
        return series
    if kind == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "skops":
        from prodline.models.trust import load_estimator_bytes

        return load_estimator_bytes(data, extra_trusted=extra_trusted, source=where)
    if kind == "model_version":
        from prodline.registry.api import get_model_version

        body = json.loads(data)
        return get_model_version(f"{body['model']}/{body['version']}")
    if kind == "bytes":
        return data
    if kind == "pickle":
        if not allow_pickle:
            raise PipelineError(
                f"The {where} is a pickle, but the step that wrote it does not say "
                "@step(allow_pickle=True); refusing to unpickle it."
            )
        import pickle

        return pickle.loads(data)  # noqa: S301 - the producing step opted in explicitly
    raise PipelineError(
        f"The {where} has an unknown kind {kind!r}; it was not written by prodline."
    )


# ------------------------------------------------------------------------------ JSON
class _NotJson(Exception):
    pass


def to_json_value(value: Any, path: str = "value") -> Any:
    """``value`` as plain JSON data (tuples as lists, numpy scalars as numbers), or
    ``_NotJson`` naming the first part that has no JSON form."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return to_json_value(value.item(), path)  # a numpy scalar
    if isinstance(value, list | tuple):
        return [to_json_value(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJson(
                    f"{path} is a dict with a {type(key).__name__} key {key!r}; JSON keys are "
                    "strings"
                )
            out[key] = to_json_value(item, f"{path}[{key!r}]")
        return out
    raise _NotJson(f"{path} is a {type(value).__module__}.{type(value).__qualname__}")


def _json_ok(value: Any) -> bool:
    try:
        to_json_value(value)
    except _NotJson:
        return False
    return True


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: equal values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


# ---------------------------------------------------------------------- the rest
def _frame_bytes(frame: Any, where: str) -> bytes:
    from prodline.data.fingerprint import to_parquet_bytes
    from prodline.errors import InvalidValueError

    try:
        return to_parquet_bytes(frame)
    except InvalidValueError as exc:
        raise PipelineError(f"Cannot store the {where} as Parquet: {exc}") from None


def _is_estimator(value: Any) -> bool:
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(value, base.BaseEstimator) and not isinstance(value, type):
        return True
    return type(value).__module__.startswith("sklearn.") and hasattr(value, "get_params")


def _is_model_version(value: Any) -> bool:
    versions = sys.modules.get("prodline.registry.versions")
    return versions is not None and isinstance(value, versions.ModelVersion)


def _encode_estimator(
    value: Any, where: str, allow_pickle: bool, extra_trusted: tuple[str, ...]
) -> Encoded:
    try:
        import skops.io as sio

        from prodline.models.trust import trusted_types, untrusted_types_in
    except ImportError:  # pragma: no cover - skops comes with scikit-learn's extra
        return _fallback(
            value, where, allow_pickle,
            "storing an estimator safely needs skops: pip install 'prodline[sklearn]'",
        )  # fmt: skip
    try:
        data = sio.dumps(value)
    except Exception as exc:
        return _fallback(
            value, where, allow_pickle, f"skops cannot serialise it ({type(exc).__name__}: {exc})"
        )
    refused = sorted(set(untrusted_types_in(data)) - trusted_types(extra_trusted))
    if refused:
        hint = ", ".join(repr(t) for t in refused)
        return _fallback(
            value, where, allow_pickle,
            f"it holds type(s) outside prodline's trusted list ({', '.join(refused)}); if they "
            f"are yours and safe to import, use @step(extra_trusted=[{hint}])",
        )  # fmt: skip
    return Encoded("skops", data)


def _fallback(value: Any, where: str, allow_pickle: bool, why: str) -> Encoded:
    if allow_pickle:
        import pickle

        try:
            return Encoded("pickle", pickle.dumps(value, protocol=5))
        except Exception as exc:
            raise PipelineError(
                f"Cannot store the {where}: pickle failed too ({type(exc).__name__}: {exc})."
            ) from None
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    raise PipelineError(
        f"Cannot store the {where} ({kind}) safely: {why}. Return a DataFrame, a numpy "
        "array, JSON-able data or a scikit-learn estimator, or mark the step "
        "@step(allow_pickle=True) if every reader of this store is trusted."
    )
