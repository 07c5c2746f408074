"""``@pipeline``: a function that calls steps, run as a tracked, cached, governed DAG.

Running a pipeline: build its DAG (call the function with placeholders), take the
model's lock (one run per model at a time; a busy lock records a *skipped* run), start
a tracked pipeline run, let a runner execute the steps, find the model versions the
steps registered, hand them to governance, and record everything.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, overload

from prodline.errors import PipelineError
from prodline.pipelines.graph import Graph, GraphBuilder
from prodline.pipelines.locks import ModelLock
from prodline.pipelines.records import (
    FAILED,
    GRAPH_ARTIFACT,
    RUN_ARTIFACT,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TAG_GOVERNANCE,
    TAG_KIND,
    TAG_MODEL,
    TAG_RUNNER,
    TAG_STATUS,
    TAG_TRIGGER,
    TAG_TRIGGER_DETAIL,
    TAG_VERSIONS,
    PipelineRun,
    StepRun,
    pipeline_experiment,
)
from prodline.pipelines.runners import EventCallback, Job, Runner, make_runner
from prodline.pipelines.triggers import TriggerEvent, TriggerSpec, parse_triggers

GOVERN_MODULE = "prodline.govern"
MAX_SOURCE_BYTES = 5_000_000


class Pipeline:
    """A function decorated with ``@pipeline``. Calling it runs it (see :meth:`run`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        model: str | None = None,
        schedule: str | None = None,
        retrain_on: Iterable[str] | str | None = None,
        policy: str | Path | None = None,
    ) -> None:
        from prodline.store.checks import check_name

        if not callable(fn):
            raise PipelineError(f"@pipeline decorates a function, not {type(fn).__name__}.")
        self.fn = fn
        self.name = check_name(name or fn.__name__, "pipeline")
        self.model = None if model is None else check_name(model, "model")
        self.triggers: list[TriggerSpec] = parse_triggers(schedule, retrain_on, self.model)
        self.schedule = next((t.value for t in self.triggers if t.kind == "schedule"), None)
        self.policy = None if policy is None else str(policy)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<pipeline {self.name!r}>"

    def __call__(self, **params: Any) -> PipelineRun:
        return self.run(params=params)

    @property
    def lock_key(self) -> str:
        """What the run lock protects: the model, or the pipeline when it has none."""
        return f"model.{self.model}" if self.model else f"pipeline.{self.name}"

    # the DAG -----------------------------------------------------------------------
    def graph(self, **params: Any) -> Graph:
        """Build the DAG without running any step."""
        try:
            inspect.signature(self.fn).bind(**params)
        except TypeError as exc:
            raise PipelineError(
                f"Pipeline {self.name!r} cannot be built with params {sorted(params)}: {exc}. "
                "Pass its params (prodline pipelines run NAME --param key=value)."
            ) from None
        with GraphBuilder(self.name) as builder:
            builder.graph.result = self.fn(**params)
        if not builder.graph.nodes:
            raise PipelineError(
                f"Pipeline {self.name!r} calls no step: call functions decorated with @step "
                "inside it."
            )
        return builder.graph

    def describe(self, **params: Any) -> dict[str, Any]:
        """Name, model, triggers and DAG as JSON-safe data (``prodline pipelines show``)."""
        doc = inspect.getdoc(self.fn) or ""
        data: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "schedule": self.schedule,
            "triggers": [str(t) for t in self.triggers],
            "policy": self.policy,
            "description": doc.splitlines()[0] if doc else "",
            "module": getattr(self.fn, "__module__", None),
            "lock": self.lock_key,
        }
        try:
            data.update(self.graph(**params).describe())
            data["error"] = None
        except Exception as exc:  # shown, not raised: a listing should list the rest
            data.update(nodes=[], edges=[], levels=[], error=f"{type(exc).__name__}: {exc}")
        return data

    def history(self, limit: int = 20) -> list[PipelineRun]:
        """This pipeline's most recent runs, newest first."""
        from prodline.pipelines.records import history

        return history(self.name, limit)

    # running -----------------------------------------------------------------------
    def run(
        self,
        *,
        runner: str | Runner | None = None,
        ray_address: str | None = None,
        params: dict[str, Any] | None = None,
        cache: bool = True,
        trigger: str | TriggerEvent | None = None,
        on_event: EventCallback | None = None,
        record_skip: bool = True,
    ) -> PipelineRun:
        """Run the pipeline and return what happened.

        ``runner``: ``"local"`` (default), ``"ray"`` or a runner instance.
        ``cache=False`` re-runs every step. ``trigger`` says why it runs (recorded;
        default ``"manual"``). ``on_event(event, step)`` is called as steps start and
        end. A failed step does not raise: the returned run has ``status == "failed"``.
        If another run of the same model holds the lock, nothing runs and the returned
        run has ``status == "skipped"`` (recorded in the history unless
        ``record_skip=False``; its trigger is not consumed).
        """
        params = dict(params or {})
        graph = self.graph(**params)
        event = _as_event(trigger)
        owned = not isinstance(runner, Runner)
        chosen = make_runner(runner, ray_address)
        lock = ModelLock(self.lock_key)
        try:
            if not lock.acquire(pipeline=self.name):
                return self._record_skipped(event, lock, chosen.name, record_skip)
            try:
                if event.commit is not None:
                    event.commit()
                return self._execute(graph, params, event, chosen, cache, on_event, lock)
            finally:
                lock.release()
        finally:
            if owned:
                chosen.close()

    def _execute(
        self,
        graph: Graph,
        params: dict[str, Any],
        event: TriggerEvent,
        runner: Runner,
        cache: bool,
        on_event: EventCallback | None,
        lock: ModelLock,
    ) -> PipelineRun:
        import prodline

        tags = self._tags(event, runner.name, RUNNING)
        run = prodline.start_run(pipeline_experiment(self.name), self.name, tags=tags)
        lock.update(pipeline_run=run.id)
        started = time.perf_counter()
        result = PipelineRun(
            id=run.id,
            pipeline=self.name,
            status=RUNNING,
            trigger=event.to_dict(),
            runner=runner.name,
            started=run.start_time.isoformat(),
            model=self.model,
            params={k: _plain(v) for k, v in params.items()},
        )
        try:
            if params:
                run.log_params({f"param.{k}": json.dumps(_plain(v)) for k, v in params.items()})
            run.log_dict(graph.describe(), GRAPH_ARTIFACT)
            self._log_source(run)
            job = Job(self.name, run.id, graph, cache, on_event)
            result.steps = runner.run_graph(job)
            if any(s.status in ("failed", "blocked") for s in result.steps):
                result.status = FAILED
                failed = [s.node for s in result.steps if s.status == "failed"]
                result.error = f"step(s) failed: {', '.join(failed)}"
                result.governance = {"status": "skipped", "reason": "a step failed"}
            else:
                result.model_versions = self._new_versions(result.steps)
                result.governance = govern_versions(self.model, result.model_versions, self.policy)
                if result.governance.get("status") == "error":
                    result.status = FAILED
                    result.error = f"governance failed: {result.governance.get('error')}"
                else:
                    result.status = SUCCEEDED
        except BaseException as exc:
            result.status = FAILED
            result.error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            killed = isinstance(exc, KeyboardInterrupt)
            self._finish(run, result, started, "killed" if killed else None)
            raise
        self._finish(run, result, started)
        return result

    def _finish(
        self, run: Any, result: PipelineRun, started: float, end_as: str | None = None
    ) -> None:
        from datetime import UTC, datetime

        result.duration_s = time.perf_counter() - started
        result.ended = datetime.now(UTC).isoformat()
        counts = result.counts()
        try:
            run.log_metrics(
                {
                    "steps": counts["steps"],
                    "steps_executed": counts["executed"],
                    "steps_cached": counts["cached"],
                    "steps_failed": counts["failed"],
                    "steps_blocked": counts["blocked"],
                    "duration_s": result.duration_s,
                }
            )
            run.set_tags(
                {
                    TAG_STATUS: result.status,
                    TAG_GOVERNANCE: str(result.governance.get("status", "none")),
                    TAG_VERSIONS: ", ".join(result.model_versions),
                }
            )
            run.log_dict(result.to_dict(), RUN_ARTIFACT)
        finally:
            if run.status == "running":
                status = end_as or ("failed" if result.status == FAILED else "finished")
                run.end(status, result.error)

    def _record_skipped(
        self, event: TriggerEvent, lock: ModelLock, runner: str, record: bool = True
    ) -> PipelineRun:
        import prodline

        holder = lock.holder() or {}
        who = holder.get("pipeline_run") or f"pid {holder.get('pid', '?')}"
        reason = (
            f"{self.lock_key} is busy: run {str(who)[:8]} of pipeline "
            f"{holder.get('pipeline', '?')} (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}) has held it since {holder.get('since', '?')}"
        )
        if not record:
            return PipelineRun(
                id="", pipeline=self.name, status=SKIPPED, trigger=event.to_dict(),
                runner=runner, model=self.model, reason=reason,
            )  # fmt: skip
        run = prodline.start_run(
            pipeline_experiment(self.name),
            self.name,
            tags=self._tags(event, runner, SKIPPED),
            capture_code=False,
            capture_environment=False,
        )
        result = PipelineRun(
            id=run.id,
            pipeline=self.name,
            status=SKIPPED,
            trigger=event.to_dict(),
            runner=runner,
            started=run.start_time.isoformat(),
            model=self.model,
            reason=reason,
            governance={"status": "skipped", "reason": "the run was skipped"},
        )
        run.add_note(reason)
        self._finish(run, result, time.perf_counter())
        return result

    def _tags(self, event: TriggerEvent, runner: str, status: str) -> dict[str, Any]:
        tags = {
            TAG_KIND: "pipeline",
            "prodline.pipeline": self.name,
            TAG_STATUS: status,
            TAG_TRIGGER: event.kind,
            TAG_TRIGGER_DETAIL: event.detail[:2000],
            TAG_RUNNER: runner,
        }
        if self.model:
            tags[TAG_MODEL] = self.model
        return tags

    def _log_source(self, run: Any) -> None:
        try:
            path = Path(inspect.getsourcefile(self.fn) or "")
        except TypeError:
            return
        if path.is_file() and path.stat().st_size <= MAX_SOURCE_BYTES:
            run.log_bytes(path.read_bytes(), f"code/pipeline/{path.name}")

    def _new_versions(self, steps: list[StepRun]) -> list[str]:
        """``name/version`` of every model version registered by a step executed now."""
        from prodline import _context

        executed = {s.run_id for s in steps if s.status == "finished" and not s.cached}
        found: list[str] = []
        artifacts = _context.artifacts()
        for item in steps:
            if item.run_id not in executed or not item.outputs:
                continue
            for entry in item.outputs["items"]:
                if entry["kind"] == "model_version":
                    body = json.loads(artifacts.get_bytes(entry["digest"]))
                    found.append(f"{body['model']}/{body['version']}")
        if self.model:
            from prodline.errors import NotFoundError

            try:
                versions = _context.store().list_model_versions(self.model)
            except NotFoundError:
                versions = []
            found.extend(v.ref for v in versions if v.run_id in executed)
        return sorted(set(found), key=lambda ref: (ref.split("/")[0], int(ref.split("/")[1])))


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    model: str | None = None,
    schedule: str | None = None,
    retrain_on: Iterable[str] | str | None = None,
    policy: str | Path | None = None,
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function that calls steps a pipeline: ``@pipeline`` or ``@pipeline(...)``.

    Options:
        name: the pipeline's name (default: the function's name).
        model: the registered model it trains: its new versions are governed after the
            steps succeed, and runs for one model never overlap.
        schedule: a cron expression (UTC), e.g. ``"0 3 * * 1"`` for Mondays at 03:00.
        retrain_on: ``["drift", "new_data:data/incoming/*.csv"]``: drift alerts of the
            model, and new or changed files matching a glob.
        policy: a governance policy to use instead of the model's own (passed to
            governance when it accepts one).
    """
    if fn is not None:
        if options:
            raise PipelineError("Use @pipeline or @pipeline(option=...), not both.")
        return Pipeline(fn)

    def decorate(function: Callable[..., Any]) -> Pipeline:
        return Pipeline(function, **options)

    return decorate


# ---------------------------------------------------------------------- governance
def govern_versions(model: str | None, versions: list[str], policy: str | None) -> dict[str, Any]:
    """Hand the models that got new versions to ``prodline.govern.govern`` (when that
    module is installed) and record what it said, model by model."""
    names = sorted({ref.split("/")[0] for ref in versions})
    if not names:
        reason = (
            f"no new version of model {model!r} was registered"
            if model
            else "the pipeline registered no model"
        )
        return {"status": "skipped", "reason": reason}
    try:
        module = importlib.import_module(GOVERN_MODULE)
        govern = module.govern
    except (ImportError, AttributeError) as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name in (GOVERN_MODULE, None)
        if missing or isinstance(exc, AttributeError) or GOVERN_MODULE in str(exc):
            return {
                "status": "not available",
                "reason": f"governance not available ({GOVERN_MODULE}.govern cannot be "
                "imported); the new versions were registered but not governed",
                "models": names,
            }
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}", "models": names}
    accepts_policy = _accepts(govern, "policy")
    results: dict[str, Any] = {}
    for name in names:
        kwargs: dict[str, Any] = {"actor": "pipeline"}
        if policy is not None and accepts_policy:
            kwargs["policy"] = policy
        try:
            outcome = govern(name, **kwargs)
        except Exception as exc:
            results[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            continue
        results[name] = {"status": "done", "summary": _summary(outcome), "result": _plain(outcome)}
        explanation = _explanation(outcome)
        if explanation and explanation != results[name]["summary"]:
            results[name]["explanation"] = explanation
    errors = [f"{name}: {r['error']}" for name, r in results.items() if r["status"] == "error"]
    summary: dict[str, Any] = {"status": "error" if errors else "done", "models": results}
    if errors:
        summary["error"] = "; ".join(errors)
    if policy is not None and not accepts_policy:
        summary["note"] = (
            f"{GOVERN_MODULE}.govern takes no policy argument; the model's own was used"
        )
    return summary


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _summary(outcome: Any) -> str:
    """One line saying what governance decided."""
    if isinstance(outcome, dict) and isinstance(outcome.get("summary"), str):
        return outcome["summary"][:500]
    summary = getattr(outcome, "summary", None)
    if isinstance(summary, str) and summary:
        return summary[:500]
    if type(outcome).__str__ is not object.__str__ and not isinstance(outcome, dict):
        text = str(outcome).strip()
        if text:
            return text.splitlines()[0][:500]
    return repr(outcome)[:500]


def _explanation(outcome: Any) -> str | None:
    """The full text governance gives for its decision, when it has one."""
    if isinstance(outcome, dict) or type(outcome).__str__ is object.__str__:
        return None
    text = str(outcome).strip()
    return text[:20_000] or None


def _plain(value: Any) -> Any:
    """JSON-safe data from whatever governance or params hold."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            value = to_dict()
        except Exception:
            return repr(value)
    elif hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        value = asdict(value)
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def _as_event(trigger: str | TriggerEvent | None) -> TriggerEvent:
    if isinstance(trigger, TriggerEvent):
        return trigger
    if trigger is None:
        return TriggerEvent("manual", "")
    kind, _, detail = str(trigger).partition(":")
    return TriggerEvent(kind.strip() or "manual", detail.strip())
