"""Running one step: a self-contained task that works in this process or a Ray worker.

The driver resolves a node's arguments to stored blobs (kind + sha256 digest), computes
its cache key and builds a :class:`StepTask`. :func:`execute_task` then, wherever it
runs: points prodline at the driver's store, starts a tracked run, loads the inputs,
calls the function, stores the outputs as artifacts and ends the run (failed with the
traceback when the function raises). It returns a small :class:`StepResult`.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from prodline.pipelines import codec
from prodline.pipelines.graph import Const, Container, Node, Ref, map_spec

# tags every step run carries
TAG_PIPELINE = "prodline.pipeline"
TAG_PIPELINE_RUN = "prodline.pipeline_run"
TAG_STEP = "prodline.step"
TAG_NODE = "prodline.node"
TAG_TASK = "prodline.task"
TAG_CACHE_KEY = "prodline.cache_key"
OUTPUTS_ARTIFACT = "pipeline/outputs.json"
INPUTS_ARTIFACT = "pipeline/inputs.json"
TAG_WORKER = "prodline.worker"
PARAM_INPUT_FP = "prodline.input_fingerprint"
PARAM_CODE_FP = "prodline.code_fingerprint"


@dataclass(frozen=True)
class Blob:
    """A stored value: how to read it, where it is, and whether it may be a pickle."""

    kind: str
    digest: str
    allow_pickle: bool = False
    where: str = "value"
    items: tuple[Blob, ...] = ()  # the items of a whole tuple output (kind "tuple")


@dataclass
class StepTask:
    """Everything a worker needs to run one node; no open connections, no live objects
    beyond the step's function."""

    pipeline: str
    pipeline_run_id: str
    node_id: str
    step_name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]  # specs with Blob leaves
    kwargs: dict[str, Any]
    allow_pickle: bool
    extra_trusted: tuple[str, ...]
    n_outputs: int | None
    source: str
    input_fingerprint: str
    code_fingerprint: str
    cache_key: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    settings: dict[str, str] | None = None
    task_id: str = ""


@dataclass
class StepResult:
    """What a task reports back to the driver."""

    node_id: str
    status: str  # "finished" | "failed"
    run_id: str | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    started: str | None = None
    ended: str | None = None
    duration_s: float = 0.0
    worker: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------- driver side
def resolve_node(
    node: Node,
    outputs: dict[str, dict[str, Any]],
    pickles: dict[str, bool],
) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    """The node's arguments with every ref and constant as a :class:`Blob`, plus a
    JSON description of them (the input fingerprint's material). ``outputs`` holds the
    output descriptors of finished nodes; ``pickles`` whether each node allows pickle."""
    from prodline import _context

    artifacts = _context.artifacts()

    def leaf(spec: Any) -> Blob:
        if isinstance(spec, Ref):
            described = outputs[spec.node]
            items = described["items"]
            where = f"output of step {spec.node!r}"
            allow = pickles[spec.node]
            if spec.index is None:
                if described["multi"]:
                    parts = tuple(
                        Blob(item["kind"], item["digest"], allow, f"{where}[{i}]")
                        for i, item in enumerate(items)
                    )
                    joined = "".join(part.digest for part in parts).encode()
                    return Blob("tuple", hashlib.sha256(joined).hexdigest(), allow, where, parts)
                return Blob(items[0]["kind"], items[0]["digest"], allow, where)
            if not described["multi"]:
                raise IndexError(
                    f"step {spec.node!r} returned one value, not a tuple; it has no item "
                    f"{spec.index}"
                )
            if not 0 <= spec.index < len(items):
                raise IndexError(
                    f"step {spec.node!r} returned {len(items)} items; it has no item {spec.index}"
                )
            item = items[spec.index]
            return Blob(item["kind"], item["digest"], allow, f"{where}[{spec.index}]")
        assert isinstance(spec, Const)
        encoded = codec.encode(
            spec.value,
            where=f"argument of step {node.step.name!r}",
            allow_pickle=node.step.allow_pickle,
            extra_trusted=node.step.extra_trusted,
        )
        digest = artifacts.put_bytes(encoded.data)
        return Blob(encoded.kind, digest, node.step.allow_pickle, "constant argument")

    args = tuple(map_spec(spec, leaf) for spec in node.args)
    kwargs = {name: map_spec(spec, leaf) for name, spec in node.kwargs.items()}
    return args, kwargs, _describe_inputs(node, args, kwargs)


