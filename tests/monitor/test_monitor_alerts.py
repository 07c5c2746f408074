"""Alert rules from the policy file's ``monitor:`` section: parsing with located errors,
every condition, and the actions (a real local webhook receiver, a shell command, a
retrain request that the pipelines watcher picks up), once per window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodline import _context
from prodline.errors import InvalidValueError
from prodline.monitor import check, load_policy
from prodline.monitor.actions import pending_retrain_requests
from prodline.monitor.policy import parse_section
from tests.monitor.conftest import DAY, MODEL, T0, Receiver, Registry, sample, serve_rows

HOUR = 3_600_000
FEATURE = "mean_concavity"

POLICY = """\
model: cancer               # the governance stage reads these keys; monitoring ignores them
target_alias: production
rules:
  - metric: f1
    at_least: 0.8
monitor:
  window: 1d
  min_rows: 50
  thresholds: {{drift_share: 0.5}}
  columns: {{worst_area: {{wasserstein: 0.3}}}}
  alerts:
    - name: share
      drift_share: 0.02
      actions: [team, retrain]
    - name: named
      features: [{feature}, mean_radius]
      actions: [log]
    - prediction_drift: true
    - missing_values: true
    - performance: {{metric: accuracy, drop_above: 0.02}}
      actions: [degraded]
    - performance: {{metric: recall, below: 0.5, min_labels: 20}}
    - error_rate: {{above: 0.01}}
    - latency: {{p99_ms: 2.0}}
    - traffic_drop: {{above: 0.5, baseline: 3}}
  actions:
    team: {{webhook: "{url}", headers: {{X-Team: risk}}}}
    log: {{command: "cat > {log}"}}
    degraded: {{label: degraded}}
