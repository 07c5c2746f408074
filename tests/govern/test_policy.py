"""Policies: the documented format reads back, every mistake is reported with its key and
line, the JSON Schema agrees with the checker, and the hash ignores formatting."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from prodline.errors import InvalidValueError, NotFoundError
from prodline.govern import PolicyError, load_policy, parse_policy, resolve_policy
from prodline.govern._spec import load_yaml
from prodline.govern.rules import (
    ApprovalRule,
    CompareRule,
    CustomRule,
    DataRule,
    FieldsRule,
    LatencyRule,
    MetricRule,
    SliceRule,
)

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "policy.schema.json").read_text())
EXAMPLES = sorted((ROOT / "examples" / "policies").glob("*.yaml"))

ISSUE_POLICY = """\
model: churn
target_alias: production
candidates: {labels_not: [rejected], newer_than: 30d}
rules:
  - metric: f1                 # from the contract's eval metrics
    at_least: 0.80
  - metric: recall
    at_least: 0.70
  - compare_to: production     # the version that holds the alias now
    metric: f1
    min_improvement: 0.01
  - latency: p99_single_row_ms
    at_most: 20
  - contract_fields: [owner, intended_use]
  - data: {train_rows_at_least: 1000, eval_differs_from_train: true}
  - slice: {column: region, metric: recall, at_least: 0.60}   # must hold for every value of the column
  - approval: required         # a named person approves before the alias moves
