"""The decision engine: a pure function from (policy, evidence) to a decision.

How a decision is made
----------------------
1. **Candidates** are the versions the policy's ``candidates`` filter lets through.
2. Each candidate is judged by every rule. ``compare_to`` the target alias and
   ``approval`` depend on who holds the alias; the holder itself passes both ("already
   holds it") and competes with the candidates, so a version that is not better than the
   holder never replaces it.
3. Among the versions that pass every rule (the holder included when it still passes),
   the best by ``choose.best_by`` wins; values within ``tie_within`` tie and
   ``tie_break`` (``newest``/``oldest`` version number) settles ties. If the winner is
   not the holder, the alias moves, and the choice is repeated with the winner as
   holder until it settles (it always does: each move is to a strictly better version).
4. Every other candidate is judged against the holder *after* the decision and labelled:
   ``challenger`` (passes everything, not chosen), ``awaiting_approval`` (passes
   everything except approval) or ``rejected`` (with every failing rule's reason). A
   version rolled back earlier (label ``rolled_back``) is not promoted again while its
   evidence is unchanged.

Because the labels describe the state after the decision, deciding again on the same
evidence gives the same alias and the same labels: applying twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prodline.govern.evidence import Evidence, VersionEvidence
from prodline.govern.policy import ROLLED_BACK, Policy
from prodline.govern.rules import (
    ApprovalRule,
    CompareRule,
    CustomRule,
    Rule,
    RuleContext,
    RuleResult,
    fmt,
    metric_of,
)

PROMOTED = "promoted"
HOLDER = "holder"
CHALLENGER = "challenger"
REJECTED = "rejected"
AWAITING = "awaiting_approval"
ROLLED_BACK_OUTCOME = "rolled_back"
OUTCOMES = (PROMOTED, HOLDER, CHALLENGER, AWAITING, REJECTED, ROLLED_BACK_OUTCOME)

_EVIDENCE_IN_REASON = re.compile(r"\[evidence ([0-9a-f]{16,64})\]")


@dataclass(frozen=True)
class Action:
    """One change a decision makes: ``set_alias``, ``add_label`` or ``remove_label``."""

    op: str
    version: int
    name: str  # the alias or the label
    reason: str | None = None
    previous: int | None = None  # set_alias: the version that held the alias

    def describe(self, model: str) -> str:
        if self.op == "set_alias":
            before = f"v{self.previous}" if self.previous is not None else "nobody"
            return f"move {self.name} of {model} from {before} to v{self.version}"
        if self.op == "add_label":
            return f"label v{self.version} {self.name!r}: {self.reason}"
        return f"remove label {self.name!r} from v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "version": self.version,
            "name": self.name,
            "reason": self.reason,
            "previous": self.previous,
        }


@dataclass(frozen=True)
class CandidateDecision:
    """One version's verdict: its outcome and every rule's result."""

    version: int
    outcome: str
    results: tuple[RuleResult, ...]
    compared_with: int | None  # the target alias holder its rules were judged against
    score: float | None
    note: str
    candidate: bool = True  # False: the holder, shown although the filter leaves it out

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def reasons(self) -> list[str]:
        """The reasons of every failing rule."""
        return [r.reason for r in self.results if not r.passed]

    def to_dict(self, compact: bool = False) -> dict[str, Any]:
        """JSON-safe. ``compact`` (the audit trail's form) keeps every rule result of the
        holder after the decision, and only the failing ones of the other versions."""
        full = not compact or self.outcome in (PROMOTED, HOLDER)
        return {
            "version": self.version,
            "outcome": self.outcome,
            "candidate": self.candidate,
            "passed": self.passed,
            "compared_with": self.compared_with,
            "score": self.score,
            "note": self.note,
            "reasons": self.reasons,
            "rules": [r.to_dict() for r in self.results if full or not r.passed],
        }


@dataclass(frozen=True)
class Decision:
    """What a policy decides on some evidence: who holds the alias before and after,
    every candidate's verdict, and the actions that get there."""

    model: str
    alias: str
    previous: int | None  # holder before
    holder: int | None  # holder after
    candidates: tuple[CandidateDecision, ...]
    actions: tuple[Action, ...]
    message: str
    policy_hash: str
    best_by: str | None = None

    @property
    def promoted(self) -> bool:
        return self.holder != self.previous

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def scope(self) -> list[int]:
        """Every version this decision judged."""
        return sorted(c.version for c in self.candidates)

    def candidate(self, version: int) -> CandidateDecision:
        for c in self.candidates:
            if c.version == version:
                return c
        raise KeyError(f"v{version} was not judged by this decision")

    def to_dict(self, compact: bool = False) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "previous": self.previous,
            "holder": self.holder,
            "promoted": self.promoted,
            "message": self.message,
            "policy_hash": self.policy_hash,
            "best_by": self.best_by,
            "candidates": [c.to_dict(compact) for c in self.candidates],
            "actions": [a.to_dict() for a in self.actions],
        }


