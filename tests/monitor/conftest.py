"""Fixtures for the monitoring tests: a registry with two versions of a real model
(registered once per session, copied into each test's home), prediction logs written
the way the model server writes them, and a local HTTP receiver for webhooks."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import prodline
from prodline import _context

MODEL = "cancer"
#: why the browser tests were skipped (reported at the end of the session)
BROWSER_SKIPS: list[str] = []
DAY = 86_400_000
#: a UTC midnight: day windows start here
T0 = 1_700_006_400_000


def cancer_frame() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


@dataclass
class Registry:
    """The session's registered model: its home (to copy), data and estimators."""

    home: Path
    frame: pd.DataFrame
    champion: Any  # fitted estimator of version 1 (production)
    challenger: Any  # version 2

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.drop(columns="target")


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from prodline.monitor.reference import load_reference

    home = tmp_path_factory.mktemp("monitor-registry") / "home"
    prodline.init(home=home)
    frame = cancer_frame()
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])
    X, y = train.drop(columns="target"), train["target"]
    estimators = []
    with pytest.MonkeyPatch.context() as patch:
        # the contract's latency measurement (seconds of single-row calls) plays no part
        # in monitoring: skip it to keep the suite fast
        patch.setattr("prodline.contract.build._latency", lambda *a, **k: {})
        for C in (1.0, 0.01):
            est = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
            est.fit(X, y)
            with prodline.start_run(
                "monitor", capture_code=False, capture_environment=False
            ) as run:
                run.log_model(
                    est,
                    MODEL,
                    train=train,
                    target="target",
                    eval=(test.drop(columns="target"), test["target"]),
                    owner="ana@example.com",
                    intended_use="monitoring tests",
                )
            estimators.append(est)
    prodline.set_alias(MODEL, "production", 1, reason="tests")
    for version in (1, 2):  # cache the prediction references in the template
        load_reference(MODEL, version)
    _context.reset()
    prodline.init()
    return Registry(home, frame, estimators[0], estimators[1])


@pytest.fixture
def registry(registry_template: Registry, isolated_home: Path) -> Registry:
    """The registered model, in this test's own home (a copy of the template)."""
    _context.reset()
    shutil.rmtree(isolated_home, ignore_errors=True)
    shutil.copytree(registry_template.home, isolated_home)
    prodline.init(home=isolated_home)
    return Registry(
        isolated_home,
        registry_template.frame,
        registry_template.champion,
        registry_template.challenger,
    )


def serve_rows(
    estimator: Any,
    X: pd.DataFrame,
    *,
    version: int,
    start_ms: int,
    step_ms: int = 1000,
    role: str = "champion",
    prefix: str = "r",
    request_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Prediction log rows as ``prodline serve`` writes them: one per input row, outputs
    ``{"prediction": label, "proba_0": p0, "proba_1": p1}``."""
    proba = estimator.predict_proba(X)
    labels = estimator.classes_[proba.argmax(axis=1)]
    rows = []
    for i, (record, p, label) in enumerate(
        zip(X.to_dict(orient="records"), proba, labels, strict=True)
    ):
        rows.append(
            {
                "model": MODEL,
                "version": version,
                "role": role,
                "request_id": request_ids[i] if request_ids else f"{prefix}{i}",
                "latency_ms": 1.0 + (i % 7) * 0.25,
                "timestamp": start_ms + i * step_ms,
                "inputs": {k: float(v) for k, v in record.items()},
                "outputs": {
                    "prediction": int(label),
                    "proba_0": float(p[0]),
                    "proba_1": float(p[1]),
                },
            }
        )
    return rows


def sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)


# ----------------------------------------------------------------------------- webhooks


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records every JSON body POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            received.append({"path": self.path, "body": body, "headers": dict(self.headers)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", received)
    finally:
        server.shutdown()
        server.server_close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BROWSER_SKIPS:
        terminalreporter.section("HTML report browser tests SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(BROWSER_SKIPS[0])
