"""Slice rules on real registered models: the metric is recomputed on each version's
eval snapshot (recorded on its run) with the model loaded from the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

import prodline
import prodline.govern as governance
from tests.govern._helpers import holder_of, labels_of, register


def slice_policy(**slice_spec) -> dict:
    return {
        "model": "cancer",
        "rules": [
            {"metric": "recall", "class": "1", "at_least": 0.5},
            {"slice": {"metric": "recall", "at_least": 0.6, **slice_spec}},
        ],
        "choose": {"best_by": "f1"},
    }


def test_a_slice_rule_recomputes_the_metric_for_every_value(real_home: Path, cancer) -> None:
    _, test = cancer
    result = governance.govern("cancer", slice_policy(column="region"), actor="ana")
    assert result.holder == 1 and holder_of("cancer") == 1
    good = result.decision.candidate(1).results[1]
    assert good.passed and set(good.observed) == {"0", "1", "2"}
    counts = test["region"].value_counts()
    assert {k: v["n_rows"] for k, v in good.observed.items()} == {
        str(k): int(n) for k, n in counts.items()
    }
    # recomputed independently: recall of class 1 on region 2 with the registered model
    model = prodline.load_model("cancer/1")
    part = test[test["region"] == 2]
    predicted = model.predict(part.drop(columns="target"))
    hits = ((predicted == 1) & (part["target"] == 1)).sum()
    assert good.observed["2"]["metric"] == pytest.approx(hits / (part["target"] == 1).sum())
    bad = result.decision.candidate(2)
    assert bad.outcome == "rejected"
    [reason] = bad.reasons
    assert reason.startswith("recall for region=2 ") and "is below the minimum 0.6" in reason
    assert labels_of("cancer")[2] == {"rejected": reason}


def test_a_slice_rule_with_a_condition(real_home: Path, cancer) -> None:
    _, test = cancer
    policy = slice_policy(column="mean_radius", where="> 15", min_rows=10)
    result = governance.govern("cancer", policy, dry_run=True)
    observed = result.decision.candidate(1).results[1].observed
    assert list(observed) == ["mean_radius > 15"]
    assert observed["mean_radius > 15"]["n_rows"] == int((test["mean_radius"] > 15).sum())
    too_few = slice_policy(column="mean_radius", where="> 25", min_rows=10)
    skipped = governance.govern("cancer", too_few, dry_run=True).decision.candidate(1)
    assert skipped.reasons == ["no slice of mean_radius has 10+ rows"]
    missing = governance.govern("cancer", slice_policy(column="zip_code"), dry_run=True)
    assert (
        missing.decision.candidate(1)
        .reasons[0]
        .startswith(
            "slice could not be computed: column 'zip_code' is not in the eval data (columns: "
        )
    )


def test_a_version_without_eval_data_fails_slice_rules_with_the_reason(real_home: Path) -> None:
    policy = {
        "model": "churn",
        "rules": [{"slice": {"column": "region", "metric": "recall", "at_least": 0.5}}],
    }
    register(f1=0.9)
    result = governance.govern("churn", policy, dry_run=True)
    [reason] = result.decision.candidate(1).reasons
    assert reason == (
        "slice could not be computed: churn/1 has no eval dataset recorded (no dataset with "
        "role 'eval' on its run, none named in its contract): slices need one"
    )
