"""Run the app on uvicorn (uvloop and httptools when installed), in one process or in
several worker processes sharing one socket.

Shutdown is graceful on SIGTERM and SIGINT: uvicorn stops accepting connections,
finishes the requests in flight, then the app's shutdown writes every queued
prediction log before the process exits.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import tempfile
from dataclasses import replace
from typing import Any

from prodline.errors import ConfigError, ProdlineError
from prodline.serve.config import ServeConfig

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start
GRACEFUL_SHUTDOWN_S = 30


class AppFactory:
    """Builds the app inside each worker process (picklable: it holds only the config)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config

    def __call__(self) -> Any:
        from prodline.serve.app import create_app

        try:
            return create_app(self.config)
        except ProdlineError as exc:
            logging.getLogger("prodline.serve").error("cannot start: %s", exc)
            sys.exit(STARTUP_FAILURE)


def uvicorn_options(config: ServeConfig, log_level: str = "info") -> dict[str, Any]:
    """uvicorn settings: the fastest installed loop and HTTP parser, no Server header,
    prodline's own log lines next to uvicorn's."""
    from uvicorn.config import LOGGING_CONFIG

    log_config = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    log_config["loggers"]["prodline.serve"] = {
        "handlers": ["default"], "level": log_level.upper(), "propagate": False,
    }  # fmt: skip
    return {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "lifespan": "on",
        "access_log": config.access_log,
        "log_level": log_level,
        "log_config": log_config,
        "server_header": False,
        "proxy_headers": False,  # prodline does not use client addresses
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def run_server(config: ServeConfig, *, log_level: str = "info") -> None:
    """Serve until SIGTERM/SIGINT. Errors in the configuration or the model raise
    before anything listens."""
    import uvicorn

    options = uvicorn_options(config, log_level)
    if config.workers == 1:
        from prodline.serve.app import create_app

        app = create_app(config)  # load (and check) everything before binding
        server = uvicorn.Server(uvicorn.Config(app, **options))
        server.run()
        if not server.started:
            raise ConfigError(
                f"the server could not start on {config.host}:{config.port} (is the port in use?)."
            )
        return
    from uvicorn.supervisors import Multiprocess

    _check_before_forking(config)
    with tempfile.TemporaryDirectory(prefix="prodline-metrics-") as metrics_dir:
        # every worker writes its metric values here; /metrics adds them up
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        config = replace(config, metrics_dir=metrics_dir)
        uv_config = uvicorn.Config(
            AppFactory(config), factory=True, workers=config.workers, **options
        )
        sock = uv_config.bind_socket()
        try:
            if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
                supervisor = Multiprocess(
                    uv_config, target=uvicorn.Server(uv_config).run, sockets=[sock]
                )
            else:
                supervisor = Multiprocess(uv_config, sockets=[sock])
            supervisor.run()
        finally:
            sock.close()


def _check_before_forking(config: ServeConfig) -> None:
    """Fail fast, in the parent, on a model or alias that does not exist."""
    if config.package_dir:
        from pathlib import Path

        if not (Path(config.package_dir) / "serving.json").is_file():
            raise ConfigError(f"{config.package_dir} is not a directory written by prodline build.")
        return
    import prodline

    prodline.get_model_version(config.champion_ref)