def _describe_inputs(node: Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Inputs by parameter name, so ``fit(df, 1.0)`` and ``fit(df, C=1.0)`` match."""
    signature = inspect.signature(node.step.fn)
    specs = signature.bind(*node.args, **node.kwargs).arguments
    values = signature.bind(*args, **kwargs).arguments
    described: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if name not in specs:
            continue
        spec, value = specs[name], values[name]
        if parameter.kind is parameter.VAR_POSITIONAL:
            described[name] = [_describe(s, v) for s, v in zip(spec, value, strict=True)]
        elif parameter.kind is parameter.VAR_KEYWORD:
            described[name] = {key: _describe(spec[key], value[key]) for key in sorted(spec)}
        else:
            described[name] = _describe(spec, value)
    return described


def _describe(spec: Any, value: Any) -> Any:
    if isinstance(value, Blob):
        entry: dict[str, Any] = {"kind": value.kind, "digest": value.digest}
        if isinstance(spec, Ref):
            entry["from"] = spec.node if spec.index is None else f"{spec.node}[{spec.index}]"
        return entry
    if isinstance(spec, Container):
        if spec.kind == "dict":
            return {"dict": {k: _describe(s, value[k]) for k, s in spec.items}}
        return {spec.kind: [_describe(s, v) for (_, s), v in zip(spec.items, value, strict=True)]}
    return value  # pragma: no cover - every leaf is a Blob


def fingerprint(value: Any) -> str:
    """sha256 of canonical JSON."""
    return hashlib.sha256(codec.canonical_json(value)).hexdigest()


def files_fingerprint(patterns: tuple[str, ...]) -> dict[str, str]:
    """Content digests of the files matching ``patterns`` (relative to the working
    folder), by path."""
    import glob

    from prodline.artifacts.store import sha256_file

    found: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(path):
                found[path] = sha256_file(path)
    return found


# ------------------------------------------------------------------- worker side
def execute_task(task: StepTask) -> StepResult:
    """Run one step as a tracked run. Never raises for a failure of the step itself."""
    import prodline
    from prodline.pipelines.step import reset_current_run, return_class, set_current_run

    _use_settings(task.settings)
    started = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    tags = {
        TAG_PIPELINE: task.pipeline,
        TAG_PIPELINE_RUN: task.pipeline_run_id,
        TAG_STEP: task.step_name,
        TAG_NODE: task.node_id,
        TAG_TASK: task.task_id,
        TAG_WORKER: worker,
    }
    run = prodline.start_run(
        task.pipeline, task.node_id, tags=tags, capture_code=False, capture_environment=False
    )
    result = StepResult(task.node_id, "failed", run.id, started=_now(), worker=worker)
    try:
        run.log_params(
            {
                PARAM_INPUT_FP: task.input_fingerprint,
                PARAM_CODE_FP: task.code_fingerprint,
                **{k: v for k, v in task.params.items() if not k.startswith("prodline.")},
            }
        )
        run.log_text(task.source, f"code/{task.step_name}.py")
        run.log_dict(task.inputs, INPUTS_ARTIFACT)
        args = tuple(_load(spec, task) for spec in task.args)
        kwargs = {name: _load(spec, task) for name, spec in task.kwargs.items()}
        token = set_current_run(run)
        try:
            value = task.fn(*args, **kwargs)
        finally:
            reset_current_run(token)
        expected = return_class(task.fn)
        if expected is not None and not _instance_of(value, expected):
            raise TypeError(
                f"step {task.step_name!r} is annotated to return {expected.__qualname__} but "
                f"returned {type(value).__qualname__}"
            )
        described = _store_outputs(run, task, value)
        run.log_dict(described, OUTPUTS_ARTIFACT)
        run.set_tag(TAG_CACHE_KEY, task.cache_key)
        run.end("finished")
        result.status = "finished"
        result.outputs = described
    except BaseException as exc:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        result.error = text
        if run.status == "running":
            run.end("killed" if isinstance(exc, KeyboardInterrupt) else "failed", text)
        if not isinstance(exc, Exception):
            raise
    result.ended = _now()
    result.duration_s = time.perf_counter() - started
    return result


def _use_settings(settings: dict[str, str] | None) -> None:
    """In a worker, point prodline at the driver's store and artifacts (once)."""
    if not settings:
        return
    from prodline import config

    settings = dict(settings)
    cwd = settings.pop("cwd", None)
    if cwd and os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)  # relative paths in step code mean what they mean to the driver
    current = config.settings()
    if (
        str(current.home) != settings["home"]
        or current.store_url != settings["store_url"]
        or current.artifacts_url != settings["artifacts_url"]
    ):
        config.init(**settings)


def _load(spec: Any, task: StepTask) -> Any:
    from prodline import _context

    artifacts = _context.artifacts()

    def leaf(blob: Blob) -> Any:
        if blob.kind == "tuple":
            return tuple(leaf(item) for item in blob.items)
        return codec.decode(
            blob.kind, artifacts.get_bytes(blob.digest), where=blob.where,
            allow_pickle=blob.allow_pickle, extra_trusted=task.extra_trusted,
        )  # fmt: skip

    return _map_blobs(spec, leaf)


def _map_blobs(value: Any, leaf: Callable[[Blob], Any]) -> Any:
    if isinstance(value, Blob):
        return leaf(value)
    if isinstance(value, dict):
        return {k: _map_blobs(v, leaf) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_map_blobs(v, leaf) for v in value)
    if isinstance(value, list):
        return [_map_blobs(v, leaf) for v in value]
    return value


def _store_outputs(run: Any, task: StepTask, value: Any) -> dict[str, Any]:
    multi = isinstance(value, tuple)
    values = list(value) if multi else [value]
    if task.n_outputs is not None and task.n_outputs > 1 and len(values) != task.n_outputs:
        raise ValueError(
            f"step {task.step_name!r} declares {task.n_outputs} outputs but returned "
            f"{'a tuple of ' + str(len(values)) if multi else 'one value'}"
        )
    items = []
    for i, item in enumerate(values):
        where = f"output of step {task.step_name!r}" + (f" (item {i})" if multi else "")
        encoded = codec.encode(
            item, where=where, allow_pickle=task.allow_pickle, extra_trusted=task.extra_trusted
        )
        name = (
            f"outputs/{i}.{encoded.extension}" if multi else f"outputs/output.{encoded.extension}"
        )
        record = run.log_bytes(encoded.data, name)
        items.append({"kind": encoded.kind, "digest": record.digest, "size": record.size})
    return {"multi": multi, "items": items}


def _instance_of(value: Any, expected: type) -> bool:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return True
    try:
        return isinstance(value, expected)
    except TypeError:
        return True


def _now() -> str:
    return datetime.now(UTC).isoformat()
