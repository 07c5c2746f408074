"""Runners: walk a pipeline's DAG, reuse cached results, execute the rest.

The scheduling is shared: a node becomes ready when every node it depends on has
finished; its arguments are resolved to stored blobs and its cache key computed here,
in the driver; a cache hit reuses the earlier run's outputs; a miss becomes a
:class:`~prodline.pipelines.execute.StepTask`. A failed node blocks everything
downstream of it, while independent branches go on. Runners differ only in where tasks
execute: :class:`LocalRunner` in this process, one at a time, in the order the pipeline
called its steps; :class:`RayRunner` as Ray tasks, as many at once as Ray has CPUs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prodline.errors import PipelineError
from prodline.pipelines.execute import (
    OUTPUTS_ARTIFACT,
    TAG_CACHE_KEY,
    TAG_TASK,
    StepResult,
    StepTask,
    execute_task,
    files_fingerprint,
    fingerprint,
    resolve_node,
)
from prodline.pipelines.graph import Graph, Node
from prodline.pipelines.records import StepRun

EventCallback = Callable[[str, StepRun], None]


@dataclass
class Job:
    """One execution of a graph, as part of pipeline run ``run_id``."""

    pipeline: str
    run_id: str
    graph: Graph
    cache: bool = True
    on_event: EventCallback | None = None


class Runner:
    """Base class: the shared scheduling loop. Subclasses execute tasks."""

    name = "runner"
    #: tasks complete inside ``submit`` (then each result is handled before the next node)
    synchronous = False

    # executor hooks ----------------------------------------------------------------
    def start(self, graph: Graph) -> None:
        """Prepare to execute tasks of ``graph``."""

    def submit(self, task: StepTask, node: Node) -> None:
        raise NotImplementedError

    def wait(self) -> list[StepResult]:
        """Block until at least one submitted task has completed; return the completed."""
        raise NotImplementedError

    def settings(self) -> dict[str, str] | None:
        """The prodline settings to pass to tasks (``None``: the task runs here)."""
        return None

    def abort(self) -> None:
        """Stop tasks still running (the scheduling loop was interrupted)."""

    def close(self) -> None:
        """Release what the runner started."""

    # scheduling --------------------------------------------------------------------
    def run_graph(self, job: Job) -> list[StepRun]:
        """Execute ``job.graph``; return one record per node, in the graph's order."""
        state = _State(job)
        self.start(job.graph)
        try:
            self._schedule(state)
        except BaseException:
            self.abort()
            raise
        for record in state.steps.values():  # unreachable in a DAG; never leave "pending"
            if record.status == "pending":
                record.status = "blocked"
        return list(state.steps.values())

    def _schedule(self, state: _State) -> None:
        job, steps = state.job, state.steps
        while True:
            for node in job.graph:
                if self.synchronous and state.in_flight:
                    break  # handle the result first, then look again from the top
                record = steps[node.id]
                if record.status != "pending":
                    continue
                if any(steps[d].status != "finished" for d in node.depends_on):
                    continue
                try:
                    task = self._prepare(job, node, state.outputs, state.pickles)
                except Exception as exc:
                    state.fail(record, f"{type(exc).__name__}: {exc}", _trace(exc))
                    continue
                record.cache_key = task.cache_key
                hit = self._cached(job, node, task.cache_key)
                if hit is not None:
                    record.status, record.cached, record.duration_s = "finished", True, 0.0
                    record.run_id, record.outputs = hit
                    state.outputs[node.id] = record.outputs
                    state.emit("cached", record)
                    continue
                record.status = "running"
                state.emit("started", record)
                state.in_flight.add(node.id)
                try:
                    self.submit(task, node)
                except Exception as exc:
                    state.in_flight.discard(node.id)
                    message = f"could not start the step: {type(exc).__name__}: {exc}"
                    state.fail(record, message, _trace(exc))
            if not state.in_flight:
                return
            for result in self.wait():
                state.in_flight.discard(result.node_id)
                record = steps[result.node_id]
                record.run_id = result.run_id
                record.duration_s = result.duration_s
                record.started, record.ended = result.started, result.ended
                record.worker = result.worker or None
                if result.status == "finished" and result.outputs is not None:
                    record.status = "finished"
                    record.outputs = state.outputs[result.node_id] = result.outputs
                    state.emit("finished", record)
                else:
                    state.fail(record, _last_line(result.error), result.error)

    def _prepare(
        self,
        job: Job,
        node: Node,
        outputs: dict[str, dict[str, Any]],
        pickles: dict[str, bool],
    ) -> StepTask:
        args, kwargs, described = resolve_node(node, outputs, pickles)
        material: dict[str, Any] = {"inputs": described}
        if node.step.files:
            material["files"] = files_fingerprint(node.step.files)
        input_fp = fingerprint(material)
        code_fp = node.step.code_fingerprint
        cache_key = fingerprint({"input": input_fp, "code": code_fp})
        return StepTask(
            pipeline=job.pipeline,
            pipeline_run_id=job.run_id,
            node_id=node.id,
            step_name=node.step.name,
            fn=node.step.fn,
            args=args,
            kwargs=kwargs,
            allow_pickle=node.step.allow_pickle,
            extra_trusted=node.step.extra_trusted,
            n_outputs=node.step.n_outputs,
            source=node.step.source,
            input_fingerprint=input_fp,
            code_fingerprint=code_fp,
            cache_key=cache_key,
            params=node.constants(),
            inputs=material,
            settings=self.settings(),
            task_id=uuid.uuid4().hex,
        )

    def _cached(self, job: Job, node: Node, cache_key: str) -> tuple[str, dict[str, Any]] | None:
        if not (job.cache and node.step.cache):
            return None
        return lookup_cache(job.pipeline, cache_key)


