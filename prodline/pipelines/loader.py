"""Find pipelines: every ``@pipeline`` object at the top level of a file or a module."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import os
import sys
import types
from pathlib import Path
from types import ModuleType

from prodline.errors import NotFoundError, PipelineError
from prodline.pipelines.pipeline import Pipeline

DEFAULT_FILE = "pipelines.py"


def load_pipelines(
    file: str | os.PathLike[str] | None = None, module: str | None = None
) -> dict[str, Pipeline]:
    """The pipelines defined in ``file`` (default ``pipelines.py`` in the working folder)
    or in the importable ``module``, by name.

    A file is executed afresh on every call (so a long-running watcher sees edits); its
    folder is put on ``sys.path`` first, so it can import its neighbours.
    """
    if file is not None and module is not None:
        raise PipelineError("Give a pipelines file or a module, not both.")
    loaded = (
        _import_module(module) if module is not None else _exec_file(Path(file or DEFAULT_FILE))
    )
    found: dict[str, Pipeline] = {}
    for value in vars(loaded).values():
        if isinstance(value, Pipeline):
            other = found.get(value.name)
            if other is not None and other is not value:
                raise PipelineError(
                    f"Two pipelines in {_where(loaded)} are named {value.name!r}; give one of "
                    "them another name with @pipeline(name=...)."
                )
            found[value.name] = value
    return dict(sorted(found.items()))


def get_pipeline(
    name: str, file: str | os.PathLike[str] | None = None, module: str | None = None
) -> Pipeline:
    """One pipeline by name from a file or module (see :func:`load_pipelines`)."""
    found = load_pipelines(file, module)
    if name not in found:
        known = ", ".join(found) or "none"
        where = module or str(file or DEFAULT_FILE)
        raise NotFoundError(f"No pipeline named {name!r} in {where}. Pipelines there: {known}.")
    return found[name]


def _exec_file(path: Path) -> ModuleType:
    path = path.expanduser()
    if not path.is_file():
        hint = (
            "pass --file PATH or --module NAME" if path.name == DEFAULT_FILE else "check the path"
        )
        raise NotFoundError(f"No pipelines file {str(path)!r} (in {os.getcwd()}): {hint}.")
    resolved = path.resolve()
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"_prodline_pipelines_{resolved.stem}_{digest}"
    source = resolved.read_text(encoding="utf-8")
    filename = str(resolved)
    # Compile what was just read (no .pyc: its mtime check has one-second resolution) and
    # give inspect exactly that text, so code fingerprints match the code that runs.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    loaded = types.ModuleType(name)
    loaded.__file__ = filename
    loaded.__spec__ = importlib.util.spec_from_loader(name, loader=None, origin=filename)
    loaded.__prodline_loaded_from__ = filename  # type: ignore[attr-defined]
    previous = sys.modules.get(name)
    sys.modules[name] = loaded  # steps' functions must be findable while it runs
    try:
        exec(compile(source, filename, "exec"), loaded.__dict__)  # noqa: S102 - the user's file
    except Exception as exc:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise PipelineError(
            f"Loading {path} failed: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    return loaded


def _import_module(name: str) -> ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise NotFoundError(
                f"No module named {name!r} (from {cwd}); check --module and the working folder."
            ) from None
        raise PipelineError(f"Importing {name} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise PipelineError(
            f"Importing {name} failed: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _where(module: ModuleType) -> str:
    return getattr(module, "__prodline_loaded_from__", None) or module.__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
