"""The Ray runner on a local Ray with 2 CPUs (one Ray session for the whole module):
the same pipeline end to end, parallel sweeps, failures, and a store shared with the
driver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import pytest

import prodline
from prodline.pipelines import Pipeline, RayRunner
from tests.pipelines.conftest import LIGHT, Project

try:
    import ray
except ImportError:  # pragma: no cover - the ray extra is not installed
    ray = None

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    if ray is None:
        pytest.skip(
            "RAY IS NOT INSTALLED: the Ray runner is untested. pip install 'prodline[ray]'."
        )
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def runner(ray_session: None) -> RayRunner:
    return RayRunner()


def test_load_train_register_on_ray(toy: Pipeline, runner: RayRunner) -> None:
    result = toy.run(runner=runner)
    assert result.ok, result.error
    assert result.runner == "ray"
    assert [(s.node, s.status) for s in result.steps] == [
        ("load", "finished"), ("train", "finished"), ("register", "finished"),
    ]  # fmt: skip
    assert result.model_versions == ["toy/1"]
    for item in result.steps:  # ran in Ray workers, recorded in the driver's store
        record = prodline.get_run(item.run_id)
        assert record.status == "finished"
        assert not record.tags["prodline.worker"].endswith(f":{os.getpid()}")
    assert prodline.get_model_version("toy/1").run_id == result.step("register").run_id
    assert result.output("load").shape == (120, 3)
    # the cache is shared: the local runner reuses what Ray computed
    again = toy.run(runner="local")
    assert all(s.cached for s in again.steps)
    assert ray.is_initialized()  # a Ray it did not start is left running


SWEEP = """
import time

from prodline.pipelines import current_run, pipeline, step


@step
def prepare() -> list:
    return [1.0, 2.0, 3.0, 4.0]


@step
def fit(values: list, C: float) -> dict:
    time.sleep(1.5)
    current_run().log_metric("loss", sum(values) / C)
    return {"C": C, "loss": sum(values) / C}


@step
def best(results: list) -> dict:
    return min(results, key=lambda r: r["loss"])


@step
def broken(values: list) -> dict:
    raise RuntimeError("no such column")


@step
def after(result: dict) -> dict:
    return result


@pipeline
def sweep():
    values = prepare()
    return best([fit(values, C=c) for c in (0.5, 1.0, 2.0)])


@pipeline
def partly_broken():
    values = prepare()
    after(broken(values))
    fit(values, C=1.0)
"""


def test_a_parameter_sweep_runs_in_parallel(project: Project, runner: RayRunner) -> None:
    project.write(SWEEP)
    result = project.pipeline("sweep").run(runner=runner)
    assert result.ok, result.error
    assert result.output("best") == {"C": 2.0, "loss": 5.0}
    fits = [result.step(n) for n in ("fit", "fit-2", "fit-3")]
    spans = sorted(
        (datetime.fromisoformat(s.started), datetime.fromisoformat(s.ended)) for s in fits
    )
    overlapping = any(
        a_end > b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
    )
    assert overlapping, spans
    assert len({s.worker for s in fits}) == 2  # both CPUs
    params = {prodline.get_run(s.run_id).params["C"] for s in fits}
    assert params == {"0.5", "1.0", "2.0"}


def test_a_failure_on_ray_blocks_dependents_and_runs_the_rest(
    project: Project, runner: RayRunner
) -> None:
    project.write(SWEEP.replace("time.sleep(1.5)", "pass"))
    result = project.pipeline("partly_broken").run(runner=runner)
    assert result.status == "failed"
    assert {s.node: s.status for s in result.steps} == {
        "prepare": "finished", "broken": "failed", "after": "blocked", "fit": "finished",
    }  # fmt: skip
    assert result.step("broken").error == "RuntimeError: no such column"
    record = prodline.get_run(result.step("broken").run_id)
    assert record.status == "failed" and "no such column" in record.error


def test_the_ray_runner_refuses_an_in_memory_artifact_store(
    project: Project, runner: RayRunner, isolated_home
) -> None:
    project.write(LIGHT)
    light = project.pipeline("light")
    prodline.init(home=isolated_home, artifacts_url="memory://pipelines-test")
    with pytest.raises(prodline.errors.ProdlineError, match="memory:// artifact store"):
        light.run(runner=runner)
