"""infer_schema and the Schema round trip through JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodline.data.schema import ColumnSchema, Schema, infer_schema
from prodline.data.validate import validate
from prodline.errors import InvalidValueError


@pytest.fixture
def mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 27, 60],
            "income": [52_000.5, np.nan, 18_250.0, 99_999.75],
            "flag": [True, False, True, True],
            "maybe": pd.Series([True, None, False, True], dtype=object),
            "city": ["Oslo", "Lima", None, "Oslo"],
            "segment": pd.Categorical(["b", "a", "b", "a"], categories=["c", "b", "a"]),
            "when": pd.to_datetime(
                ["2024-03-01 00:00", None, "2023-12-31 23:00", "2024-01-15 00:00"]
            ).tz_localize("UTC"),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "py_ints": pd.Series([7, None, -2, 10], dtype=object),
            "money": pd.Series([Decimal("1.5"), Decimal("2.25"), None, Decimal("0")], dtype=object),
            "nothing": [np.nan] * 4,
        }
    )


def test_infers_kinds_ranges_and_nullability(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    assert schema.n_rows == 4
    assert schema.names == list(mixed.columns)
    expected = {
        "age": ("integer", False, 27, 60, None),
        "income": ("float", True, 18_250.0, 99_999.75, None),
        "flag": ("boolean", False, None, None, None),
        "maybe": ("boolean", True, None, None, None),
        "city": ("categorical", True, None, None, ["Lima", "Oslo"]),
        "segment": ("categorical", False, None, None, ["a", "b", "c"]),
        "when": (
            "datetime",
            True,
            "2023-12-31T23:00:00+00:00",
            "2024-03-01T00:00:00+00:00",
            None,
        ),
        "count": ("integer", True, 1, 4, None),
        "py_ints": ("integer", True, -2, 10, None),
        "money": ("float", True, 0.0, 2.25, None),
        "nothing": ("float", True, None, None, None),
    }
    for name, (kind, nullable, lo, hi, cats) in expected.items():
        col = schema[name]
        assert (col.kind, col.nullable, col.min, col.max, col.categories) == (
            kind,
            nullable,
            lo,
            hi,
            cats,
        ), name
        assert col.dtype == str(mixed[name].dtype)
    # plain Python types, never numpy scalars
    assert type(schema["age"].min) is int and type(schema["income"].max) is float
    assert type(schema["count"].max) is int


def test_max_categories_threshold() -> None:
    df = pd.DataFrame({"a": [f"v{i}" for i in range(10)], "b": ["x", "y"] * 5})
    at_limit = infer_schema(df, max_categories=10)
    assert at_limit["a"].kind == "categorical"
    assert at_limit["a"].categories == sorted(f"v{i}" for i in range(10))
    over = infer_schema(df, max_categories=9)
    assert over["a"].kind == "string" and over["a"].categories is None
    assert over["b"].kind == "categorical" and over["b"].categories == ["x", "y"]


def test_mixed_object_categories_are_sorted_json_scalars() -> None:
    df = pd.DataFrame({"o": pd.Series(["b", 2, np.int64(1), "a", 2.5, None], dtype=object)})
    col = infer_schema(df)["o"]
    assert col.kind == "categorical" and col.nullable
    assert col.categories == [1, 2, 2.5, "a", "b"]
    assert type(col.categories[0]) is int


def test_empty_text_column_is_string() -> None:
    col = infer_schema(pd.DataFrame({"e": pd.Series([None, None], dtype=object)}))["e"]
    assert (col.kind, col.nullable, col.categories) == ("string", True, None)


def test_infinite_values_leave_the_bound_open() -> None:
    col = infer_schema(pd.DataFrame({"f": [1.0, np.inf, -2.0]}))["f"]
    assert (col.min, col.max) == (-2.0, None)


def test_naive_datetimes_and_dates() -> None:
    df = pd.DataFrame(
        {
            "naive": pd.to_datetime(["2020-05-01", "2019-01-02"]),
            "dates": pd.Series([dt.date(2021, 1, 2), dt.date(2020, 1, 1)], dtype=object),
        }
    )
    schema = infer_schema(df)
    assert (schema["naive"].min, schema["naive"].max) == (
        "2019-01-02T00:00:00",
        "2020-05-01T00:00:00",
    )
    assert schema["dates"].kind == "datetime"
    assert schema["dates"].min == "2020-01-01T00:00:00"


def test_round_trip_through_json(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    text = json.dumps(schema.to_dict(), allow_nan=False)
    back = Schema.from_dict(json.loads(text))
    assert back == schema
    assert back.to_dict() == schema.to_dict()
    assert validate(mixed, back).ok


def test_getitem_contains_and_errors(mixed: pd.DataFrame) -> None:
    schema = infer_schema(mixed)
    assert "age" in schema and "nope" not in schema
    assert len(schema) == mixed.shape[1]
    assert [c.name for c in schema] == schema.names
    with pytest.raises(KeyError, match="nope"):
        schema["nope"]
    with pytest.raises(InvalidValueError, match="unknown kind 'text'"):
        ColumnSchema("a", "object", "text", True)
    with pytest.raises(InvalidValueError, match="twice"):
        Schema([ColumnSchema("a", "int64", "integer", False)] * 2, 1)
    with pytest.raises(InvalidValueError, match="needs name"):
        Schema.from_dict({"columns": [{"name": "a"}]})
    with pytest.raises(InvalidValueError, match="not a schema"):
        Schema.from_dict({"cols": []})


def test_non_string_and_duplicate_column_names() -> None:
    schema = infer_schema(pd.DataFrame(np.arange(6).reshape(3, 2)))
    assert schema.names == ["0", "1"]
    with pytest.raises(InvalidValueError, match="more than once"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(InvalidValueError, match="DataFrame"):
        infer_schema({"a": [1]})  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

scalars = {
    "int": st.integers(-(2**40), 2**40),
    "float": st.floats(allow_nan=True, allow_infinity=False, width=64),
    "text": st.text(alphabet="abcxyz", max_size=3),
    "bool": st.booleans(),
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 20))
    kinds = draw(st.lists(st.sampled_from(sorted(scalars)), min_size=1, max_size=5))
    cols = {}
    for i, kind in enumerate(kinds):
        element = scalars[kind]
        if draw(st.booleans()):
            element = st.none() | element
        values = draw(st.lists(element, min_size=n, max_size=n))
        cols[f"{kind}{i}"] = pd.Series(values, dtype=object if kind == "text" else None)
    return pd.DataFrame(cols)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.integers(0, 8))
def test_schema_property(df: pd.DataFrame, max_categories: int) -> None:
    schema = infer_schema(df, max_categories=max_categories)
    text = json.dumps(schema.to_dict(), allow_nan=False)  # plain JSON: no NaN, no numpy
    assert Schema.from_dict(json.loads(text)) == schema
    for col in schema:
        s = df[col.name]
        assert col.nullable == bool(s.isna().any())
        if col.kind in ("integer", "float") and s.notna().any():
            assert col.min == s.min() and col.max == s.max()
        if col.categories is not None:
            assert len(col.categories) <= max_categories
            assert set(col.categories) == set(s.dropna())
    # a frame always satisfies its own schema
    assert validate(df, schema).ok
