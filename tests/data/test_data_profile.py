"""profile: exact against numpy, JSON-safe, and the edge cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodline.data.profile import (
    QUANTILE_LEVELS,
    ColumnProfile,
    Profile,
    profile,
    sorted_histogram,
    sorted_quantiles,
)
from prodline.errors import InvalidValueError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 5_000
    x = rng.lognormal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(-50, 50, n),
            "ni": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), dtype="Int64"
            ),
            "city": rng.choice(
                ["Oslo", "Lima", "Pune", "Kyiv", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05]
            ),
            "flag": rng.random(n) < 0.25,
            "seg": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b", "unused"]),
            "t": pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC"),
        }
    )


def test_numeric_matches_numpy_exactly(frame: pd.DataFrame) -> None:
    p = profile(frame, bins=17)
    x = frame["x"].to_numpy()
    finite = x[~np.isnan(x)]
    col = p["x"]
    assert (col.kind, col.dtype, col.count) == ("float", "float64", finite.size)
    assert col.missing_rate == (len(x) - finite.size) / len(x)
    assert col.quantiles == np.quantile(finite, QUANTILE_LEVELS).tolist()
    assert len(col.quantiles) == 101
    counts, edges = np.histogram(finite, bins=17)
    assert col.histogram is not None
    assert col.histogram.counts == counts.tolist()
    assert col.histogram.edges == edges.tolist()
    assert col.mean == np.mean(finite)
    assert col.std == np.std(finite, ddof=1)
    assert (col.min, col.max) == (finite.min(), finite.max())

    k = frame["k"].to_numpy()
    ints = p["k"]
    assert ints.kind == "integer" and type(ints.min) is int
    assert (ints.min, ints.max) == (k.min(), k.max())
    assert ints.quantiles == np.quantile(k, QUANTILE_LEVELS).tolist()
    assert ints.histogram is not None
    assert ints.histogram.counts == np.histogram(k, bins=17)[0].tolist()

    ni = frame["ni"].dropna().to_numpy(dtype=float)
    assert p["ni"].count == ni.size
    assert p["ni"].quantiles == np.quantile(ni, QUANTILE_LEVELS).tolist()


def test_categories_booleans_and_datetimes(frame: pd.DataFrame) -> None:
    p = profile(frame, top_categories=2)
    city = p["city"]
    counts = frame["city"].value_counts()
    assert city.kind == "categorical" and city.n_unique == 4
    assert city.frequencies == {"Oslo": counts["Oslo"], "Lima": counts["Lima"]}
    assert list(city.frequencies) == ["Oslo", "Lima"]  # most frequent first
    assert city.other_count == counts["Pune"] + counts["Kyiv"]
    assert city.count == frame["city"].notna().sum()
    assert city.missing_rate == frame["city"].isna().mean()

    flag = p["flag"]
    assert flag.kind == "boolean" and flag.n_unique == 2
    assert flag.frequencies == {False: int((~frame["flag"]).sum()), True: int(frame["flag"].sum())}
    assert flag.other_count == 0

    seg = p["seg"]  # unobserved categories are not counted
    assert seg.n_unique == 2 and set(seg.frequencies or {}) == {"a", "b"}

    t = p["t"]
    assert (t.kind, t.min, t.max, t.missing_rate) == (
        "datetime",
        "2024-01-01T00:00:00+00:00",
        frame["t"].max().isoformat(),
        0.0,
    )


def test_json_safe_round_trip(frame: pd.DataFrame) -> None:
    frame = frame.assign(inf=[np.inf, 1.0, 2.0, -np.inf] * (len(frame) // 4))
    p = profile(frame)
    text = json.dumps(p.to_dict(), allow_nan=False)
    back = Profile.from_dict(json.loads(text))
    assert back == p
    assert back["flag"].frequencies is not None and True in back["flag"].frequencies
    assert back.names == p.names == list(frame.columns)
    assert p["inf"].n_infinite == len(frame) // 2
    assert p["inf"].count == len(frame) and p["inf"].max == 2.0


def test_empty_frame() -> None:
    df = pd.DataFrame({"x": pd.Series([], dtype=float), "s": pd.Series([], dtype=object)})
    p = profile(df)
    assert p.n_rows == 0
    x = p["x"]
    assert (x.count, x.missing_rate, x.mean, x.quantiles, x.histogram) == (0, 0.0, None, None, None)
    s = p["s"]
    assert (s.count, s.n_unique, s.frequencies, s.other_count) == (0, 0, {}, 0)
    assert profile(pd.DataFrame()).columns == []


def test_constant_column() -> None:
    values = np.full(7, 3.5)
    col = profile(pd.DataFrame({"c": values}), bins=4)["c"]
    counts, edges = np.histogram(values, bins=4)
    assert col.histogram is not None
    assert col.histogram.edges == edges.tolist() == [3.0, 3.25, 3.5, 3.75, 4.0]
    assert col.histogram.counts == counts.tolist() == [0, 0, 7, 0]
    assert col.quantiles == [3.5] * 101
    assert (col.std, col.min, col.max) == (0.0, 3.5, 3.5)


def test_all_nan_column() -> None:
    col = profile(pd.DataFrame({"n": [np.nan] * 5}))["n"]
    assert (col.kind, col.count, col.missing_rate) == ("float", 0, 1.0)
    assert (col.mean, col.std, col.min, col.max, col.quantiles, col.histogram) == (
        None,
        None,
        None,
        None,
        None,
        None,
    )
    json.dumps(col.to_dict(), allow_nan=False)


def test_single_value_has_no_std() -> None:
    col = profile(pd.DataFrame({"v": [2.0]}))["v"]
    assert (col.mean, col.std, col.quantiles) == (2.0, None, [2.0] * 101)


def test_many_unique_strings_are_string_kind() -> None:
    df = pd.DataFrame({"id": [f"user{i}" for i in range(200)] + ["user0"]})
    col = profile(df, top_categories=3)["id"]
    assert (col.kind, col.n_unique, col.count) == ("string", 200, 201)
    assert col.frequencies is not None and list(col.frequencies)[0] == "user0"
    assert col.frequencies["user0"] == 2 and len(col.frequencies) == 3
    assert col.other_count == 201 - 4


def test_bad_arguments() -> None:
    with pytest.raises(InvalidValueError, match="bins"):
        profile(pd.DataFrame({"a": [1]}), bins=0)
    with pytest.raises(InvalidValueError, match="top_categories"):
        profile(pd.DataFrame({"a": [1]}), top_categories=-1)
    with pytest.raises(InvalidValueError, match="DataFrame"):
        profile([1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="not a column profile"):
        ColumnProfile.from_dict({"name": "a"})
    with pytest.raises(KeyError, match="nope"):
        profile(pd.DataFrame({"a": [1]}))["nope"]


# ---------------------------------------------------------------- properties

finite_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite_floats | st.integers(-(10**6), 10**6).map(float), min_size=1, max_size=300))
def test_quantiles_and_histogram_are_numpy_bit_for_bit(values: list[float]) -> None:
    a = np.array(values)
    ordered = np.sort(a)
    assert (
        sorted_quantiles(ordered, QUANTILE_LEVELS).tolist()
        == np.quantile(a, QUANTILE_LEVELS).tolist()
    )
    for bins in (1, 7, 20):
        h = sorted_histogram(ordered, bins)
        assert sum(h.counts) == a.size and len(h.edges) == bins + 1
        try:
            counts, edges = np.histogram(a, bins=bins)
        except ValueError:  # range too narrow for distinct float edges: numpy refuses
            assert np.all(np.diff(h.edges) >= 0)
            continue
        assert h.counts == counts.tolist() and h.edges == edges.tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.none() | st.integers(-(2**31), 2**31), max_size=60))
def test_integer_profile_property(values: list[int | None]) -> None:
    s = pd.Series(values, dtype="Int64")
    col = profile(pd.DataFrame({"v": s}))["v"]
    present = s.dropna().to_numpy(dtype="int64")
    assert col.count == present.size
    assert col.missing_rate == (s.isna().mean() if len(s) else 0.0)
    if present.size:
        assert col.quantiles == np.quantile(present, QUANTILE_LEVELS).tolist()
        assert (col.min, col.max) == (present.min(), present.max())
        assert col.histogram is not None and sum(col.histogram.counts) == present.size
    json.dumps(col.to_dict(), allow_nan=False)
