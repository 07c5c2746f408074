"""A custom governance rule the demo's policy uses (``custom: {rule: not_degraded}``)."""

from __future__ import annotations

import prodline.govern


@prodline.govern.rule("not_degraded")
def not_degraded(version, evidence, **params):
    """Neither a version monitoring found degraded in production, nor one whose eval
    metrics come from the same eval data as a degraded version: that data no longer
    describes production, so those metrics are no evidence."""
    reason = version.labels.get("degraded")
    if reason is not None:
        return False, f"degraded in production: {reason}"
    stale = {
        _eval_fingerprint(other): other.version
        for other in evidence.versions.values()
        if "degraded" in other.labels and _eval_fingerprint(other)
    }
    degraded = stale.get(_eval_fingerprint(version))
    if degraded is not None:
        return False, (
            f"evaluated on the same data as v{degraded}, which degraded in production: "
            "its metrics no longer describe production"
        )
    return True, "not degraded, and evaluated on data production still looks like"


def _eval_fingerprint(version) -> str | None:
    return ((version.contract.get("datasets") or {}).get("eval") or {}).get("fingerprint")
