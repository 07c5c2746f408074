"""``prodline build``: a Dockerfile and build context that serve one model version
without a prodline store.

The context::

    Dockerfile          python:3.11-slim, non-root user, health check, the entrypoint
    requirements.txt    every runtime package pinned to the version installed here
    prodline-src/       this prodline, as an installable source tree
    model/              serving.json, contract.json and package/ (hash-checked at start)
    README.md           how to build, run and call it
    .dockerignore

The entrypoint is ``python -m prodline.serve.standalone /app/model``. It binds
0.0.0.0, so API keys are on by default: mount a keys file at
``/run/secrets/prodline-api-keys`` (one key per line), or override the command with
``--no-auth``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prodline.errors import InvalidValueError

BASE_IMAGE = "python:3.11-slim"
SERVE_PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "orjson", "prometheus-client")
MODEL_PACKAGES = ("scikit-learn", "skops")
ONNX_PACKAGES = ("onnxruntime",)


@dataclass
class BuildContext:
    """What ``build_context`` wrote."""

    directory: Path
    ref: str
    requirements: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ref": self.ref,
            "requirements": self.requirements,
            "files": self.files,
        }


def build_context(
    ref: str,
    output: str | Path,
    *,
    port: int = 8080,
    base_image: str = BASE_IMAGE,
    overwrite: bool = False,
) -> BuildContext:
    """Write the Docker build context for ``ref`` (``churn``, ``churn@staging``,
    ``churn/3``) into ``output``."""
    import prodline
    from prodline.registry.api import materialize

    out = Path(output)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InvalidValueError(
            f"{out} exists and is not empty; choose a new directory or pass --force."
        )
    record = prodline.get_model_version(ref).record
    source = materialize(record)  # files checked against their recorded hashes
    if out.exists():
        shutil.rmtree(out)
    model_dir = out / "model"
    model_dir.mkdir(parents=True)
    shutil.copy2(source / "contract.json", model_dir / "contract.json")
    shutil.copytree(source / "package", model_dir / "package")
    (model_dir / "serving.json").write_text(
        json.dumps(
            {
                "model": record.model,
                "version": record.version,
                "ref": record.ref,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "prodline": prodline.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    onnx = (model_dir / "package" / "model.onnx").is_file()
    requirements = pinned_requirements(onnx=onnx)
    (out / "requirements.txt").write_text(
        f"# Runtime packages of {record.ref}, pinned to the versions it was built with.\n"
        + "\n".join(requirements)
        + "\n"
    )
    _copy_prodline(out / "prodline-src")
    (out / "Dockerfile").write_text(dockerfile(base_image, port))
    (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    (out / "README.md").write_text(_readme(record.ref, port))
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return BuildContext(out, record.ref, requirements, files)


def dockerfile(base_image: str = BASE_IMAGE, port: int = 8080) -> str:
    return f"""\
# Serves one model version with prodline, without a prodline store.
FROM {base_image}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY prodline-src/ /tmp/prodline-src/
RUN pip install --no-cache-dir --no-deps /tmp/prodline-src && rm -rf /tmp/prodline-src
COPY model/ /app/model/
RUN useradd --system --no-create-home prodline
USER prodline
EXPOSE {port}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \\
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/v2/health/ready')"
ENTRYPOINT ["python", "-m", "prodline.serve.standalone", "/app/model", \\
            "--host", "0.0.0.0", "--port", "{port}"]
# API keys are required on 0.0.0.0: mount them here, or run the image with --no-auth.
CMD ["--api-keys-file", "/run/secrets/prodline-api-keys"]
"""


def pinned_requirements(*, onnx: bool) -> list[str]:
    """``name==version`` for every package the standalone server needs, with all their
    dependencies, as installed in this environment."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    environment = {**default_environment(), "extra": ""}
    roots = [*_base_requirements(), *SERVE_PACKAGES, *MODEL_PACKAGES]
    if onnx:
        roots += ONNX_PACKAGES
    pins: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = _canonical(name)
        if key in pins or key == "prodline":
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # optional and not installed here (e.g. uvloop on Windows)
        pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(requirement.name)
    return sorted(pins.values(), key=str.lower)


def _base_requirements() -> list[str]:
    from packaging.requirements import Requirement

    try:
        texts = metadata.requires("prodline") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        texts = []
    return [Requirement(t).name for t in texts if "extra ==" not in t]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _copy_prodline(target: Path) -> None:
    """This prodline's package, plus a minimal pyproject.toml to install it from."""
    from packaging.requirements import Requirement

    import prodline

    package = Path(prodline.__file__).resolve().parent
    shutil.copytree(
        package, target / "prodline", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    try:
        texts = metadata.requires("prodline") or []
    except metadata.PackageNotFoundError:  # pragma: no cover
        texts = []
    dependencies = [str(Requirement(t)) for t in texts if "extra ==" not in t]
    (target / "pyproject.toml").write_text(
        f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "prodline"
version = "{prodline.__version__}"
requires-python = ">=3.11"
dependencies = {json.dumps(dependencies)}

[tool.setuptools.packages.find]
include = ["prodline*"]

[tool.setuptools.package-data]
"*" = ["*.json", "*.py", "*.mako", "*.typed", "*.html", "*.css", "*.js"]
"""
    )


def _readme(ref: str, port: int) -> str:
    return f"""\
# {ref}, served by prodline

Build and run:

    docker build -t {ref.replace("/", "-")} .
    printf '%s\\n' "$(openssl rand -hex 24)" > api-keys
    docker run -p {port}:{port} \\
      -v "$PWD/api-keys:/run/secrets/prodline-api-keys:ro" {ref.replace("/", "-")}

Call it (the key from `api-keys`):

    curl -s http://127.0.0.1:{port}/invocations -H "Authorization: Bearer $KEY" \\
      -H 'Content-Type: application/json' -d @request.json

Without Docker, in a fresh virtualenv:

    pip install -r requirements.txt && pip install --no-deps ./prodline-src
    python -m prodline.serve.standalone model --port {port}

Endpoints, formats and errors: open http://127.0.0.1:{port}/docs on the running server.
The model files in `model/package/` are checked against the digest in
`model/contract.json` before anything is loaded.
"""
