"""Run ``prodline serve`` as a real subprocess for the demo, and talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prodline.errors import ProdlineError


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoServer:
    """``prodline serve MODEL`` on loopback, with fast hot reload and log flushing."""

    def __init__(self, model: str, home: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
        env["PRODLINE_HOME"] = str(home)
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prodline.cli.main", "serve", model, "--port", str(self.port),
             "--reload-interval", "1", "--log-flush-interval", "0.2"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, client: Any, timeout: float = 60.0) -> dict[str, Any]:
        """Block until ``/health`` answers; return its body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProdlineError(f"the model server exited with code {self.process.returncode}")
            try:
                response = client.get(f"{self.url}/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        raise ProdlineError(f"the model server did not become ready within {timeout:.0f} s")

    def stop(self) -> int:
        """Graceful shutdown (SIGTERM: queued prediction logs are flushed first)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode
