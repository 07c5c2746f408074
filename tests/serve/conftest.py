"""Fixtures for the serving tests: the test models (built once, cached), copies of their
prodline home, and servers started as real ``prodline serve`` processes on free
loopback ports, driven over HTTP with httpx."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import prodline
from tests.serve.fleet import CANCER_FEATURES, ROOT, TRUST, cached_fleet, cancer_frames

START_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def fleet(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prodline home holding the test models (do not write to it: copy it). Cached
    in pytest's cache directory between sessions when the cache is on."""
    cache = getattr(pytestconfig, "cache", None)
    root = cache.mkdir("prodline-serve-fleet") if cache else tmp_path_factory.mktemp("fleet")
    return cached_fleet(root)


def copy_home(fleet: Path, target: Path) -> Path:
    shutil.copytree(fleet, target)
    return target


@pytest.fixture
def home(fleet: Path, tmp_path: Path) -> Path:
    """A private copy of the fleet home, and prodline pointed at it."""
    served = copy_home(fleet, tmp_path / "served")
    prodline.init(home=served)
    return served


@pytest.fixture(scope="module")
def module_home(fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fleet home shared by one test module's server."""
    return copy_home(fleet, tmp_path_factory.mktemp("served") / "home")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``prodline serve`` subprocess."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, home: Path, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.home = home
        self.log = log

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **options)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the server and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(
                    f"server did not exit in {timeout} s:\n{self.output()}"
                ) from None
        return self.process.returncode

    def stop_gracefully(self) -> None:
        """SIGTERM, and check the server shut down cleanly (uvicorn re-raises the
        signal after its graceful shutdown, so the exit status is -SIGTERM)."""
        code = self.stop(signal.SIGTERM)
        output = self.output()
        assert code in (0, -signal.SIGTERM), output
        assert "Application shutdown complete" in output, output
        assert "Traceback" not in output, output


def start_server(home: Path, *args: str, log_dir: Path, wait: bool = True) -> Server:
    """Start ``prodline --home HOME serve ARGS`` on a free port and wait until ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env["PYTHONPATH"] = str(ROOT)
    log = log_dir / f"server-{port}.log"
    command = [sys.executable, "-m", "prodline.cli.main", "--home", str(home), "serve", *args]
    if "--port" not in args:
        command += ["--port", str(port)]
    if "--trust" not in args:
        command += ["--trust", TRUST]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, port, home, log)
    if wait:
        wait_ready(server)
    return server


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            if httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise AssertionError(f"server not ready in {START_TIMEOUT_S} s:\n{server.output()}")


@pytest.fixture
def serve(home: Path, tmp_path: Path) -> Iterator[Any]:
    """``serve("cancer", "--mode", ...)`` starts a server on this test's home; every
    server is stopped at the end of the test."""
    started: list[Server] = []

    def start(*args: str, wait: bool = True) -> Server:
        server = start_server(home, *args, log_dir=tmp_path, wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def cancer_server(module_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module: cancer@production, a 64 KiB body limit."""
    server = start_server(
        module_home, "cancer", "--max-body-size", "64KiB", "--reload-interval", "0",
        log_dir=tmp_path_factory.mktemp("logs"),
    )  # fmt: skip
    yield server
    server.stop_gracefully()


@pytest.fixture(scope="session")
def cancer_rows() -> list[dict[str, float]]:
    """Held-out rows of the cancer features, as JSON-ready dicts."""
    _, test = cancer_frames()
    return [
        {k: float(v) for k, v in row.items()} for row in test[CANCER_FEATURES].to_dict("records")
    ]


def expected(home: Path, ref: str, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """What the model itself predicts for ``rows`` (labels, probabilities)."""
    import pandas as pd

    prodline.init(home=home)
    model = prodline.load_model(ref, extra_trusted=(TRUST,))
    frame = pd.DataFrame(rows)
    return model.predict(frame).tolist(), model.predict_proba(frame).tolist()


def assert_close(got: Any, want: Any, atol: float = 1e-5) -> None:
    import numpy as np

    np.testing.assert_allclose(
        np.asarray(got, dtype=float), np.asarray(want, dtype=float), atol=atol
    )


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total
