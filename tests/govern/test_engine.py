"""The decision engine on in-memory evidence: every rule type, choosing, ties, filters,
and the property that deciding again after applying a decision changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodline.govern import decide, parse_policy, rule
from prodline.govern.evidence import SliceEvidence, SliceGroup
from tests.govern._helpers import NOW, applied, evidence, outcomes, version


def policy(*rules: dict, **top) -> object:
    return parse_policy({"model": "churn", "rules": list(rules), **top})


def results_of(decision, number: int) -> dict[str, object]:
    """kind -> (passed, reason) of one version's rule results."""
    return {r.kind: (r.passed, r.reason) for r in decision.candidate(number).results}


# ------------------------------------------------------------------------- rule types
def test_metric_thresholds_and_per_class_metrics() -> None:
    p = policy(
        {"metric": "f1", "at_least": 0.8},
        {"metric": "recall", "class": "1", "at_least": 0.7},
        {"metric": "log_loss", "at_most": 0.5},
    )
    ev = evidence(
        version(1, f1=0.9, recall=0.75, log_loss=0.3),
        version(2, f1=0.79, recall=0.75, log_loss=0.3),
        version(3, f1=0.95, recall=0.65, log_loss=0.3),
        version(4, f1=0.96, recall=0.9, log_loss=0.6),
        version(5, f1=None, recall=0.9, log_loss=0.1, undefined={"f1": "one class"}),
    )
    d = decide(p, ev)
    assert d.holder == 1 and outcomes(d) == {
        1: "promoted",
        2: "rejected",
        3: "rejected",
        4: "rejected",
        5: "rejected",
    }
    assert d.candidate(2).reasons == ["f1 0.79 is below the minimum 0.8"]
    assert d.candidate(3).reasons == ["recall[class 1] 0.65 is below the minimum 0.7"]
    assert d.candidate(4).reasons == ["log_loss 0.6 is above the maximum 0.5"]
    assert d.candidate(5).reasons == ["f1 is undefined on the eval data: one class"]
    missing = decide(policy({"metric": "auc", "at_least": 0.5}), ev).candidate(1).reasons[0]
    assert missing.startswith("auc is not among the contract's eval metrics (has: f1,")
    no_class = decide(policy({"metric": "recall", "class": "7", "at_least": 0.1}), ev)
    assert "no per-class metrics for class '7' (classes: 0, 1)" in no_class.candidate(1).reasons[0]


@pytest.mark.parametrize(
    ("rule_spec", "candidate_f1", "passes", "reason"),
    [
        ({"min_improvement": 0.01}, 0.91, True, "improvement +0.01, needs at least 0.01"),
        ({"min_improvement": 0.01}, 0.905, False, "improvement +0.005, needs at least 0.01"),
        ({"min_relative_improvement": 0.02}, 0.918, True, "relative improvement +2%"),
        ({"min_relative_improvement": 0.02}, 0.915, False, "relative improvement +1.67%"),
        ({"not_worse_by_more_than": 0.02}, 0.88, True, "worse by 0.02, at most 0.02 allowed"),
        ({"not_worse_by_more_than": 0.02}, 0.87, False, "worse by 0.03, at most 0.02 allowed"),
    ],
)
def test_compare_to_the_alias_holder(rule_spec, candidate_f1, passes, reason) -> None:
    p = policy(
        {"compare_to": "production", "metric": "f1", **rule_spec}, choose={"best_by": "recall"}
    )
    ev = evidence(
        version(1, f1=0.90, recall=0.5), version(2, f1=candidate_f1, recall=0.9), holder=1
    )
    d = decide(p, ev)
    candidate = d.candidate(2)
    assert candidate.outcome == ("promoted" if passes else "rejected")
    assert d.holder == (2 if passes else 1)
    judged = candidate.results[0]
    assert judged.passed is passes and reason in judged.reason
    assert f"f1 {candidate_f1:.4g} vs production (v1) 0.9" in judged.reason
    assert judged.observed["production_version"] == 1


