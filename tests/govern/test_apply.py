"""govern / approve / rollback / history on a real store: one transaction per decision,
idempotent re-runs, the approval flow, rollback, and re-checking a stale decision."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

import prodline
import prodline.govern as governance
from prodline import _context
from prodline.errors import InvalidValueError, NotFoundError
from prodline.govern import api as govern_api
from tests.govern._helpers import events, holder_of, labels_of, register

POLICY = {
    "model": "churn",
    "candidates": {"labels_not": ["rejected"]},
    "rules": [
        {"metric": "f1", "at_least": 0.8},
        {"compare_to": "production", "metric": "f1", "min_improvement": 0.01},
        {"latency": "p99_single_row_ms", "at_most": 20},
    ],
    "choose": {"best_by": "f1", "tie_break": "newest"},
}


def test_a_decision_moves_the_alias_labels_and_audits_in_one_go(use_store: str) -> None:
    for f1, p99 in ((0.85, 5.0), (0.75, 5.0), (0.92, 30.0), (0.90, 5.0), (0.895, 5.0)):
        register(f1=f1, p99=p99)
    result = governance.govern("churn", POLICY, actor="ana")
    assert result.applied and result.promoted and result.holder == 4
    assert result.decision.message == "production: nobody -> v4 (f1 0.9)"
    assert holder_of() == 4
    labels = labels_of()
    assert labels[4] == {}
    assert labels[2] == {
        "rejected": "f1 0.75 is below the minimum 0.8; f1 0.75 vs production "
        "(v4) 0.9: improvement -0.15, needs at least 0.01"
    }
    assert labels[3] == {"rejected": "p99_single_row_ms on onnx 30 ms is over the budget of 20 ms"}
    assert set(labels[1]) == set(labels[5]) == {"rejected"}
    [event] = events("churn", "govern_decision")
    assert event.id == result.event_id and event.actor == "ana" and event.version == 4
    assert event.name == "production" and event.reason == result.decision.message
    details = event.details
    assert details["policy_hash"] == result.policy.hash and details["policy"]["rules"]
    assert details["actor"] == "ana" and details["decision"]["holder"] == 4
    assert [v["version"] for v in details["evidence"]["versions"]] == [1, 2, 3, 4, 5]
    assert details["evidence"]["versions"][3]["metrics"]["f1"] == 0.9
    assert details["evidence_hash"] == result.to_dict()["evidence_hash"]
    [move] = events("churn", "alias_set")
    assert move.details == {"policy_hash": result.policy.hash, "govern": True}
    assert len(events("churn", "label_added")) == 4


def test_applying_the_same_policy_to_the_same_evidence_twice_changes_nothing() -> None:
    for f1 in (0.85, 0.9, 0.88):
        register(f1=f1)
    policy = {**POLICY, "candidates": {}}  # rejected versions are judged again each time
    first = governance.govern("churn", policy)
    before = events("churn")
    second = governance.govern("churn", policy)
    assert first.applied and not second.applied and not second.changed
    assert second.event_id is None and second.decision.actions == ()
    assert events("churn") == before  # no alias event, no label event, no audit event
    assert second.decision.message == "production stays with v2: no candidate passes"
    assert str(second).endswith("Nothing to change.")


def test_when_no_candidate_passes_the_alias_stays_and_everyone_has_reasons() -> None:
    register(f1=0.9)
    prodline.set_alias("churn", "production", 1, actor="ana", reason="first")
    register(f1=0.7)
    register(f1=0.905)
    register(f1=0.95, p99=50.0)
    result = governance.govern("churn", POLICY)
    assert result.applied and not result.promoted and holder_of() == 1
    assert result.decision.message == "production stays with v1: no candidate passes"
    reasons = {n: labels["rejected"] for n, labels in labels_of().items() if labels}
    assert reasons == {
        2: "f1 0.7 is below the minimum 0.8; f1 0.7 vs production (v1) 0.9: improvement -0.2, "
        "needs at least 0.01",
        3: "f1 0.905 vs production (v1) 0.9: improvement +0.005, needs at least 0.01",
        4: "p99_single_row_ms on onnx 50 ms is over the budget of 20 ms",
    }
    assert [e.kind for e in events("churn")][-1] == "govern_decision"


def test_a_dry_run_explains_and_writes_nothing() -> None:
    register(f1=0.85)
    register(f1=0.7)
    before = events("churn")
    result = governance.govern("churn", POLICY, dry_run=True)
    assert result.dry_run and result.changed and not result.applied
    assert events("churn") == before and holder_of() is None
    text = str(result)
    assert text.startswith("DRY RUN: churn: production: nobody -> v1 (f1 0.85)")
    assert "  v2: rejected - fails: compare_to, metric" in text
    assert "    [FAIL] f1 at least 0.8: f1 0.7 is below the minimum 0.8" in text
    assert "What would happen:\n  - move production of churn from nobody to v1" in text
    as_json = result.to_dict()
    assert as_json["dry_run"] and as_json["decision"]["candidates"][1]["rules"][0]["passed"]
    # the module itself is callable: prodline.govern("churn", ...)
    assert governance("churn", POLICY, dry_run=True).holder == 1


def test_the_approval_flow() -> None:
    policy = {**POLICY, "rules": [*POLICY["rules"], {"approval": "required"}]}
    register(f1=0.85)
    register(f1=0.9)
    first = governance.govern("churn", policy)
    assert holder_of() is None and first.decision.message == (
        "production stays unset: no candidate passes; awaiting approval: v2, v1"
    )
    assert labels_of()[2] == {
        "awaiting_approval": "needs an approval: prodline govern approve churn 2 --by NAME"
    }
    assert governance.approve("churn", 2, by="ana", comment="reviewed on 2026-11-20")
    assert not governance.approve("churn", 2, by="ana")  # once per person
    with pytest.raises(InvalidValueError, match="approver's name"):
        governance.approve("churn", 2, by=" ")
    with pytest.raises(NotFoundError, match="has no version 9"):
        governance.approve("churn", 9, by="ana")
    second = governance.govern("churn", policy, actor="bo")
    assert second.promoted and holder_of() == 2
    approval = second.decision.candidate(2).results[-1]
    assert (approval.kind, approval.passed, approval.reason) == (
        "approval",
        True,
        "approved by ana",
    )
    assert labels_of()[2] == {}  # the waiting label is gone
    assert set(labels_of()[1]) == {"rejected"}  # judged against v2 now: not better
    [event] = events("churn", "approval")
    assert (event.version, event.actor, event.reason) == (2, "ana", "reviewed on 2026-11-20")
    assert governance.govern("churn", policy).applied is False


def test_rollback_returns_the_alias_and_the_version_is_not_promoted_again(use_store: str) -> None:
    policy = {**POLICY, "candidates": {}}
    register(f1=0.85)
    assert governance.govern("churn", policy).holder == 1
    register(f1=0.9)
    assert governance.govern("churn", policy).holder == 2
    result = governance.rollback("churn", actor="ana", reason="error rate up")
    assert (result.rolled_back, result.restored, result.alias) == (2, 1, "production")
    assert holder_of() == 1
    label = labels_of()[2]["rolled_back"]
    assert label == (
        f"rolled back from production to v1 by ana: error rate up "
        f"[evidence {result.evidence_hash[:16]}]"
    )
    assert labels_of()[1] == {}  # the restored holder loses its governance labels
    [event] = events("churn", "govern_rollback")
    assert (event.version, event.previous_version, event.actor) == (1, 2, "ana")
    assert event.details["evidence_hash"] == result.evidence_hash
    # the next run does not promote v2 again: its evidence has not changed
    again = governance.govern("churn", policy)
    assert holder_of() == 1 and again.decision.candidate(2).outcome == "rolled_back"
    assert not again.changed
    # new evidence (an approval) makes it eligible again
    governance.approve("churn", 2, by="bo", comment="root cause fixed in serving")
    back = governance.govern("churn", policy)
    assert back.holder == 2 and "rolled_back" not in labels_of()[2]


def test_rollback_skips_versions_that_were_rolled_back_themselves() -> None:
    for f1 in (0.81, 0.85, 0.9):
        register(f1=f1)
        governance.govern("churn", POLICY)
    assert [e.version for e in events("churn", "alias_set")] == [1, 2, 3]
    assert governance.rollback("churn").restored == 2
    assert governance.rollback("churn").restored == 1  # not back to v3
    assert set(labels_of()[2]) == set(labels_of()[3]) == {"rolled_back"}
    with pytest.raises(InvalidValueError, match="no earlier holder to return to"):
        governance.rollback("churn")
    with pytest.raises(NotFoundError, match="no 'staging' alias"):
        governance.rollback("churn", alias="staging")


def test_a_decision_made_on_stale_evidence_is_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer moves the alias between reading the evidence and applying: the
    apply step sees it under the lock and decides again from fresh evidence."""
    register(f1=0.85)
    register(f1=0.9)
    real_gather = govern_api.gather
    calls = []

    def gather_then_interfere(*args, **kwargs):
        evidence = real_gather(*args, **kwargs)
        if not calls:
            prodline.set_alias("churn", "production", 2, actor="someone-else")
        calls.append(evidence.holder)
        return evidence

    monkeypatch.setattr(govern_api, "gather", gather_then_interfere)
    result = governance.govern("churn", POLICY)
    assert calls == [None, 2] and result.attempts == 2
    assert not result.promoted and result.holder == 2  # v2 is where the policy wants it
    assert [e.actor for e in events("churn", "alias_set")] == ["someone-else"]
    assert set(labels_of()[1]) == {"rejected"}  # judged against v2, the real holder
    [event] = events("churn", "govern_decision")
    assert event.details["decision"]["previous"] == 2


