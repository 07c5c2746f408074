"""A pipeline end to end on the in-process runner: tracked steps, stored outputs, the
registered model, the recorded pipeline run and the governance hook."""

from __future__ import annotations

import json
import sys
import types

import pandas as pd
import pytest

import prodline
from prodline import _context
from prodline.pipelines import Pipeline, history, pipeline, step
from prodline.pipelines.execute import PARAM_CODE_FP, PARAM_INPUT_FP
from tests.pipelines.conftest import Project


def test_load_train_register_end_to_end(toy: Pipeline) -> None:
    events: list[tuple[str, str]] = []
    result = toy.run(on_event=lambda event, s: events.append((event, s.node)))

    assert result.ok, result.error
    assert [(s.node, s.status, s.cached) for s in result.steps] == [
        ("load", "finished", False), ("train", "finished", False),
        ("register", "finished", False),
    ]  # fmt: skip
    assert events == [
        ("started", "load"), ("finished", "load"), ("started", "train"),
        ("finished", "train"), ("started", "register"), ("finished", "register"),
    ]  # fmt: skip
    assert result.model_versions == ["toy/1"]
    assert result.governance["status"] == "not available"
    assert "governance not available" in result.governance["reason"]

    # every step is a run in the experiment named after the pipeline
    runs = {r.name: r for r in prodline.search_runs("toy")}
    assert set(runs) == {"load", "train", "register"}
    train = prodline.get_run(result.step("train").run_id)
    assert train.status == "finished" and train.metrics["train_accuracy"] > 0.9
    assert train.tags["prodline.pipeline_run"] == result.id
    assert train.tags["prodline.step"] == "train" and train.tags["prodline.pipeline"] == "toy"
    assert len(train.params[PARAM_INPUT_FP]) == 64 and len(train.params[PARAM_CODE_FP]) == 64
    paths = {a.path for a in train.artifacts}
    assert {"code/train.py", "outputs/output.skops", "pipeline/inputs.json"} <= paths
    inputs = json.loads(_artifact(train, "pipeline/inputs.json"))
    load_output = result.step("load").outputs["items"][0]
    assert inputs["inputs"]["df"] == {
        "kind": "parquet",
        "digest": load_output["digest"],
        "from": "load",
    }
    assert "def train(df: pd.DataFrame" in _artifact(train, "code/train.py").decode()
    assert prodline.get_run(result.step("load").run_id).params["n"] == "120"

    # outputs load back; the registered version points at the register step's run
    frame = result.output("load")
    assert isinstance(frame, pd.DataFrame) and frame.shape == (120, 3)
    version = result.output("register")
    assert version.ref == "toy/1" and version.run_id == result.step("register").run_id

    # the pipeline run itself, and the history that reads it back
    record = prodline.get_run(result.id)
    assert record.experiment == "pipeline.toy" and record.status == "finished"
    assert record.tags["prodline.status"] == "succeeded"
    assert record.tags["prodline.trigger"] == "manual"
    assert record.tags["prodline.model_versions"] == "toy/1"
    assert record.metrics["steps_executed"] == 3
    assert record.environment is not None
    assert "code/pipeline/pipelines.py" in {a.path for a in record.artifacts}
    (past,) = history("toy")
    assert past.to_dict() == result.to_dict()
    assert toy.history()[0].id == result.id


def test_calling_the_pipeline_runs_it_with_params(toy: Pipeline) -> None:
    result = toy(n=60)
    assert result.ok and result.params == {"n": 60}
    assert result.output("load").shape == (60, 3)
    assert prodline.get_run(result.id).params["param.n"] == "60"


def test_governance_hook_gets_each_model_with_new_versions(
    toy: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict]] = []

    class Decision:
        summary = "promoted toy/1 to production"

        def to_dict(self) -> dict:
            return {"promoted": 1}

    def govern(model: str, *, actor: str, policy: str | None = None) -> Decision:
        calls.append((model, {"actor": actor, "policy": policy}))
        return Decision()

    monkeypatch.setitem(sys.modules, "prodline.govern", types.SimpleNamespace(govern=govern))
    result = toy.run()
    assert calls == [("toy", {"actor": "pipeline", "policy": None})]
    assert result.ok
    assert result.governance == {
        "status": "done",
        "models": {
            "toy": {
                "status": "done",
                "summary": "promoted toy/1 to production",
                "result": {"promoted": 1},
            }
        },
    }
    # nothing new registered on a cached re-run: governance is not asked again
    again = toy.run()
    assert again.governance["status"] == "skipped" and len(calls) == 1
    assert "no new version of model 'toy'" in again.governance["reason"]


