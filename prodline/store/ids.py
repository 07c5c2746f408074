"""Opaque identifiers."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A new opaque 32-character id."""
    return uuid.uuid4().hex
