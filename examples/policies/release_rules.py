"""Custom governance rules for examples/policies/fraud.yaml.

A custom rule gets the candidate's evidence, the whole evidence and the rule's params,
and returns True/False or (passed, reason). It must only look at the evidence (not the
store, not the clock: use ``evidence.now``), so a decision can be replayed.
"""

from __future__ import annotations

import prodline.govern


@prodline.govern.rule("no_friday_deploys")
def no_friday_deploys(version, evidence, **params):
    if evidence.now.weekday() == 4:
        return False, "no promotions on Fridays (evidence read on a Friday)"
    return True, f"{evidence.now:%A} is not a Friday"


@prodline.govern.rule("max_versions_per_day")
def max_versions_per_day(version, evidence, limit=3):
    day = version.created_at.date()
    same_day = sum(1 for v in evidence.versions.values() if v.created_at.date() == day)
    if same_day > limit:
        return (
            False,
            f"{same_day} versions registered on {day}: more than {limit} looks like a loop",
        )
    return True, f"{same_day} version(s) registered on {day}"
