"""Champion/challenger routing over real HTTP: sticky A/B splits, canaries stepped up
while serving (admin endpoint and routing file), and shadows whose latency and errors
never reach the caller."""

from __future__ import annotations

import time

from prodline import _context
from prodline.serve.routing import bucket
from tests.serve.conftest import assert_close, expected, metric
from tests.serve.fleet import CANCER_FEATURES


def _body(row):
    return {"dataframe_split": {"columns": CANCER_FEATURES,
                                "data": [[row[c] for c in CANCER_FEATURES]]}}  # fmt: skip


def test_split_is_sticky_on_a_header_and_close_to_its_percent(serve, cancer_rows, home) -> None:
    server = serve("cancer", "--challenger", "2", "--mode", "split", "--percent", "30",
                   "--sticky", "header:X-Customer")  # fmt: skip
    keys = [f"customer-{i}" for i in range(200)]
    row = cancer_rows[0]
    with server.client() as client:
        first = {}
        for key in keys:
            response = client.post("/invocations", json=_body(row), headers={"x-customer": key})
            assert response.status_code == 200
            first[key] = response.headers["x-prodline-version"]
        for key in keys[:50]:  # the same key, the same version
            response = client.post("/invocations", json=_body(row), headers={"x-customer": key})
            assert response.headers["x-prodline-version"] == first[key]
        want = {k: "cancer/2" if bucket("cancer", k) < 3000 else "cancer/1" for k in keys}
        assert first == want
        share = sum(v == "cancer/2" for v in first.values()) / len(keys)
        assert 0.18 < share < 0.42
        # without the key: drawn at random, both versions answer
        seen = {client.post("/invocations", json=_body(row)).headers["x-prodline-version"]
                for _ in range(60)}  # fmt: skip
        assert seen == {"cancer/1", "cancer/2"}
        # each version answers with its own predictions
        labels = {}
        for key in keys[:20]:
            response = client.post("/invocations", json={"dataframe_records": cancer_rows[:5]},
                                   headers={"x-customer": key})  # fmt: skip
            labels[response.headers["x-prodline-version"]] = response.json()
        assert set(labels) == {"cancer/1", "cancer/2"}
        for ref, out in labels.items():
            want_labels, want_proba = expected(home, ref, cancer_rows[:5])
            assert out["predictions"] == want_labels
            assert_close(out["probabilities"], want_proba)
        # a split's percent is fixed: only a canary steps
        assert client.post("/admin/routing", json={"percent": 50}).status_code == 409
        text = client.get("/metrics").text
        assert metric(text, "prodline_challenger_percent", model="cancer", mode="split") == 30
        assert metric(text, "prodline_requests_total", version="2", role="challenger") > 0


def test_split_is_sticky_on_a_field_of_the_row(serve, cancer_rows) -> None:
    server = serve("cancer", "--challenger", "staging", "--mode", "split", "--percent", "50",
                   "--sticky", "field:customer_id")  # fmt: skip
    with server.client() as client:
        versions = {}
        for i in range(40):
            row = {**cancer_rows[i % 5], "customer_id": f"id-{i}"}
            response = client.post("/invocations", json={"dataframe_records": [row]})
            assert response.status_code == 200, response.text
            versions[f"id-{i}"] = response.headers["x-prodline-version"]
        for i in range(40):
            row = {**cancer_rows[0], "customer_id": f"id-{i}"}
            response = client.post("/invocations", json={"dataframe_records": [row]})
            assert response.headers["x-prodline-version"] == versions[f"id-{i}"]
        assert set(versions.values()) == {"cancer/1", "cancer/2"}


def _shares(client, keys, row):
    out = {}
    for key in keys:
        response = client.post("/invocations", json=_body(row), headers={"x-user": key})
        assert response.status_code == 200
        out[key] = response.headers["x-prodline-version"] == "cancer/2"
    return out


