"""Model references: ``churn@production``, ``churn/3``, or ``churn`` (its production alias)."""

from __future__ import annotations

from dataclasses import dataclass

from prodline.errors import InvalidValueError

DEFAULT_ALIAS = "production"


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a model name plus either a version number or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.name}/{self.version}"
            if self.version is not None
            else f"{self.name}@{self.alias}"
        )


def parse_ref(ref: str) -> ModelRef:
    """Parse ``name@alias``, ``name/version`` or ``name`` (meaning ``name@production``)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidValueError("A model reference looks like 'churn@production' or 'churn/3'.")
    text = ref.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        if not name or not alias:
            raise InvalidValueError(
                f"Model reference {ref!r}: write NAME@ALIAS, e.g. churn@production."
            )
        return ModelRef(name, alias=alias)
    if "/" in text:
        name, _, number = text.partition("/")
        if not name or not number.isdigit() or int(number) < 1:
            raise InvalidValueError(
                f"Model reference {ref!r}: write NAME/VERSION with a version number >= 1, "
                "e.g. churn/3."
            )
        return ModelRef(name, version=int(number))
    return ModelRef(text, alias=DEFAULT_ALIAS)
