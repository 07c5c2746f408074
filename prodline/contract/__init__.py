"""The handover contract: ``contract.json``, what the model builder hands the runner.

``build_contract(estimator, train=..., target=..., eval=..., package=..., owner=...,
intended_use=...)`` measures a fitted model and returns a :class:`Contract`;
``Contract.validate(rows)`` / ``Contract.check(rows)`` hold input to it.

Importing this package is cheap: pandas and scikit-learn load only when a function
needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "Contract": "prodline.contract.contract",
    "FORMAT_VERSION": "prodline.contract.contract",
    "build_contract": "prodline.contract.build",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from prodline.contract.build import build_contract  # noqa: F401
    from prodline.contract.contract import FORMAT_VERSION, Contract  # noqa: F401


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'prodline.contract' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
