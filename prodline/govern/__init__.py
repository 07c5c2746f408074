"""Governance: declarative promotion rules, labels with reasons, and an audit trail.

A policy (``policies/<model>.yaml``) says which versions of a model may hold an alias
such as ``production``. :func:`govern` gathers the registry's evidence, decides with a
pure function (:func:`~prodline.govern.engine.decide`), and applies the decision in one
transaction: the alias moves to the best version that passes every rule, every other
candidate is labelled with its reasons, and an audit event records the policy, the
evidence and the decision. See ``docs/governance.md``.

    import prodline.govern as governance

    governance.govern("churn", dry_run=True)      # explain, change nothing
    governance.govern("churn")                    # apply
    governance.approve("churn", 7, by="ana")
    governance.rollback("churn", actor="ana")
    governance.history("churn")

The module itself is callable too: ``prodline.govern("churn")`` is ``govern("churn")``.
Notifications (webhooks, shell commands) live in :mod:`prodline.govern.notify`, reusable
by any stage that raises events.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from prodline.govern._spec import PolicyError, PolicyProblem
from prodline.govern.api import (
    GovernResult,
    RollbackResult,
    approve,
    explain,
    govern,
    history,
    rollback,
)
from prodline.govern.engine import Action, CandidateDecision, Decision, decide, select_candidates
from prodline.govern.evidence import Approval, Evidence, VersionEvidence, gather
from prodline.govern.notify import NotifyResult, NotifyTarget, parse_targets
from prodline.govern.policy import Policy, load_policy, parse_policy, resolve_policy
from prodline.govern.rules import RuleResult, registered_rules, rule

__all__ = [
    "Action",
    "Approval",
    "CandidateDecision",
    "Decision",
    "Evidence",
    "GovernResult",
    "NotifyResult",
    "NotifyTarget",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "RollbackResult",
    "RuleResult",
    "VersionEvidence",
    "approve",
    "decide",
    "explain",
    "gather",
    "govern",
    "history",
    "load_policy",
    "parse_policy",
    "parse_targets",
    "registered_rules",
    "resolve_policy",
    "rollback",
    "rule",
    "select_candidates",
]


class _CallableModule(types.ModuleType):
    """Lets ``prodline.govern("churn", dry_run=True)`` stand for ``govern(...)``."""

    def __call__(self, model: str, policy: Any = None, **options: Any) -> GovernResult:
        return govern(model, policy, **options)


sys.modules[__name__].__class__ = _CallableModule