class _State:
    """The progress of one graph execution."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.steps = {
            node.id: StepRun(node.id, node.step.name, depends_on=list(node.depends_on))
            for node in job.graph
        }
        self.outputs: dict[str, dict[str, Any]] = {}
        self.pickles = {node.id: node.step.allow_pickle for node in job.graph}
        self.in_flight: set[str] = set()

    def emit(self, event: str, record: StepRun) -> None:
        if self.job.on_event is not None:
            self.job.on_event(event, record)

    def fail(self, record: StepRun, error: str, trace: str | None = None) -> None:
        """Mark ``record`` failed and everything downstream of it blocked."""
        record.status = "failed"
        record.error = error
        record.traceback = trace
        self.emit("failed", record)
        order = list(self.steps)
        for node_id in sorted(self.job.graph.dependents(record.node), key=order.index):
            blocked = self.steps[node_id]
            if blocked.status == "pending":
                blocked.status = "blocked"
                blocked.blocked_by = record.node
                self.emit("blocked", blocked)


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def lookup_cache(pipeline: str, cache_key: str) -> tuple[str, dict[str, Any]] | None:
    """The newest finished step run of ``pipeline`` with ``cache_key`` whose outputs are
    all still stored: ``(run_id, outputs)``, or None."""
    from prodline import _context
    from prodline.errors import NotFoundError

    store = _context.store()
    artifacts = _context.artifacts()
    try:
        candidates = store.search_runs(
            [pipeline],
            f"tags.`{TAG_CACHE_KEY}` = '{cache_key}' and status = 'finished'",
            ["start_time DESC"],
            5,
            None,
        )
    except NotFoundError:
        return None
    for candidate in candidates:
        described = None
        for artifact in store.list_artifacts(candidate.id):
            if artifact.path == OUTPUTS_ARTIFACT:
                described = json.loads(artifacts.get_bytes(artifact.digest))
        if described and all(artifacts.exists(item["digest"]) for item in described["items"]):
            return candidate.id, described
    return None


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "the step failed"


# -------------------------------------------------------------------------- local
class LocalRunner(Runner):
    """Runs steps in this process, one at a time, in the order the pipeline called them."""

    name = "local"
    synchronous = True

    def __init__(self) -> None:
        self._done: list[StepResult] = []

    def submit(self, task: StepTask, node: Node) -> None:
        self._done.append(execute_task(task))

    def wait(self) -> list[StepResult]:
        done, self._done = self._done, []
        return done


# ---------------------------------------------------------------------------- Ray
class RayRunner(Runner):
    """Runs steps as Ray tasks: independent steps and parameter sweeps in parallel.

    With no ``address``, uses the Ray already initialised in this process, or starts a
    local one (``num_cpus`` CPUs; all of them by default) and shuts it down on
    :meth:`close`. With an ``address`` (``ray://host:10001`` or ``auto``), connects to
    that cluster. Workers write to the same store and artifact store as this process:
    on a cluster of several machines, use PostgreSQL and an object store (s3://...).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        import_ray()  # fail now, before anything is recorded, when Ray is missing
        self.address = address
        self.num_cpus = num_cpus
        self.init_options = dict(init_options or {})
        self._started = False
        self._pending: dict[Any, tuple[str, str, str]] = {}
        self._remote: Any = None

    def start(self, graph: Graph) -> None:
        ray = import_ray()
        from prodline import config

        if config.settings().artifacts_url.startswith("memory://"):
            raise PipelineError(
                "The Ray runner cannot use a memory:// artifact store: its workers are other "
                "processes. Use a folder or an object store URL."
            )
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.ERROR,
                **self.init_options,
            }
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.num_cpus, **options)
            self._started = True
        if self._remote is None:
            self._remote = ray.remote(execute_task)
        for node in graph:
            module = sys.modules.get(getattr(node.step.fn, "__module__", "") or "")
            if module is not None and getattr(module, "__prodline_loaded_from__", None):
                # loaded from a file by name only this process knows: ship it by value
                ray.cloudpickle.register_pickle_by_value(module)

    def settings(self) -> dict[str, str]:
        from prodline import config

        current = config.settings()
        return {
            "home": str(current.home),
            "store_url": _absolute_store_url(current.store_url),
            "artifacts_url": _absolute_path_url(current.artifacts_url),
            "cwd": os.getcwd(),
        }

    def submit(self, task: StepTask, node: Node) -> None:
        ref = self._remote.options(num_cpus=node.step.num_cpus, max_retries=0).remote(task)
        self._pending[ref] = (task.node_id, task.task_id, task.pipeline)

    def wait(self) -> list[StepResult]:
        ray = import_ray()
        ready, _ = ray.wait(list(self._pending), num_returns=1)
        results = []
        for ref in ready:
            node_id, task_id, pipeline = self._pending.pop(ref)
            try:
                results.append(ray.get(ref))
            except Exception as exc:  # the worker died or the task could not run
                message = f"Ray could not run the step: {type(exc).__name__}: {exc}"
                run_id = _end_orphan(pipeline, task_id, message)
                results.append(StepResult(node_id, "failed", run_id, error=message))
        return results

    def abort(self) -> None:
        ray = import_ray()
        for ref, (_, task_id, pipeline) in list(self._pending.items()):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # pragma: no cover - already finished or gone
                pass
            _end_orphan(pipeline, task_id, "the pipeline run was interrupted", "killed")
        self._pending.clear()

    def close(self) -> None:
        if self._started:
            import_ray().shutdown()
            self._started = False
            self._remote = None


