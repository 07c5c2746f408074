"""Serve models over HTTP, score files in batch, and package a model for Docker.

- :func:`create_app` / :func:`run_server`: the ASGI server behind ``prodline serve``
  (MLflow ``/invocations``, Open Inference Protocol v2, health, metrics, OpenAPI),
  with contract-checked input, micro-batching, champion/challenger routing, prediction
  logging and hot reload. Settings: :class:`ServeConfig`, :class:`RoutingConfig`.
- :func:`score_file`: ``prodline score`` - a CSV or Parquet file in, predictions out.
- :func:`build_context`: ``prodline build`` - a Dockerfile and build context that
  serve one version without a prodline store (``python -m prodline.serve.standalone``).

Needs the ``serve`` extra: ``pip install 'prodline[serve]'``. Nothing heavy is imported
until a name below is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline._lazy import lazy_exports

_PUBLIC = {
    "ServeConfig": "prodline.serve.config",
    "RoutingConfig": "prodline.serve.config",
    "create_app": "prodline.serve.app",
    "run_server": "prodline.serve.server",
    "score_file": "prodline.serve.score",
    "ScoreSummary": "prodline.serve.score",
    "build_context": "prodline.serve.build",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # pragma: no cover
    from prodline.serve.app import create_app  # noqa: F401
    from prodline.serve.build import build_context  # noqa: F401
    from prodline.serve.config import RoutingConfig, ServeConfig  # noqa: F401
    from prodline.serve.score import ScoreSummary, score_file  # noqa: F401
    from prodline.serve.server import run_server  # noqa: F401


__getattr__, __dir__ = lazy_exports("prodline.serve", _PUBLIC, globals())
