"""``prodline build``: the Docker build context, tested without Docker by installing it
into a fresh virtualenv and calling its entrypoint over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from prodline.cli.main import app
from tests.serve.conftest import Server, expected, free_port, wait_ready


def _build(home: Path, out: Path, *args: str):
    return CliRunner().invoke(
        app, ["--home", str(home), "build", "cancer", "-o", str(out), *args], prog_name="prodline"
    )


def test_the_context_holds_everything_the_image_needs(home, tmp_path) -> None:
    out = tmp_path / "ctx"
    result = _build(home, out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ref"] == "cancer/1"
    for name in ("Dockerfile", "requirements.txt", "README.md", ".dockerignore",
                 "model/serving.json", "model/contract.json", "model/package/manifest.json",
                 "model/package/model.onnx", "prodline-src/pyproject.toml",
                 "prodline-src/prodline/serve/standalone.py",
                 "prodline-src/prodline/store/migrations/env.py"):  # fmt: skip
        assert (out / name).is_file(), name
    assert not list(out.rglob("__pycache__"))
    dockerfile = (out / "Dockerfile").read_text()
    assert '"prodline.serve.standalone", "/app/model"' in dockerfile
    assert "USER prodline" in dockerfile and "HEALTHCHECK" in dockerfile
    requirements = (out / "requirements.txt").read_text().splitlines()[1:]
    assert all("==" in line for line in requirements)
    names = {line.split("==")[0].lower().replace("_", "-") for line in requirements}
    assert {"onnxruntime", "scikit-learn", "skops", "starlette", "uvicorn", "orjson",
            "prometheus-client", "numpy", "sqlalchemy"} <= names  # fmt: skip
    assert json.loads((out / "model/serving.json").read_text())["version"] == 1
    again = _build(home, out)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert _build(home, out, "--force", "--version", "2").exit_code == 0
    assert json.loads((out / "model/serving.json").read_text())["ref"] == "cancer/2"


def test_the_standalone_entrypoint_checks_the_package(home, tmp_path) -> None:
    out = tmp_path / "ctx"
    assert _build(home, out).exit_code == 0
    onnx = out / "model/package/model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
    result = subprocess.run(
        [sys.executable, "-m", "prodline.serve.standalone", str(out / "model"), "--port",
         str(free_port())],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "model.onnx" in result.stderr


@pytest.mark.slow
def test_the_context_installs_and_serves_in_a_fresh_virtualenv(home, tmp_path, cancer_rows) -> None:
    out = tmp_path / "ctx"
    assert _build(home, out).exit_code == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile"]
    for args in (["-r", str(out / "requirements.txt")], ["--no-deps", str(out / "prodline-src")]):
        done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    workdir = tmp_path / "run"  # not the repository: only the fresh venv's prodline is seen
    workdir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODLINE_", "PYTHON"))}
    log = tmp_path / "standalone.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(python), "-m", "prodline.serve.standalone", str(out / "model"), "--port",
             str(port)],
            cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, port, home, log)
    try:
        wait_ready(server)
        where = subprocess.run(
            [str(python), "-c", "import prodline; print(prodline.__file__)"],
            capture_output=True, text=True, cwd=workdir, env=env, check=True,
        )  # fmt: skip
        assert str(venv) in where.stdout
        rows = cancer_rows[:4]
        response = httpx.post(f"{server.url}/invocations", json={"dataframe_records": rows})
        assert response.status_code == 200, response.text
        assert response.headers["x-prodline-version"] == "cancer/1"
        labels, _ = expected(home, "cancer/1", rows)
        assert response.json()["predictions"] == labels
        bad = httpx.post(f"{server.url}/invocations", json={"dataframe_records": [{"x": 1}]})
        assert bad.status_code == 422
        feedback = httpx.post(f"{server.url}/feedback", json={"request_id": "a", "label": 1})
        assert feedback.status_code == 503
        assert httpx.get(f"{server.url}/health").json()["prediction_log"] is None
    finally:
        server.stop_gracefully()
    assert not (workdir / ".prodline").exists(), "the standalone server touched a store"
    shutil.rmtree(venv, ignore_errors=True)
