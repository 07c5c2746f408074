"""The tracking entry points: ``prodline.start_run``, ``search_runs`` and friends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prodline import _context, config
from prodline.errors import InvalidValueError, NotFoundError
from prodline.store.records import ExperimentRecord, MetricPoint, RunList, RunRecord
from prodline.tracking.run import Run

DEFAULT_EXPERIMENT = "default"
_active: list[Run] = []


def start_run(
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    capture_code: bool = True,
    capture_environment: bool = True,
) -> Run:
    """Start a run in ``experiment`` (created if missing) and make it the active run.

    Code (git commit and diff, or the script/notebook source) and the environment
    (Python, platform, package versions) are captured unless turned off.
    """
    store = _context.store()
    artifacts = _context.artifacts()
    experiment_id = store.get_or_create_experiment(experiment)
    code = None
    if capture_code:
        from prodline.tracking.code import capture_code as capture

        code = capture()
    environment = None
    if capture_environment:
        from prodline.tracking.environment import capture_environment as describe

        environment = describe()
    reproducing = config.reproduce_of()
    run_id, run_name, started = store.create_run(
        experiment_id,
        name,
        code=code.info if code else None,
        environment=environment,
        reproduced_from=reproducing,
        tags=tags,
    )
    run = Run(
        store,
        artifacts,
        run_id=run_id,
        name=run_name,
        experiment=experiment,
        experiment_id=experiment_id,
        start_time=started,
        reproducing=reproducing,
    )
    if code is not None:
        for path, data in code.files.items():
            run.log_bytes(data, path)
    _active.append(run)
    return run


def active_run() -> Run | None:
    """The most recently started run that has not ended, if any."""
    return _active[-1] if _active else None


def forget(run: Run) -> None:
    """Drop an ended run from the active stack."""
    if run in _active:
        _active.remove(run)


def get_run(run_id: str) -> RunRecord:
    """Everything recorded about a run (a full id or a unique prefix)."""
    store = _context.store()
    return store.get_run(store.resolve_run_id(run_id))


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    """Every point of metric ``key`` in a run, by step (``NotFoundError`` if never logged)."""
    store = _context.store()
    full_id = store.resolve_run_id(run_id)
    if key not in store.metric_keys(full_id):
        logged = ", ".join(store.metric_keys(full_id)) or "none"
        raise NotFoundError(f"Run {full_id[:8]} has no metric {key!r}. Its metrics: {logged}.")
    return store.metric_history(full_id, key)


def search_runs(
    experiments: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
) -> RunList:
    """Find runs. ``filter`` uses the search language (``metrics.f1 > 0.9 and
    params.max_depth = '6'``); ``order_by`` like ``["metrics.f1 DESC"]``. The result is a
    list of run records with ``.to_pandas()`` and ``.next_page_token``."""
    if isinstance(experiments, str):
        experiments = [experiments]
    if isinstance(order_by, str):
        order_by = [order_by]
    if filter is not None and not isinstance(filter, str):
        raise InvalidValueError('filter must be a string such as "metrics.f1 > 0.9".')
    return _context.store().search_runs(experiments, filter, order_by, max_results, page_token)


def list_experiments() -> list[ExperimentRecord]:
    """Every experiment with its number of runs."""
    return _context.store().list_experiments()
