"""The handover contract: ``contract.json``, what the model builder hands the runner.

``build_contract(estimator, train=..., target=..., eval=..., package=..., owner=...,
intended_use=...)`` measures a fitted model and returns a :class:`Contract`;
``Contract.validate(rows)`` / ``Contract.check(rows)`` hold input to it.

Importing this package is cheap: pandas and scikit-learn load only when a function
needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline._lazy import lazy_exports

_PUBLIC = {
    "Contract": "prodline.contract.contract",
    "FORMAT_VERSION": "prodline.contract.contract",
    "build_contract": "prodline.contract.build",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from prodline.contract.build import build_contract  # noqa: F401
    from prodline.contract.contract import FORMAT_VERSION, Contract  # noqa: F401


__getattr__, __dir__ = lazy_exports("prodline.contract", _PUBLIC, globals())