def test_compare_to_knows_lower_is_better_and_passes_without_a_holder() -> None:
    p = policy(
        {"compare_to": "production", "metric": "rmse", "min_improvement": 1.0},
        choose={"best_by": "rmse"},
    )
    ev = evidence(version(1, rmse=10.0), version(2, rmse=8.5), version(3, rmse=9.5), holder=1)
    d = decide(p, ev)
    assert d.holder == 2 and d.candidate(3).outcome == "rejected"  # judged against v2 now
    assert "improvement +1.5, needs at least 1" in d.candidate(2).results[0].reason
    first = decide(p, evidence(version(1, rmse=10.0)))
    assert first.holder == 1
    assert first.candidate(1).results[0].reason == (
        "no version holds production: nothing to compare with"
    )
    other = policy({"compare_to": "staging", "metric": "f1", "not_worse_by_more_than": 0.0})
    ev2 = evidence(version(1, f1=0.9), version(2, f1=0.8), aliases={"staging": 1})
    assert outcomes(decide(other, ev2)) == {1: "promoted", 2: "rejected"}


def test_latency_and_size_budgets() -> None:
    p = policy(
        {"latency": "p99_single_row_ms", "at_most": 20},
        {"latency": "p50_batch_ms", "path": "python", "at_most": 100},
        {"package_size": {"at_most": "50kB"}},
    )
    ev = evidence(
        version(1, p99=12.0, serving_path="python", p50_batch=50.0, size=30_000),
        version(2, p99=25.0, serving_path="python", p50_batch=50.0, size=30_000),
        version(3, p99=5.0, serving_path="python", p50_batch=150.0, size=60_000),
        version(4, p99=5.0, serving_path="onnx"),  # no python measurement
    )
    d = decide(p, ev)
    assert d.holder == 1
    assert d.candidate(2).reasons == [
        "p99_single_row_ms on python 25 ms is over the budget of 20 ms"
    ]
    assert d.candidate(3).reasons == [
        "p50_batch_ms on python 150 ms is over the budget of 100 ms",
        "package 60 kB is over the budget of 50 kB",
    ]
    assert d.candidate(4).reasons == ["no p50_batch_ms measured for the python path"]


def test_contract_fields_must_be_present_and_not_empty() -> None:
    p = policy({"contract_fields": ["owner", "intended_use", "code.git_commit"]})
    ok, empty = version(1), version(2, intended_use="  ")
    del empty.contract["code"]
    d = decide(p, evidence(ok, empty))
    assert d.candidate(2).reasons == [
        "contract fields missing or empty: intended_use, code.git_commit"
    ]
    assert d.candidate(1).results[0].reason == "contract has owner, intended_use, code.git_commit"


def test_data_rules_rows_distinct_eval_and_freshness() -> None:
    p = policy(
        {
            "data": {
                "train_rows_at_least": 1000,
                "eval_rows_at_least": 100,
                "eval_differs_from_train": True,
                "fresh": "30d",
            }
        }
    )
    ev = evidence(
        version(1, train_snapshot_days=3),
        version(2, train_rows=900, eval_rows=50, train_snapshot_days=3),
        version(3, eval_fp="a" * 64, train_snapshot_days=3),
        version(4, train_snapshot_days=45),
        version(5),  # no stored snapshot to date
    )
    d = decide(p, ev)
    assert d.holder == 1
    assert d.candidate(2).reasons == [
        "train data has 900 rows, fewer than 1000; eval data has 50 rows, fewer than 100"
    ]
    assert d.candidate(3).reasons == ["eval data is the training data (fingerprint aaaaaaaaaaaa)"]
    old_day = (NOW - timedelta(days=45)).date().isoformat()
    assert d.candidate(4).reasons == [f"training snapshot of {old_day} is older than 30d"]
    assert "no stored training snapshot" in d.candidate(5).reasons[0]
    assert d.candidate(1).results[0].observed["train_age_days"] == 3.0


def test_slice_rules_judge_every_slice_and_skip_small_ones() -> None:
    p = policy({"slice": {"column": "region", "metric": "recall", "at_least": 0.6, "min_rows": 10}})
    key = p.rules[0].key
    good, bad, broken = version(1), version(2), version(3)
    good.slices[key] = SliceEvidence(
        (SliceGroup("north", 40, 0.7), SliceGroup("south", 30, 0.65), SliceGroup("west", 5, 0.1))
    )
    bad.slices[key] = SliceEvidence((SliceGroup("north", 40, 0.8), SliceGroup("south", 30, 0.5)))
    broken.slices[key] = SliceEvidence(error="column 'region' is not in the eval data")
    d = decide(p, evidence(good, bad, broken))
    assert d.holder == 1
    assert d.candidate(1).results[0].reason == (
        "recall for region=north 0.7 >= 0.6 (n=40); recall for region=south 0.65 >= 0.6 (n=30); "
        "1 slice(s) under 10 rows skipped"
    )
    assert d.candidate(2).reasons == ["recall for region=south 0.5 is below the minimum 0.6 (n=30)"]
    assert d.candidate(3).reasons == [
        "slice could not be computed: column 'region' is not in the eval data"
    ]