def test_governance_errors_fail_the_pipeline_run(
    toy: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def govern(model: str, actor: str) -> None:
        raise RuntimeError("policy file missing")

    monkeypatch.setitem(sys.modules, "prodline.govern", types.SimpleNamespace(govern=govern))
    policy_pipeline = Pipeline(toy.fn, name="toy2", model="toy", policy="policies/strict.yaml")
    result = policy_pipeline.run()
    assert result.status == "failed"
    assert "governance failed: toy: RuntimeError: policy file missing" in result.error
    assert "takes no policy argument" in result.governance["note"]
    assert prodline.get_run(result.id).status == "failed"


@step
def numbers() -> tuple[list, dict]:
    return [1, 2, 3], {"scale": 10}


@step
def scale(values: list, options: dict) -> list:
    return [v * options["scale"] for v in values]


@step
def total(parts: list, extra: dict) -> int:
    return sum(sum(p) for p in parts) + extra["bonus"]


@step
def wrong_type() -> pd.DataFrame:
    return {"not": "a frame"}  # type: ignore[return-value]


@step
def opaque():
    return object()


@step(allow_pickle=True)
def pickled():
    return {1, 2, 3}


@step
def size(value) -> int:
    return len(value)


def test_tuples_lists_of_outputs_and_nested_arguments(project: Project) -> None:
    @pipeline
    def arithmetic():
        values, options = numbers()
        parts = [scale(values, options), scale(values, {"scale": 1})]
        return total(parts, {"bonus": 5})

    result = arithmetic.run()
    assert result.ok, result.error
    assert result.output("numbers") == ([1, 2, 3], {"scale": 10})
    assert result.output("scale") == [10, 20, 30]
    assert result.output("total") == 60 + 6 + 5
    assert result.step("scale").outputs["items"][0]["kind"] == "json"


def test_unsafe_or_mistyped_outputs_fail_their_step_with_a_clear_error(project: Project) -> None:
    @pipeline
    def unsafe():
        size(opaque())
        size(wrong_type())
        size(pickled())

    result = unsafe.run()
    assert result.status == "failed"
    assert result.step("opaque").status == "failed"
    assert "Cannot store the output of step 'opaque' (builtins.object) safely" in (
        result.step("opaque").error
    )
    assert "allow_pickle=True" in result.step("opaque").error
    assert "annotated to return DataFrame but returned dict" in result.step("wrong_type").error
    assert [result.step(n).status for n in ("size", "size-2", "size-3")] == [
        "blocked", "blocked", "finished",
    ]  # fmt: skip
    assert result.output("size-3") == 3
    assert result.output("pickled", allow_pickle=True) == {1, 2, 3}
    failed = prodline.get_run(result.step("opaque").run_id)
    assert failed.status == "failed" and "Traceback" in failed.error


def _artifact(record, path: str) -> bytes:
    (digest,) = [a.digest for a in record.artifacts if a.path == path]
    return _context.artifacts().get_bytes(digest)


def test_the_real_governance_promotes_by_the_models_policy(
    toy: Pipeline, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "prodline.govern")
    pytest.importorskip("prodline.govern", reason="GOVERNANCE PACKAGE MISSING: hook untested")
    (project.root / "policies").mkdir()
    (project.root / "policies" / "toy.yaml").write_text(
        "model: toy\ntarget_alias: production\nrules:\n  - metric: f1\n    at_least: 0.5\n"
    )
    result = toy.run()
    assert result.ok, result.error
    governed = result.governance["models"]["toy"]
    assert governed["status"] == "done"
    assert governed["summary"] == "toy: production: nobody -> v1"
    assert governed["result"]["actor"] == "pipeline"
    assert "[pass] f1 at least 0.5" in governed["explanation"]
    assert prodline.get_model_version("toy@production").version == 1
