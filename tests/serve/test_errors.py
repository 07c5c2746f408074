"""Every error status over real HTTP, and hypothesis-generated junk that must never
produce a 500 or reach the model."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serve.conftest import metric, metric_sum
from tests.serve.fleet import CANCER_FEATURES

F = CANCER_FEATURES
ALLOWED = {200, 400, 404, 413, 415, 422}


@pytest.fixture(scope="module")
def client(cancer_server):
    with cancer_server.client() as c:
        yield c


def _post(client, body, content_type="application/json", path="/invocations"):
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    return client.post(path, content=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "one of the keys"),
        ({"rows": []}, "dataframe_split"),
        ({"dataframe_records": [], "instances": []}, "exactly one"),
        ({"dataframe_split": {"columns": F, "data": [[1.0]]}}, "needs 6 values"),
        ({"dataframe_split": {"columns": [1, 2], "data": [[1, 2]]}}, "column names"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2], [3, 4]]}}, "distinct"),
        ({"dataframe_split": {"columns": F, "data": []}}, "no rows"),
        ({"dataframe_split": {"columns": F}}, '"data"'),
        ({"dataframe_split": {"columns": F, "data": [[1] * 6], "dtypes": {}}}, "unknown key"),
        ({"dataframe_records": {"a": 1}}, "list of row objects"),
        ({"dataframe_records": [{"a": 1}, 3]}, "dataframe_records[1]"),
        ({"instances": []}, "no rows"),
        ({"instances": [[1, 2], {"a": 1}]}, "instances[1]"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, "same length"),
        ({"inputs": {}}, "no columns"),
        ({"dataframe_records": [{}], "params": {"x": 1}}, "params"),
        (b'{"inputs": [1e999]}', "not valid JSON"),
        (b'{"inputs": [NaN]}', "not valid JSON"),
    ],
)
def test_malformed_json_is_400_with_a_reason(client, body, fragment) -> None:
    response = _post(client, body)
    assert response.status_code == 400, response.text
    out = response.json()
    assert out["error_code"] == "MALFORMED_REQUEST"
    assert fragment in out["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("a,b\n1,2,3\n", "row 0 has 3 fields"),
        ("mean_radius\n", "header row and at least one data row"),
        (b"\xff\xfe,bad\n1,2\n", "not UTF-8"),
        ('a,"b\n1,2\n', "not valid CSV"),
        ("a,a\n1,2\n", "every column once"),
    ],
)
def test_malformed_csv_is_400(client, body, fragment) -> None:
    response = _post(client, body, "text/csv")
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [{"name": "mean_radius", "datatype": "FP64", "shape": [2], "data": [1.0]}]},
         "has 1 values"),
        ({"inputs": [{"name": "mean_radius", "datatype": "FP99", "shape": [1], "data": [1.0]}]},
         "datatype"),
        ({"inputs": [{"datatype": "FP64", "shape": [1], "data": [1.0]}]}, '"name"'),
        ({"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1], "data": [1.0]}]}, "shape"),
        ({"inputs": [{"name": "mean_radius", "datatype": "FP64", "shape": [1, 2],
                      "data": [1.0, 2.0]}]}, "[n] or [n, 1]"),
        ({"inputs": [{"name": "mean_radius", "datatype": "FP64", "shape": [1], "data": [1]}],
          "id": 5}, '"id"'),
    ],
)  # fmt: skip
def test_malformed_v2_is_400_in_the_v2_error_shape(client, body, fragment) -> None:
    response = _post(client, body, path="/v2/models/cancer/infer")
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_contract_violations_are_422_listing_every_problem_by_row_and_column(
    client, cancer_rows
) -> None:
    before = client.get("/metrics").text
    rows = [dict(r) for r in cancer_rows[:4]]
    rows[1]["mean_radius"] = "large"
    rows[2]["mean_radius"] = True
    rows[3]["mean_texture"] = None
    del rows[0]["mean_area"]
    rows[2]["mean_area"] = [1, 2]
    response = _post(client, {"dataframe_records": rows})
    assert response.status_code == 422, response.text
    out = response.json()
    assert out["error_code"] == "CONTRACT_VIOLATION"
    found = {(v["column"], v["problem"]): v for v in out["violations"]}
    assert found[("mean_radius", "wrong_type")]["rows"] == [1, 2]
    assert found[("mean_radius", "wrong_type")]["count"] == 2
    assert found[("mean_texture", "null_not_allowed")]["rows"] == [3]
    assert found[("mean_area", "null_not_allowed")]["rows"] == [0]
    assert found[("mean_area", "wrong_type")]["rows"] == [2]
    for fragment in ("mean_radius", "mean_texture", "mean_area", "rows 1, 2", "row 3"):
        assert fragment in out["message"]
    after = client.get("/metrics").text
    assert metric_sum(after, "prodline_predicted_rows_total") == metric_sum(
        before, "prodline_predicted_rows_total"
    ), "a refused request reached the model"
    assert metric(after, "prodline_contract_violations_total", column="mean_radius",
                  problem="wrong_type") >= 1  # fmt: skip


def test_a_missing_column_and_wrong_row_lengths_are_422(client, cancer_rows) -> None:
    row = {k: v for k, v in cancer_rows[0].items() if k != "mean_smoothness"}
    response = _post(client, {"dataframe_records": [row]})
    assert response.status_code == 422
    assert response.json()["violations"][0]["problem"] == "missing_column"
    response = _post(client, {"instances": [[1.0] * 6, [1.0] * 5, [1.0] * 7]})
    assert response.status_code == 422
    violation = response.json()["violations"][0]
    assert (violation["problem"], violation["rows"]) == ("wrong_row_length", [1, 2])


def test_csv_text_that_is_not_a_number_is_422(client) -> None:
    body = ",".join(F) + "\n" + ",".join(["abc"] + ["1.5"] * 5) + "\n"
    response = _post(client, body, "text/csv")
    assert response.status_code == 422, response.text
    violation = response.json()["violations"][0]
    assert (violation["column"], violation["problem"], violation["examples"]) == (
        "mean_radius", "wrong_type", ["abc"],
    )  # fmt: skip


def test_values_past_the_training_range_are_served_by_default(client, cancer_rows) -> None:
    row = {**cancer_rows[0], "mean_area": 1e9, "mean_radius": -5.0}
    assert _post(client, {"dataframe_records": [row]}).status_code == 200


def test_body_over_the_limit_is_413(client, cancer_rows) -> None:
    big = {"dataframe_records": cancer_rows[:1] * 1000}  # > 64 KiB
    response = _post(client, big)
    assert response.status_code == 413
    assert response.json()["error_code"] == "REQUEST_TOO_LARGE"

    def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"dataframe_records": ['
        for _ in range(2000):
            yield json.dumps(cancer_rows[0]).encode() + b","
        yield json.dumps(cancer_rows[0]).encode() + b"]}"

    response = client.post(
        "/invocations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_unsupported_content_type_is_415(client, content_type) -> None:
    response = _post(client, {"instances": [[1.0] * 6]}, content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["message"]
    response = _post(client, "a\n1\n", "text/csv", path="/v2/models/cancer/infer")
    assert response.status_code == 415


def test_unknown_routes_and_methods(client) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"
    assert client.get("/invocations").status_code == 405
    assert client.delete("/health").status_code == 405
    assert client.post("/v2/models/cancer/a/b/infer", json={}).status_code == 404


# ------------------------------------------------------------------------------ junk

cells = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
names = st.sampled_from(F) | st.text(max_size=5)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children,
                                                                     max_size=6),
    max_leaves=25,
)  # fmt: skip
mlflow_shaped = st.one_of(
    st.builds(lambda c, d: {"dataframe_split": {"columns": c, "data": d}},
              st.lists(names, max_size=8), st.lists(st.lists(cells, max_size=8), max_size=4)),
    st.builds(lambda r: {"dataframe_records": r},
              st.lists(st.dictionaries(names, cells, max_size=8), max_size=4)),
    st.builds(lambda r: {"instances": r},
              st.lists(st.lists(cells, max_size=8), max_size=4) | json_values),
    st.builds(lambda r: {"inputs": r}, st.dictionaries(names, st.lists(cells, max_size=3) | cells,
                                                       max_size=8) | json_values),
    st.dictionaries(st.sampled_from(["dataframe_split", "inputs", "params", "x"]), json_values,
                    max_size=3),
)  # fmt: skip
v2_shaped = st.builds(
    lambda tensors, extra: {"inputs": tensors, **extra},
    st.lists(
        st.fixed_dictionaries(
            {"name": names, "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BYTES", "Q"]),
             "shape": st.lists(st.integers(-1, 4), max_size=3),
             "data": st.lists(cells | st.lists(cells, max_size=3), max_size=8)}
        ),
        max_size=7,
    ),
    st.dictionaries(st.sampled_from(["id", "outputs", "parameters"]), json_values, max_size=2),
)  # fmt: skip
csv_text = st.lists(
    st.lists(st.sampled_from(F) | st.text(max_size=6), min_size=1, max_size=8), max_size=4
).map(lambda lines: "\n".join(",".join(cells) for cells in lines))


def _check(response) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    if response.status_code != 200:
        body = response.json()
        assert body.get("error_code") or body.get("error"), body


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=json_values | mlflow_shaped)
def test_no_json_body_produces_a_500(client, body) -> None:
    _check(_post(client, body))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=v2_shaped | json_values)
def test_no_v2_body_produces_a_500(client, body) -> None:
    _check(_post(client, body, path="/v2/models/cancer/infer"))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/csv", "application/json; charset=latin-1", ""]
    ),
)
def test_no_raw_bytes_produce_a_500(client, raw, content_type) -> None:  # fmt: skip
    _check(_post(client, raw, content_type))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=csv_text)
def test_no_csv_produces_a_500(client, text) -> None:
    _check(_post(client, text, "text/csv"))


def test_the_junk_never_reached_the_model_as_a_500(client) -> None:
    text = client.get("/metrics").text
    assert metric_sum(text, "prodline_request_errors_total", status="500") == 0


# ------------------------------------------------- junk against a mixed-type model

SHOP = ["tenure", "plan", "monthly"]


@pytest.fixture(scope="module")
def shop_client(module_home, tmp_path_factory):
    from tests.serve.conftest import start_server

    server = start_server(module_home, "shop", "--reload-interval", "0", "--no-log-predictions",
                          log_dir=tmp_path_factory.mktemp("shop-logs"))  # fmt: skip
    with server.client() as client:
        yield client
    server.stop_gracefully()


shop_cells = cells | st.sampled_from(["basic", "pro", "team", "", "NaN", "nan", "1e400"])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(st.fixed_dictionaries({}, optional={c: shop_cells for c in SHOP}),
                        min_size=1, max_size=4))  # fmt: skip
def test_no_mixed_type_rows_produce_a_500(shop_client, records) -> None:
    _check(_post(shop_client, {"dataframe_records": records}))
    lines = [",".join(SHOP)] + [",".join(str(r.get(c, "")) for c in SHOP) for r in records]
    _check(_post(shop_client, "\n".join(lines), "text/csv"))


def test_mixed_type_answers_and_refusals(shop_client) -> None:
    good = {"tenure": 3, "plan": "basic", "monthly": None}
    response = _post(shop_client, {"dataframe_records": [good]})
    assert response.status_code == 200, response.text
    response = _post(shop_client, "tenure,plan,monthly\n3,basic,\n40,team,99.5\n", "text/csv")
    assert response.status_code == 200 and len(response.json()["predictions"]) == 2
    response = _post(shop_client, {"dataframe_records": [{**good, "plan": "gold"},
                                                         {**good, "tenure": 2.5}]})  # fmt: skip
    assert response.status_code == 422
    problems = {
        (v["column"], v["problem"], tuple(v["rows"])) for v in response.json()["violations"]
    }
    assert problems == {("plan", "unknown_category", (0,)), ("tenure", "wrong_type", (1,))}
    text = shop_client.get("/metrics").text
    assert metric_sum(text, "prodline_request_errors_total", status="500") == 0
