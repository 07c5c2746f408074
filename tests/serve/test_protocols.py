"""Every protocol over real HTTP against a real `prodline serve`: MLflow's scoring JSON
formats and CSV on /invocations, the Open Inference Protocol v2, health, metrics,
OpenAPI and the docs page."""

from __future__ import annotations

import re

import pytest

from tests.serve.conftest import assert_close, expected, metric, metric_sum
from tests.serve.fleet import CANCER_FEATURES

F = CANCER_FEATURES


@pytest.fixture(scope="module")
def client(cancer_server):
    with cancer_server.client() as c:
        yield c


@pytest.fixture(scope="module")
def truth(cancer_server, cancer_rows):
    labels, proba = expected(cancer_server.home, "cancer/1", cancer_rows[:5])
    return labels, proba


def _formats(rows):
    one, three = rows[:1], rows[:3]
    return {
        "split-1": ({"dataframe_split": {"columns": F,
                                         "data": [[r[c] for c in F] for r in one]}}, 1),
        "split-3": ({"dataframe_split": {"columns": F, "data": [[r[c] for c in F] for r in three]},
                     }, 3),
        "split-index": ({"dataframe_split": {"index": [7, 8, 9], "columns": F[::-1],
                                             "data": [[r[c] for c in F[::-1]] for r in three]}}, 3),
        "split-positional": ({"dataframe_split": {"data": [[r[c] for c in F] for r in three]}}, 3),
        "records": ({"dataframe_records": three}, 3),
        "records-1": ({"dataframe_records": one}, 1),
        "instances-records": ({"instances": three}, 3),
        "instances-lists": ({"instances": [[r[c] for c in F] for r in three]}, 3),
        "inputs-columns": ({"inputs": {c: [r[c] for r in three] for c in F}}, 3),
        "inputs-row": ({"inputs": dict(one[0])}, 1),
        "inputs-records": ({"inputs": three}, 3),
    }  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["split-1", "split-3", "split-index", "split-positional", "records", "records-1",
     "instances-records", "instances-lists", "inputs-columns", "inputs-row", "inputs-records"],
)  # fmt: skip
def test_every_mlflow_format_gives_the_models_own_predictions(
    client, cancer_rows, truth, name
) -> None:
    body, n = _formats(cancer_rows)[name]
    response = client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-prodline-version"] == "cancer/1"
    assert re.fullmatch(r"[0-9a-f]{24}", response.headers["x-request-id"])
    out = response.json()
    labels, proba = truth
    assert out["predictions"] == labels[:n]
    assert_close(out["probabilities"], proba[:n])


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "application/csv"])
def test_csv_with_a_header_row(client, cancer_rows, truth, content_type) -> None:
    lines = [",".join(F)] + [",".join(repr(r[c]) for c in F) for r in cancer_rows[:3]]
    response = client.post(
        "/invocations", content="\n".join(lines) + "\n", headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == truth[0][:3]


def test_a_json_body_without_content_type_is_read_as_json(cancer_server, cancer_rows) -> None:
    import httpx

    body = {"dataframe_records": cancer_rows[:1]}
    response = httpx.post(
        f"{cancer_server.url}/invocations", content=__import__("json").dumps(body)
    )
    assert response.status_code == 200, response.text


def _v2_columns(rows, shape_1=False):
    return {
        "id": "req-v2-1",
        "inputs": [
            {"name": c, "datatype": "FP64", "shape": [len(rows), 1] if shape_1 else [len(rows)],
             "data": [r[c] for r in rows]}
            for c in F
        ],
    }  # fmt: skip


def test_v2_infer_one_tensor_per_column(client, cancer_rows, truth) -> None:
    for body in (_v2_columns(cancer_rows[:3]), _v2_columns(cancer_rows[:3], shape_1=True)):
        response = client.post("/v2/models/cancer/infer", json=body)
        assert response.status_code == 200, response.text
        out = response.json()
        assert out["model_name"] == "cancer" and out["model_version"] == "1"
        assert out["id"] == "req-v2-1"
        assert response.headers["x-request-id"] == "req-v2-1"
        outputs = {o["name"]: o for o in out["outputs"]}
        assert outputs["predict"]["data"] == truth[0][:3]
        assert outputs["predict"]["shape"] == [3] and outputs["predict"]["datatype"] == "INT64"
        assert outputs["predict_proba"]["shape"] == [3, 2]
        assert outputs["predict_proba"]["datatype"] == "FP32"
        flat = [p for row in truth[1][:3] for p in row]
        assert_close(outputs["predict_proba"]["data"], flat)


def test_v2_infer_one_matrix_tensor_and_chosen_outputs(client, cancer_rows, truth) -> None:
    rows = cancer_rows[:2]
    nested = {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [2, len(F)],
                          "data": [[r[c] for c in F] for r in rows]}],
              "outputs": [{"name": "predict"}]}  # fmt: skip
    response = client.post("/v2/models/cancer/infer", json=nested)
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    assert [o["name"] for o in outputs] == ["predict"]
    assert outputs[0]["data"] == truth[0][:2]
    flat = dict(nested)
    flat["inputs"] = [{**nested["inputs"][0], "data": [r[c] for r in rows for c in F]}]
    response = client.post("/v2/models/cancer/versions/1/infer", json=flat)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == truth[0][:2]


