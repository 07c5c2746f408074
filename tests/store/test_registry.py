"""Registry tables on both backends: versions, aliases, labels and their history."""

from __future__ import annotations

import pytest

from prodline.errors import InvalidValueError, NotFoundError
from prodline.store.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Store:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _version(store: Store, name: str = "churn") -> int:
    record = store.create_model_version(
        name, run_id=None, files={"model.skops": {"sha256": "a" * 64, "size": 1}},
        contract={"task": "classification"}, serving_path="python", actor="ana",
    )  # fmt: skip
    return record.version


def test_versions_are_numbered_per_model(store: Store) -> None:
    assert [_version(store), _version(store), _version(store, "other")] == [1, 2, 1]
    assert [v.version for v in store.list_model_versions("churn")] == [2, 1]
    [churn, other] = store.list_models()
    assert (churn.name, churn.latest_version, churn.version_count) == ("churn", 2, 2)
    assert other.name == "other"


def test_alias_moves_keep_their_full_history(store: Store) -> None:
    _version(store)
    _version(store)
    assert store.set_alias("churn", "production", 1, actor="ana", reason="first")
    assert not store.set_alias("churn", "production", 1, actor="ana")  # no-op, no event
    assert store.set_alias("churn", "production", 2, actor="bo", reason="better f1")
    assert store.get_model_version("churn", alias="production").version == 2
    assert store.list_models()[0].aliases == {"production": 2}
    moves = [e for e in store.registry_history("churn") if e.kind == "alias_set"]
    assert [(e.version, e.previous_version, e.actor, e.reason) for e in moves] == [
        (1, None, "ana", "first"),
        (2, 1, "bo", "better f1"),
    ]
    assert store.remove_alias("churn", "production", actor="ana", reason="incident")
    with pytest.raises(NotFoundError, match="no alias 'production'"):
        store.get_model_version("churn", alias="production")


def test_labels_with_reasons_and_history(store: Store) -> None:
    _version(store)
    assert store.add_label("churn", 1, "rejected", reason="f1 0.71 < 0.80", actor="govern")
    assert not store.add_label("churn", 1, "rejected", reason="f1 0.71 < 0.80", actor="govern")
    assert store.add_label("churn", 1, "rejected", reason="recall 0.5 < 0.7", actor="govern")
    [label] = store.get_model_version("churn", 1).labels
    assert (label.label, label.reason) == ("rejected", "recall 0.5 < 0.7")
    assert store.remove_label("churn", 1, "rejected", actor="ana", reason="re-evaluated")
    assert store.get_model_version("churn", 1).labels == []
    kinds = [(e.kind, e.reason) for e in store.registry_history("churn")]
    assert kinds == [
        ("version_created", None),
        ("label_added", "f1 0.71 < 0.80"),
        ("label_added", "recall 0.5 < 0.7"),
        ("label_removed", "re-evaluated"),
    ]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.set_alias("churn", "production", 9, actor="a"), NotFoundError, "no version 9"),
        (lambda s: s.set_alias("nope", "production", 1, actor="a"), NotFoundError, "No registered"),
        (lambda s: s.set_alias("churn", "Prod Uction", 1, actor="a"), InvalidValueError, "alias"),
        (lambda s: s.add_label("churn", 1, "x", reason="", actor="a"), InvalidValueError, "reason"),
        (lambda s: s.set_alias("churn", "production", 1, actor=""), InvalidValueError, "actor"),
        (lambda s: _version(s, "has space"), InvalidValueError, "Invalid model name"),
        (lambda s: _version(s, "a/b"), InvalidValueError, "Invalid model name"),
    ],
)
def test_bad_registry_changes_write_nothing(store: Store, call, error, message) -> None:
    _version(store)
    before = store.registry_history("churn")
    with pytest.raises(error, match=message):
        call(store)
    assert store.registry_history("churn") == before
    assert store.list_models()[0].aliases == {}