# ------------------------------------------------------------------------------ pieces
def select_candidates(policy: Policy, evidence: Evidence) -> list[int]:
    """The versions the policy's ``candidates`` filter lets through, newest first."""
    f = policy.candidates
    out = []
    for number in sorted(evidence.versions, reverse=True):
        v = evidence.versions[number]
        if f.labels_not and any(label in v.labels for label in f.labels_not):
            continue
        if f.labels and not all(label in v.labels for label in f.labels):
            continue
        if f.newer_than_seconds is not None:
            age = (evidence.now - v.created_at).total_seconds()
            if age > f.newer_than_seconds:
                continue
        out.append(number)
        if f.last is not None and len(out) >= f.last:
            break
    return out


def rolled_back_check(version: VersionEvidence) -> RuleResult | None:
    """Fails for a version labelled ``rolled_back`` whose evidence has not changed since."""
    reason = version.labels.get(ROLLED_BACK)
    if reason is None:
        return None
    match = _EVIDENCE_IN_REASON.search(reason)
    current = version.evidence_hash
    unchanged = match is None or current.startswith(match.group(1))
    observed = {"evidence_hash": current[:16], "at_rollback": match.group(1) if match else None}
    if unchanged:
        return RuleResult(
            None,
            "rolled_back",
            "not rolled back with unchanged evidence",
            False,
            f"was rolled back ({reason}); its evidence has not changed since",
            observed,
        )
    return RuleResult(
        None,
        "rolled_back",
        "not rolled back with unchanged evidence",
        True,
        "was rolled back, but its evidence changed since",
        observed,
    )


def _depends_on_holder(rule: Rule, alias: str) -> bool:
    if isinstance(rule, CompareRule):
        return rule.alias == alias
    return isinstance(rule, ApprovalRule | CustomRule)


# ------------------------------------------------------------------------------- decide
def decide(policy: Policy, evidence: Evidence) -> Decision:
    """Decide who should hold ``policy.target_alias``, and label every other candidate.

    Pure: reads nothing but its arguments (custom rules get the evidence too)."""
    versions = evidence.versions
    alias = policy.target_alias
    pool = select_candidates(policy, evidence)
    previous = evidence.holder if evidence.holder in versions else None
    depends = [_depends_on_holder(r, alias) for r in policy.rules]
    cache: dict[tuple[Any, ...], RuleResult] = {}
    judged: dict[tuple[int, int | None], tuple[RuleResult, ...]] = {}

    def judge(number: int, holder: int | None) -> tuple[RuleResult, ...]:
        key = (number, holder)
        found = judged.get(key)
        if found is not None:
            return found
        version = versions[number]
        ctx = RuleContext(evidence, versions.get(holder) if holder is not None else None)
        results: list[RuleResult] = []
        if number != holder:
            check = rolled_back_check(version)
            if check is not None:
                results.append(check)
        for i, rule in enumerate(policy.rules):
            rkey = (number, i, holder) if depends[i] else (number, i)
            result = cache.get(rkey)
            if result is None:
                result = cache[rkey] = rule.evaluate(version, ctx)
            results.append(result)
        judged[key] = out = tuple(results)
        return out

    def passes(number: int, holder: int | None) -> bool:
        """judge(...) gives "pass"; holder-independent rules first, so a version that
        fails one of them is not judged against each holder the choice considers."""
        for i, rule in enumerate(policy.rules):
            if not depends[i]:
                rkey = (number, i)
                result = cache.get(rkey)
                if result is None:
                    result = cache[rkey] = rule.evaluate(
                        versions[number], RuleContext(evidence, None)
                    )
                if not result.passed:
                    return False
        return status(judge(number, holder)) == "pass"

    def status(results: tuple[RuleResult, ...]) -> str:
        failed = [r for r in results if not r.passed]
        if not failed:
            return "pass"
        if any(r.kind == "rolled_back" for r in failed):
            return ROLLED_BACK_OUTCOME
        if all(r.kind == "approval" for r in failed):
            return AWAITING
        return REJECTED

    scored = {*pool} if previous is None else {*pool, previous}
    scores = {n: _score(policy, versions[n]) for n in scored}

    def pick(passing: list[int]) -> int:
        choose = policy.choose
        tied = passing
        if choose.best_by is not None:
            scored = [n for n in passing if scores.get(n) is not None]
            if scored:
                values = [scores[n] for n in scored]
                best = min(values) if choose.lower_is_better else max(values)  # type: ignore[type-var]
                tied = [n for n in scored if abs(scores[n] - best) <= choose.tie_within + 1e-12]  # type: ignore[operator]
        return max(tied) if choose.tie_break == "newest" else min(tied)

    current = previous
    chosen_against: dict[int, int | None] = {}
    visited = {current}
    while True:
        passing = [n for n in pool if n != current and passes(n, current)]
        if current is not None and passes(current, current):
            passing.append(current)
        if not passing:
            break
        best = pick(passing)
        if best == current or best in visited:
            break
        chosen_against[best] = current
        visited.add(best)
        current = best
    final = current

    decisions: list[CandidateDecision] = []
    actions: list[Action] = []
    if final is not None and final != previous:
        actions.append(Action("set_alias", final, alias, None, previous))
    shown = list(
        dict.fromkeys(
            [
                *([final] if final is not None else []),
                *pool,
                *([previous] if previous is not None else []),
            ]
        )
    )
    in_pool = set(pool)
    final_score = scores.get(final) if final is not None else None
    for number in sorted(shown, reverse=True):
        version = versions[number]
        if number == final:
            against = chosen_against.get(number, number) if number != previous else number
            results = judge(number, against)
            outcome = PROMOTED if number != previous else HOLDER
            note = (
                f"chosen for {alias}" + _score_note(policy, scores.get(number))
                if outcome == PROMOTED
                else f"holds {alias}" + _score_note(policy, scores.get(number))
            )
        else:
            against = final
            results = judge(number, final)
            outcome = {
                "pass": CHALLENGER,
                AWAITING: AWAITING,
                REJECTED: REJECTED,
                ROLLED_BACK_OUTCOME: ROLLED_BACK_OUTCOME,
            }[status(results)]
            note = _note(policy, outcome, results, final, scores.get(number), final_score)
        decisions.append(
            CandidateDecision(
                number, outcome, results, against, scores.get(number), note, number in in_pool
            )
        )
        if number in in_pool or number == final:
            actions += _label_actions(policy, version, outcome, results, note)

    message = _message(policy, previous, final, decisions, scores)
    return Decision(
        model=evidence.model,
        alias=alias,
        previous=previous,
        holder=final,
        candidates=tuple(decisions),
        actions=tuple(actions),
        message=message,
        policy_hash=policy.hash,
        best_by=policy.choose.best_by,
    )


