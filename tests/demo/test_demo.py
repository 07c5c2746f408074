"""`make demo` in its shortened mode: the whole loop, asserted through the store."""

from __future__ import annotations

from pathlib import Path

import pytest

import prodline
from prodline.demo.story import run


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["local", "ray"])
def test_the_demo_closes_the_loop(tmp_path: Path, runner: str) -> None:
    """Against a live `prodline serve`: governance, real traffic with a shift, drift and
    decay detected, the alert's retrain request runs the pipeline (in process or on a
    local Ray), governance promotes, the server hot-reloads without a failed request."""
    if runner == "ray":
        pytest.importorskip("ray", reason="the Ray runner needs `pip install 'prodline[ray]'`")
    story = run(tmp_path / "demo", quick=True, runner=runner)
    assert story.retrain["runner"] == runner
    outcomes = {d["version"]: d["outcome"] for d in story.first_decision}
    assert outcomes[story.champion] == "promoted"
    assert sorted(o for v, o in outcomes.items() if v != story.champion) == ["rejected", "rejected"]
    assert story.shifted["band_share"] > story.baseline["band_share"] + 0.3
    assert story.drift_share is not None and story.drift_share >= 0.2
    assert {"population drift", "live f1 below the contract"} <= {a["rule"] for a in story.alerts}
    assert story.retrain["status"] == "succeeded"
    holder = prodline.get_model_version("breast-cancer@production")
    assert holder.version == story.reload["holder"] and holder.version > story.champion
    assert story.retrain["versions"] == [f"breast-cancer/{holder.version}"]  # the retrained one
    assert story.reload["failed"] == 0
    assert story.after["failed"] == 0 and story.after["versions"] == {
        f"breast-cancer/{holder.version}": story.after["n"]
    }
    assert story.after["live_f1"] > story.shifted["live_f1"]
    champion = prodline.get_model_version(f"breast-cancer/{story.champion}")
    labels = {label.label: label for label in champion.labels}
    assert labels["degraded"].actor == "prodline-monitor"  # the policy's label action
    assert "live f1 below the contract" in labels["degraded"].reason
    report = Path(story.reports["story"]).read_text()
    assert "Governance" in report and "<svg" in report
    assert Path(story.reports["monitoring"]).stat().st_size > 10_000
