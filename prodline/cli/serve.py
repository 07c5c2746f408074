"""``prodline serve``, ``prodline score`` and ``prodline build``: put a model behind an
HTTP API, score a file in batch, write a Docker build context."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prodline.cli import render

ModelArg = Annotated[
    str,
    typer.Argument(
        help="Registered model: NAME (its production alias), NAME@ALIAS or NAME/VERSION."
    ),
]
AliasOption = Annotated[
    str | None, typer.Option("--alias", "-a", help="Serve the version this alias points at.")
]
VersionOption = Annotated[int | None, typer.Option("--version", "-v", help="Serve this version.")]


def register(app: typer.Typer) -> None:
    """Add the commands to the top-level app."""
    app.command("serve")(serve)
    app.command("score")(score)
    app.command("build")(build)


def _split_ref(
    model: str, alias: str | None, version: int | None
) -> tuple[str, str | None, int | None]:
    """(name, alias, version) from MODEL and the --alias/--version options."""
    from prodline.errors import InvalidValueError
    from prodline.registry.refs import parse_ref

    ref = parse_ref(model)
    explicit = "@" in model or "/" in model
    if explicit and (alias is not None or version is not None):
        raise InvalidValueError(
            f"{model!r} already names a version or alias; drop --alias/--version."
        )
    if alias is not None and version is not None:
        raise InvalidValueError("give --alias or --version, not both.")
    if explicit:
        return ref.name, ref.alias, ref.version
    return ref.name, alias, version


def _ref(name: str, alias: str | None, version: int | None) -> str:
    if version is not None:
        return f"{name}/{version}"
    return f"{name}@{alias or 'production'}"


def serve(
    model: ModelArg,
    alias: AliasOption = None,
    version: VersionOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind. Non-loopback needs API keys.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (one model copy each).")] = 1,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Routing file (YAML or JSON): champion, challenger, mode, percent, sticky, "
            "step. Re-read while serving when it changes.",
        ),
    ] = None,
    challenger: Annotated[
        str | None, typer.Option(help="Challenger: an alias (staging) or a version number.")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="Routing: split, shadow or canary (with --challenger).")
    ] = None,
    percent: Annotated[
        float | None, typer.Option(help="Challenger's share of traffic in %, split and canary.")
    ] = None,
    sticky: Annotated[
        str | None,
        typer.Option(help="Keep a key on one version: header:NAME or field:NAME."),
    ] = None,
    step: Annotated[
        float | None, typer.Option(help="Canary: percent added by POST /admin/routing {step}.")
    ] = None,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log-predictions/--no-log-predictions",
            help="Log inputs, outputs, version and latency to the store, off the request path.",
        ),
    ] = True,
    batching: Annotated[
        bool | None,
        typer.Option(
            "--batching/--no-batching",
            help="Micro-batch concurrent requests. Default: on when it helps this model "
            "(measured at load).",
            show_default=False,
        ),
    ] = None,
    max_batch_size: Annotated[int, typer.Option(help="Rows per micro-batch at most.")] = 64,
    max_batch_wait_ms: Annotated[
        float, typer.Option(help="Wait this long for a batch to fill (0: one loop turn).")
    ] = 0.0,
    max_body_size: Annotated[
        str, typer.Option(help="Largest request body (e.g. 10MiB, 512KB); larger gets 413.")
    ] = "10MiB",
    reload_interval: Annotated[
        float, typer.Option(help="Seconds between checks for a moved alias (0: never).")
    ] = 2.0,
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="An accepted API key (repeatable).")
    ] = None,
    api_keys_file: Annotated[
        Path | None, typer.Option(help="A file of accepted API keys, one per line.")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without API keys, on any address.")
    ] = False,
    enforce_ranges: Annotated[
        bool, typer.Option(help="Refuse values outside the training range (422).")
    ] = False,
    trust: Annotated[
        list[str] | None,
        typer.Option("--trust", help="Extra type the model package may load (module.Class)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request line.")] = False,
    log_queue_size: Annotated[
        int, typer.Option(help="Prediction log rows kept in memory at most (then dropped).")
    ] = 100_000,
    log_flush_interval: Annotated[
        float, typer.Option(help="Seconds between prediction log writes.")
    ] = 0.5,
) -> None:
    """Serve a model over HTTP (MLflow and Open Inference v2 protocols).

    Endpoints: /invocations, /v2/models/NAME/infer, /health, /metrics, /feedback, /docs.
    Every request is checked against the model's contract; predictions are logged
    off the request path; a moved alias is followed without failing a request.

    Examples:
        prodline serve churn --port 8080
        prodline serve churn --challenger staging --mode shadow
        prodline serve churn --config routing.yaml --workers 4 --host 0.0.0.0 --api-keys-file keys
    """
    import prodline
    from prodline.errors import ConfigError
    from prodline.serve.config import RoutingConfig, ServeConfig, parse_size, read_keys_file
    from prodline.serve.server import run_server

    name, alias, version = _split_ref(model, alias, version)
    routing_options = {
        "challenger": challenger, "mode": mode, "percent": percent, "sticky": sticky, "step": step,
    }  # fmt: skip
    given = {k: v for k, v in routing_options.items() if v is not None}
    if config is not None and given:
        raise ConfigError(
            f"--config {config} sets the routing; drop --{', --'.join(given)} (or put them in it)."
        )
    routing = RoutingConfig.load(config) if config is not None else RoutingConfig.from_dict(given)
    keys = tuple(api_key or ())
    if api_keys_file is not None:
        keys += read_keys_file(api_keys_file)
    s = prodline.settings()
    serve_config = ServeConfig(
        model=name,
        alias=alias,
        version=version,
        routing=routing,
        routing_file=str(config) if config is not None else None,
        host=host,
        port=port,
        workers=workers,
        batching=batching,
        max_batch_rows=max_batch_size,
        max_batch_wait_ms=max_batch_wait_ms,
        log_predictions=log_predictions,
        log_queue_rows=log_queue_size,
        log_flush_interval_s=log_flush_interval,
        max_body_bytes=parse_size(max_body_size),
        reload_interval_s=reload_interval,
        api_keys=keys,
        auth=False if no_auth else None,
        enforce_ranges=enforce_ranges,
        extra_trusted=tuple(trust or ()),
        access_log=access_log,
        settings=(str(s.home), s.store_url, s.artifacts_url),
    )
    if no_auth:
        auth = "no API keys (--no-auth)"
    elif serve_config.auth_enabled:
        auth = "API keys required"
    else:
        auth = "no API keys on loopback"
    typer.echo(
        f"prodline: serving {serve_config.champion_ref} on http://{host}:{port} "
        f"({workers} worker{'s' * (workers != 1)}, {auth}); docs at /docs",
        err=True,
    )
    run_server(serve_config, log_level=log_level)


def score(
    model: ModelArg,
    input: Annotated[Path, typer.Argument(help="CSV or Parquet file to score.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write (.csv or .parquet).")
    ],
    alias: AliasOption = None,
    version: VersionOption = None,
    chunk_size: Annotated[int, typer.Option(help="Rows per chunk.")] = 50_000,
    proba: Annotated[
        bool, typer.Option("--proba/--no-proba", help="Add class probability columns.")
    ] = True,
    enforce_ranges: Annotated[
        bool, typer.Option(help="Refuse values outside the training range.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Score a CSV or Parquet file in chunks, checked against the model's contract.

    Writes every input column plus `prediction` and, for classifiers, one probability
    column per class. A contract violation stops the job and writes nothing.

    Example:
        prodline score churn customers.csv -o scored.parquet
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from prodline.serve.score import score_file

    name, alias, version = _split_ref(model, alias, version)
    ref = _ref(name, alias, version)
    err = _stderr()
    columns = [
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True, disable=json_output) as bar:
        task = bar.add_task("score", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        summary = score_file(
            ref, input, output, chunk_rows=chunk_size, proba=proba,
            enforce_ranges=enforce_ranges, progress=advance,
        )  # fmt: skip
    if json_output:
        render.emit_json(summary.to_dict())
        return
    out = render.console()
    out.print(
        render.text(
            f"scored {summary.rows:,} rows with {summary.ref} in {summary.seconds:.2f} s "
            f"({summary.rows_per_s:,.0f} rows/s) -> {summary.output}"
        )
    )


def build(
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write.")],
    alias: AliasOption = None,
    version: VersionOption = None,
    port: Annotated[int, typer.Option(help="Port the container serves on.")] = 8080,
    base_image: Annotated[str, typer.Option(help="Docker base image.")] = "python:3.11-slim",
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty directory.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Write a Dockerfile and build context that serve the model without a store.

    Example:
        prodline build churn -o build/churn && docker build -t churn build/churn
    """
    from prodline.serve.build import build_context

    name, alias, version = _split_ref(model, alias, version)
    context = build_context(
        _ref(name, alias, version), output, port=port, base_image=base_image, overwrite=force
    )
    if json_output:
        render.emit_json(context.to_dict())
        return
    out = render.console()
    out.print(render.text(f"wrote the build context of {context.ref} to {context.directory}"))
    out.print(render.text(f"  {len(context.requirements)} pinned requirements, "
                          f"{len(context.files)} files"))  # fmt: skip
    out.print(render.text(f"  docker build -t {context.ref.replace('/', '-')} {context.directory}"))


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)
