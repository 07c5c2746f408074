"""Adaptive micro-batching: concurrent requests share a model call and each caller gets
exactly its own rows back (in-process, and over HTTP under concurrency)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from prodline.serve.batching import MicroBatcher
from prodline.serve.engine import Prediction, ServedModel
from prodline.serve.inputs import Rows
from tests.serve.conftest import assert_close, expected, metric


class EchoModel:
    """Labels = the row's x, probabilities = [x, -x]; records each call's row count."""

    input_names = ["x"]

    def __init__(self, fail_on: float | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    def predict_columns(self, columns):
        xs = np.asarray(columns["x"], dtype=float)
        self.calls.append(len(xs))
        if self.fail_on is not None and self.fail_on in xs:
            raise ValueError("poisoned batch")
        return Prediction(xs.copy(), np.stack([xs, -xs], axis=1))

    def predict(self, rows):
        return self.predict_columns(rows.as_columns(self.input_names))


def _rows(*xs: float) -> Rows:
    return Rows(1, row={"x": xs[0]}) if len(xs) == 1 else Rows(len(xs), columns={"x": list(xs)})


def test_concurrent_requests_share_one_call_and_get_their_own_rows() -> None:
    model = EchoModel()
    sizes = []
    batcher = MicroBatcher(model, max_rows=64, on_batch=lambda n, rows: sizes.append(n))

    async def main():
        requests = [_rows(float(i)) if i % 2 else _rows(float(i), i + 0.5) for i in range(20)]
        return requests, await asyncio.gather(*(batcher.submit(r) for r in requests))

    requests, results = asyncio.run(main())
    assert model.calls == [30] and sizes == [20]
    for rows, result in zip(requests, results, strict=True):
        xs = rows.as_columns(["x"])["x"]
        assert result.labels.tolist() == xs
        assert result.proba.tolist() == [[x, -x] for x in xs]


def test_batches_respect_the_row_limit() -> None:
    model = EchoModel()
    batcher = MicroBatcher(model, max_rows=4)

    async def main():
        return await asyncio.gather(*(batcher.submit(_rows(float(i))) for i in range(10)))

    results = asyncio.run(main())
    assert all(c <= 4 for c in model.calls) and sum(model.calls) == 10
    assert [r.labels.tolist() for r in results] == [[float(i)] for i in range(10)]


def test_a_failing_batch_fails_only_the_guilty_request() -> None:
    model = EchoModel(fail_on=3.0)
    batcher = MicroBatcher(model)

    async def main():
        return await asyncio.gather(
            *(batcher.submit(_rows(float(i))) for i in range(6)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert isinstance(results[3], ValueError)
    assert [r.labels.tolist() for i, r in enumerate(results) if i != 3] == [
        [0.0], [1.0], [2.0], [4.0], [5.0],
    ]  # fmt: skip


def test_a_threaded_model_keeps_gathering_while_a_batch_runs() -> None:
    gate = threading.Event()

    class Slow(EchoModel):
        def predict_columns(self, columns):
            gate.wait(5)
            return super().predict_columns(columns)

    model = Slow()
    with ThreadPoolExecutor(1) as pool:
        batcher = MicroBatcher(model, executor=pool)

        async def main():
            first = asyncio.ensure_future(batcher.submit(_rows(0.0)))
            await asyncio.sleep(0.05)  # the first batch is running
            rest = [asyncio.ensure_future(batcher.submit(_rows(float(i)))) for i in range(1, 8)]
            await asyncio.sleep(0.05)
            gate.set()
            return await asyncio.gather(first, *rest)

        results = asyncio.run(main())
    assert model.calls == [1, 7]
    assert [r.labels.tolist() for r in results] == [[float(i)] for i in range(8)]


@pytest.mark.parametrize(
    ("single_s", "batch_row_s", "helps"),
    [(15e-6, 1e-6, False), (5e-3, 0.2e-3, True), (5e-3, 4e-3, False), (0.3e-3, 0.05e-3, True)],
)
def test_batching_is_on_by_default_only_where_it_pays(single_s, batch_row_s, helps) -> None:
    model = ServedModel.__new__(ServedModel)
    model.single_s, model.batch_row_s = single_s, batch_row_s
    assert model.batching_helps is helps


def test_over_http_each_caller_gets_its_own_rows(serve, cancer_rows, home) -> None:
    server = serve("cancer", "--batching", "--max-batch-wait-ms", "3", "--no-log-predictions")
    rows = cancer_rows[:48]
    labels, proba = expected(home, "cancer/1", rows)
    errors: list[str] = []

    def call(i: int) -> None:
        with server.client() as client:
            for k in range(6):
                j = (i * 6 + k) % len(rows)
                n = 1 + (j % 3)
                chunk = [rows[(j + m) % len(rows)] for m in range(n)]
                response = client.post("/invocations", json={"dataframe_records": chunk})
                if response.status_code != 200:
                    errors.append(response.text)
                    continue
                out = response.json()
                want = [(j + m) % len(rows) for m in range(n)]
                if out["predictions"] != [labels[w] for w in want]:
                    errors.append(f"rows {want}: {out['predictions']}")
                assert_close(out["probabilities"], [proba[w] for w in want])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:3]
    with server.client() as client:
        text = client.get("/metrics").text
        requests = metric(text, "prodline_batch_requests_count", version="1")
        total = metric(text, "prodline_batch_requests_sum", version="1")
        assert requests > 0 and total == 72
        assert total > requests, "no two requests were ever batched together"
        assert client.get("/health").status_code == 200