def test_freshness_uses_the_stored_training_snapshot() -> None:
    from prodline.data.api import snapshot

    frame = pd.DataFrame({"x": [1, 2, 3], "target": [0, 1, 0]})
    dataset = snapshot(_context.store(), _context.artifacts(), frame, name="churn-train")
    register(f1=0.85, train={"name": "churn-train", "version": dataset.version})
    register(f1=0.9)  # names no stored dataset
    policy = {"rules": [{"data": {"fresh": "30d"}}]}
    taken = dataset.record.created_at
    soon = governance.govern("churn", policy, dry_run=True, now=taken + timedelta(days=10))
    assert soon.holder == 1
    assert soon.decision.candidate(1).results[0].observed["train_age_days"] == 10.0
    assert "no stored training snapshot" in soon.decision.candidate(2).reasons[0]
    late = governance.govern("churn", policy, dry_run=True, now=taken + timedelta(days=31))
    assert late.holder is None
    assert late.decision.candidate(1).reasons == [
        f"training snapshot of {taken.date().isoformat()} is older than 30d"
    ]


def test_history_is_the_audit_trail() -> None:
    register(f1=0.85)
    governance.govern("churn", POLICY, actor="ana")
    governance.approve("churn", 1, by="bo")
    trail = governance.history("churn")
    assert [e.kind for e in trail] == [
        "version_created",
        "alias_set",
        "govern_decision",
        "approval",
    ]
    assert [e.kind for e in governance.history("churn", kinds=["govern_decision"])] == [
        "govern_decision"
    ]
    assert [e.kind for e in governance.history("churn", limit=2)] == ["govern_decision", "approval"]
    with pytest.raises(NotFoundError, match="No registered model 'nope'"):
        governance.history("nope")


def test_the_policy_must_be_for_this_model() -> None:
    register(model="fraud")
    with pytest.raises(governance.PolicyError, match="is for model 'churn', not 'fraud'"):
        governance.govern("fraud", POLICY)


def test_govern_policy_file_default_location(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "churn.yaml").write_text(
        "model: churn\nrules:\n  - metric: f1\n    at_least: 0.8\n"
    )
    register(f1=0.85)
    result = governance.govern("churn")
    assert result.policy.source == "policies/churn.yaml" and holder_of() == 1
    assert events("churn", "govern_decision")[0].details["policy_source"] == "policies/churn.yaml"