def test_approval_gates_promotion_and_labels_the_waiting_version() -> None:
    p = policy(
        {"metric": "f1", "at_least": 0.8}, {"approval": "required"}, choose={"best_by": "f1"}
    )
    ev = evidence(version(1, f1=0.85), version(2, f1=0.95), holder=1)
    d = decide(p, ev)
    assert d.holder == 1 and d.candidate(2).outcome == "awaiting_approval"
    assert d.message == "production stays with v1: no candidate passes; awaiting approval: v2"
    [action] = d.actions
    assert (action.op, action.version, action.name) == ("add_label", 2, "awaiting_approval")
    assert action.reason == "needs an approval: prodline govern approve churn 2 --by NAME"
    approved = replace(ev.versions[2], approvals=version(2, approvals=("ana",)).approvals)
    d2 = decide(p, replace(ev, versions={1: ev.versions[1], 2: approved}))
    assert d2.holder == 2 and outcomes(d2)[2] == "promoted"
    assert results_of(d2, 2)["approval"] == (True, "approved by ana")
    two = policy({"approval": {"required": True, "by": ["ana", "bo"], "count": 2}})
    ev3 = evidence(version(1, approvals=("ana", "zed")), version(2, approvals=("ana", "bo")))
    d3 = decide(two, ev3)
    assert d3.holder == 2
    assert d3.candidate(1).reasons == [
        "needs 2 approvals by ana or bo (approved by ana): "
        "prodline govern approve churn 1 --by NAME"
    ]


def test_custom_rules_get_the_evidence_and_their_params() -> None:
    @rule("max_size_for_owner")
    def max_size(v, ev, limit):
        if v.contract["package"]["size_bytes"] > limit:
            return False, f"{v.contract['owner']} ships too big a package"
        return ev.now == NOW

    @rule("explodes")
    def explodes(v, ev):
        raise RuntimeError("boom")

    p = policy({"custom": {"rule": "max_size_for_owner", "params": {"limit": 25_000}}})
    d = decide(p, evidence(version(1, size=20_000), version(2, size=30_000)))
    assert d.holder == 1
    assert d.candidate(2).reasons == ["ana@example.com ships too big a package"]
    assert d.candidate(1).results[0].reason == "custom rule max_size_for_owner passes"
    boom = decide(policy({"custom": "explodes"}), evidence(version(1)))
    assert boom.holder is None
    assert boom.candidate(1).reasons == ["custom rule explodes raised RuntimeError: boom"]


# ------------------------------------------------------------------- choosing and ties
@pytest.mark.parametrize(("tie_break", "winner"), [("newest", 3), ("oldest", 1)])
def test_ties_are_broken_by_version_number(tie_break: str, winner: int) -> None:
    p = policy({"metric": "f1", "at_least": 0.5}, choose={"best_by": "f1", "tie_break": tie_break})
    ev = evidence(version(1, f1=0.9), version(2, f1=0.8), version(3, f1=0.9))
    d = decide(p, ev)
    assert d.holder == winner
    loser = 4 - winner
    assert d.candidate(loser).outcome == "challenger"
    assert d.candidate(loser).note == (
        f"passes every rule; not chosen: v{winner} holds production (f1 0.9 vs 0.9)"
    )


def test_tie_within_a_tolerance_and_no_best_by_means_newest_passing() -> None:
    p = policy(
        {"metric": "f1", "at_least": 0.5},
        choose={"best_by": "f1", "tie_within": 0.01, "tie_break": "newest"},
    )
    ev = evidence(version(1, f1=0.905), version(2, f1=0.898), version(3, f1=0.88))
    assert decide(p, ev).holder == 2
    newest = policy({"metric": "f1", "at_least": 0.89})
    assert decide(newest, ev).holder == 2


