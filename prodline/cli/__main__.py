"""``python -m prodline.cli``: the prodline command."""

from prodline.cli.main import run

run()
