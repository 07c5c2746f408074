"""Schemas: the types, ranges, categories and nullability of a frame's columns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from prodline.data._values import KINDS, base_kind, json_scalar, sort_key
from prodline.errors import InvalidValueError

Bound = float | int | str | None


@dataclass(frozen=True)
class ColumnSchema:
    """One column: its pandas ``dtype`` (as text), its ``kind`` (integer, float, boolean,
    categorical, string, datetime), whether it may hold missing values, its observed
    ``min``/``max`` (numbers, or ISO strings for datetimes) and its allowed
    ``categories`` (categorical columns only)."""

    name: str
    dtype: str
    kind: str
    nullable: bool
    min: Bound = None
    max: Bound = None
    categories: list[Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidValueError(
                f"column {self.name!r}: unknown kind {self.kind!r}; use one of {', '.join(KINDS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The column as a JSON-safe dict."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "nullable": self.nullable,
            "min": self.min,
            "max": self.max,
            "categories": None if self.categories is None else list(self.categories),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        """The column from ``to_dict()`` output."""
        try:
            return cls(
                name=str(data["name"]),
                dtype=str(data["dtype"]),
                kind=str(data["kind"]),
                nullable=bool(data["nullable"]),
                min=data.get("min"),
                max=data.get("max"),
                categories=None if data.get("categories") is None else list(data["categories"]),
            )
        except (KeyError, TypeError) as e:
            raise InvalidValueError(
                f"not a column schema: {data!r}; it needs name, dtype, kind and nullable"
            ) from e


@dataclass(frozen=True)
class Schema:
    """The columns of a frame, in order, and the number of rows it was inferred from."""

    columns: list[ColumnSchema]
    n_rows: int
    _by_name: dict[str, ColumnSchema] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, ColumnSchema] = {}
        for col in self.columns:
            if col.name in by_name:
                raise InvalidValueError(
                    f"schema names column {col.name!r} twice; names must be unique"
                )
            by_name[col.name] = col
        object.__setattr__(self, "_by_name", by_name)

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in the schema; columns: {self.names}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        """The schema as a JSON-safe dict."""
        return {"n_rows": self.n_rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """The schema from ``to_dict()`` output."""
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise InvalidValueError("not a schema: expected a dict with a 'columns' list")
        return cls(
            columns=[ColumnSchema.from_dict(c) for c in data["columns"]],
            n_rows=int(data.get("n_rows", 0)),
        )


def infer_schema(df: pd.DataFrame, *, max_categories: int = 50) -> Schema:
    """Infer the schema of ``df``. Text (object, string, category) columns with at most
    ``max_categories`` distinct values are ``categorical`` (a sorted category list; for a
    category dtype, its declared categories), others ``string``. Numeric and datetime
    columns get their min/max; missing values make a column nullable."""
    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(f"infer_schema() needs a pandas DataFrame, not {type(df).__name__}")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidValueError(f"the frame names columns {dupes!r} more than once; rename them")
    columns = [
        infer_column(names[i], df.iloc[:, i], max_categories=max_categories)
        for i in range(df.shape[1])
    ]
    return Schema(columns=columns, n_rows=len(df))


def infer_column(name: str, s: pd.Series, *, max_categories: int = 50) -> ColumnSchema:
    """Infer the schema of one column (see ``infer_schema``)."""
    kind = base_kind(s)
    nullable = bool(s.isna().any())
    dtype = str(s.dtype)
    if kind in ("integer", "float"):
        lo, hi = _numeric_range(s)
        return ColumnSchema(name, dtype, kind, nullable, lo, hi)
    if kind == "datetime":
        lo, hi = _datetime_range(s)
        return ColumnSchema(name, dtype, kind, nullable, lo, hi)
    if kind == "boolean":
        return ColumnSchema(name, dtype, kind, nullable)
    categories = text_categories(s, max_categories)
    if categories is None:
        return ColumnSchema(name, dtype, "string", nullable)
    return ColumnSchema(name, dtype, "categorical", nullable, categories=categories)


def text_categories(s: pd.Series, max_categories: int) -> list[Any] | None:
    """The sorted JSON-safe categories of a text column, or None when it has more than
    ``max_categories`` distinct values or none at all."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        values: list[Any] = list(s.dtype.categories)
    else:
        non_null = s.dropna()
        try:
            n = non_null.nunique()
        except TypeError:  # unhashable values: count their text
            non_null = non_null.map(str)
            n = non_null.nunique()
        if n > max_categories:
            return None
        values = list(non_null.unique())
    if not values or len(values) > max_categories:
        return None
    unique = {(type(v).__name__, v): v for v in (json_scalar(x) for x in values)}
    return sorted(unique.values(), key=sort_key)


def _numeric_range(s: pd.Series) -> tuple[Bound, Bound]:
    non_null = s.dropna()
    if pd.api.types.is_object_dtype(non_null.dtype):
        if non_null.empty:
            return None, None
        return json_scalar(min(non_null)), json_scalar(max(non_null))
    if non_null.dtype.kind == "f":
        finite = non_null[(non_null > float("-inf")) & (non_null < float("inf"))]
        if finite.size != non_null.size:
            # infinite values: the bound on that side is open (None)
            lo = None if (non_null == float("-inf")).any() else finite.min()
            hi = None if (non_null == float("inf")).any() else finite.max()
            return json_scalar(lo), json_scalar(hi)
    if non_null.empty:
        return None, None
    return json_scalar(non_null.min()), json_scalar(non_null.max())


def _datetime_range(s: pd.Series) -> tuple[Bound, Bound]:
    non_null = s.dropna()
    if non_null.empty:
        return None, None
    if pd.api.types.is_object_dtype(non_null.dtype):
        try:
            non_null = pd.Series(pd.to_datetime(list(non_null)))
        except (ValueError, TypeError):  # mixed time zones: no comparable range
            return None, None
    return json_scalar(non_null.min()), json_scalar(non_null.max())
