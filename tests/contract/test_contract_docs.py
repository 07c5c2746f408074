"""docs/contract.md stays true: its example contract, report and message are what the code
reads, validates and prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prodline.contract import Contract
from prodline.errors import ContractViolationError

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROW = {"age": 130, "income": "n/a", "tenure years": None, "city": "berlin"}


def _blocks(language: str) -> list[str]:
    text = (DOCS / "contract.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _example() -> Contract:
    return Contract.from_json(_blocks("json")[-1])


def test_the_example_contract_reads_back_and_matches_the_json_schema() -> None:
    data = json.loads(_blocks("json")[-1])
    schema = json.loads((DOCS / "contract.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    contract = _example()
    assert contract.to_dict() == data
    assert contract.validate_records(contract.examples).ok


def test_the_documented_report_and_message_are_what_validation_gives() -> None:
    contract = _example()
    report = contract.validate([ROW])
    assert report.to_dict() == json.loads(_blocks("json")[0])
    assert contract.validate_records(ROW) == report
    with pytest.raises(ContractViolationError) as info:
        contract.check(ROW)
    assert str(info.value) == _blocks("text")[-1].strip()
