"""``@step``: a plain function that a pipeline runs as a tracked, cached unit.

Outside a pipeline a step is just its function. Inside a ``@pipeline`` function,
calling it records a node of the DAG and returns a placeholder (see ``graph``).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import json
import textwrap
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, overload

from prodline.errors import PipelineError
from prodline.pipelines.graph import current_builder

if TYPE_CHECKING:
    from prodline.tracking.run import Run

#: bump when the way outputs are stored changes: every cached result is then stale
CACHE_FORMAT = 1

_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "prodline_step_run", default=None
)


class Step:
    """A function wrapped by ``@step``. Call it like the function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        allow_pickle: bool = False,
        files: str | Sequence[str] = (),
        outputs: int | None = None,
        extra_trusted: Sequence[str] = (),
        num_cpus: float = 1,
    ) -> None:
        from prodline.store.checks import check_name

        if not callable(fn):
            raise PipelineError(f"@step decorates a function, not {type(fn).__name__}.")
        self.fn = fn
        self.name = check_name(name or fn.__name__, "step")
        self.cache = bool(cache)
        self.allow_pickle = bool(allow_pickle)
        self.files = (files,) if isinstance(files, str) else tuple(files)
        if outputs is not None and (not isinstance(outputs, int) or outputs < 1):
            raise PipelineError(f"@step(outputs=...) takes a positive integer, not {outputs!r}.")
        self.n_outputs = outputs if outputs is not None else _declared_outputs(fn)
        self.extra_trusted = tuple(
            t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}" for t in extra_trusted
        )
        if not isinstance(num_cpus, int | float) or num_cpus <= 0:
            raise PipelineError(f"@step(num_cpus=...) must be positive, not {num_cpus!r}.")
        self.num_cpus = num_cpus
        self.source = function_source(fn)
        self.code_fingerprint = _code_fingerprint(self)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add(self, args, kwargs)

    def options(self) -> dict[str, Any]:
        """The options that shape the step's results (part of its code fingerprint)."""
        return {
            "name": self.name,
            "cache": self.cache,
            "allow_pickle": self.allow_pickle,
            "files": list(self.files),
            "outputs": self.n_outputs,
            "extra_trusted": list(self.extra_trusted),
        }


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    cache: bool = True,
    allow_pickle: bool = False,
    files: str | Sequence[str] = (),
    outputs: int | None = None,
    extra_trusted: Sequence[str] = (),
    num_cpus: float = 1,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a pipeline step: ``@step`` or ``@step(option=...)``.

    Options:
        name: the step's name (default: the function's name).
        cache: reuse the stored output when inputs and code are unchanged (default True).
        allow_pickle: store outputs that have no safe format as pickles (default False).
        files: glob(s), relative to the working folder, of files the step reads; their
            content joins the input fingerprint, so new or changed files re-run it.
        outputs: how many items the step returns as a tuple, so ``a, b = split(df)``
            works inside a pipeline (also read from a ``-> tuple[A, B]`` annotation).
        extra_trusted: further types to trust when storing/loading estimators with skops.
        num_cpus: CPUs a step reserves on the Ray runner (default 1).
    """
    if fn is not None:
        if options:
            raise PipelineError("Use @step or @step(option=...), not both.")
        return Step(fn)

    def decorate(function: Callable[..., Any]) -> Step:
        return Step(function, **options)

    return decorate


def current_run() -> Run:
    """The tracked run of the step executing now: log metrics, artifacts or a model to it
    (``current_run().log_model(...)``). Outside a step, the active run if there is one."""
    run = _current_run.get()
    if run is not None:
        return run
    from prodline.tracking.api import active_run

    active = active_run()
    if active is None:
        from prodline.errors import RunStateError

        raise RunStateError(
            "current_run() is only available while a pipeline runs a step (or inside "
            "prodline.start_run()); run the pipeline, or start a run first."
        )
    return active


def set_current_run(run: Run | None) -> contextvars.Token[Run | None]:
    return _current_run.set(run)


def reset_current_run(token: contextvars.Token[Run | None]) -> None:
    _current_run.reset(token)


# ---------------------------------------------------------------------- fingerprints
def function_source(fn: Callable[..., Any]) -> str:
    """The function's source (dedented), or a description of its bytecode when the
    source is not available (functions typed at an interactive prompt)."""
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        if code is None:
            return repr(fn)
        return "# source not available; bytecode:\n" + _describe_code(code)


def _describe_code(code: Any) -> str:
    parts = [code.co_code.hex(), repr(code.co_names), repr(code.co_varnames)]
    for const in code.co_consts:
        parts.append(_describe_code(const) if hasattr(const, "co_code") else repr(const))
    return "\n".join(parts)


def _code_fingerprint(step: Step) -> str:
    body = {"format": CACHE_FORMAT, "source": step.source, "options": step.options()}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _declared_outputs(fn: Callable[..., Any]) -> int | None:
    """2 for ``-> tuple[A, B]``; None when the return annotation says nothing fixed."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args and Ellipsis not in args and args != ((),):
            return len(args)
    return None


def return_class(fn: Callable[..., Any]) -> type | None:
    """The class a step's return annotation names, when it is a plain class to check."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    if isinstance(hint, type) and hint not in (object, type(None)):
        return hint
    return None
