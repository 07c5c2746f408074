"""Read a dataset from a DataFrame, a file (CSV, JSON, Parquet, Excel) or a SQL query."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prodline.errors import DataSourceError

# file suffix (lower case) -> kind
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".tsv.gz": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
}

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]*@")


@dataclass(frozen=True)
class SourceInfo:
    """Where a frame came from: ``kind`` (dataframe, csv, json, parquet, excel, sql),
    ``location`` (absolute path, or URL with the password masked) and the SQL ``query``."""

    kind: str
    location: str | None = None
    query: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The source as a JSON-safe dict."""
        return asdict(self)


def read_source(
    source: pd.DataFrame | str | os.PathLike[str] | None = None,
    *,
    query: str | None = None,
    url: str | None = None,
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, SourceInfo]:
    """Read a frame from ``source`` (a DataFrame or a file path), or run ``query`` against
    the SQLAlchemy ``url``. Returns the frame and a ``SourceInfo``. A DataFrame is
    returned as is (not copied, not changed). Raises ``DataSourceError``."""
    if source is not None and query is not None:
        raise DataSourceError(
            "read_source() got both a source and query=; pass a DataFrame or file path, "
            "or query= with url=, not both"
        )
    if query is not None or url is not None:
        if sheet is not None:
            raise DataSourceError("sheet= applies only to Excel files, not to SQL queries")
        return _read_sql(query, url)
    if source is None:
        raise DataSourceError(
            "read_source() got nothing to read; pass a DataFrame, a file path "
            f"({supported_list()}), or query= with url= for SQL"
        )
    if isinstance(source, pd.DataFrame):
        if sheet is not None:
            raise DataSourceError("sheet= applies only to Excel files, not to a DataFrame")
        return source, SourceInfo("dataframe")
    if isinstance(source, str | os.PathLike):
        return _read_file(source, sheet)
    raise DataSourceError(
        f"read_source() cannot read a {type(source).__name__}; pass a pandas DataFrame, "
        "a file path, or query= with url="
    )


def supported_list() -> str:
    """The supported file extensions, comma separated, for messages."""
    return ", ".join(SUPPORTED_EXTENSIONS)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", url)


# ---------------------------------------------------------------- files


def _read_file(
    source: str | os.PathLike[str], sheet: str | int | None
) -> tuple[pd.DataFrame, SourceInfo]:
    raw = os.fspath(source)
    if isinstance(raw, bytes):  # pragma: no cover - PathLike[bytes]
        raw = os.fsdecode(raw)
    if "://" in raw:
        raise DataSourceError(
            f"{mask_url(raw)!r} looks like a URL, but read_source() reads local files; "
            "for SQL pass query=... and url=..., for a remote file download it first"
        )
    path = Path(os.path.abspath(os.path.expanduser(raw)))
    if not path.exists():
        raise DataSourceError(
            f"file not found: {path} (given as {raw!r}, relative to {os.getcwd()}); "
            "check the path and the working directory"
        )
    if path.is_dir():
        raise DataSourceError(
            f"{path} is a directory, not a file; pass the path of one data file inside it"
        )
    kind, suffix = _kind_of(path)
    if sheet is not None and kind != "excel":
        raise DataSourceError(f"sheet= applies only to Excel files, not to {path}")
    reader = {"csv": _read_csv, "json": _read_json, "parquet": _read_parquet}
    if kind == "excel":
        df = _read_excel(path, suffix, sheet)
    else:
        df = reader[kind](path, suffix)
    return df, SourceInfo(kind, str(path))


def _kind_of(path: Path) -> tuple[str, str]:
    name = path.name.lower()
    # longest suffix first so ".csv.gz" wins over ".gz"
    for suffix in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if name.endswith(suffix):
            return SUPPORTED_EXTENSIONS[suffix], suffix
    raise DataSourceError(
        f"unsupported file type {''.join(path.suffixes) or '(no extension)'!r} for {path}; "
        f"supported: {supported_list()}; or read it with pandas and pass the DataFrame"
    )


def _read_csv(path: Path, suffix: str) -> pd.DataFrame:
    sep = "\t" if suffix.startswith(".tsv") else ","
    try:
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as e:
        raise DataSourceError(
            f"{path} is empty (no header, no rows); write a header line and rows to it"
        ) from e
    except pd.errors.ParserError as e:
        raise DataSourceError(
            f"could not parse {path} as {'TSV' if sep == chr(9) else 'CSV'}: {_first_line(e)}; "
            "check that every row has as many fields as the header and quotes are closed"
        ) from e
    except UnicodeDecodeError as e:
        raise DataSourceError(
            f"{path} is not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8, "
            "or read it with pandas.read_csv(encoding=...) and pass the DataFrame"
        ) from e
    except (OSError, EOFError) as e:  # a corrupt .gz, a permission problem
        raise DataSourceError(f"could not read {path}: {e}") from e


def _read_json(path: Path, suffix: str) -> pd.DataFrame:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataSourceError(
            f"{path} is not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8"
        ) from e
    except OSError as e:
        raise DataSourceError(f"could not read {path}: {e}") from e
    if suffix == ".json":
        return _json_document(path, text)
    return _json_lines(path, text)


