"""Serve a model directory written by ``prodline build``, without a prodline store.

    python -m prodline.serve.standalone /app/model --host 0.0.0.0 --port 8080 \\
        --api-keys-file /run/secrets/prodline-api-keys

The directory holds ``serving.json`` (model name and version), ``contract.json`` and
``package/``; the package's files are checked against the contract's digest before
anything is loaded. There is no registry here, so no hot reload and no challenger.
Prediction logging and ``/feedback`` need a store: pass ``--store-url`` (any
SQLAlchemy URL) to turn them on.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m prodline.serve.standalone",
        description="Serve a model directory written by `prodline build`.",
    )
    parser.add_argument(
        "directory", help="the model directory (serving.json, contract.json, package/)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--api-key", action="append", default=[], help="an accepted API key (repeatable)"
    )
    parser.add_argument("--api-keys-file", help="a file of API keys, one per line")
    parser.add_argument(
        "--no-auth", action="store_true", help="serve without API keys, on any address"
    )
    parser.add_argument(
        "--store-url", help="a store for prediction logs and feedback (SQLAlchemy URL)"
    )
    parser.add_argument("--batching", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--max-body-size", default="10MiB")
    parser.add_argument("--enforce-ranges", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    from prodline.errors import ProdlineError
    from prodline.serve.config import ServeConfig, parse_size, read_keys_file
    from prodline.serve.server import run_server

    try:
        keys = tuple(args.api_key)
        if args.api_keys_file:
            keys += read_keys_file(args.api_keys_file)
        settings = None
        if args.store_url:
            import tempfile

            settings = (tempfile.mkdtemp(prefix="prodline-standalone-"), args.store_url, "")
        config = ServeConfig(
            package_dir=args.directory,
            host=args.host,
            port=args.port,
            workers=args.workers,
            api_keys=keys,
            auth=False if args.no_auth else None,
            settings=settings,
            log_predictions=settings is not None,
            batching={"auto": None, "on": True, "off": False}[args.batching],
            max_body_bytes=parse_size(args.max_body_size),
            enforce_ranges=args.enforce_ranges,
            reload_interval_s=0,
        )
        run_server(config, log_level=args.log_level)
    except ProdlineError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