choose: {best_by: f1, tie_break: newest}
on_reject: {label: rejected}
on_pass_not_chosen: {label: challenger}
"""  # noqa: E501 - the issue's example, verbatim


def schema_errors(text: str) -> list[str]:
    data, _ = load_yaml(text, "test")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(data)]


def test_the_issue_policy_reads_into_every_rule_type_it_names() -> None:
    policy = parse_policy(ISSUE_POLICY, source="policies/churn.yaml")
    kinds = [type(r) for r in policy.rules]
    assert kinds == [
        MetricRule,
        MetricRule,
        CompareRule,
        LatencyRule,
        FieldsRule,
        DataRule,
        SliceRule,
        ApprovalRule,
    ]
    assert [r.line for r in policy.rules] == [5, 7, 9, 12, 14, 15, 16, 17]
    assert policy.target_alias == "production" and policy.model == "churn"
    assert policy.candidates.labels_not == ("rejected",)
    assert policy.candidates.newer_than_seconds == 30 * 86400
    assert (policy.choose.best_by, policy.choose.tie_break) == ("f1", "newest")
    assert (policy.reject_label, policy.challenger_label) == ("rejected", "challenger")
    assert schema_errors(ISSUE_POLICY) == []


def test_hash_ignores_comments_and_layout_and_the_monitor_section() -> None:
    a = parse_policy(ISSUE_POLICY)
    reformatted = ISSUE_POLICY.replace("  # must hold for every value of the column", "")
    reformatted = reformatted.replace(
        "{best_by: f1, tie_break: newest}", "\n  best_by: f1\n  tie_break: newest"
    )
    with_monitor = reformatted + "monitor:\n  anything: [goes, here]\n  psi: {at_most: 0.2}\n"
    b, c = parse_policy(reformatted), parse_policy(with_monitor)
    assert a.hash == b.hash == c.hash
    assert c.monitor == {"anything": ["goes", "here"], "psi": {"at_most": 0.2}}
    assert "monitor" not in c.document
    assert parse_policy(ISSUE_POLICY.replace("0.80", "0.81")).hash != a.hash


def test_every_rule_form_parses() -> None:
    policy = parse_policy(
        textwrap.dedent("""\
        rules:
          - {metric: recall, class: 1, at_least: 0.5, at_most: 0.99, name: fraud recall}
          - {compare_to: staging, metric: rmse, min_relative_improvement: 0.02}
          - {compare_to: production, metric: f1, not_worse_by_more_than: 0.01,
             lower_is_better: false}
          - {latency: p50_batch_ms, path: python, at_most: 100}
          - package_size: {at_most: 1.5 GiB}
          - contract_fields: owner
          - data: {eval_rows_at_least: 10, fresh: 12h}
          - slice: {column: age, where: "in [30, 40]", metric: f1, at_most: 1, min_rows: 5}
          - approval: {required: true, by: ana, count: 1}
        candidates: {labels: staging-ok, last: 3}
        choose: {best_by: rmse, tie_within: 0.5, tie_break: oldest}
        on_awaiting_approval: {label: needs-sign-off}
        notify: {command: "true", on: promoted, timeout: 3}
    """)
    )
    metric, rel, worse, latency, size, fields, data, sl, approval = policy.rules
    assert (metric.cls, metric.name, metric.describe()) == (
        "1",
        "fraud recall",
        "recall[class 1] at least 0.5 and at most 0.99",
    )
    assert rel.lower_is_better and rel.comparison == "min_relative_improvement"
    assert not worse.lower_is_better
    assert latency.path == "python" and size.at_most == int(1.5 * 2**30)
    assert fields.fields == ("owner",) and data.fresh_seconds == 12 * 3600
    assert (sl.op, sl.operand, sl.min_rows) == ("in", [30, 40], 5)
    assert approval.by == ("ana",)
    assert policy.choose.lower_is_better and policy.awaiting_label == "needs-sign-off"
    assert policy.notify[0].on == ("promoted",) and policy.notify[0].timeout == 3


@pytest.mark.parametrize(
    ("body", "key", "line", "message"),
    [
        (
            "rules:\n  - metric: f1\n    at_least: high\n",
            "rules[0].at_least",
            3,
            "must be a number, got 'high'",
        ),
        (
            "rules:\n  - metrc: f1\n    at_least: 0.8\n",
            "rules[0]",
            2,
            "found 'metrc' (did you mean 'metric'?)",
        ),
        ("rules:\n  - metric: f1\n", "rules[0]", 2, "needs a threshold: at_least, at_most or both"),
        (
            "rules:\n  - metric: f1\n    at_lest: 0.8\n",
            "rules[0].at_lest",
            3,
            "unknown metric rule key 'at_lest' (did you mean 'at_least'?)",
        ),
        (
            "rules:\n  - compare_to: production\n    metric: f1\n",
            "rules[0]",
            2,
            "compare_to needs exactly one of min_improvement",
        ),
        (
            "rules:\n  - compare_to: Production\n    metric: f1\n    min_improvement: 0.1\n",
            "rules[0].compare_to",
            2,
            "'Production' is not valid",
        ),
        (
            "rules:\n  - latency: p99\n    at_most: 20\n",
            "rules[0].latency",
            2,
            "must be one of p50_single_row_ms, p99_single_row_ms, p50_batch_ms, got 'p99'",
        ),
        (
            "rules:\n  - latency: p99_single_row_ms\n    at_most: 20\n    path: gpu\n",
            "rules[0].path",
            4,
            "must be one of onnx, python",
        ),
        (
            "rules:\n  - package_size: {at_most: 12 parsecs}\n",
            "rules[0].package_size.at_most",
            2,
            "must be a size in bytes or like 50MB",
        ),
        (
            "rules:\n  - contract_fields: []\n",
            "rules[0].contract_fields",
            2,
            "must be a list of strings",
        ),
        (
            "rules:\n  - data:\n      fresh: 30 days\n",
            "rules[0].data.fresh",
            3,
            "must be a duration like 30d",
        ),
        (
            "rules:\n  - data: {train_rows: 5}\n",
            "rules[0].data.train_rows",
            2,
            "did you mean 'train_rows_at_least'?",
        ),
        (
            "rules:\n  - slice: {column: region, at_least: 0.6}\n",
            "rules[0].slice",
            2,
            "slice needs metric",
        ),
        (
            "rules:\n  - slice: {column: age, where: 'about 60', metric: f1, at_least: 1}\n",
            "rules[0].slice.where",
            2,
            "must be a condition such as",
        ),
        ("rules:\n  - approval: maybe\n", "rules[0].approval", 2, "must be 'required'"),
        (
            "rules:\n  - approval: {required: false}\n",
            "rules[0].approval.required",
            2,
            "must be true",
        ),
        (
            "rules:\n  - custom: {module: no_such_module_here, rule: x}\n",
            "rules[0].custom.module",
            2,
            "cannot import 'no_such_module_here'",
        ),
        (
            "rules:\n  - custom: never_registered_rule\n",
            "rules[0].custom",
            2,
            "no custom rule 'never_registered_rule' is registered",
        ),
        (
            "rules:\n  - metric: f1\n    compare: x\n    at_least: 1\n",
            "rules[0].compare",
            3,
            "unknown metric rule key 'compare'",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1, approval: required}\n",
            "rules[0]",
            2,
            "mixes rule types metric, approval",
        ),
        ("rules: {metric: f1}\n", "rules", 1, "must be a list of rules"),
        ("rules: []\n", "rules", 1, "is empty"),
        ("model: churn\n", "(document)", 1, "needs rules"),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nchoose: {best_by: f1, tie_break: newst}\n",
            "choose.tie_break",
            3,
            "(did you mean 'newest'?)",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\ncandidates:\n  newer_than: 1 month\n",
            "candidates.newer_than",
            4,
            "must be a duration",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\ncandidates: {labels_not: [Rejected]}\n",
            "candidates.labels_not[0]",
            3,
            "'Rejected' is not valid",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\non_reject: {label: challenger}\n",
            "on_reject",
            3,
            "need three different labels",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nnotify:\n  - webhook: ftp://x\n",
            "notify[0].webhook",
            4,
            "must be an http:// or https:// URL",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nnotify:\n  - command: x\n    on: [promotd]\n",
            "notify[0].on[0]",
            5,
            "unknown event 'promotd'",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nnotify: {webhook: http://x, command: y}\n",
            "notify",
            3,
            "needs exactly one of webhook",
        ),
        (
            "target_alias: prod uction\nrules:\n  - {metric: f1, at_least: 1}\n",
            "target_alias",
            1,
            "'prod uction' is not valid",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nrulez: []\n",
            "rulez",
            3,
            "unknown policy key 'rulez' (did you mean 'rules'?)",
        ),
        (
            "rules:\n  - {metric: f1, at_least: 1}\nrules:\n  - {metric: f1, at_least: 1}\n",
            "rules",
            3,
            "is given twice",
        ),
        (
            "rules:\n  - slice: {column: age, where: > 60, metric: f1, at_least: 1}\n",
            "(document)",
            2,
            "is not valid YAML",
        ),
        ("- just\n- a list\n", "(document)", 1, "must be a mapping"),
    ],
)
def test_mistakes_name_the_key_and_the_line(
    body: str, key: str, line: int | None, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(body, source="policies/churn.yaml")
    error = caught.value
    matching = [p for p in error.problems if p.key == key]
    assert matching, [str(p) for p in error.problems]
    assert matching[0].line == line and message in matching[0].message, str(matching[0])
    text = str(error)
    assert text.startswith("Policy policies/churn.yaml has ")
    where = f"line {line}, key '{key}'" if line is not None else f"key '{key}'"
    assert where in text
    assert isinstance(error, InvalidValueError)


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(
            "bogus: 1\nrules:\n  - metric: f1\n    at_least: x\n  - latency: p1\n    at_most: -1\n",
            source="p.yaml",
        )
    assert [(p.key, p.line) for p in caught.value.problems] == [
        ("bogus", 1),
        ("rules[0].at_least", 4),
        ("rules[1].latency", 5),
        ("rules[1].at_most", 6),
    ]


def test_policies_given_as_mappings_name_keys_without_lines() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"rules": [{"metric": "f1", "at_least": "x"}]})
    [problem] = caught.value.problems
    assert (problem.key, problem.line) == ("rules[0].at_least", None)


def test_resolving_a_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match=r"looked for policies/churn\.yaml"):
        resolve_policy("churn")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "churn.yml").write_text(ISSUE_POLICY)
    assert resolve_policy("churn").source == "policies/churn.yml"
    with pytest.raises(PolicyError) as caught:
        resolve_policy("fraud", "policies/churn.yml")
    [problem] = caught.value.problems
    assert (problem.key, problem.line) == ("model", 1)
    assert "this policy is for model 'churn', not 'fraud'" in problem.message
    with pytest.raises(NotFoundError, match="No policy file nowhere.yaml"):
        load_policy("nowhere.yaml")


def test_custom_rules_load_from_a_module_file_next_to_the_policy(tmp_path: Path) -> None:
    (tmp_path / "team_rules.py").write_text(
        "import prodline.govern\n\n"
        "@prodline.govern.rule('owner_is_a_team')\n"
        "def owner_is_a_team(version, evidence, domain='example.com'):\n"
        "    return version.contract['owner'].endswith(domain), 'owner checked'\n"
    )
    path = tmp_path / "churn.yaml"
    path.write_text(
        "rules:\n  - custom: {module: team_rules.py, rule: owner_is_a_team,\n"
        "             params: {domain: example.com}}\n"
    )
    [custom] = load_policy(path).rules
    assert isinstance(custom, CustomRule) and custom.params == {"domain": "example.com"}
    path.write_text("rules:\n  - custom:\n      module: team_rules.py\n      rule: owner_is_team\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    [problem] = caught.value.problems
    assert (problem.key, problem.line) == ("rules[0].custom.rule", 4)
    assert "(did you mean 'owner_is_a_team'?)" in problem.message


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_the_checker_and_the_json_schema(path: Path) -> None:
    load_policy(path)
    assert schema_errors(path.read_text()) == []


@pytest.mark.parametrize(
    "body",
    [
        "rules:\n  - metric: f1\n    at_least: high\n",
        "rules:\n  - metrc: f1\n    at_least: 0.8\n",
        "rules:\n  - compare_to: production\n    metric: f1\n",
        "rules:\n  - latency: p99\n    at_most: 20\n",
        "rules:\n  - data: {train_rows: 5}\n",
        "rules:\n  - approval: maybe\n",
        "rules: []\n",
        "rules:\n  - {metric: f1, at_least: 1}\nrulez: []\n",
        "rules:\n  - {metric: f1, at_least: 1}\nnotify:\n  - webhook: ftp://x\n",
    ],
)
def test_the_json_schema_refuses_what_the_checker_refuses(body: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(body)
    assert schema_errors(body)


def test_the_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
