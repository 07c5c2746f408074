"""``prodline.monitor.compare`` on real data: a shift planted in one column is the only
one flagged; the same data without it raises nothing; the separate reports (missing
rates, new categories), thresholds, weights, files and profiles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodline.data.profile import profile
from prodline.errors import InvalidValueError
from prodline.monitor import Thresholds, compare
from tests.monitor.conftest import cancer_frame


def _wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame.columns = [c.replace("/", "_") for c in frame.columns]
    frame["cultivar"] = frame.pop("target").map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame


def _resample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame.sample(n, replace=True, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    return cancer_frame().drop(columns="target")


@pytest.mark.parametrize("reference_kind", ["data", "profile"])
def test_a_shift_planted_in_one_column_of_real_data_is_the_only_one_flagged(
    cancer: pd.DataFrame, reference_kind: str
) -> None:
    ref = _resample(cancer, 5000, seed=1)
    cur = _resample(cancer, 5000, seed=2)
    reference = ref if reference_kind == "data" else profile(ref)

    clean = compare(reference, cur)
    assert clean.drifted_columns == [], clean.to_frame().sort_values("score").tail()
    assert not clean.dataset_drift and clean.missing_changed == []
    assert len(clean.compared) == cancer.shape[1] == 30

    shifted = cur.copy()
    column = "mean_smoothness"
    shifted[column] = shifted[column] + 0.5 * cancer[column].std()
    report = compare(reference, shifted)
    assert report.drifted_columns == [column]
    col = report[column]
    assert col.kind == "numeric" and col.statistics["wasserstein"] > 0.3
    assert report.drift_share == pytest.approx(1 / 30)
    assert not report.dataset_drift  # one feature of 30 is not dataset drift


def test_a_categorical_shift_in_real_data_is_flagged_alone() -> None:
    wine = _wine()
    ref = _resample(wine, 3000, seed=3)
    cur = _resample(wine, 3000, seed=4)
    assert compare(ref, cur).drifted_columns == []
    # the same rows, but a sub-population (barbera) becomes twice as common in its
    # category column only: the other columns keep their distribution
    shifted = cur.copy()
    flip = shifted.index[shifted["cultivar"] == "barolo"][:400]
    shifted.loc[flip, "cultivar"] = "barbera"
    report = compare(ref, shifted)
    assert report.drifted_columns == ["cultivar"]
    col = report["cultivar"]
    assert col.kind == "categorical"
    assert col.statistics["jensen_shannon"] > 0.1
    assert set(col.plot["labels"]) >= {"barolo", "grignolino", "barbera"}


def test_small_samples_need_a_significant_test_as_well_as_a_large_distance(
    cancer: pd.DataFrame,
) -> None:
    ref = _resample(cancer, 300, seed=5)
    cur = _resample(cancer, 120, seed=6)
    report = compare(ref, cur)
    assert report.drifted_columns == []
    # noise pushes some distances over the threshold at this size; the tests veto them
    noisy = [c for c in report.columns if c.statistics["wasserstein"] > 0.1]
    assert noisy and all(c.statistics["ks_p_value"] >= 0.05 for c in noisy)
    assert all(c.small_sample for c in report.columns)
    shifted = cur.assign(mean_area=cur["mean_area"] * 1.6)
    flagged = compare(ref, shifted)
    assert flagged.drifted_columns == ["mean_area"]
    assert flagged["mean_area"].statistics["ks_p_value"] < 0.05
    assert any("ks p" in r for r in flagged["mean_area"].reasons)


def test_new_categories_and_missing_rates_are_reported_apart_from_drift() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    ref = pd.DataFrame(
        {"plan": rng.choice(["basic", "pro", "team"], n), "age": rng.normal(40, 10, n)}
    )
    cur = ref.sample(n, replace=True, random_state=8).reset_index(drop=True)
    cur.loc[:159, "plan"] = "enterprise"  # 0.8% of a new category
    cur.loc[cur.sample(1500, random_state=9).index, "age"] = np.nan  # 7.5% missing
    report = compare(ref, cur)
    assert report.drifted_columns == []
    plan = report["plan"]
    assert plan.new_categories_flag and plan.new_categories == {"enterprise": 160}
    assert plan.new_category_share == pytest.approx(0.008)
    assert report.new_categories == {"plan": {"enterprise": 160}}
    # more of it is also a change of the distribution: the model never saw these values
    cur.loc[:999, "plan"] = "enterprise"
    assert compare(ref, cur).drifted_columns == ["plan"]
    age = report["age"]
    assert age.missing_changed and age.missing_rate_current == pytest.approx(0.075)
    assert report.missing_changed == ["age"]
    assert age.n_current == n - 1500


def test_thresholds_per_column_ignore_and_feature_importance(cancer: pd.DataFrame) -> None:
    ref = _resample(cancer, 4000, seed=10)
    cur = _resample(cancer, 4000, seed=11)
    cur["mean_radius"] *= 1.15
    cur["worst_area"] *= 1.25
    base = compare(ref, cur)
    assert set(base.drifted_columns) == {"mean_radius", "worst_area"}
    relaxed = compare(
        ref, cur, thresholds={"columns": {"mean_radius": {"wasserstein": 5, "psi": 5}}}
    )
    assert relaxed.drifted_columns == ["worst_area"]
    ignored = compare(ref, cur, thresholds={"columns": {"worst_area": {"ignore": True}}})
    assert ignored.drifted_columns == ["mean_radius"]
    assert ignored["worst_area"].skipped == "ignored by a threshold override"
    weighted = compare(
        ref, cur, feature_importance={"mean_radius": 3.0, "worst_area": 1.0, "mean_texture": 4.0}
    )
    assert weighted.drift_share == pytest.approx(4 / 8)  # other columns weigh 0
    assert weighted.dataset_drift  # 0.5 >= the default drift_share 0.5
    strict = compare(ref, cur, thresholds=Thresholds(drift_share=0.05))
    assert strict.dataset_drift and strict.drift_share == pytest.approx(2 / 30)


def test_prediction_columns_are_judged_but_not_counted(cancer: pd.DataFrame) -> None:
    ref = _resample(cancer, 3000, seed=12).assign(score=lambda f: f["mean_radius"] / 30)
    cur = _resample(cancer, 3000, seed=13).assign(score=lambda f: f["mean_radius"] / 20)
    report = compare(ref, cur, prediction="score")
    assert report.prediction_drift and [c.name for c in report.prediction] == ["score"]
    assert "score" not in report.names and report.drifted_columns == []


def test_files_on_disk_and_json_output(tmp_path: Path, cancer: pd.DataFrame) -> None:
    ref = _resample(cancer, 2000, seed=14)
    cur = _resample(cancer, 2000, seed=15).assign(mean_texture=lambda f: f["mean_texture"] + 5)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    report = compare(tmp_path / "ref.parquet", str(tmp_path / "cur.csv"))
    assert report.drifted_columns == ["mean_texture"]
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["drifted_columns"] == ["mean_texture"]
    table = report.to_frame()
    assert list(table.loc[table["drifted"], "column"]) == ["mean_texture"]


def test_profile_and_data_references_give_close_numbers() -> None:
    rng = np.random.default_rng(16)
    ref = pd.DataFrame({"x": rng.lognormal(0, 1, 50_000), "c": rng.choice(list("abcd"), 50_000)})
    cur = pd.DataFrame({"x": rng.lognormal(0.1, 1, 30_000), "c": rng.choice(list("abcd"), 30_000)})
    exact, approx = compare(ref, cur), compare(profile(ref), cur)
    assert approx.reference_source == "profile"
    for name in ("x", "c"):
        for key in exact[name].statistics:
            assert approx[name].statistics[key] == pytest.approx(
                exact[name].statistics[key], rel=0.1, abs=0.005
            ), (name, key)


def test_columns_that_cannot_be_compared_are_skipped_with_a_reason() -> None:
    n = 3000
    ref = pd.DataFrame(
        {
            "id": [f"u{i}" for i in range(n)],
            "when": pd.date_range("2026-01-01", periods=n, freq="h"),
            "empty": [np.nan] * n,
            "x": np.arange(n, dtype=float),
        }
    )
    cur = ref.copy()
    cur["id"] = [f"v{i}" for i in range(n)]
    report = compare(ref, cur)
    skipped = {c.name: c.skipped for c in report.columns if c.skipped}
    assert set(skipped) == {"id", "when", "empty"}
    assert "identifier" in skipped["id"] and "datetime" in skipped["when"]
    assert report.drifted_columns == [] and [c.name for c in report.compared] == ["x"]


def test_missing_and_extra_columns(cancer: pd.DataFrame) -> None:
    ref = _resample(cancer, 2000, seed=17)
    cur = ref.drop(columns=["mean_radius"]).assign(extra=1.0)
    report = compare(ref, cur)
    assert report.missing_columns == [] and report.extra_columns == ["extra"]
    assert "mean_radius" not in report.names  # only columns both sides have by default
    named = compare(ref, cur, columns=["mean_radius", "mean_texture"])
    assert named.missing_columns == ["mean_radius"]
    assert named["mean_radius"].missing_changed  # absent: every value missing


def test_bad_inputs_are_refused_with_a_clear_message(cancer: pd.DataFrame) -> None:
    with pytest.raises(InvalidValueError, match="DataFrame or a CSV"):
        compare(cancer, [1, 2, 3])
    with pytest.raises(InvalidValueError, match="not in the reference"):
        compare(cancer, cancer, columns=["nope"])
    with pytest.raises(InvalidValueError, match="unknown drift threshold"):
        compare(cancer, cancer, thresholds={"wasserstien": 0.2})
    with pytest.raises(InvalidValueError, match="must be a number"):
        compare(cancer, cancer, thresholds={"columns": {"mean_radius": {"psi": "high"}}})
    with pytest.raises(InvalidValueError, match="feature_importance"):
        compare(cancer, cancer, feature_importance={"mean_radius": -1})