def test_a_canary_steps_up_while_serving_and_keeps_its_users(serve, cancer_rows) -> None:
    server = serve("cancer", "--challenger", "2", "--mode", "canary", "--percent", "10",
                   "--step", "20", "--sticky", "header:X-User")  # fmt: skip
    keys = [f"user-{i}" for i in range(150)]
    row = cancer_rows[1]
    with server.client() as client:
        at_10 = _shares(client, keys, row)
        assert sum(at_10.values()) == sum(bucket("cancer", k) < 1000 for k in keys)
        response = client.post("/admin/routing", json={"step": True})
        assert response.status_code == 200 and response.json()["percent"] == 30
        at_30 = _shares(client, keys, row)
        assert sum(at_30.values()) == sum(bucket("cancer", k) < 3000 for k in keys)
        assert all(at_30[k] for k in keys if at_10[k]), "a canary user went back to the champion"
        assert client.post("/admin/routing", json={"percent": 100}).json()["percent"] == 100
        assert all(_shares(client, keys[:20], row).values())
        assert client.post("/admin/routing", json={"percent": 0}).status_code == 200
        assert not any(_shares(client, keys[:20], row).values())
        assert client.post("/admin/routing", json={"percent": 120}).status_code == 400
        assert client.post("/admin/routing", json={"nothing": 1}).status_code == 400
        assert client.get("/admin/routing").json()["mode"] == "canary"


def test_a_routing_file_change_applies_while_serving(serve, cancer_rows, tmp_path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("challenger: staging\nmode: canary\npercent: 0\n")
    server = serve("cancer", "--config", str(routing), "--reload-interval", "0.2")
    row = cancer_rows[2]
    with server.client() as client:
        assert client.post("/invocations", json=_body(row)).headers["x-prodline-version"] == (
            "cancer/1"
        )
        routing.write_text("challenger: staging\nmode: canary\npercent: 100\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            version = client.post("/invocations", json=_body(row)).headers["x-prodline-version"]
            if version == "cancer/2":
                break
            time.sleep(0.1)
        assert version == "cancer/2"
        assert client.get("/admin/routing").json()["percent"] == 100


def test_shadow_gets_a_copy_and_never_slows_or_fails_the_caller(serve, cancer_rows, home) -> None:
    # version 4 sleeps 0.25 s per call and raises on a negative first feature
    server = serve("cancer", "--challenger", "4", "--mode", "shadow",
                   "--log-flush-interval", "0.1")  # fmt: skip
    elapsed, ids = [], []
    with server.client() as client:
        for i in range(12):
            row = dict(cancer_rows[i])
            if i in (3, 7):
                row["mean_radius"] = -1.0  # valid for the contract, fatal for the challenger
            start = time.perf_counter()
            response = client.post("/invocations", json=_body(row))
            elapsed.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            assert response.headers["x-prodline-version"] == "cancer/1"
            ids.append(response.headers["x-request-id"])
        assert sorted(elapsed)[len(elapsed) // 2] < 0.2, elapsed  # the challenger takes 0.25 s
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = client.get("/metrics").text
            done = sum(metric(text, "prodline_shadow_requests_total", version="4", outcome=o)
                       for o in ("ok", "error"))  # fmt: skip
            if done >= 12:
                break
            time.sleep(0.2)
        assert metric(text, "prodline_shadow_requests_total", version="4", outcome="error") == 2
        assert metric(text, "prodline_shadow_requests_total", version="4", outcome="ok") == 10
        assert metric(text, "prodline_requests_total", version="4") == 0  # never answered
    server.stop_gracefully()
    logs = _context.store().read_predictions("cancer")
    by_role = {}
    for log in logs:
        by_role.setdefault(log.role, set()).add((log.request_id, log.version))
    assert by_role["champion"] == {(rid, 1) for rid in ids}
    assert by_role["shadow"] == {(rid, 4) for i, rid in enumerate(ids) if i not in (3, 7)}
