"""Shared output for every command: Rich tables, value formatting, and JSON.

User data (names, params, tags, notes, tracebacks) is always wrapped in ``rich.text.Text``
so that square brackets in it are shown as typed, never read as Rich markup. Rich is
imported inside the functions: ``prodline --help`` does not pay for rendering code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

#: width of tables written to a pipe or a file (a terminal uses its own width)
PIPE_WIDTH = 200
#: how many characters of an id the tables show
SHORT_ID = 8
_STATUS_STYLES = {
    "finished": "green",
    "failed": "red",
    "running": "yellow",
    "killed": "magenta",
}


# ---------------------------------------------------------------------------- output
def console() -> Console:
    """A console on stdout. Output that is not a terminal gets a wide, fixed width so
    tables piped to a file or another program are not wrapped at 80 columns."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=max(out.width, PIPE_WIDTH))
    return out


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout, and nothing else. NaN and infinities
    (which JSON cannot hold) become ``null``."""
    import typer

    typer.echo(json.dumps(_finite(value), indent=2, ensure_ascii=False, allow_nan=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


# ------------------------------------------------------------------------ formatting
def short_id(value: str | None) -> str:
    """The first characters of an id, enough to pass back as a unique prefix."""
    return "" if value is None else value[:SHORT_ID]


def fmt_time(value: datetime | None) -> str:
    """``2026-11-22 09:30:12`` in UTC, or an empty string."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """``0.42s``, ``12.3s``, ``4m 05s``, ``2h 03m``, ``3d 04h``; empty while running."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def fmt_number(value: Any) -> str:
    """Numbers to six significant digits; anything else as text; ``None`` as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def fmt_size(size: int | None) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``3.2 MiB``."""
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def fmt_list(values: Sequence[Any] | None, limit: int = 6) -> str:
    """``a, b, c`` with ``(+N more)`` past ``limit`` items; ``-`` for ``None``."""
    if values is None:
        return "-"
    shown = ", ".join(fmt_number(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... (+{len(values) - limit} more)"
    return shown


# ---------------------------------------------------------------------------- tables
def text(value: Any, style: str | None = None) -> Text:
    """User data as a Rich ``Text`` (never parsed as markup)."""
    from rich.text import Text

    return Text(value if isinstance(value, str) else fmt_number(value), style=style or "")


def status_text(status: str) -> Text:
    """A run status, coloured."""
    return text(status, _STATUS_STYLES.get(status))


def new_table(
    *columns: str,
    right: Iterable[str] = (),
    show_header: bool = True,
    max_width: int | None = None,
) -> Table:
    """A borderless table with a rule under the header; columns named in ``right`` align
    right (numbers). With ``max_width``, longer cells are cut with an ellipsis instead
    of wrapping, so every row stays on one line."""
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_header=show_header,
        header_style="bold",
        pad_edge=False,
    )
    right_aligned = set(right)
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in right_aligned else "left",
            max_width=max_width,
            no_wrap=max_width is not None,
            overflow="ellipsis" if max_width is not None else "fold",
        )
    return table


def kv_table(rows: Iterable[tuple[str, Any]], headers: tuple[str, str] | None = None) -> Table:
    """Two columns, key and value; a header row only when ``headers`` are given."""
    table = new_table(*(headers or ("key", "value")), show_header=headers is not None)
    for key, value in rows:
        table.add_row(text(key), value if _is_renderable(value) else text(value))
    return table


def _is_renderable(value: Any) -> bool:
    return hasattr(value, "__rich_console__") or hasattr(value, "__rich__")


def section(out: Console, title: str, body: RenderableType | None) -> None:
    """Print ``title`` in bold, then ``body`` (a table) and a blank line; or, when there
    is nothing to show, ``title: none``."""
    if body is None or getattr(body, "row_count", 1) == 0:
        out.print(text(f"{title}: none", "dim"))
    else:
        out.print(text(title, "bold"))
        out.print(body)
    out.print()


def listing(out: Console, count: int, noun: str, table: Table) -> None:
    """Print ``3 runs`` in bold, then the table when it has rows."""
    out.print(text(f"{count} {noun}{'s' * (count != 1)}", "bold"))
    if count:
        out.print(table)