def _json_document(path: Path, text: str) -> pd.DataFrame:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataSourceError(
            f"malformed JSON in {path} at line {e.lineno}, column {e.colno}: {e.msg}; "
            "fix the file (a JSON array of objects, one per row)"
        ) from e
    if isinstance(data, list):
        bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
        if bad is not None:
            raise DataSourceError(
                f"{path} must hold a JSON array of objects (one per row), but item {bad} "
                f"is a {type(data[bad]).__name__}"
            )
        return pd.DataFrame.from_records(data) if data else pd.DataFrame()
    if isinstance(data, dict) and data and all(isinstance(v, list | dict) for v in data.values()):
        try:
            return pd.DataFrame(data)
        except ValueError as e:
            raise DataSourceError(f"could not make a table of {path}: {e}") from e
    raise DataSourceError(
        f"{path} must hold a JSON array of objects (one per row) or an object of "
        f"column -> values, not a {type(data).__name__} of scalars"
    )


def _json_lines(path: Path, text: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataSourceError(
                f"malformed JSON in {path} at line {lineno}, column {e.colno}: {e.msg}; "
                "each line must be one JSON object"
            ) from e
        if not isinstance(row, dict):
            raise DataSourceError(
                f"{path} line {lineno} is a JSON {type(row).__name__}; "
                "each line must be one JSON object"
            )
        rows.append(row)
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame()


def _read_parquet(path: Path, suffix: str) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DataSourceError(
            f"could not read {path} as Parquet: {_first_line(e)}; check that it is a "
            "complete Parquet file (not truncated, not another format renamed)"
        ) from e


def _read_excel(path: Path, suffix: str, sheet: str | int | None) -> pd.DataFrame:
    engine = "openpyxl" if suffix == ".xlsx" else None
    try:
        return pd.read_excel(path, sheet_name=0 if sheet is None else sheet, engine=engine)
    except ImportError as e:
        fix = (
            "pip install 'prodline[excel]'"
            if suffix == ".xlsx"
            else "pip install python-calamine (or xlrd), or re-save it as .xlsx"
        )
        raise DataSourceError(
            f"reading {path} needs an Excel reader ({_first_line(e)}); {fix}"
        ) from e
    except (ValueError, KeyError, IndexError) as e:
        if sheet is not None:
            raise DataSourceError(
                f"no sheet {sheet!r} in {path}; sheets: {_sheet_names(path, engine)}"
            ) from e
        raise DataSourceError(f"could not read {path} as Excel: {_first_line(e)}") from e
    except Exception as e:  # zipfile.BadZipFile, XML errors from a corrupt workbook
        raise DataSourceError(
            f"could not read {path} as Excel: {type(e).__name__}: {_first_line(e)}; "
            "check that it is a complete workbook"
        ) from e


def _sheet_names(path: Path, engine: str | None) -> str:
    try:
        with pd.ExcelFile(path, engine=engine) as book:
            return ", ".join(repr(s) for s in book.sheet_names)
    except Exception:  # pragma: no cover - the workbook opened a moment ago
        return "(could not list them)"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# ---------------------------------------------------------------- SQL


def _read_sql(query: str | None, url: str | None) -> tuple[pd.DataFrame, SourceInfo]:
    if url is None:
        raise DataSourceError(
            "query= needs url=, the SQLAlchemy URL of the database "
            "(for example url='sqlite:///data.db' or 'postgresql+psycopg://user@host/db')"
        )
    if query is None:
        raise DataSourceError(f"url={mask_url(str(url))!r} needs query=, the SQL to run")
    if not isinstance(query, str) or not query.strip():
        raise DataSourceError("query= must be a non-empty SQL string")

    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError, TypeError) as e:
        raise DataSourceError(
            f"could not parse the database URL {mask_url(str(url))!r}; expected a SQLAlchemy "
            "URL such as 'sqlite:///path/to/data.db' or 'postgresql+psycopg://user:pass@host/db'"
        ) from e
    shown = parsed.render_as_string(hide_password=True)
    info = SourceInfo("sql", shown, query)
    _check_sqlite_file(parsed, shown)

    def clean(text: str) -> str:
        if parsed.password:
            text = text.replace(str(parsed.password), "***")
        return mask_url(text)

    try:
        engine = sa.create_engine(parsed)
    except (NoSuchModuleError, ImportError, ArgumentError) as e:
        raise DataSourceError(
            f"cannot connect to {shown}: {clean(_first_line(e))}; install the driver for "
            f"{parsed.drivername!r} (PostgreSQL: pip install 'prodline[postgres]') or fix the URL"
        ) from None
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as e:
            raise DataSourceError(
                f"could not connect to {shown}: {clean(_reason(e))}; check the host, port, "
                "database name and credentials in the URL"
            ) from None
        with conn:
            try:
                df = pd.read_sql_query(sa.text(query), conn)
            except (SQLAlchemyError, pd.errors.DatabaseError) as e:
                raise DataSourceError(
                    f"SQL query failed on {shown}: {clean(_reason(e))}; "
                    f"fix the query: {_short(query)}"
                ) from None
    finally:
        engine.dispose()
    return df, info


def _reason(e: BaseException) -> str:
    """The database's own message of a SQLAlchemy error, first line only."""
    if isinstance(e, pd.errors.DatabaseError) and e.__cause__ is not None:
        e = e.__cause__  # pandas wraps the SQLAlchemy error
    orig = getattr(e, "orig", None)
    return _first_line(orig if orig is not None else e)


def _check_sqlite_file(parsed: Any, shown: str) -> None:
    """SQLite creates a missing database file on connect; report it as missing instead."""
    if not parsed.get_backend_name() == "sqlite":
        return
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("uri"):
        return
    path = Path(os.path.abspath(os.path.expanduser(database)))
    if not path.is_file():
        raise DataSourceError(
            f"SQLite database file not found: {path} (from {shown}); check the path in the "
            "URL (sqlite:///relative.db or sqlite:////absolute/path.db)"
        )


def _short(query: str, limit: int = 200) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