def test_v2_unknown_model_version_or_output(client, cancer_rows) -> None:
    body = _v2_columns(cancer_rows[:1])
    response = client.post("/v2/models/nope/infer", json=body)
    assert response.status_code == 404
    assert "cancer" in response.json()["error"]
    assert client.post("/v2/models/cancer/versions/9/infer", json=body).status_code == 404
    response = client.post("/v2/models/cancer/infer", json={**body, "outputs": [{"name": "x"}]})
    assert response.status_code == 400 and "predict_proba" in response.json()["error"]


def test_v2_metadata_and_health(client) -> None:
    assert client.get("/v2").json()["name"] == "prodline"
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/cancer").json()
    assert meta["name"] == "cancer" and meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == F
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}
    assert client.get("/v2/models/cancer/versions/1").status_code == 200
    assert client.get("/v2/models/cancer/ready").json()["ready"] is True
    assert client.get("/v2/models/other").status_code == 404
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["routing"]["champion"]["ref"] == "cancer/1"
    assert health["routing"]["champion"]["follows"] == "@production"
    assert client.get("/ping").status_code == 200


def test_request_ids_are_honoured_or_made(client, cancer_rows) -> None:
    body = {"dataframe_records": cancer_rows[:1]}
    mine = client.post("/invocations", json=body, headers={"x-request-id": "order-42:a.b_c"})
    assert mine.headers["x-request-id"] == "order-42:a.b_c"
    weird = client.post("/invocations", json=body, headers={"x-request-id": "has spaces"})
    assert re.fullmatch(r"[0-9a-f]{24}", weird.headers["x-request-id"])
    ids = {client.post("/invocations", json=body).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    refused = client.post("/invocations", json={}, headers={"x-request-id": "bad-one"})
    assert refused.headers["x-request-id"] == "bad-one"
    assert refused.json()["request_id"] == "bad-one"
    for path in ("/health", "/metrics", "/v2/models/cancer", "/nowhere", "/docs"):
        assert re.fullmatch(r"[0-9a-f]{24}", client.get(path).headers["x-request-id"]), path
        assert (
            client.get(path, headers={"x-request-id": "probe-1"}).headers["x-request-id"]
            == "probe-1"
        )


def test_metrics_count_requests_latency_and_errors_per_version(client, cancer_rows) -> None:
    before = client.get("/metrics").text
    ok = metric(before, "prodline_requests_total", version="1", endpoint="invocations",
                status="200")  # fmt: skip
    for _ in range(3):
        client.post("/invocations", json={"dataframe_records": cancer_rows[:2]})
    client.post("/invocations", content=b"{", headers={"content-type": "application/json"})
    text = client.get("/metrics").text
    assert metric(text, "prodline_requests_total", version="1", endpoint="invocations",
                  status="200") == ok + 3  # fmt: skip
    assert metric(text, "prodline_request_duration_seconds_count", version="1",
                  endpoint="invocations") >= ok + 3  # fmt: skip
    assert metric_sum(text, "prodline_request_duration_seconds_bucket", version="1") > 0
    assert metric(text, "prodline_request_errors_total", status="400",
                  code="MALFORMED_REQUEST") >= 1  # fmt: skip
    assert metric(text, "prodline_model_info", model="cancer", version="1", role="champion") == 1
    assert metric_sum(text, "prodline_predicted_rows_total", version="1") >= 6


def test_openapi_describes_the_model_and_every_endpoint(client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    for path in ("/invocations", "/v2/models/{name}/infer", "/v2/health/ready", "/health",
                 "/metrics", "/feedback"):  # fmt: skip
        assert path in spec["paths"]
    row = spec["components"]["schemas"]["Row"]
    assert list(row["properties"]) == F
    assert row["properties"]["mean_radius"]["type"] == "number"
    example = spec["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    assert client.post("/invocations", json=example["example"]).status_code == 200


def test_docs_page_is_self_contained(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    for text in ("/invocations", "/v2/models/cancer/infer", "curl", "mean_radius", "/metrics"):
        assert text in page
    assert "<script" not in page.lower()
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page, flags=re.I)
    assert links and all(link.startswith("/") for link in links), links
    assert "@import" not in page and "url(" not in page
