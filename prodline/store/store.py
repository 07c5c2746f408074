"""The Store: every metadata operation prodline performs, over one SQLAlchemy engine."""

from __future__ import annotations

from prodline.store.datasets import DatasetsStore
from prodline.store.engine import make_engine
from prodline.store.governance import GovernanceStore
from prodline.store.metrics import MetricsStore
from prodline.store.migrate import upgrade
from prodline.store.predictions import PredictionsStore
from prodline.store.registry import RegistryStore
from prodline.store.runs import RunsStore
from prodline.store.search import SearchStore


class Store(
    RunsStore,
    MetricsStore,
    DatasetsStore,
    SearchStore,
    RegistryStore,
    PredictionsStore,
    GovernanceStore,
):
    """The metadata store. Open it with :func:`open_store`."""


def open_store(url: str) -> Store:
    """Open (and create or migrate when needed) the store at a SQLAlchemy ``url``."""
    engine = make_engine(url)
    upgrade(engine)
    return Store(engine, url)
