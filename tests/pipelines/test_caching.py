"""Caching by input fingerprint + code fingerprint; failures stop dependents; re-runs
resume from what succeeded."""

from __future__ import annotations

import pandas as pd

import prodline
from prodline import _context
from prodline.pipelines import Pipeline, step
from tests.pipelines.conftest import LIGHT, Project


def _cached(result) -> dict[str, bool]:
    return {s.node: s.cached for s in result.steps}


def test_a_second_run_is_all_cache_hits_and_registers_nothing(toy: Pipeline) -> None:
    first = toy.run()
    runs_after_first = len(prodline.search_runs("toy"))
    second = toy.run()
    assert second.ok
    assert _cached(second) == {"load": True, "train": True, "register": True}
    assert [s.run_id for s in second.steps] == [s.run_id for s in first.steps]
    assert len(prodline.search_runs("toy")) == runs_after_first  # no new step runs
    assert second.model_versions == [] and len(prodline.list_model_versions("toy")) == 1
    assert second.counts() == {"steps": 3, "executed": 0, "cached": 3, "failed": 0, "blocked": 0}
    assert prodline.get_run(second.id).metrics["steps_cached"] == 3


def test_other_params_are_other_inputs_and_cache_false_runs_everything(project: Project) -> None:
    project.write(LIGHT)
    light = project.pipeline("light")
    light.run()
    assert _cached(light.run(params={"n": 80})) == {"load": False, "train": False, "score": False}
    assert all(_cached(light.run(params={"n": 80})).values())
    assert not any(_cached(light.run(cache=False)).values())


def test_changing_a_steps_source_reruns_it_and_its_dependents(project: Project) -> None:
    project.write(LIGHT)
    project.pipeline("light").run()
    project.write(LIGHT.replace("LogisticRegression(C=C)", "LogisticRegression(C=C / 2)"))
    result = project.pipeline("light").run()
    assert _cached(result) == {"load": True, "train": False, "score": False}
    # and back: the first version's results are still in the cache
    project.write(LIGHT)
    assert all(_cached(project.pipeline("light").run()).values())


def test_dependents_rerun_when_inputs_change_not_when_only_code_does(project: Project) -> None:
    project.write(LIGHT)
    project.pipeline("light").run()
    # a comment changes load's code but not its output: only load re-runs
    project.write(
        LIGHT.replace("    rng = np.random", "    # same data, new comment\n    rng = np.random")
    )
    result = project.pipeline("light").run()
    assert _cached(result) == {"load": False, "train": True, "score": True}
    # new data: everything downstream of load runs again
    project.write(LIGHT.replace("default_rng(0)", "default_rng(1)"))
    result = project.pipeline("light").run()
    assert _cached(result) == {"load": False, "train": False, "score": False}


FLAKY = """
import os

import pandas as pd

from prodline.pipelines import pipeline, step


@step
def load() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@step
def train(df: pd.DataFrame) -> dict:
    if os.path.exists("broken"):
        raise ValueError("the training data is broken")
    return {"rows": len(df)}


@step
def report(result: dict) -> str:
    return f"{result['rows']} rows"


@step
def publish(text: str) -> str:
    return text.upper()


@step
def describe(df: pd.DataFrame) -> dict:
    return {"columns": list(df.columns)}


@pipeline
def flaky():
    df = load()
    publish(report(train(df)))
    describe(df)
"""


def test_a_failing_step_blocks_its_dependents_and_a_rerun_resumes(project: Project) -> None:
    project.write(FLAKY)
    (project.root / "broken").touch()
    failed = project.pipeline("flaky").run()
    assert failed.status == "failed"
    assert {s.node: s.status for s in failed.steps} == {
        "load": "finished", "train": "failed", "report": "blocked", "publish": "blocked",
        "describe": "finished",
    }  # fmt: skip
    train = failed.step("train")
    assert train.error == "ValueError: the training data is broken"
    assert "Traceback" in train.traceback and "raise ValueError" in train.traceback
    assert failed.step("publish").blocked_by == "train" and failed.step("publish").run_id is None
    record = prodline.get_run(train.run_id)
    assert record.status == "failed" and "the training data is broken" in record.error
    assert failed.governance["status"] == "skipped"
    pipeline_record = prodline.get_run(failed.id)
    assert pipeline_record.status == "failed"
    assert pipeline_record.tags["prodline.status"] == "failed"
    assert failed.error == "step(s) failed: train"

    (project.root / "broken").unlink()
    resumed = project.pipeline("flaky").run()
    assert resumed.ok
    assert _cached(resumed) == {
        "load": True, "train": False, "report": False, "publish": False, "describe": True,
    }  # fmt: skip
    assert resumed.output("publish") == "3 ROWS"
    assert [r.status for r in project.pipeline("flaky").history()] == ["succeeded", "failed"]


FILES = """
import glob

import pandas as pd

from prodline.pipelines import pipeline, step


@step(files="incoming/*.csv")
def load() -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in sorted(glob.glob("incoming/*.csv"))])


@step
def count(df: pd.DataFrame) -> int:
    return len(df)


@pipeline
def files():
    count(load())
"""


def test_steps_that_read_files_rerun_when_the_files_change(project: Project) -> None:
    project.write(FILES)
    incoming = project.root / "incoming"
    incoming.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_csv(incoming / "a.csv", index=False)
    assert project.pipeline("files").run().output("count") == 2
    assert all(_cached(project.pipeline("files").run()).values())
    pd.DataFrame({"x": [3]}).to_csv(incoming / "b.csv", index=False)
    result = project.pipeline("files").run()
    assert _cached(result) == {"load": False, "count": False}
    assert result.output("count") == 3


def test_a_result_whose_blobs_are_gone_is_not_reused(project: Project) -> None:
    project.write(LIGHT)
    first = project.pipeline("light").run()
    digest = first.step("load").outputs["items"][0]["digest"]
    artifacts = _context.artifacts()
    artifacts.fs.rm(artifacts.path_of(digest))
    second = project.pipeline("light").run()
    assert _cached(second) == {"load": False, "train": True, "score": True}
    assert artifacts.exists(digest)  # stored again, same content


@step
def add(a: int, b: int = 1) -> int:
    return a + b


def test_arguments_match_by_name_not_by_how_they_were_passed(project: Project) -> None:
    def positional():
        add(1, 2)

    def by_keyword():
        add(b=2, a=1)

    first = Pipeline(positional, name="adding").run()
    second = Pipeline(by_keyword, name="adding").run()
    assert first.ok and second.step("add").cached and second.output("add") == 3