def _score(policy: Policy, version: VersionEvidence) -> float | None:
    if policy.choose.best_by is None:
        return None
    value, _ = metric_of(version, policy.choose.best_by, policy.choose.cls)
    return value


def _score_note(policy: Policy, score: float | None) -> str:
    if policy.choose.best_by is None or score is None:
        return ""
    return f" ({policy.choose.best_by} {fmt(score)})"


def _note(
    policy: Policy,
    outcome: str,
    results: tuple[RuleResult, ...],
    final: int | None,
    score: float | None,
    final_score: float | None,
) -> str:
    alias = policy.target_alias
    if outcome == CHALLENGER:
        text = "passes every rule; not chosen"
        if final is not None:
            text += f": v{final} holds {alias}"
            best_by = policy.choose.best_by
            if best_by is not None and score is not None and final_score is not None:
                text += f" ({best_by} {fmt(final_score)} vs {fmt(score)})"
        return text
    if outcome == AWAITING:
        return "passes every other rule; waits for approval"
    if outcome == ROLLED_BACK_OUTCOME:
        return (
            f"rolled back from {alias} earlier; not promoted again while its evidence is unchanged"
        )
    return "fails: " + ", ".join(sorted({r.kind for r in results if not r.passed}))


def _label_actions(
    policy: Policy,
    version: VersionEvidence,
    outcome: str,
    results: tuple[RuleResult, ...],
    note: str,
) -> list[Action]:
    if outcome == ROLLED_BACK_OUTCOME:
        return []
    failed = [r.reason for r in results if not r.passed]
    desired: dict[str, str] = {}
    if outcome == REJECTED:
        desired[policy.reject_label] = "; ".join(failed)
    elif outcome == CHALLENGER:
        desired[policy.challenger_label] = note
    elif outcome == AWAITING:
        desired[policy.awaiting_label] = "; ".join(failed)
    out = []
    managed = list(policy.outcome_labels)
    if outcome == PROMOTED:
        managed.append(ROLLED_BACK)
    for label in managed:
        if label in version.labels and label not in desired:
            out.append(
                Action("remove_label", version.version, label, f"now {outcome.replace('_', ' ')}")
            )
    for label, reason in desired.items():
        if version.labels.get(label) != reason:
            out.append(Action("add_label", version.version, label, reason))
    return out


def _message(
    policy: Policy,
    previous: int | None,
    final: int | None,
    decisions: list[CandidateDecision],
    scores: dict[int, float | None],
) -> str:
    alias = policy.target_alias
    candidates = [d for d in decisions if d.candidate and d.outcome != HOLDER]
    if final is not None and final != previous:
        before = f"v{previous}" if previous is not None else "nobody"
        text = f"{alias}: {before} -> v{final}" + _score_note(policy, scores.get(final))
    else:
        who = f"stays with v{previous}" if previous is not None else "stays unset"
        if not candidates:
            why = "no candidates"
        elif not any(d.outcome in (CHALLENGER,) for d in candidates):
            why = "no candidate passes"
        else:
            why = "no candidate beats it" if previous is not None else "no candidate passes"
        text = f"{alias} {who}: {why}"
    waiting = [f"v{d.version}" for d in candidates if d.outcome == AWAITING]
    if waiting:
        text += f"; awaiting approval: {', '.join(waiting)}"
    return text
