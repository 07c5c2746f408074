"""Contract.validate / check / validate_records: every planted violation, by row and column,
and the pandas-free fast path reports exactly what the pandas path reports."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodline.contract import Contract
from prodline.data.schema import ColumnSchema, Schema
from prodline.data.validate import validate
from prodline.errors import ContractViolationError, InvalidValueError
from tests.contract.conftest import Case


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _by_key(report: Any) -> dict[tuple[str, str], Any]:
    return {(v.column, v.problem): v for v in report.violations}


def _planted(mixed: Case) -> pd.DataFrame:
    """Ten clean training rows with one planted problem per kind."""
    frame = mixed.X_train.head(10).reset_index(drop=True).astype(object)
    schema = mixed.contract.input_schema
    frame.loc[2, "income"] = "lots"  # wrong type
    frame.loc[7, "age"] = 12.5  # wrong type for an integer column
    frame.loc[3, "age"] = schema["age"].max + 40  # above the training max
    frame.loc[4, "income"] = -5.0  # below the training min
    frame.loc[5, "city"] = "berlin"  # unknown category
    frame.loc[8, "plan"] = "enterprise"  # unknown category
    frame.loc[6, "plan"] = None  # null where the column is not nullable
    frame.loc[9, "income"] = np.nan  # null where the column is not nullable
    return frame


PLANTED = {
    ("income", "wrong_type"): ([2], ["lots"]),
    ("age", "wrong_type"): ([7], [12.5]),
    ("age", "above_max"): ([3], None),
    ("income", "below_min"): ([4], [-5.0]),
    ("city", "unknown_category"): ([5], ["berlin"]),
    ("plan", "unknown_category"): ([8], ["enterprise"]),
    ("plan", "null_not_allowed"): ([6], []),
    ("income", "null_not_allowed"): ([9], []),
}


def test_clean_rows_pass(mixed: Case, cancer: Case) -> None:
    for case in (mixed, cancer):
        report = case.contract.validate(case.X_train)
        assert report.ok and report.n_rows == len(case.X_train)
        assert case.contract.validate_records(_records(case.X_train.head(50))).ok
        case.contract.check(case.X_train)  # does not raise


def test_every_planted_violation_is_found_by_row_and_column(mixed: Case) -> None:
    frame = _planted(mixed)
    for report in (mixed.contract.validate(frame), mixed.contract.validate(_records(frame))):
        found = _by_key(report)
        assert set(found) == set(PLANTED), report
        for key, (rows, examples) in PLANTED.items():
            assert found[key].rows == rows, key
            assert found[key].count == len(rows)
            if examples is not None:
                assert found[key].examples == examples, key
        top = mixed.contract.input_schema["age"].max
        assert found[("age", "above_max")].expected == f"<= {top}"
        assert "'lyon', 'nice', 'paris'" in found[("city", "unknown_category")].expected


def test_missing_columns_are_violations(mixed: Case) -> None:
    frame = mixed.X_train.head(4).drop(columns=["income", "plan"])
    for report in (
        mixed.contract.validate(frame),
        mixed.contract.validate_records(_records(frame)),
        mixed.contract.validate_columns({c: list(frame[c]) for c in frame.columns}),
    ):
        assert [(v.column, v.problem, v.count) for v in report.violations] == [
            ("income", "missing_column", 4),
            ("plan", "missing_column", 4),
        ]
    one = mixed.contract.validate_records(_records(frame)[0])
    assert [(v.column, v.problem) for v in one.violations] == [
        ("income", "missing_column"),
        ("plan", "missing_column"),
    ]


def test_extra_columns_are_ignored_unless_refused(mixed: Case) -> None:
    frame = mixed.X_train.head(3).assign(customer_id=[1, 2, 3])
    assert mixed.contract.validate(frame).ok
    assert mixed.contract.validate_records(_records(frame)).ok
    for report in (
        mixed.contract.validate(frame, allow_extra_columns=False),
        mixed.contract.validate_records(_records(frame), allow_extra_columns=False),
        mixed.contract.validate_records(_records(frame)[0], allow_extra_columns=False),
    ):
        assert [(v.column, v.problem) for v in report.violations] == [
            ("customer_id", "unexpected_column")
        ]


def test_check_raises_a_readable_contract_violation(mixed: Case) -> None:
    frame = _planted(mixed)
    with pytest.raises(ContractViolationError) as info:
        mixed.contract.check(frame)
    message = str(info.value)
    assert message.startswith("input (10 rows) violates the contract of sklearn.pipeline.Pipeline")
    assert "8 problems" in message
    assert "column 'city': unknown_category in 1 row (row 5)" in message
    assert "got 'berlin'" in message
    assert "column 'plan': null_not_allowed in 1 row (row 6)" in message
    assert info.value.report.violations == mixed.contract.validate(frame).violations
    with pytest.raises(ContractViolationError, match="row 0"):
        mixed.contract.check({**_records(frame)[5], "city": "rome"})


def test_contract_read_back_validates_the_same(mixed: Case) -> None:
    again = Contract.from_json(mixed.contract.to_json())
    frame = _planted(mixed)
    assert again.validate(frame) == mixed.contract.validate(frame)
    assert again.validate_records(_records(frame)) == mixed.contract.validate(frame)


def test_single_row_fast_path_agrees_with_pandas(mixed: Case, cancer: Case) -> None:
    for case, frame in ((mixed, _planted(mixed)), (cancer, cancer.X_eval.head(30))):
        for row in _records(frame):
            fast = case.contract.validate_records(row)
            slow = validate(pd.DataFrame([row]), case.contract.input_schema)
            assert fast.to_dict() == slow.to_dict(), row


def test_column_dict_path_agrees_with_pandas(mixed: Case) -> None:
    frame = _planted(mixed)
    columns = {c: list(frame[c]) for c in frame.columns}
    assert mixed.contract.validate_columns(columns) == mixed.contract.validate(frame)
    with pytest.raises(InvalidValueError, match="different lengths"):
        mixed.contract.validate_columns({"age": [1, 2], "income": [1.0]})


def test_fast_path_refuses_what_is_not_rows(mixed: Case) -> None:
    with pytest.raises(InvalidValueError, match="record 1 is a int"):
        mixed.contract.validate_records([{"age": 1}, 5])
    with pytest.raises(InvalidValueError, match="list of"):
        mixed.contract.record_validator.validate_records("age")  # type: ignore[arg-type]


# ---------------------------------------------------------------- property: fast == pandas

SCHEMA = Schema(
    [
        ColumnSchema("n", "int64", "integer", False, 0, 100),
        ColumnSchema("x", "float64", "float", True, -1.5, 2.5),
        ColumnSchema("flag", "bool", "boolean", False),
        ColumnSchema("color", "object", "categorical", True, categories=["blue", "red"]),
        ColumnSchema("note", "object", "string", False),
        ColumnSchema("open", "float64", "float", False),
    ],
    n_rows=10,
)
VALUES = st.sampled_from(
    [
        0,
        1,
        7,
        100,
        101,
        -3,
        2.5,
        0.5,
        -1.5,
        -2.0,
        3.0,
        50.0,
        1e300,
        math.inf,
        -math.inf,
        math.nan,
        None,
        True,
        False,
        "red",
        "blue",
        "green",
        "",
        "7",
    ]
)
ROWS = st.lists(
    st.dictionaries(
        st.sampled_from(["n", "x", "flag", "color", "note", "open", "extra"]),
        VALUES,
        max_size=7,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=ROWS, allow_extra=st.booleans())
def test_fast_path_equals_pandas_path(records: list[dict[str, Any]], allow_extra: bool) -> None:
    contract = _synthetic_contract()
    slow = validate(pd.DataFrame(records), SCHEMA, allow_extra_columns=allow_extra)
    fast = contract.validate_records(records, allow_extra_columns=allow_extra)
    assert fast.to_dict() == slow.to_dict()
    if len(records) == 1:
        single = contract.validate_records(records[0], allow_extra_columns=allow_extra)
        assert single.to_dict() == slow.to_dict()
    present = [c for c in dict.fromkeys(k for r in records for k in r)]
    if present and all(all(c in r for c in present) for r in records):  # rectangular
        columns = {c: [r[c] for r in records] for c in present}
        assert (
            contract.validate_columns(columns, allow_extra_columns=allow_extra).to_dict()
            == slow.to_dict()
        )


def test_datetime_columns_agree() -> None:
    schema = Schema(
        [
            ColumnSchema(
                "at",
                "datetime64[us]",
                "datetime",
                True,
                "2024-01-01T00:00:00",
                "2024-12-31T00:00:00",
            ),
            ColumnSchema(
                "at_utc",
                "datetime64[us, UTC]",
                "datetime",
                False,
                "2024-01-01T00:00:00+00:00",
                None,
            ),
        ],
        n_rows=2,
    )
    contract = _synthetic_contract(schema)
    utc = dt.UTC
    records = [
        {"at": dt.datetime(2024, 6, 1), "at_utc": dt.datetime(2024, 6, 1, tzinfo=utc)},
        {"at": dt.datetime(2023, 6, 1), "at_utc": dt.datetime(2025, 6, 1, tzinfo=utc)},
        {"at": dt.datetime(2025, 6, 1), "at_utc": dt.datetime(2023, 6, 1, tzinfo=utc)},
        {"at": "2024-06-01", "at_utc": None},
    ]
    slow = validate(pd.DataFrame(records), schema)
    assert contract.validate_records(records).to_dict() == slow.to_dict()
    assert {(v.column, v.problem): v.rows for v in slow.violations} == {
        ("at", "below_min"): [1],
        ("at", "above_max"): [2],
        ("at", "wrong_type"): [3],
        ("at_utc", "below_min"): [2],
        ("at_utc", "null_not_allowed"): [3],
    }
    naive = [{"at": dt.datetime(2024, 6, 1), "at_utc": dt.datetime(2024, 6, 1)}]
    assert (
        contract.validate_records(naive).to_dict()
        == validate(pd.DataFrame(naive), schema).to_dict()
    )


def _synthetic_contract(schema: Schema = SCHEMA) -> Contract:
    return Contract(
        task="regression",
        input_schema=schema,
        output_schema={"target": "y", "dtype": "float64", "kind": "float"},
        metrics={},
        package={},
        serving_path="python",
        owner="me",
        intended_use="tests",
    )
