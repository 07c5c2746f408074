"""read_source: every reader on a real file, and every bad input with a useful message."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from prodline.data.readers import SourceInfo, mask_url, read_source
from prodline.errors import DataSourceError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "score": [0.5, 1.25, -3.0],
            "city": ["Oslo", "Lima", "Pune"],
        }
    )


def check(df: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(df.columns) == list(expected.columns)
    assert df["id"].tolist() == expected["id"].tolist()
    assert df["score"].tolist() == expected["score"].tolist()
    assert df["city"].tolist() == expected["city"].tolist()


# ---------------------------------------------------------------- good sources


def test_dataframe_is_returned_as_is(frame: pd.DataFrame) -> None:
    before = frame.copy()
    df, info = read_source(frame)
    assert df is frame
    pd.testing.assert_frame_equal(frame, before)
    assert info == SourceInfo("dataframe", None, None)
    assert info.to_dict() == {"kind": "dataframe", "location": None, "query": None}


@pytest.mark.parametrize("name", ["data.csv", "DATA.CSV", "data.tsv", "data.csv.gz"])
def test_csv_variants(tmp_path: Path, frame: pd.DataFrame, name: str) -> None:
    path = tmp_path / name
    sep = "\t" if ".tsv" in name.lower() else ","
    frame.to_csv(path, index=False, sep=sep, compression="gzip" if name.endswith(".gz") else None)
    df, info = read_source(path)
    check(df, frame)
    assert info.kind == "csv"
    assert info.location == str(path)


def test_relative_path_is_recorded_absolute(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame.to_csv(tmp_path / "rel.csv", index=False)
    monkeypatch.chdir(tmp_path)
    df, info = read_source("rel.csv")
    check(df, frame)
    assert info.location == str(tmp_path / "rel.csv")
    assert Path(info.location).is_absolute()


def test_json_records_and_columns(tmp_path: Path, frame: pd.DataFrame) -> None:
    records = tmp_path / "records.json"
    records.write_text(json.dumps(frame.to_dict(orient="records")))
    df, info = read_source(str(records))
    check(df, frame)
    assert info.kind == "json" and info.location == str(records)

    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps(frame.to_dict(orient="list")))
    check(read_source(columns)[0], frame)


def test_json_does_not_guess_dates(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"date": "2024-01-01", "n": 1}]))
    df, _ = read_source(path)
    assert df["date"].tolist() == ["2024-01-01"]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_json_lines(tmp_path: Path, frame: pd.DataFrame, suffix: str) -> None:
    path = tmp_path / f"rows{suffix}"
    lines = [json.dumps(r) for r in frame.to_dict(orient="records")]
    path.write_text("\n".join(lines[:2]) + "\n\n" + lines[2] + "\n")  # a blank line is skipped
    df, info = read_source(path)
    check(df, frame)
    assert info.kind == "json"


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet(tmp_path: Path, frame: pd.DataFrame, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    frame.assign(when=pd.Timestamp("2024-05-01", tz="UTC")).to_parquet(path)
    df, info = read_source(path)
    check(df.drop(columns="when"), frame)
    assert str(df["when"].dtype).endswith("UTC]")
    assert info == SourceInfo("parquet", str(path))


def test_excel_first_and_named_sheet(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="first", index=False)
        frame.head(1).to_excel(writer, sheet_name="second", index=False)
    df, info = read_source(path)
    check(df, frame)
    assert info.kind == "excel" and info.location == str(path)
    second, _ = read_source(path, sheet="second")
    assert len(second) == 1 and second["city"].tolist() == ["Oslo"]
    by_position, _ = read_source(path, sheet=1)
    assert by_position["city"].tolist() == ["Oslo"]


def make_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("create table people (id integer, score real, city text)")
        conn.executemany(
            "insert into people values (?, ?, ?)",
            [(1, 0.5, "Oslo"), (2, 1.25, "Lima"), (3, -3.0, "Pune")],
        )
    conn.close()


def test_sql_query_on_sqlite_file(tmp_path: Path, frame: pd.DataFrame) -> None:
    db = tmp_path / "app.db"
    make_sqlite(db)
    url = f"sqlite:///{db}"
    query = "select id, score, city from people order by id"
    df, info = read_source(query=query, url=url)
    check(df, frame)
    assert info == SourceInfo("sql", url, query)
    assert info.to_dict()["query"] == query


def test_sql_empty_result_is_an_empty_frame(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_sqlite(db)
    df, _ = read_source(query="select * from people where id > 99", url=f"sqlite:///{db}")
    assert len(df) == 0 and list(df.columns) == ["id", "score", "city"]


# ---------------------------------------------------------------- bad inputs


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    assert str(path) in str(info.value) and "not found" in str(info.value)


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(DataSourceError, match="is a directory") as info:
        read_source(folder)
    assert str(folder) in str(info.value)


@pytest.mark.parametrize("name", ["data.txt", "data", "data.csv.bz2"])
def test_unsupported_extension_lists_the_supported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    message = str(info.value)
    assert "unsupported file type" in message and str(path) in message
    for ext in (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".xlsx"):
        assert ext in message


def test_malformed_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    message = str(info.value)
    assert str(path) in message and "could not parse" in message and "line 3" in message


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("city\nS\u00e3o Paulo\n".encode("latin-1"))
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataSourceError, match="is empty") as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n")[:12])
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_malformed_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"a": 1},\n {"a": 2,,}]')
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    message = str(info.value)
    assert "malformed JSON" in message and str(path) in message and "line 2" in message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("[1, 2, 3]", "item 0 is a int"), ('{"a": 1}', "not a dict of scalars"), ('"x"', "str")],
)
def test_json_that_is_not_a_table(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "scalar.json"
    path.write_text(content)
    with pytest.raises(DataSourceError, match="array of objects") as info:
        read_source(path)
    assert fragment in str(info.value)


def test_malformed_json_lines_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": \n')
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    assert "line 3" in str(info.value) and str(path) in str(info.value)
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataSourceError, match="line 2 is a JSON list"):
        read_source(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataSourceError, match="as Parquet") as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_corrupt_excel(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataSourceError, match="as Excel") as info:
        read_source(path)
    assert str(path) in str(info.value)


def test_legacy_xls_without_a_reader_or_corrupt(tmp_path: Path) -> None:
    # either no .xls reader is installed (the message says which to install) or the
    # garbage cannot be parsed: both are DataSourceErrors naming the file
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 600)
    with pytest.raises(DataSourceError) as info:
        read_source(path)
    assert str(path) in str(info.value)
    assert "Excel" in str(info.value)


def test_missing_sheet_lists_the_sheets(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "book.xlsx"
    frame.to_excel(path, sheet_name="only", index=False, engine="openpyxl")
    with pytest.raises(DataSourceError) as info:
        read_source(path, sheet="other")
    message = str(info.value)
    assert "'other'" in message and "'only'" in message and str(path) in message


def test_sheet_on_a_csv(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataSourceError, match="only to Excel"):
        read_source(path, sheet="x")


def test_url_given_as_source() -> None:
    with pytest.raises(DataSourceError, match="query=") as info:
        read_source("postgresql://bob:hunter22@db/x")
    assert "hunter22" not in str(info.value)


def test_unreadable_type() -> None:
    with pytest.raises(DataSourceError, match="cannot read a int"):
        read_source(42)  # type: ignore[arg-type]


def test_both_source_and_query(frame: pd.DataFrame) -> None:
    with pytest.raises(DataSourceError, match="both"):
        read_source(frame, query="select 1", url="sqlite://")


def test_neither_source_nor_query() -> None:
    with pytest.raises(DataSourceError, match="nothing to read"):
        read_source()


def test_query_without_url_and_url_without_query() -> None:
    with pytest.raises(DataSourceError, match="needs url="):
        read_source(query="select 1")
    with pytest.raises(DataSourceError, match="needs query=") as info:
        read_source(url="postgresql://u:topsecret@h/db")
    assert "topsecret" not in str(info.value)


def test_sql_url_that_does_not_parse() -> None:
    with pytest.raises(DataSourceError, match="could not parse the database URL") as info:
        read_source(query="select 1", url="definitely not a url")
    assert "sqlite:///" in str(info.value)  # shows how a good one looks


def test_failing_sql_query_has_the_database_message(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    make_sqlite(db)
    with pytest.raises(DataSourceError) as info:
        read_source(query="select * from missing_table", url=f"sqlite:///{db}")
    message = str(info.value)
    assert "no such table: missing_table" in message
    assert str(db) in message and "select * from missing_table" in message


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    with pytest.raises(DataSourceError, match="SQLite database file not found") as info:
        read_source(query="select 1", url=f"sqlite:///{db}")
    assert str(db) in str(info.value)
    assert not db.exists()


def test_password_never_appears_in_sql_errors() -> None:
    # a real connection attempt to a closed port: the driver's error must not leak it
    url = "postgresql+psycopg://alice:S3cretPassw0rd@127.0.0.1:1/db?connect_timeout=2"
    with pytest.raises(DataSourceError) as info:
        read_source(query="select 1", url=url)
    message = str(info.value)
    assert "S3cretPassw0rd" not in message
    assert "alice:***@127.0.0.1" in message and "could not connect" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_dialect_is_masked() -> None:
    with pytest.raises(DataSourceError, match="install the driver") as info:
        read_source(query="select 1", url="nosuchdb://alice:S3cretPassw0rd@host/db")
    assert "S3cretPassw0rd" not in str(info.value)


def test_mask_url() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("sqlite:///a/b.db") == "sqlite:///a/b.db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
