"""The pieces on their own: body parsers, the quick contract pre-check, routing
buckets, routing files, sizes, feedback bodies, prediction-log batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodline.errors import ConfigError
from prodline.serve.config import RoutingConfig, parse_size, version_or_alias
from prodline.serve.engine import Prediction, _passes, _quick_checks
from prodline.serve.inputs import RequestError, Rows, parse_csv, parse_mlflow, parse_v2
from prodline.serve.predlog import LogEntry, decode_batch, encode_batch
from prodline.serve.routes import feedback_pairs
from prodline.serve.routing import BUCKETS, bucket

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    payload=junk
    | st.dictionaries(
        st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]),
        junk,
        max_size=2,
    )
)
def test_parsers_raise_only_request_errors(payload) -> None:  # fmt: skip
    for parse in (parse_mlflow, lambda p: parse_v2(p, ["a", "b"])):
        try:
            rows = parse(payload)
        except RequestError as exc:
            assert exc.status in (400, 422)
            continue
        rows = rows.rows if hasattr(rows, "rows") else rows
        assert rows.n >= 1
        try:
            named = rows.named(["a", "b"])
        except RequestError as exc:
            assert exc.status == 422
            continue
        assert named.row is not None or named.columns is not None


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_csv_parser_raises_only_request_errors(text) -> None:
    try:
        rows = parse_csv(text.encode())
    except RequestError as exc:
        assert exc.status == 400
    else:
        assert rows.text and rows.n >= 1


def test_rows_shapes() -> None:
    split = parse_mlflow({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}})
    assert split.columns == {"a": [1, 3], "b": [2, 4]} and split.n == 2
    assert split.records(["b", "z"]) == [{"b": 2, "z": None}, {"b": 4, "z": None}]
    one = parse_mlflow({"inputs": {"a": 1, "b": "x"}})
    assert one.row == {"a": 1, "b": "x"} and one.first("b") == "x"
    positional = parse_mlflow({"instances": [[1, 2], [3, 4]]}).named(["a", "b"])
    assert positional.columns == {"a": [1, 3], "b": [2, 4]}
    scalars = parse_mlflow({"instances": [1, 2, 3]}).named(["only"])
    assert scalars.columns == {"only": [1, 2, 3]}
    csv_rows = parse_csv(b"\xef\xbb\xbfa,b\r\n1,x\r\n\r\n2,y\r\n")
    assert csv_rows.columns == {"a": ["1", "2"], "b": ["x", "y"]}


def test_v2_matrix_rows_follow_the_input_order() -> None:
    request = parse_v2(
        {"inputs": [{"name": "m", "datatype": "FP64", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]},
        ["a", "b"],
    )
    assert request.rows.named(["a", "b"]).columns == {"a": [1, 3], "b": [2, 4]}


class _Column:
    def __init__(self, name, kind, nullable=False, categories=None):
        self.name, self.kind, self.nullable, self.categories = name, kind, nullable, categories
        self.dtype, self.min, self.max = "x", None, None


def test_quick_check_only_vouches_for_values_of_the_right_kind() -> None:
    checks = _quick_checks([
        _Column("f", "float"), _Column("i", "integer", nullable=True), _Column("b", "boolean"),
        _Column("c", "categorical", categories=["a", "b"]), _Column("s", "string"),
    ])  # fmt: skip
    good = {"f": 1.5, "i": 3, "b": True, "c": "a", "s": "anything", "extra": object()}
    assert _passes(checks, good)
    assert _passes(checks, {**good, "f": 2, "i": None})
    for bad in ({"f": float("nan")}, {"f": "1"}, {"f": True}, {"i": 2.0}, {"b": 1},
                {"c": "z"}, {"s": None}, {"f": None}):  # fmt: skip
        assert not _passes(checks, {**good, **bad}), bad
    assert not _passes(checks, {k: v for k, v in good.items() if k != "i"})
    assert _quick_checks([_Column("d", "datetime")]) is None


def test_quick_check_agrees_with_the_contract_validator(fleet) -> None:
    import prodline

    prodline.init(home=fleet)
    try:
        contract = prodline.get_model_version("shop/1").contract
    finally:
        prodline.init()
    checks = _quick_checks(contract.input_schema.columns)
    values = (
        st.none()
        | st.booleans()
        | st.integers(-5, 100)
        | st.floats()
        | st.sampled_from(["basic", "pro", "team", "gold", ""])
    )

    @settings(max_examples=300, deadline=None)
    @given(row=st.fixed_dictionaries({}, optional={"tenure": values, "plan": values,
                                                   "monthly": values}))  # fmt: skip
    def agree(row):
        blocking = [
            v for v in contract.validate_records([row]).violations
            if v.problem not in ("below_min", "above_max")
        ]  # fmt: skip
        if _passes(checks, row):
            assert not blocking, (row, blocking)

    agree()


def test_buckets_are_stable_and_spread() -> None:
    assert bucket("churn", "customer-1") == bucket("churn", "customer-1")
    assert bucket("churn", "customer-1") != bucket("other", "customer-1")
    spread = [bucket("m", f"k{i}") for i in range(4000)]
    assert 0 <= min(spread) and max(spread) < BUCKETS
    assert 0.45 < sum(b < BUCKETS // 2 for b in spread) / len(spread) < 0.55


def test_routing_files(tmp_path) -> None:
    yaml_file = tmp_path / "r.yaml"
    yaml_file.write_text("challenger: 4\nmode: canary\npercent: 5\nsticky: header:X-User\n")
    routing = RoutingConfig.load(yaml_file)
    assert (routing.mode, routing.challenger, routing.percent) == ("canary", "4", 5)
    assert (routing.sticky_kind, routing.sticky_name) == ("header", "X-User")
    json_file = tmp_path / "r.json"
    json_file.write_text(json.dumps({"challenger": "staging"}))
    assert RoutingConfig.load(json_file).mode == "split"  # a challenger alone means split
    assert RoutingConfig.from_dict(None).mode == "single"
    for bad, fragment in (({"mode": "ab"}, "not one of"), ({"mode": "shadow"}, "challenger"),
                          ({"challenger": "2", "percent": -1}, "0 to 100"),
                          ({"challenger": "2", "sticky": "ip"}, "header:NAME"),
                          ({"challenger": "2", "colour": "red"}, "unknown setting")):  # fmt: skip
        with pytest.raises(ConfigError, match=fragment):
            RoutingConfig.from_dict(bad)
    broken = tmp_path / "b.yaml"
    broken.write_text("mode: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid"):
        RoutingConfig.load(broken)


def test_references_and_sizes() -> None:
    assert version_or_alias("4", "m") == (4, None)
    assert version_or_alias("staging", "m") == (None, "staging")
    assert version_or_alias("m/2", "m") == (2, None)
    assert version_or_alias("m@prod", "m") == (None, "prod")
    for bad in ("other/2", "m/x", "0", "m@"):
        with pytest.raises(ConfigError):
            version_or_alias(bad, "m")
    assert parse_size("1048576") == 1048576
    assert parse_size("10MiB") == 10 * 1024**2
    assert parse_size("512KB") == 512_000
    assert parse_size("2 mb") == 2_000_000
    for bad in ("lots", "0", "-5KB"):
        with pytest.raises(ConfigError):
            parse_size(bad)


def test_feedback_bodies() -> None:
    assert feedback_pairs({"request_id": "a", "label": 1}) == [("a", 1)]
    assert feedback_pairs({"request_id": "a", "labels": [1, 0]}) == [("a:0", 1), ("a:1", 0)]
    assert feedback_pairs({"labels": [{"request_id": "x", "label": "yes"}]}) == [("x", "yes")]
    for bad in ({}, {"request_id": "a"}, {"labels": []}, {"labels": [1]}, "x",
                {"request_id": "", "label": 1}):  # fmt: skip
        with pytest.raises(ValueError):
            feedback_pairs(bad)


def test_prediction_log_batches_round_trip() -> None:
    names, proba_columns = ["a", "b"], ["p_x", "p_y"]
    entries = [
        LogEntry("m", 2, "champion", "r1", 1000, 0.5, names, Rows(1, row={"a": 1, "b": "u"}),
                 Prediction(np.array(["x"], dtype=object), np.array([[0.25, 0.75]], "float32")),
                 proba_columns),
        LogEntry("m", 2, "shadow", "r2", 1001, 0.7, names,
                 Rows(2, columns={"a": [1, 2], "b": ["u", "v"], "c": [0, 0]}),
                 Prediction(np.array([1, 0]), None), proba_columns),
    ]  # fmt: skip
    rows = decode_batch(encode_batch(entries))
    assert [(r["request_id"], r["role"], r["version"]) for r in rows] == [
        ("r1", "champion", 2), ("r2:0", "shadow", 2), ("r2:1", "shadow", 2),
    ]  # fmt: skip
    assert json.loads(rows[0]["outputs"]) == {"prediction": "x", "p_x": 0.25, "p_y": 0.75}
    assert json.loads(rows[2]["inputs"]) == {"a": 2, "b": "v"}
    assert json.loads(rows[2]["outputs"]) == {"prediction": 0}