def test_the_holder_competes_and_is_not_replaced_by_a_worse_version() -> None:
    p = policy({"metric": "f1", "at_least": 0.8}, choose={"best_by": "f1"})
    ev = evidence(version(1, f1=0.95), version(2, f1=0.9), holder=1)
    d = decide(p, ev)
    assert d.holder == 1 and d.actions[0].op == "add_label" and not d.promoted
    assert d.message == "production stays with v1: no candidate beats it"
    assert outcomes(d) == {1: "holder", 2: "challenger"}
    # a holder that no longer passes (the policy got stricter) does not block others
    strict = policy({"metric": "recall", "at_least": 0.85}, choose={"best_by": "f1"})
    ev2 = evidence(version(1, f1=0.95, recall=0.8), version(2, f1=0.9, recall=0.9), holder=1)
    d2 = decide(strict, ev2)
    assert d2.holder == 2 and outcomes(d2) == {1: "rejected", 2: "promoted"}


def test_when_no_candidate_passes_the_alias_stays_and_everyone_gets_reasons() -> None:
    p = policy({"metric": "f1", "at_least": 0.9}, {"metric": "recall", "at_least": 0.7})
    ev = evidence(
        version(1, f1=0.95, recall=0.9),
        version(2, f1=0.85, recall=0.6),
        version(3, f1=0.88, recall=0.9),
        holder=1,
    )
    ev = replace(ev, versions={n: v for n, v in ev.versions.items()})
    p_filtered = parse_policy({**p.document, "candidates": {"newer_than": "30d"}})
    ev.versions[1].created_at = NOW - timedelta(days=90)  # the holder is no candidate
    d = decide(p_filtered, ev)
    assert d.holder == 1 and not d.promoted
    assert d.message == "production stays with v1: no candidate passes"
    assert {a.version: a.reason for a in d.actions} == {
        3: "f1 0.88 is below the minimum 0.9",
        2: "f1 0.85 is below the minimum 0.9; recall 0.6 is below the minimum 0.7",
    }
    assert not d.candidate(1).candidate  # shown, but the filter leaves it out
    nobody = decide(p, evidence(version(1, f1=0.5)))
    assert nobody.holder is None and nobody.message == "production stays unset: no candidate passes"


def test_candidate_filters() -> None:
    ev = evidence(
        version(1, age_days=40),
        version(2, labels={"rejected": "old reason"}),
        version(3, labels={"staging-ok": "yes"}),
        version(4),
        version(5),
    )
    base = [{"metric": "f1", "at_least": 0.1}]
    assert {
        c.version for c in decide(policy(*base, candidates={"newer_than": "30d"}), ev).candidates
    } == {2, 3, 4, 5}
    assert decide(policy(*base, candidates={"labels_not": ["rejected"], "last": 2}), ev).scope == [
        4,
        5,
    ]
    assert decide(policy(*base, candidates={"labels": "staging-ok"}), ev).scope == [3]


def test_a_rolled_back_version_is_not_promoted_again_until_its_evidence_changes() -> None:
    p = policy({"metric": "f1", "at_least": 0.8}, choose={"best_by": "f1"})
    v2 = version(2, f1=0.95)
    v2.labels["rolled_back"] = f"rolled back by ana [evidence {v2.evidence_hash[:16]}]"
    ev = evidence(version(1, f1=0.85), v2, holder=1)
    d = decide(p, ev)
    assert d.holder == 1 and outcomes(d)[2] == "rolled_back" and d.actions == ()
    assert results_of(d, 2)["rolled_back"][0] is False
    changed = version(2, f1=0.95, approvals=("bo",))  # an approval is new evidence
    changed.labels.update(v2.labels)
    d2 = decide(p, evidence(version(1, f1=0.85), changed, holder=1))
    assert d2.holder == 2
    assert [(a.op, a.version, a.name) for a in d2.actions] == [
        ("set_alias", 2, "production"),
        ("remove_label", 2, "rolled_back"),
        ("add_label", 1, "challenger"),  # the old holder passes, but is not chosen
    ]


def test_labels_describe_the_state_after_the_decision() -> None:
    """Challengers and rejects are judged against the new holder, so deciding again on
    the applied result finds nothing to do."""
    p = policy(
        {"compare_to": "production", "metric": "f1", "min_improvement": 0.01},
        choose={"best_by": "f1"},
    )
    ev = evidence(
        version(1, f1=0.80),
        version(2, f1=0.90),
        version(3, f1=0.95, labels={"challenger": "stale"}),
        holder=1,
    )
    d = decide(p, ev)
    assert d.holder == 3 and outcomes(d) == {3: "promoted", 2: "rejected", 1: "rejected"}
    assert ("remove_label", 3, "challenger") in [(a.op, a.version, a.name) for a in d.actions]
    again = decide(p, applied(ev, d))
    assert again.actions == () and again.holder == 3


