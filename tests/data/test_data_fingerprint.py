"""frame_fingerprint and the Parquet round trip."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodline.data.fingerprint import frame_fingerprint, from_parquet_bytes, to_parquet_bytes
from prodline.errors import DataSourceError, InvalidValueError

BUILD = textwrap.dedent(
    """
    import numpy as np, pandas as pd
    rng = np.random.default_rng(7)
    df = pd.DataFrame({
        "x": rng.normal(size=500),
        "n": rng.integers(0, 100, 500),
        "s": rng.choice(["a", "b", "c"], 500),
        "c": pd.Categorical(rng.choice(["u", "v"], 500)),
        "t": pd.date_range("2024-01-01", periods=500, freq="h", tz="Europe/Oslo"),
        "o": pd.Series([None, 1, "x", 2.5] * 125, dtype=object),
    })
    """
)


def build() -> pd.DataFrame:
    scope: dict = {}
    exec(BUILD, scope)
    return scope["df"]


def test_equal_frames_equal_digests() -> None:
    a, b = build(), build()
    digest = frame_fingerprint(a)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert frame_fingerprint(b) == digest
    assert frame_fingerprint(a.copy(deep=True)) == digest


def test_digest_is_the_same_in_another_process() -> None:
    code = BUILD + "\nfrom prodline.data.fingerprint import frame_fingerprint\n"
    code += "print(frame_fingerprint(df))\n"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == frame_fingerprint(build())


def test_sensitive_to_every_part() -> None:
    base = build()
    digest = frame_fingerprint(base)

    one_value = base.copy()
    one_value.loc[250, "x"] += 1e-12
    renamed = base.rename(columns={"x": "y"})
    retyped = base.astype({"n": "int32"})
    as_float = base.astype({"n": "float64"})
    reordered_rows = base.iloc[::-1]
    reordered_cols = base[list(reversed(base.columns))]
    new_index = base.set_axis(range(1, 501))
    named_index = base.rename_axis("row")
    recategorised = base.assign(c=base["c"].cat.add_categories(["w"]))
    ordered = base.assign(c=base["c"].cat.as_ordered())
    one_string = base.copy()
    one_string.loc[3, "s"] = "z"
    one_timezone = base.assign(t=base["t"].dt.tz_convert("UTC"))
    variants = [
        one_value,
        renamed,
        retyped,
        as_float,
        reordered_rows,
        reordered_cols,
        new_index,
        named_index,
        recategorised,
        ordered,
        one_string,
        one_timezone,
    ]
    digests = [frame_fingerprint(v) for v in variants]
    assert digest not in digests
    assert len(set(digests)) == len(digests)


def test_objects_keep_their_type() -> None:
    ints = pd.DataFrame({"a": pd.Series([1, "x"], dtype=object)})
    texts = pd.DataFrame({"a": pd.Series(["1", "x"], dtype=object)})
    assert frame_fingerprint(ints) != frame_fingerprint(texts)


def test_negative_zero_and_nan_payloads_do_not_matter() -> None:
    plain = pd.DataFrame({"f": [0.0, np.nan, 1.0]})
    signed = pd.DataFrame({"f": [-0.0, -np.nan, 1.0]})
    assert plain.equals(signed)
    assert frame_fingerprint(plain) == frame_fingerprint(signed)


def test_no_columns_and_no_rows() -> None:
    assert frame_fingerprint(pd.DataFrame(index=range(3))) != frame_fingerprint(
        pd.DataFrame(index=range(4))
    )
    empty_a = pd.DataFrame({"a": pd.Series([], dtype="int64")})
    empty_b = pd.DataFrame({"b": pd.Series([], dtype="int64")})
    assert frame_fingerprint(empty_a) != frame_fingerprint(empty_b)
    assert frame_fingerprint(pd.DataFrame()) == frame_fingerprint(pd.DataFrame())


def test_fingerprint_needs_a_frame() -> None:
    with pytest.raises(InvalidValueError, match="DataFrame"):
        frame_fingerprint([1, 2])  # type: ignore[arg-type]


# ---------------------------------------------------------------- Parquet


def test_round_trip_keeps_dtypes_and_content() -> None:
    df = build().assign(
        i=pd.array([1, None] * 250, dtype="Int64"),
        b=[True, False] * 250,
        oc=pd.Categorical(["lo", "hi"] * 250, categories=["lo", "hi", "mid"], ordered=True),
        naive=pd.date_range("2020-01-01", periods=500, freq="D"),
    )
    df = df.drop(columns="o")  # mixed object columns cannot be stored (see below)
    back = from_parquet_bytes(to_parquet_bytes(df))
    pd.testing.assert_frame_equal(back, df)
    assert back["oc"].cat.ordered and back["oc"].cat.categories.tolist() == ["lo", "hi", "mid"]
    assert str(back["t"].dtype) == str(df["t"].dtype)
    assert frame_fingerprint(back) == frame_fingerprint(df)


def test_object_string_columns_stay_object() -> None:
    df = pd.DataFrame({"o": pd.Series(["a", None, "c"], dtype=object), "s": ["a", "b", None]})
    back = from_parquet_bytes(to_parquet_bytes(df))
    assert back["o"].dtype == object and str(back["s"].dtype) == str(df["s"].dtype)
    assert frame_fingerprint(back) == frame_fingerprint(df)


@pytest.mark.parametrize("n", [0, 3])
def test_category_column_without_categories(n: int) -> None:
    df = pd.DataFrame(
        {"c": pd.Categorical([None] * n), "o": pd.Categorical([None] * n).as_ordered()}
    )
    back = from_parquet_bytes(to_parquet_bytes(df))
    pd.testing.assert_frame_equal(back, df)
    assert back["o"].cat.ordered
    assert frame_fingerprint(back) == frame_fingerprint(df)


def test_default_index_is_not_stored_and_others_are() -> None:
    plain = pd.DataFrame({"a": [1, 2, 3]})
    meta = pq.read_schema(io.BytesIO(to_parquet_bytes(plain))).pandas_metadata
    assert meta["index_columns"] == []
    assert pq.read_schema(io.BytesIO(to_parquet_bytes(plain))).names == ["a"]

    keyed = pd.DataFrame({"a": [1, 2, 3]}, index=pd.Index(["x", "y", "z"], name="key"))
    back = from_parquet_bytes(to_parquet_bytes(keyed))
    pd.testing.assert_frame_equal(back, keyed)

    shifted = pd.DataFrame({"a": [1, 2, 3]}, index=pd.RangeIndex(10, 13))
    back = from_parquet_bytes(to_parquet_bytes(shifted))
    assert back.index.tolist() == [10, 11, 12]


def test_compression_is_zstd() -> None:
    data = to_parquet_bytes(build().drop(columns="o"))
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert data[:4] == b"PAR1"
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}


def test_bad_frames_and_bad_bytes() -> None:
    with pytest.raises(InvalidValueError, match="string column names"):
        to_parquet_bytes(pd.DataFrame({0: [1], 1: [2]}))
    with pytest.raises(InvalidValueError, match="unique column names"):
        to_parquet_bytes(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(InvalidValueError, match="mixes types"):
        to_parquet_bytes(pd.DataFrame({"o": pd.Series([1, "x"], dtype=object)}))
    with pytest.raises(DataSourceError, match="not a readable Parquet"):
        from_parquet_bytes(b"PAR1 but not really")


# ---------------------------------------------------------------- properties

TIMEZONES = [None, "UTC", "America/New_York", "Asia/Kolkata"]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 25))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=n, max_size=n))

    cols: dict[str, object] = {
        "i": np.array(column(st.integers(-(2**63), 2**63 - 1)), dtype="int64"),
        "f": np.array(column(st.floats(allow_nan=True, allow_infinity=True)), dtype="float64"),
        "s": pd.Series(column(st.none() | st.text(max_size=6)), dtype="str"),
        "b": np.array(column(st.booleans()), dtype=bool),
        "c": pd.Categorical(column(st.none() | st.sampled_from(["lo", "mid", "hi"]))),
        "ni": pd.array(column(st.none() | st.integers(-1000, 1000)), dtype="Int64"),
    }
    tz = draw(st.sampled_from(TIMEZONES))
    stamps = column(
        st.none()
        | st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
    )
    times = pd.to_datetime(pd.Series(stamps, dtype="datetime64[us]"))
    cols["t"] = times.dt.tz_localize("UTC").dt.tz_convert(tz) if tz else times
    keep = draw(st.lists(st.sampled_from(sorted(cols)), min_size=1, unique=True))
    return pd.DataFrame({k: cols[k] for k in keep})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_parquet_round_trip_property(df: pd.DataFrame) -> None:
    back = from_parquet_bytes(to_parquet_bytes(df))
    pd.testing.assert_frame_equal(back, df)
    assert frame_fingerprint(back) == frame_fingerprint(df)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.data())
def test_fingerprint_property(df: pd.DataFrame, data: st.DataObject) -> None:
    assert frame_fingerprint(df.copy()) == frame_fingerprint(df)
    # renaming any column changes the digest
    name = data.draw(st.sampled_from(list(df.columns)))
    assert frame_fingerprint(df.rename(columns={name: name + "_x"})) != frame_fingerprint(df)
    # swapping two rows that differ changes the digest
    if len(df) >= 2:
        i, j = data.draw(st.lists(st.integers(0, len(df) - 1), min_size=2, max_size=2, unique=True))
        swapped = df.iloc[[j if k == i else i if k == j else k for k in range(len(df))]]
        swapped = swapped.set_axis(df.index)
        row_i = df.iloc[[i]].reset_index(drop=True)
        same = row_i.equals(df.iloc[[j]].reset_index(drop=True))  # NaN == NaN, -0.0 == 0.0
        assert (frame_fingerprint(swapped) == frame_fingerprint(df)) == same