"""


def _write_policy(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "policies" / f"{MODEL}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(POLICY.format(url=url, feature=FEATURE, log=tmp_path / "alert.json"))
    return path


def _traffic(reg: Registry, *, shift: bool, wrong: int = 0, n_last: int = 300) -> None:
    """Three quiet days of 300 rows, then day 3 with ``n_last`` rows."""
    store = _context.store()
    for day in range(4):
        n = n_last if day == 3 else 300
        X = sample(reg.features, n, seed=40 + day)
        if shift and day == 3:
            X[FEATURE] = X[FEATURE] * 1.8
        rows = serve_rows(
            reg.champion, X, version=1, start_ms=T0 + day * DAY, step_ms=30_000, prefix=f"t{day}-"
        )
        store.log_predictions(rows)
        labels = [(r["request_id"], r["outputs"]["prediction"]) for r in rows]
        if day == 3 and wrong:
            labels = [(rid, 1 - y) if i < wrong else (rid, y) for i, (rid, y) in enumerate(labels)]
        store.log_feedback(MODEL, labels)


def test_a_quiet_day_fires_nothing_but_latency(
    registry: Registry, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_policy(tmp_path, receiver.url)
    _traffic(registry, shift=False)
    result = check(MODEL, now=T0 + 3 * DAY + 6 * HOUR)
    fired = {a.rule for a in result.fired}
    assert fired == {"latency-8"}  # p99 of the logged latencies (2.5 ms) is over 2 ms
    by_rule = {a.rule: a for a in result.alerts}
    assert by_rule["share"].evaluated and by_rule["share"].value == 0.0
    assert by_rule["performance-5"].evaluated and by_rule["performance-5"].value == 1.0
    assert by_rule["traffic_drop-9"].evaluated and by_rule["traffic_drop-9"].value == 0.0
    assert receiver.received == [] and result.actions == []  # the latency rule has none
    assert pending_retrain_requests(MODEL) == []
    assert _labels(1) == {}


def test_drift_decay_and_a_traffic_drop_fire_their_rules_and_actions(
    registry: Registry, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_policy(tmp_path, receiver.url)
    _traffic(registry, shift=True, wrong=30, n_last=100)
    now = T0 + 3 * DAY + 6 * HOUR
    result = check(MODEL, now=now)
    fired = {a.rule for a in result.fired}
    assert {"share", "named", "performance-5", "traffic_drop-9"} <= fired
    assert "missing_values-4" not in fired and "error_rate-7" not in fired
    by_rule = {a.rule: a for a in result.alerts}
    assert by_rule["named"].value == [FEATURE]
    assert by_rule["performance-5"].value == pytest.approx(0.7)
    assert by_rule["traffic_drop-9"].value == pytest.approx(1 - 100 / 300)
    # the webhook got one POST with the alerts that name it
    assert len(receiver.received) == 1
    posted = receiver.received[0]
    assert posted["headers"]["X-Team"] == "risk"
    assert [a["rule"] for a in posted["body"]["alerts"]] == ["share"]
    assert posted["body"]["model"] == MODEL
    # the command got the alert as JSON on stdin
    logged = json.loads((tmp_path / "alert.json").read_text())
    assert [a["rule"] for a in logged["alerts"]] == ["named"]
    # and a retrain request waits for `prodline pipelines watch`
    (request,) = pending_retrain_requests(MODEL)
    assert request["model"] == MODEL and "drift share" in request["reason"]
    assert Path(request["path"]).parent == registry.home / "triggers" / MODEL
    # the decayed version is labelled in the registry, the alert as the reason
    degraded = _labels(1)["degraded"]
    assert degraded.actor == "prodline-monitor" and "accuracy" in degraded.reason
    assert {a["action"]: a["ok"] for a in result.actions} == {
        "team": True,
        "retrain": True,
        "log": True,
        "degraded": True,
    }
    # checking again in the same window reports the alerts but repeats no action
    again = check(MODEL, now=now + HOUR)
    assert {a.rule for a in again.fired} == fired and again.actions == []
    assert len(receiver.received) == 1 and len(pending_retrain_requests(MODEL)) == 1
    forced = check(MODEL, now=now + HOUR, repeat=True)
    assert len(forced.actions) == 4 and len(receiver.received) == 2


def _labels(version: int) -> dict:
    record = _context.store().get_model_version(MODEL, version, None)
    return {label.label: label for label in record.labels}


def test_check_without_a_policy_has_no_rules(registry: Registry) -> None:
    _traffic(registry, shift=True)
    result = check(MODEL, now=T0 + 3 * DAY + 6 * HOUR)
    assert result.alerts == [] and result.ok and result.policy is None


def test_a_policy_file_is_validated_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "model: cancer\nmonitor:\n  window: 1d\n  alerts:\n    - drift_share: 0.3\n"
        "    - performance: {metric: f1, drop: 0.1}\n"
    )
    with pytest.raises(InvalidValueError, match=r"p\.yaml:6: monitor\.alerts\[1\]"):
        load_policy(MODEL, path)
    path.write_text("monitor:\n  alerts:\n    - drift_share: 0.3\n      actions: [pager]\n")
    with pytest.raises(InvalidValueError, match=r"names action 'pager'.*defined: retrain"):
        load_policy(MODEL, path)
    path.write_text("monitor:\n  windw: 1d\n")
    with pytest.raises(InvalidValueError, match=r"p\.yaml:2: monitor\.windw: unknown key"):
        load_policy(MODEL, path)
    path.write_text("monitor:\n  window: yesterday\n")
    with pytest.raises(InvalidValueError, match="monitor.window: window 'yesterday'"):
        load_policy(MODEL, path)
    path.write_text("monitor: [\n")
    with pytest.raises(InvalidValueError, match="not valid YAML"):
        load_policy(MODEL, path)
    with pytest.raises(InvalidValueError, match="does not exist"):
        load_policy(MODEL, tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"drift_share": 2}, "share between 0 and 1"),
        ({"drift_share": 0.3, "features": ["a"]}, "exactly one condition"),
        ({"features": []}, "must list feature names"),
        ({"latency": {"p90_ms": 3}}, "unknown key"),
        ({"performance": {"metric": "f1"}}, "needs drop_above"),
        ({"traffic_drop": {"below": 0.5}}, "write a share"),
        ({"error_rate": "high"}, "must be a number"),
        ({"prediction_drift": "yes"}, "true or false"),
        ({"bogus": 1}, "unknown key"),
    ],
)
def test_each_rule_is_checked(rule: dict, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        parse_section({"alerts": [rule]})


def test_actions_are_checked() -> None:
    with pytest.raises(InvalidValueError, match="http"):
        parse_section({"actions": {"a": {"webhook": "ftp://x"}}})
    with pytest.raises(InvalidValueError, match="exactly one of"):
        parse_section({"actions": {"a": {"webhook": "http://x", "command": "ls"}}})
    parsed = parse_section({"actions": {"a": {"command": ["echo", "hi"], "timeout": 5}}})
    assert parsed.actions["a"].params == {"command": ["echo", "hi"], "timeout": 5.0}
    assert parse_section({"actions": {"d": {"label": "degraded"}}}).actions["d"].params == {
        "label": "degraded"
    }
    for bad in ("Degraded!", "", 3):
        with pytest.raises(InvalidValueError, match=r"actions\.d\.label.*lowercase"):
            parse_section({"actions": {"d": {"label": bad}}})