def import_ray() -> Any:
    """``ray``, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise PipelineError(
            "The Ray runner needs Ray: pip install 'prodline[ray]' (or use --runner local)."
        ) from None
    return ray


def _end_orphan(pipeline: str, task_id: str, message: str, status: str = "failed") -> str | None:
    """End the run a crashed or cancelled task left 'running'."""
    from prodline import _context

    store = _context.store()
    try:
        found = store.search_runs(
            [pipeline], f"tags.`{TAG_TASK}` = '{task_id}' and status = 'running'", None, 1, None
        )
    except Exception:
        return None
    for record in found:
        store.end_run(record.id, status, message)
        return record.id
    return None


def _absolute_path_url(url: str) -> str:
    if "://" in url:
        return url
    return os.path.abspath(url)


def _absolute_store_url(url: str) -> str:
    if not url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or os.path.isabs(database):
        return url
    return parsed.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


def make_runner(runner: str | Runner | None, ray_address: str | None = None) -> Runner:
    """A runner from a name (``local``/``ray``) or an instance."""
    if isinstance(runner, Runner):
        return runner
    if runner is None and ray_address:
        return RayRunner(ray_address)
    if runner in (None, "local"):
        return LocalRunner()
    if runner == "ray":
        return RayRunner(ray_address)
    raise PipelineError(f"Unknown runner {runner!r}: use 'local' or 'ray'.")
