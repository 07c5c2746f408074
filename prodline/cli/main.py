"""The ``prodline`` app: global options, sub-command groups, and error handling.

Any ``prodline.errors.ProdlineError`` raised by a command is printed as one line,
``error: <message>``, on stderr, and the process exits with code 2 (no traceback).
Usage errors keep Click's exit code 2 as well.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from prodline.cli import datasets, experiments, govern, models, pipelines, runs
from prodline.cli import monitor as monitor_cli
from prodline.cli import serve as serve_cli

ERROR_EXIT_CODE = 2


class _ProdlineGroup(TyperGroup):
    """The top-level group: turns prodline's own errors into a one-line message."""

    def invoke(self, ctx: Any) -> Any:
        from prodline.errors import ProdlineError

        try:
            return super().invoke(ctx)
        except ProdlineError as exc:
            message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            typer.echo(f"error: {message or type(exc).__name__}", err=True)
            raise typer.Exit(ERROR_EXIT_CODE) from None


app = typer.Typer(
    name="prodline",
    cls=_ProdlineGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(models.app, name="models")
app.add_typer(govern.app, name="govern")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(monitor_cli.app, name="monitor")
serve_cli.register(app)


def _print_version(value: bool) -> None:
    if value:
        from prodline import __version__

        typer.echo(f"prodline {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store-url",
            metavar="URL",
            help="Metadata store (any SQLAlchemy URL). Default: PRODLINE_STORE_URL, "
            "else HOME/prodline.db.",
        ),
    ] = None,
    home: Annotated[
        str | None,
        typer.Option(
            "--home",
            metavar="DIR",
            help="prodline home folder. Default: PRODLINE_HOME, else ./.prodline.",
        ),
    ] = None,
    artifacts_url: Annotated[
        str | None,
        typer.Option(
            "--artifacts-url",
            metavar="URL",
            help="Artifact store (any fsspec URL). Default: PRODLINE_ARTIFACTS_URL, "
            "else HOME/artifacts.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the prodline version and exit.",
        ),
    ] = False,
) -> None:
    """Inspect experiments, runs and datasets recorded by prodline.

    Every list, show and compare command also takes --json and then prints only JSON.

    Example:
        prodline --home ./.prodline runs list -e churn -o "metrics.f1 DESC"
    """
    if store_url is not None or home is not None or artifacts_url is not None:
        import prodline

        prodline.init(home=home, store_url=store_url, artifacts_url=artifacts_url)


def run() -> None:
    """Console-script entry point (``prodline = "prodline.cli.main:run"``)."""
    app(prog_name="prodline")


if __name__ == "__main__":  # pragma: no cover - python -m prodline.cli.main
    run()
