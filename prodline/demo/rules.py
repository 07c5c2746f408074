"""A custom governance rule the demo's policy uses (``custom: {rule: not_degraded}``)."""

from __future__ import annotations

import prodline.govern


@prodline.govern.rule("not_degraded")
def not_degraded(version, evidence, **params):
    """A version that monitoring found degraded in production may not hold the alias."""
    reason = version.labels.get("degraded")
    if reason is not None:
        return False, f"degraded in production: {reason}"
    return True, "not marked degraded by monitoring"