def test_choosing_settles_when_compare_and_rank_use_different_metrics() -> None:
    """v2 is close enough to v1's recall and has a better f1; v3 is close enough to v2's
    (not to v1's) and has the best f1: the alias ends on v3 in one decision, as it would
    after two runs, so a second run has nothing to do."""
    p = policy(
        {"compare_to": "production", "metric": "recall", "not_worse_by_more_than": 0.05},
        choose={"best_by": "f1"},
    )
    ev = evidence(
        version(1, f1=0.5, recall=0.90),
        version(2, f1=0.6, recall=0.88),
        version(3, f1=0.9, recall=0.84),
        holder=1,
    )
    d = decide(p, ev)
    assert d.holder == 3 and d.previous == 1
    assert d.candidate(3).compared_with == 2
    assert outcomes(d) == {3: "promoted", 2: "challenger", 1: "challenger"}
    assert decide(p, applied(ev, d)).actions == ()


# ----------------------------------------------------------------- idempotency property
_metric_values = st.sampled_from([0.6, 0.7, 0.75, 0.8, 0.8, 0.85, 0.9, 0.9, 0.95, None])
_policies = st.sampled_from(
    [
        [{"metric": "f1", "at_least": 0.75}],
        [
            {"metric": "f1", "at_least": 0.7},
            {"compare_to": "production", "metric": "f1", "min_improvement": 0.05},
        ],
        [{"compare_to": "production", "metric": "recall", "min_improvement": 0.05}],
        [
            {"compare_to": "production", "metric": "recall", "not_worse_by_more_than": 0.05},
            {"metric": "recall", "at_least": 0.7},
        ],
        [{"metric": "f1", "at_least": 0.7}, {"approval": "required"}],
        [
            {"compare_to": "production", "metric": "f1", "min_relative_improvement": 0.0},
            {"approval": {"required": True, "by": ["ana"]}},
        ],
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    metrics=st.lists(
        st.tuples(
            _metric_values,
            _metric_values,
            st.booleans(),
            st.sampled_from(["", "rejected", "challenger", "rolled_back"]),
        ),
        min_size=1,
        max_size=7,
    ),
    rules=_policies,
    best_by=st.sampled_from([None, "f1", "recall"]),
    tie_break=st.sampled_from(["newest", "oldest"]),
    labels_not=st.booleans(),
    holder=st.integers(min_value=0, max_value=7),
)
def test_deciding_again_after_applying_changes_nothing(
    metrics, rules, best_by, tie_break, labels_not, holder
) -> None:
    versions = []
    for i, (f1, recall, approved, label) in enumerate(metrics, start=1):
        v = version(i, f1=f1, recall=recall, approvals=("ana",) if approved else ())
        if label == "rolled_back":
            v.labels[label] = f"rolled back [evidence {v.evidence_hash[:16]}]"
        elif label:
            v.labels[label] = "from an earlier run"
        versions.append(v)
    choose = {"tie_break": tie_break, **({"best_by": best_by} if best_by else {})}
    extra = {"candidates": {"labels_not": ["rejected"]}} if labels_not else {}
    p = policy(*rules, choose=choose, **extra)
    ev = evidence(*versions, holder=holder if 1 <= holder <= len(versions) else None)
    first = decide(p, ev)
    after = applied(ev, first)
    second = decide(p, after)
    assert second.actions == (), (first.to_dict(), second.to_dict())
    assert second.holder == first.holder
    # the new holder, when it moved, passes every rule
    if first.promoted:
        assert first.candidate(first.holder).passed
    # every judged candidate except the holder carries exactly its outcome's label
    for c in first.candidates:
        if not c.candidate or c.outcome in ("rolled_back",):
            continue
        have = set(after.versions[c.version].labels) & {
            "rejected",
            "challenger",
            "awaiting_approval",
        }
        expected = {
            "promoted": set(),
            "holder": set(),
            "rejected": {"rejected"},
            "challenger": {"challenger"},
            "awaiting_approval": {"awaiting_approval"},
        }[c.outcome]
        assert have == expected, (c.version, c.outcome, have)
