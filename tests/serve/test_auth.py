"""API keys: off by default on loopback, required elsewhere unless --no-auth; a missing
or wrong key is 401 everywhere but the health probes. And the serve command's own
refusals: one line, exit 2, before anything listens."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prodline.errors import ConfigError
from prodline.serve.auth import ApiKeys
from prodline.serve.config import ServeConfig, is_loopback
from tests.serve.conftest import free_port
from tests.serve.fleet import ROOT


def test_loopback_serves_without_keys(serve, cancer_rows) -> None:
    server = serve("cancer", "--no-log-predictions")
    with server.client() as client:
        assert client.post("/invocations", json={"dataframe_records": cancer_rows[:1]}).is_success
        assert client.get("/metrics").status_code == 200


def test_keys_guard_every_route_but_the_health_probes(serve, cancer_rows, tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nkey-from-file\n\n")
    server = serve("cancer", "--api-key", "key-one", "--api-keys-file", str(keys),
                   "--no-log-predictions")  # fmt: skip
    body = {"dataframe_records": cancer_rows[:1]}
    v2 = {"inputs": [{"name": c, "datatype": "FP64", "shape": [1], "data": [v]}
                     for c, v in cancer_rows[0].items()]}  # fmt: skip
    with server.client() as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "key-on"},
                        {"authorization": "Basic key-one"}):  # fmt: skip
            response = client.post("/invocations", json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error_code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["x-request-id"]
        assert client.get("/metrics").headers["x-request-id"]  # a 401 from the other routes
        for path in ("/metrics", "/docs", "/openapi.json", "/v2/models/cancer", "/admin/routing"):
            assert client.get(path).status_code == 401, path
        assert client.post("/v2/models/cancer/infer", json=v2).status_code == 401
        assert client.post("/feedback", json={"request_id": "a", "label": 1}).status_code == 401
        for path in ("/health", "/ping", "/v2/health/live", "/v2/health/ready"):
            assert client.get(path).status_code == 200, path
        ok = client.post("/invocations", json=body, headers={"authorization": "Bearer key-one"})
        assert ok.status_code == 200
        assert (
            client.post(
                "/invocations", json=body, headers={"x-api-key": "key-from-file"}
            ).status_code
            == 200
        )
        assert (
            client.post(
                "/v2/models/cancer/infer", json=v2, headers={"x-api-key": "key-one"}
            ).status_code
            == 200
        )
        assert client.get("/metrics", headers={"x-api-key": "key-one"}).status_code == 200
        spec = client.get("/openapi.json", headers={"x-api-key": "key-one"}).json()
        assert spec["security"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
     ("example.com", False)],
)  # fmt: skip
def test_auth_defaults_by_address(host, loopback) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        assert ServeConfig(model="m", host=host).auth_enabled is False
        assert ServeConfig(model="m", host=host, api_keys=("k",)).auth_enabled is True
    else:
        with pytest.raises(ConfigError, match="--no-auth"):
            ServeConfig(model="m", host=host)
        assert ServeConfig(model="m", host=host, api_keys=("k",)).auth_enabled is True
        assert ServeConfig(model="m", host=host, auth=False).auth_enabled is False


def test_api_keys_compare_whole_keys() -> None:
    keys = ApiKeys(["alpha", "beta"])
    assert keys.accepts(b"alpha") and keys.accepts(b"beta")
    assert not keys.accepts(b"alph") and not keys.accepts(b"") and not keys.accepts(None)
    assert keys.check_headers([(b"authorization", b"bearer alpha")])
    assert not keys.check_headers([(b"authorization", b"alpha")])


def _prodline(home, *args):
    return subprocess.run(
        [sys.executable, "-m", "prodline.cli.main", "--home", str(home), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["serve", "cancer", "--host", "0.0.0.0"], "--no-auth"),
        (["serve", "cancer", "--alias", "staging", "--version", "2"], "not both"),
        (["serve", "cancer/2", "--alias", "staging"], "already names"),
        (["serve", "nope"], "nope"),
        (["serve", "cancer", "--alias", "nowhere"], "nowhere"),
        (["serve", "cancer", "--mode", "split"], "challenger"),
        (["serve", "cancer", "--challenger", "2", "--percent", "140"], "0 to 100"),
        (["serve", "cancer", "--challenger", "2", "--sticky", "cookie:x"], "header:NAME"),
        (["serve", "cancer", "--config", "missing.yaml"], "cannot read routing file"),
        (["serve", "cancer", "--max-body-size", "lots"], "not a size"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(home, args, fragment) -> None:
    result = _prodline(home, *args, "--port", str(free_port()))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_routing_file_and_routing_options_do_not_mix(home, tmp_path) -> None:
    routing = tmp_path / "routing.json"
    routing.write_text('{"challenger": "2", "mode": "shadow"}')
    result = _prodline(home, "serve", "cancer", "--config", str(routing), "--percent", "5")
    assert result.returncode == 2 and "--percent" in result.stderr
