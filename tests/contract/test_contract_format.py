"""contract.json versioning and the refusals of from_dict / from_json / Contract()."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prodline.contract import Contract
from prodline.errors import InvalidValueError
from tests.contract.conftest import Case


@pytest.mark.parametrize("version", ["2.0", "10.3"])
def test_a_newer_major_version_is_refused(cancer: Case, version: str) -> None:
    data = {**cancer.contract.to_dict(), "format_version": version}
    with pytest.raises(InvalidValueError) as info:
        Contract.from_dict(data)
    message = str(info.value)
    assert version in message and "1.x" in message and "upgrade prodline" in message


def test_an_older_major_version_is_refused(cancer: Case) -> None:
    data = {**cancer.contract.to_dict(), "format_version": "0.9"}
    with pytest.raises(InvalidValueError, match="rebuild the contract"):
        Contract.from_dict(data)


@pytest.mark.parametrize("version", ["1", "v1.0", "1.0.0", 1.0, None, "1.-1"])
def test_a_malformed_version_is_refused(cancer: Case, version: object) -> None:
    data = {**cancer.contract.to_dict(), "format_version": version}
    with pytest.raises(InvalidValueError, match="<major>.<minor>"):
        Contract.from_dict(data)


def test_a_newer_minor_version_is_read_and_its_new_fields_ignored(cancer: Case) -> None:
    data = {**cancer.contract.to_dict(), "format_version": "1.4", "fairness": {"dpd": 0.1}}
    contract = Contract.from_dict(data)
    assert contract.format_version == "1.4"
    assert contract.metrics == cancer.contract.metrics
    assert "fairness" not in contract.to_dict()


def test_optional_fields_may_be_absent(cancer: Case) -> None:
    data = cancer.contract.to_dict()
    for name in ("examples", "latency", "dependencies", "datasets", "code", "created_at"):
        data.pop(name)
    contract = Contract.from_dict(data)
    assert contract.examples == [] and contract.latency == {} and contract.code == {}


def test_missing_required_fields_are_named(cancer: Case) -> None:
    data = cancer.contract.to_dict()
    del data["owner"], data["input_schema"]
    with pytest.raises(InvalidValueError, match="input_schema, owner"):
        Contract.from_dict(data)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("task", "ranking", "task 'ranking' is not supported"),
        ("serving_path", "gpu", "serving_path 'gpu'"),
        ("metrics", [1, 2], "'metrics' must be a JSON object"),
        ("examples", {"a": 1}, "'examples' must be a JSON array"),
        ("owner", 7, "'owner' must be a string"),
        ("input_schema", {"columns": "x"}, "'input_schema' is invalid"),
    ],
)
def test_bad_fields_are_refused(cancer: Case, field: str, value: object, match: str) -> None:
    data = {**cancer.contract.to_dict(), field: value}
    with pytest.raises(InvalidValueError, match=match):
        Contract.from_dict(data)


def test_not_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="not valid JSON"):
        Contract.from_json("{nope")
    with pytest.raises(InvalidValueError, match="JSON object"):
        Contract.from_json("[1, 2]")
    (tmp_path / "contract.json").write_text('{"format_version": "3.1"}')
    with pytest.raises(InvalidValueError, match=r"contract\.json: contract format version 3\.1"):
        Contract.load(tmp_path)
    with pytest.raises(InvalidValueError, match="cannot read contract"):
        Contract.load(tmp_path / "missing.json")


def test_to_json_refuses_values_json_cannot_hold(cancer: Case) -> None:
    contract = Contract.from_dict(cancer.contract.to_dict())
    contract.metrics["accuracy"] = math.nan
    with pytest.raises(InvalidValueError, match="JSON cannot store"):
        contract.to_json()


def test_the_json_is_plain_and_ordered(cancer: Case) -> None:
    data = json.loads(cancer.contract.to_json())
    assert list(data)[:3] == ["format_version", "task", "created_at"]
    assert data["created_at"].endswith("+00:00")
