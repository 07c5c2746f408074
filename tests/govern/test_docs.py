"""docs/governance.md stays true: its policies are valid (for the checker and the JSON
Schema), and its worked example prints exactly what governance prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import prodline.govern as governance
from prodline.govern._spec import load_yaml
from tests.govern._helpers import register

jsonschema = pytest.importorskip("jsonschema")

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = (DOCS / "governance.md").read_text()
SCHEMA = json.loads((DOCS / "policy.schema.json").read_text())
_READ_AT = re.compile(r"evidence read \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
_EVIDENCE = re.compile(r"\[evidence [0-9a-f]{16}\]")  # covers approval times: varies


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", GUIDE, flags=re.S)


def output_blocks() -> dict[str, str]:
    """``<!-- output: NAME -->`` followed by a ```text block."""
    found = re.findall(r"<!-- output: ([\w-]+) -->\n```text\n(.*?)```", GUIDE, flags=re.S)
    return {name: text for name, text in found}


def test_every_policy_in_the_guide_is_valid(tmp_path: Path) -> None:
    """... including the custom rule, imported from the guide's own my_rules.py."""
    [rules_py] = [
        b
        for b in re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
        if "@prodline.govern.rule" in b
    ]
    (tmp_path / "my_rules.py").write_text(rules_py)
    blocks = [
        b if "rules:" in b else b + "rules:\n  - {metric: f1, at_least: 0.5}\n"
        for b in yaml_blocks()
        if "at_least: high" not in b
    ]
    assert len(blocks) == 4  # the overview, the worked example, custom rules, notify
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for block in blocks:
        governance.parse_policy(block, base_dir=tmp_path)
        errors = [e.message for e in validator.iter_errors(load_yaml(block, "doc")[0])]
        assert errors == [], block


def test_the_documented_policy_error_is_what_the_checker_says() -> None:
    [bad] = [b for b in yaml_blocks() if "at_least: high" in b]
    with pytest.raises(governance.PolicyError) as caught:
        governance.parse_policy(bad, source="policies/churn.yaml")
    assert str(caught.value) in GUIDE


def _shown(result: object) -> str:
    text = _READ_AT.sub("evidence read 2026-11-20 09:00:00 UTC", str(result))
    return text + "\n"


def test_the_worked_example_prints_what_the_guide_shows(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    policy_file = tmp_path / "policies" / "churn.yaml"
    policy = next(b for b in yaml_blocks() if b.startswith("model: churn\n"))
    data_rule = "  - data: {train_rows_at_least: 1000, eval_differs_from_train: true}\n"
    assert "`- approval: required`" in GUIDE and data_rule in policy
    with_approval = policy.replace(data_rule, data_rule + "  - approval: required\n")
    policy_file.write_text(policy)
    outputs: dict[str, str] = {}

    register(f1=0.84, recall=0.78, p99=4.1)
    outputs["first-dry-run"] = _shown(governance.govern("churn", dry_run=True))
    governance.govern("churn", actor="ana")
    register(f1=0.845, recall=0.80, p99=3.9)
    register(f1=0.91, recall=0.62, p99=31.0)
    outputs["no-candidate-passes"] = _shown(governance.govern("churn", actor="ana"))
    register(f1=0.87, recall=0.75, p99=5.2)
    register(f1=0.87, recall=0.74, p99=5.0, owner="")
    outputs["promotion"] = _shown(governance.govern("churn", actor="ana"))
    policy_file.write_text(with_approval)
    register(f1=0.90, recall=0.80, p99=6.0)
    outputs["awaiting-approval"] = _shown(governance.govern("churn", dry_run=True))
    governance.govern("churn", actor="ana")
    governance.approve("churn", 6, by="ana", comment="reviewed with the retention team")
    outputs["approved"] = _shown(governance.govern("churn", actor="ana"))
    rolled = governance.rollback("churn", actor="bo", reason="complaints from retention")
    outputs["rollback"] = str(rolled) + "\n"
    outputs["after-rollback"] = _shown(governance.govern("churn", dry_run=True))

    documented = output_blocks()
    assert set(documented) == set(outputs)
    for name, text in outputs.items():
        expected = _EVIDENCE.sub("[evidence ...]", documented[name])
        assert _EVIDENCE.sub("[evidence ...]", text) == expected, (
            f"docs/governance.md block {name!r} is out of date:\n{text}"
        )


def test_the_command_reference_covers_every_govern_command_and_option() -> None:
    import typer.main

    from prodline.cli.govern import app

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"### `prodline govern {name}" in GUIDE, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in GUIDE, (name, option)
