"""prodline: take a model from a notebook to a governed, served, monitored service.

``import prodline`` stays fast: the public API below is resolved lazily on first use,
so pandas, SQLAlchemy and scikit-learn load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "init": "prodline.config",
    "settings": "prodline.config",
    "start_run": "prodline.tracking.api",
    "active_run": "prodline.tracking.api",
    "get_run": "prodline.tracking.api",
    "get_metric_history": "prodline.tracking.api",
    "search_runs": "prodline.tracking.api",
    "list_experiments": "prodline.tracking.api",
    "autolog": "prodline.tracking.autolog",
    "reproduce": "prodline.tracking.reproduce",
    "Run": "prodline.tracking.run",
    "Dataset": "prodline.data.dataset",
    "get_dataset": "prodline.data.api",
    "list_datasets": "prodline.data.api",
    "infer_schema": "prodline.data.schema",
    "validate": "prodline.data.validate",
    "profile": "prodline.data.profile",
    "errors": "prodline.errors",
    "load_model": "prodline.registry.api",
    "get_model_version": "prodline.registry.api",
    "list_models": "prodline.registry.api",
    "list_model_versions": "prodline.registry.api",
    "set_alias": "prodline.registry.api",
    "add_label": "prodline.registry.api",
    "remove_label": "prodline.registry.api",
    "model_history": "prodline.registry.api",
    "govern": "prodline.govern",
    "monitor": "prodline.monitor",
    "pipeline": "prodline.pipelines.pipeline",
    "step": "prodline.pipelines.step",
    "Contract": "prodline.contract.contract",
    "build_contract": "prodline.contract.build",
}

__all__ = sorted(_PUBLIC) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from prodline import errors, govern, monitor
    from prodline.config import init, settings
    from prodline.contract.build import build_contract
    from prodline.contract.contract import Contract
    from prodline.data.api import get_dataset, list_datasets
    from prodline.data.dataset import Dataset
    from prodline.data.profile import profile
    from prodline.data.schema import infer_schema
    from prodline.data.validate import validate
    from prodline.pipelines.pipeline import pipeline
    from prodline.pipelines.step import step
    from prodline.registry.api import (
        add_label,
        get_model_version,
        list_model_versions,
        list_models,
        load_model,
        model_history,
        remove_label,
        set_alias,
    )
    from prodline.tracking.api import (
        active_run,
        get_metric_history,
        get_run,
        list_experiments,
        search_runs,
        start_run,
    )
    from prodline.tracking.autolog import autolog
    from prodline.tracking.reproduce import reproduce
    from prodline.tracking.run import Run


__getattr__, __dir__ = lazy_exports("prodline", _PUBLIC, globals())
