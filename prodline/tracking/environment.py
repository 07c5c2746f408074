"""What the run ran on: Python, platform and installed package versions."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any


def capture_environment() -> dict[str, Any]:
    """A JSON-safe description of the interpreter, the machine and installed packages."""
    packages: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata.get("Name")
        if name:
            packages[name.lower()] = distribution.version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": dict(sorted(packages.items())),
    }
