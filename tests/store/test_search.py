"""The run search language and its SQL, on both backends."""

from __future__ import annotations

import pytest

from prodline.errors import FilterSyntaxError, InvalidValueError
from prodline.store.store import Store, open_store


@pytest.fixture
def store(store_url: str) -> Store:
    opened = open_store(store_url)
    runs = [
        # name, experiment, f1, max_depth, team
        ("a", "churn", 0.95, "6", "risk"),
        ("b", "churn", 0.91, "6", "growth"),
        ("c", "churn", 0.85, "6", "risk"),
        ("d", "churn", 0.97, "8", "risk"),
        ("e", "churn", None, "6", "risk"),
        ("f", "other", 0.99, "6", "risk"),
    ]
    for name, experiment, f1, depth, team in runs:
        run_id, _, _ = opened.create_run(opened.get_or_create_experiment(experiment), name)
        opened.log_params(run_id, {"max_depth": depth})
        opened.set_tags(run_id, {"team": team})
        if f1 is not None:
            opened.log_metric_points(run_id, [("f1", f1, 0), ("val loss", 1 - f1, 0)])
        if name == "c":
            opened.end_run(run_id, "failed")
    yield opened
    opened.close()


def names(runs: list) -> list[str]:
    return [r.name for r in runs]


def test_the_issue_example(store: Store) -> None:
    found = store.search_runs(
        ["churn"], "metrics.f1 > 0.9 and params.max_depth = '6'", ["metrics.f1 DESC"]
    )
    assert names(found) == ["a", "b"]
    assert found[0].params == {"max_depth": "6"} and found[0].metrics["f1"] == 0.95


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metrics.f1 >= 0.95", {"a", "d", "f"}),
        ("metrics.f1 < 0.9", {"c"}),
        ("metrics.f1 != 0.95", {"b", "c", "d", "f"}),
        ("metrics.`val loss` < 0.06", {"a", "d", "f"}),
        ('metrics."val loss" < 0.06', {"a", "d", "f"}),
        ("params.max_depth = '8'", {"d"}),
        ("params.max_depth IN ('8', '9')", {"d"}),
        ("tags.team LIKE 'gr%'", {"b"}),
        ("tags.team NOT LIKE 'gr%'", {"a", "c", "d", "e", "f"}),
        ("tags.team ILIKE 'RISK'", {"a", "c", "d", "e", "f"}),
        ("status = 'failed'", {"c"}),
        ("attributes.status != 'failed' and metrics.f1 > 0.96", {"d", "f"}),
        ("experiment = 'other'", {"f"}),
        ("name = 'a' or name = 'b'", {"a", "b"}),
        ("(name = 'a' or name = 'd') and params.max_depth = '6'", {"a"}),
        ("start_time > '2000-01-01'", {"a", "b", "c", "d", "e", "f"}),
        ("metrics.missing > 0", set()),
    ],
)
def test_filters(store: Store, expression: str, expected: set[str]) -> None:
    assert set(names(store.search_runs(filter=expression))) == expected


def test_ordering_puts_missing_values_last_in_both_directions(store: Store) -> None:
    assert names(store.search_runs(["churn"], order_by=["metrics.f1 DESC"])) == [
        "d", "a", "b", "c", "e"
    ]  # fmt: skip
    assert names(store.search_runs(["churn"], order_by=["metrics.f1"])) == ["c", "b", "a", "d", "e"]
    assert (
        names(store.search_runs(["churn"], order_by=["params.max_depth DESC", "name ASC"]))[0]
        == "d"
    )


def test_paging_walks_every_run_once(store: Store) -> None:
    seen: list[str] = []
    token = None
    while True:
        page = store.search_runs(order_by=["name"], max_results=4, page_token=token)
        seen += names(page)
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["a", "b", "c", "d", "e", "f"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("metrics.f1 >", "Expected a number"),
        ("metrics.f1 > 'high'", "compares with numbers"),
        ("params.max_depth > 5", "is text"),
        ("colour = 'red'", "Unknown run attribute"),
        ("metrics.f1 > 0.9 metrics.f1 < 1", "Unexpected"),
        ("metrics.f1 > 0.9 and", "Expected a field"),
        ("(metrics.f1 > 0.9", r"Expected '\)'"),
        ("metrics.f1 ~ 3", "Cannot read the filter"),
        ("start_time > 'yesterday'", "ISO date"),
    ],
)
def test_filter_errors_say_what_and_where(store: Store, expression: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message):
        store.search_runs(filter=expression)


def test_bad_paging_arguments(store: Store) -> None:
    with pytest.raises(InvalidValueError):
        store.search_runs(max_results=0)
    with pytest.raises(InvalidValueError, match="page token"):
        store.search_runs(page_token="garbage!")


def test_order_by_needs_a_known_direction(store: Store) -> None:
    with pytest.raises(InvalidValueError, match="ASC or DESC"):
        store.search_runs(order_by=["metrics.f1 SIDEWAYS"])
    assert names(store.search_runs(["churn"], order_by=["metrics.`val loss` DESC"]))[0] == "c"
    assert names(store.search_runs(["churn"], order_by=["metrics.`val loss`"]))[0] == "d"


def test_unknown_experiment_is_an_error_not_an_empty_result(store: Store) -> None:
    from prodline.errors import NotFoundError

    with pytest.raises(NotFoundError, match="No experiment named 'typo'"):
        store.search_runs(["typo"])
