"""validate: every violation, with the right rows, counts and examples."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodline.data.schema import ColumnSchema, Schema, infer_schema
from prodline.data.validate import ValidationReport, Violation, validate
from prodline.errors import InvalidValueError, SchemaValidationError


@pytest.fixture
def schema() -> Schema:
    train = pd.DataFrame(
        {
            "age": [18, 35, 90, 41],
            "income": [1000.0, 2500.5, np.nan, 80000.0],
            "city": ["Oslo", "Lima", "Pune", "Oslo"],
            "member": [True, False, True, False],
            "joined": pd.to_datetime(
                ["2020-01-01", "2021-06-30", "2022-12-31", "2021-01-01"]
            ).tz_localize("UTC"),
            "note": [f"free text {i}" for i in range(4)],
        }
    )
    return infer_schema(train, max_categories=3)


def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [18, 90, 50],
            "income": [np.nan, 1000, 5000.25],  # ints in a float column are fine
            "city": pd.Categorical(["Pune", "Oslo", "Lima"]),
            "member": [False, True, True],
            "joined": pd.to_datetime(["2020-01-01", "2022-12-31", "2021-02-03"]).tz_localize("UTC"),
            "note": ["anything", "goes", "here"],
            "extra": [1, 2, 3],
        }
    )


def test_a_good_frame_is_ok(schema: Schema) -> None:
    report = validate(good_frame(), schema)
    assert report.ok and report.violations == [] and report.n_rows == 3
    assert "satisfies" in str(report)
    report.raise_if_invalid()  # does not raise
    assert report.to_dict() == {"ok": True, "n_rows": 3, "violations": []}


def test_every_violation_is_listed(schema: Schema) -> None:
    bad = pd.DataFrame(
        {
            "age": pd.Series([25, "thirty", 17, 120.0, 33.5, None, 200, "x"], dtype=object),
            "income": ["a lot", 5.0, -1.0, 1e9, np.nan, 3.0, 2.0, 1.0],
            "city": ["Oslo", "Paris", None, "Rome", "Paris", "Lima", "Oslo", "Oslo"],
            "member": pd.Series([True, 1, False, None, "yes", True, False, True], dtype=object),
            "note": [None] * 8,
            "surprise": range(8),
        }
    )
    report = validate(bad, schema, allow_extra_columns=False)
    got = [(v.column, v.problem, v.count, v.rows, v.examples) for v in report.violations]
    assert got == [
        ("age", "null_not_allowed", 1, [5], []),
        ("age", "wrong_type", 3, [1, 4, 7], ["thirty", 33.5, "x"]),
        ("age", "below_min", 1, [2], [17]),
        ("age", "above_max", 2, [3, 6], [120.0, 200]),
        ("income", "wrong_type", 1, [0], ["a lot"]),
        ("income", "below_min", 5, [1, 2, 5, 6, 7], [5.0, -1.0, 3.0, 2.0, 1.0]),
        ("income", "above_max", 1, [3], [1e9]),
        ("city", "null_not_allowed", 1, [2], []),
        ("city", "unknown_category", 3, [1, 3, 4], ["Paris", "Rome"]),
        ("member", "null_not_allowed", 1, [3], []),
        ("member", "wrong_type", 2, [1, 4], [1, "yes"]),
        ("joined", "missing_column", 8, [], []),
        ("note", "null_not_allowed", 8, list(range(8)), []),
        ("surprise", "unexpected_column", 8, [], []),
    ]
    assert not report.ok
    text = str(report)
    assert text.count("\n  - ") == 14
    assert "column 'age': wrong_type in 3 rows (rows 1, 4, 7); expected an integer" in text
    assert "column 'city': unknown_category in 3 rows" in text and "'Paris', 'Rome'" in text
    assert "column 'joined': missing_column" in text
    json.dumps(report.to_dict(), allow_nan=False)


def test_a_string_column_in_a_numeric_slot(schema: Schema) -> None:
    # pandas 3 reads text as the "str" dtype: every present value is the wrong type
    frame = good_frame().assign(income=pd.Series(["1", None, "3"], dtype="str"))
    report = validate(frame, schema)
    (v,) = report.violations
    assert (v.column, v.problem, v.count, v.rows, v.examples) == (
        "income",
        "wrong_type",
        2,
        [0, 2],
        ["1", "3"],
    )


def test_integer_column_and_floats() -> None:
    schema = Schema([ColumnSchema("n", "int64", "integer", nullable=True, min=0, max=10)], 0)
    frame = pd.DataFrame({"n": [1.0, 2.5, np.nan, np.inf, 7.0, -0.5]})
    # -0.5 is the wrong type, so it is not also reported below the minimum
    (wrong,) = validate(frame, schema).violations
    assert (wrong.problem, wrong.count, wrong.rows) == ("wrong_type", 3, [1, 3, 5])
    assert wrong.examples == [2.5, "inf", -0.5]
    assert validate(pd.DataFrame({"n": [0.0, 10.0, 3.0]}), schema).ok


def test_nullable_integers_and_booleans() -> None:
    schema = Schema(
        [
            ColumnSchema("i", "Int64", "integer", nullable=False, min=0, max=5),
            ColumnSchema("b", "bool", "boolean", nullable=False),
        ],
        0,
    )
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 9], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
        }
    )
    got = [(v.column, v.problem, v.rows, v.examples) for v in validate(frame, schema).violations]
    assert got == [
        ("i", "null_not_allowed", [1], []),
        ("i", "above_max", [2], [9]),
        ("b", "null_not_allowed", [1], []),
    ]
    numbers_for_bools = pd.DataFrame({"i": [1, 2, 3], "b": [0, 1, 1]})
    (v,) = validate(numbers_for_bools, schema).violations
    assert (v.column, v.problem, v.count) == ("b", "wrong_type", 3)


def test_rows_are_capped_at_20_and_examples_at_5() -> None:
    schema = Schema([ColumnSchema("x", "float64", "float", nullable=False, min=0.0, max=1.0)], 0)
    values = np.concatenate([np.arange(2, 102, dtype=float), [0.5]])
    (v,) = validate(pd.DataFrame({"x": values}), schema).violations
    assert v.problem == "above_max" and v.count == 100
    assert v.rows == list(range(20)) and v.examples == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert "(rows 0, 1, 2" in str(v) and ", ...)" in str(v)


def test_datetimes(schema: Schema) -> None:
    frame = good_frame().assign(
        joined=pd.Series(
            [
                pd.Timestamp("2019-01-01", tz="UTC"),
                "2021-01-01",
                pd.Timestamp("2030-01-01", tz="UTC"),
            ],
            dtype=object,
        )
    )
    got = [(v.problem, v.rows, v.examples) for v in validate(frame, schema).violations]
    assert got == [
        ("wrong_type", [1], ["2021-01-01"]),
        ("below_min", [0], ["2019-01-01T00:00:00+00:00"]),
        ("above_max", [2], ["2030-01-01T00:00:00+00:00"]),
    ]
    naive = good_frame().assign(joined=pd.to_datetime(["2021-01-01"] * 3))
    (v,) = validate(naive, schema).violations
    assert (v.problem, v.count, v.expected) == ("wrong_type", 3, "a timezone-aware datetime")


def test_raise_if_invalid_carries_the_report(schema: Schema) -> None:
    frame = good_frame().drop(columns="age")
    report = validate(frame, schema)
    with pytest.raises(SchemaValidationError) as info:
        report.raise_if_invalid()
    assert info.value.report is report
    assert "missing_column" in str(info.value) and "'age'" in str(info.value)


def test_schema_from_a_dict_and_json_safe_examples(schema: Schema) -> None:
    as_dict = json.loads(json.dumps(schema.to_dict()))
    frame = good_frame().assign(city=["Oslo", "Oslo", "Berlin"])
    report = validate(frame, as_dict)
    (v,) = report.violations
    assert v == Violation("city", "unknown_category", 1, ["Berlin"], [2], v.expected)
    assert v.expected is not None and "'Lima'" in v.expected


def test_categories_held_as_json_text() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"]), dtype="category")
    schema = infer_schema(pd.DataFrame({"d": stamps}))
    assert schema["d"].categories == ["2024-01-01T00:00:00", "2024-02-01T00:00:00"]
    assert validate(pd.DataFrame({"d": stamps}), schema).ok
    other = pd.Series(pd.to_datetime(["2024-03-01"]), dtype="category")
    assert [v.problem for v in validate(pd.DataFrame({"d": other}), schema).violations] == [
        "unknown_category"
    ]


def test_bad_arguments(schema: Schema) -> None:
    with pytest.raises(InvalidValueError, match="DataFrame"):
        validate([1], schema)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="Schema"):
        validate(good_frame(), "schema")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="more than once"):
        validate(pd.DataFrame([[1, 2]], columns=["age", "age"]), schema)


def test_report_to_dict_shape() -> None:
    report = ValidationReport([Violation("a", "wrong_type", 1, ["x"], [0], "an integer")], 1)
    assert report.to_dict() == {
        "ok": False,
        "n_rows": 1,
        "violations": [
            {
                "column": "a",
                "problem": "wrong_type",
                "count": 1,
                "examples": ["x"],
                "rows": [0],
                "expected": "an integer",
            }
        ],
    }


# ---------------------------------------------------------------- properties


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 15))

    def values(elements: st.SearchStrategy) -> list:
        return draw(st.lists(st.none() | elements, min_size=n, max_size=n))

    tz = draw(st.sampled_from([None, "UTC", "Asia/Tokyo"]))
    stamps = values(
        st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1))
    )
    times = pd.to_datetime(pd.Series(stamps, dtype="datetime64[us]"))
    return pd.DataFrame(
        {
            "i": pd.array(values(st.integers(-(2**40), 2**40)), dtype="Int64"),
            "f": pd.Series(values(st.floats(allow_nan=False, width=32)), dtype="float64"),
            "s": pd.Series(values(st.text(max_size=3)), dtype="str"),
            "c": pd.Categorical(values(st.sampled_from(["lo", "hi"]))),
            "b": pd.array(values(st.booleans()), dtype="boolean"),
            "o": pd.Series(values(st.integers(0, 3) | st.text("ab", max_size=1)), dtype=object),
            "t": times.dt.tz_localize(tz) if tz else times,
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.integers(0, 5))
def test_a_frame_satisfies_its_own_schema(df: pd.DataFrame, max_categories: int) -> None:
    schema = infer_schema(df, max_categories=max_categories)
    report = validate(df, schema, allow_extra_columns=False)
    assert report.ok, str(report)
    # and the schema survives JSON, still accepting the frame
    assert validate(df, json.loads(json.dumps(schema.to_dict(), allow_nan=False))).ok


def test_unusable_schema_bound_and_huge_ints() -> None:
    broken = Schema([ColumnSchema("x", "float64", "float", True, min="low")], 0)
    with pytest.raises(InvalidValueError, match="'x'.*'low'"):
        validate(pd.DataFrame({"x": [1.0]}), broken)
    schema = Schema([ColumnSchema("n", "object", "integer", True, min=0, max=10)], 0)
    huge = pd.DataFrame({"n": pd.Series([10**400, 3, -(10**400)], dtype=object)})
    got = [(v.problem, v.rows) for v in validate(huge, schema).violations]
    assert got == [("below_min", [2]), ("above_max", [0])]
