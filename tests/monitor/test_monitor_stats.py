"""Each drift statistic against SciPy or the textbook formula, on known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from prodline.monitor import stats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ Wasserstein


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60), st.lists(finite, min_size=1, max_size=60))
def test_wasserstein_equals_scipy_on_any_small_samples(u: list[float], v: list[float]) -> None:
    a, b = np.sort(np.asarray(u)), np.sort(np.asarray(v))
    expected = sps.wasserstein_distance(a, b)
    assert stats.wasserstein_sorted(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 7), (300, 299), (5000, 1234), (100, 100_000)])
def test_wasserstein_exact_merge_on_ties_and_unequal_sizes(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 7 + m)
    u = np.sort(rng.integers(0, 5, n).astype(float))  # heavy ties
    v = np.sort(rng.normal(2, 1.5, m))
    assert stats.wasserstein_sorted(u, v) == pytest.approx(
        sps.wasserstein_distance(u, v), rel=1e-9, abs=1e-12
    )


def test_wasserstein_beyond_the_exact_size_errs_by_at_most_the_range_over_n() -> None:
    rng = np.random.default_rng(1)
    u = np.sort(rng.normal(0, 1, 400_000))
    v = np.sort(rng.normal(0.05, 1.2, 130_001))
    assert u.size + v.size > stats.EXACT_W1_MAX
    bound = (max(u[-1], v[-1]) - min(u[0], v[0])) / u.size
    assert abs(stats.wasserstein_sorted(u, v) - sps.wasserstein_distance(u, v)) <= bound


def test_normalised_wasserstein_of_a_normal_shift_is_the_shift_in_sigmas() -> None:
    """For N(0, s) against N(d, s), W1 = |d|: divided by the reference spread, d/s."""
    rng = np.random.default_rng(2)
    ref = np.sort(rng.normal(10, 3, 400_000))
    cur = np.sort(rng.normal(10 + 0.6, 3, 300_000))
    q = np.quantile(ref, stats.LEVELS)
    scale, kind = stats.reference_scale(q, float(ref.std(ddof=1)))
    assert kind == "std" and scale == pytest.approx(3, rel=0.01)
    assert stats.wasserstein_sorted(ref, cur) / scale == pytest.approx(0.2, abs=0.01)
    # from the 101 quantiles of each side (a stored Profile) the same, approximately
    approx = stats.wasserstein_quantile_functions(q, np.quantile(cur, stats.LEVELS))
    assert approx / scale == pytest.approx(0.2, abs=0.01)


def test_reference_scale_falls_back_to_the_iqr_then_to_one() -> None:
    x = np.sort(np.random.default_rng(0).normal(0, 2, 10_000))
    q = np.quantile(x, stats.LEVELS)
    assert stats.reference_scale(q, None) == (pytest.approx(2, rel=0.05), "iqr")
    assert stats.reference_scale(np.full(101, 4.0), None) == (1.0, "none")
    assert stats.reference_scale(np.full(101, 4.0), 0.0) == (1.0, "none")


# ------------------------------------------------------------------ PSI


def test_psi_is_the_textbook_sum() -> None:
    r = np.array([0.1, 0.2, 0.3, 0.4])
    c = np.array([0.25, 0.25, 0.25, 0.25])
    expected = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert stats.psi(r * 50, c * 80) == pytest.approx(expected)  # counts are normalised
    assert stats.psi(r, r) == 0.0
    # an empty bin is raised to epsilon: large but finite
    assert math.isfinite(stats.psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]))


def test_psi_on_reference_deciles_matches_the_normal_distribution() -> None:
    """N(0,1) against N(0.5,1) on the deciles of N(0,1): c_i = Phi(z_{i+1} - 0.5) -
    Phi(z_i - 0.5), r_i = 0.1."""
    z = sps.norm.ppf(np.arange(1, 10) / 10)
    cur_bins = np.diff(np.r_[0.0, sps.norm.cdf(z - 0.5), 1.0])
    expected = float(np.sum((cur_bins - 0.1) * np.log(cur_bins / 0.1)))
    rng = np.random.default_rng(3)
    ref = np.sort(rng.normal(0, 1, 500_000))
    cur = np.sort(rng.normal(0.5, 1, 500_000))
    edges = stats.decile_edges(np.quantile(ref, stats.LEVELS))
    measured = stats.psi(
        stats.bin_shares(stats.cdf_left_sorted(ref, edges)),
        stats.bin_shares(stats.cdf_left_sorted(cur, edges)),
    )
    assert measured == pytest.approx(expected, abs=0.005)


def test_cdf_from_quantiles_handles_ties_like_the_data() -> None:
    binary = np.sort(np.r_[np.zeros(700), np.ones(300)])
    q = np.quantile(binary, stats.LEVELS)
    edges = stats.decile_edges(q)  # ties merged: 0, a point between 0 and 1, and 1
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 3
    from_q = stats.bin_shares(stats.cdf_left_quantiles(q, edges))
    exact = stats.bin_shares(stats.cdf_left_sorted(binary, edges))
    np.testing.assert_allclose(from_q, exact, atol=0.015)  # 1% levels
    np.testing.assert_allclose(exact, [0.0, 0.7, 0.0, 0.3])


# ------------------------------------------------------------------ categorical


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ([10, 20, 30], [30, 20, 10]),
        ([1, 0, 0], [0, 1, 0]),  # disjoint: distance 1
        ([5, 5, 0, 1], [5, 5, 3, 0]),
        ([0.2, 0.8], [0.2, 0.8]),
    ],
)
def test_jensen_shannon_equals_scipy(p: list[float], q: list[float]) -> None:
    assert stats.js_distance(np.array(p), np.array(q)) == pytest.approx(
        jensenshannon(p, q, base=2), abs=1e-12
    )


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([30, 50, 20], [25, 45, 40]), ([100, 5, 0, 7], [80, 9, 4, 1]), ([3, 4], [5, 2])],
)
def test_chi_square_equals_scipy(ref: list[int], cur: list[int]) -> None:
    stat, dof, p = stats.chi2_homogeneity(np.array(ref), np.array(cur))
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    expected = sps.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(expected.statistic)
    assert dof == expected.dof
    assert p == pytest.approx(expected.pvalue)


def test_chi_square_goodness_of_fit_agrees_for_a_large_reference() -> None:
    """With a reference far larger than the current sample, homogeneity approaches
    scipy.stats.chisquare of the current counts against the reference proportions."""
    ref_props = np.array([0.5, 0.3, 0.2])
    cur = np.array([40, 35, 25])
    stat, _, p = stats.chi2_homogeneity(ref_props * 10_000_000, cur)
    gof = sps.chisquare(cur, ref_props * cur.sum())
    assert stat == pytest.approx(gof.statistic, rel=1e-4)
    assert p == pytest.approx(gof.pvalue, rel=1e-3)


# ------------------------------------------------------------------ Kolmogorov-Smirnov


def test_ks_on_data_is_scipy_and_from_quantiles_is_close() -> None:
    rng = np.random.default_rng(4)
    ref = np.sort(rng.normal(0, 1, 200_000))
    cur = np.sort(rng.normal(0.15, 1, 400))
    d, p = stats.ks_sorted(ref, cur)
    expected = sps.ks_2samp(ref, cur)
    assert (d, p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    dq, pq = stats.ks_quantiles(np.quantile(ref, stats.LEVELS), ref.size, cur)
    assert dq == pytest.approx(expected.statistic, abs=0.01)
    assert pq == pytest.approx(sps.ks_2samp(ref, cur, method="asymp").pvalue, rel=0.3, abs=0.01)


# ------------------------------------------------------------------ intervals


@pytest.mark.parametrize(("x", "n"), [(0, 10), (56, 70), (10, 10), (1, 1000), (499, 1000)])
def test_wilson_interval_equals_scipy(x: int, n: int) -> None:
    ci = sps.binomtest(x, n).proportion_ci(method="wilson")
    assert stats.wilson_interval(x, n) == (pytest.approx(ci.low), pytest.approx(ci.high))


@pytest.mark.parametrize(
    ("x2", "n2", "x1", "n1", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
    ],
)
def test_newcombe_interval_matches_the_published_examples(
    x2: int, n2: int, x1: int, n1: int, low: float, high: float
) -> None:
    d, lo, hi = stats.newcombe_difference(x1, n1, x2, n2)
    assert d == pytest.approx(x2 / n2 - x1 / n1)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_mean_difference_intervals_equal_scipy_t_tests() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(1.0, 80), rng.exponential(1.3, 120)
    d, lo, hi = stats.mean_difference(a, b, paired=False)
    ci = sps.ttest_ind(b, a, equal_var=False).confidence_interval()
    assert (d, lo, hi) == (
        pytest.approx(b.mean() - a.mean()),
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )
    c = a + rng.normal(0.1, 0.2, a.size)
    d, lo, hi = stats.mean_difference(a, c, paired=True)
    ci = sps.ttest_rel(c, a).confidence_interval()
    assert (lo, hi) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_two_proportion_sample_size_is_the_textbook_value() -> None:
    # n = (z_a sqrt(2 pbar qbar) + z_b sqrt(p1 q1 + p2 q2))^2 / d^2 (Fleiss, no
    # continuity correction): p1 = 0.80, p2 = 0.85, alpha 0.05 two-sided, power 0.8
    za, zb = sps.norm.ppf(0.975), sps.norm.ppf(0.8)
    n = (za * math.sqrt(2 * 0.825 * 0.175) + zb * math.sqrt(0.8 * 0.2 + 0.85 * 0.15)) ** 2
    assert stats.rows_to_detect(0.80, 0.85) == math.ceil(n / 0.05**2) == 906
