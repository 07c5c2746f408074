"""Which code made a run: a git commit and diff, or the script or notebook source itself.

Many users have no git, so the source of the running script (or the cells executed so
far in IPython/Jupyter) is always kept as an artifact when there is one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIT_TIMEOUT_S = 5
MAX_SOURCE_BYTES = 5_000_000


@dataclass
class CodeCapture:
    """``info`` goes into the run record; ``files`` (artifact path -> bytes) into artifacts."""

    info: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def capture_code() -> CodeCapture:
    """Capture the code of this process: entry script, git state, or notebook cells."""
    cells = _ipython_cells()
    if cells is not None:
        info: dict[str, Any] = {"kind": "notebook", "cells": len(cells), "cwd": os.getcwd()}
        source = "\n\n".join(f"# In[{i + 1}]:\n{cell}" for i, cell in enumerate(cells))
        capture = CodeCapture(info, {"code/notebook_cells.py": source.encode()})
        _add_git(capture, Path.cwd())
        return capture
    script = _entry_script()
    if script is None:
        capture = CodeCapture({"kind": "interactive", "cwd": os.getcwd()})
        _add_git(capture, Path.cwd())
        return capture
    info = {
        "kind": "script",
        "entrypoint": str(script),
        "argv": list(sys.argv[1:]),
        "cwd": os.getcwd(),
    }
    capture = CodeCapture(info)
    if script.stat().st_size <= MAX_SOURCE_BYTES:
        capture.files[f"code/{script.name}"] = script.read_bytes()
        info["source_artifact"] = f"code/{script.name}"
    _add_git(capture, script.parent)
    return capture


def _entry_script() -> Path | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return None
    script = Path(path).resolve()
    if not script.is_file() or script.suffix != ".py" or _installed(script):
        return None  # e.g. `python -m pytest`: a tool's entry point, not the user's code
    return script


def _installed(path: Path) -> bool:
    """Whether ``path`` belongs to an installed package or the interpreter itself."""
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return "site-packages" in path.parts or any(root in path.parents for root in roots)


def _ipython_cells() -> list[str] | None:
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return None
    shell = shell_module.get_ipython() if hasattr(shell_module, "get_ipython") else None
    if shell is None:
        return None
    history = shell.user_ns.get("In", [])
    return [cell for cell in history if isinstance(cell, str) and cell.strip()]


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.decode(errors="replace") if result.returncode == 0 else None


def _add_git(capture: CodeCapture, where: Path) -> None:
    root = _git(["rev-parse", "--show-toplevel"], where)
    if root is None:
        return
    commit = _git(["rev-parse", "HEAD"], where)
    diff = _git(["diff", "HEAD", "--binary"], where) or ""
    untracked = _git(["ls-files", "--others", "--exclude-standard"], where) or ""
    capture.info["git"] = {
        "root": root.strip(),
        "commit": commit.strip() if commit else None,
        "dirty": bool(diff.strip()),
        "untracked": [line for line in untracked.splitlines() if line][:200],
    }
    if diff.strip() and len(diff) <= MAX_SOURCE_BYTES:
        capture.files["code/git.diff"] = diff.encode()
        capture.info["git"]["diff_artifact"] = "code/git.diff"
    elif diff.strip():
        capture.info["git"]["diff_omitted"] = f"{len(diff):,} bytes, over the capture limit"
