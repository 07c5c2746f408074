"""Pipelines: steps and DAGs, caching, local and Ray runners, and triggers.

    from prodline import pipeline, step

    @step
    def load() -> pd.DataFrame: ...

    @step
    def train(df: pd.DataFrame) -> ModelVersion: ...

    @pipeline(model="churn", schedule="0 3 * * 1", retrain_on=["drift"])
    def churn_pipeline():
        train(load())

    churn_pipeline.run()              # or: prodline pipelines run churn_pipeline

``import prodline.pipelines`` is light: pandas, scikit-learn and Ray load only when a
step's values or the Ray runner need them.
"""

from prodline.pipelines.graph import Graph, Node, StepOutput
from prodline.pipelines.loader import get_pipeline, load_pipelines
from prodline.pipelines.locks import ModelLock
from prodline.pipelines.pipeline import Pipeline, govern_versions, pipeline
from prodline.pipelines.records import PipelineRun, StepRun, get_pipeline_run, history
from prodline.pipelines.runners import LocalRunner, RayRunner, Runner
from prodline.pipelines.step import Step, current_run, step
from prodline.pipelines.triggers import TriggerEvent, TriggerSpec, cron_due, request_retrain
from prodline.pipelines.watch import Watcher

__all__ = [
    "Graph",
    "LocalRunner",
    "ModelLock",
    "Node",
    "Pipeline",
    "PipelineRun",
    "RayRunner",
    "Runner",
    "Step",
    "StepOutput",
    "StepRun",
    "TriggerEvent",
    "TriggerSpec",
    "Watcher",
    "cron_due",
    "current_run",
    "get_pipeline",
    "get_pipeline_run",
    "govern_versions",
    "history",
    "load_pipelines",
    "pipeline",
    "request_retrain",
    "step",
]
