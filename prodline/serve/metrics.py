"""Prometheus metrics of one server (``GET /metrics``).

Each app has its own registry. With several worker processes, metric values live in
a shared directory (prometheus_client's multiprocess mode, set up by ``prodline
serve --workers N``) and ``/metrics`` adds up every worker's.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    """The server's counters, histograms and gauges, with cached label children (a
    ``labels()`` lookup per request would cost more than the observation)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Per-request metrics: plain numbers updated on the request path and turned into
        # Prometheus families when scraped (a prometheus_client child takes a lock per
        # update). With several worker processes, prometheus_client's shared files.
        self._fast = None if multiprocess_dir else _RequestCollector()
        if self._fast is not None:
            r.register(self._fast)
        else:
            self.requests = Counter(
                "prodline_requests",
                "Prediction requests answered, by model version, role, endpoint and status.",
                ["model", "version", "role", "endpoint", "status"],
                registry=r,
            )
            self.latency = Histogram(
                "prodline_request_duration_seconds",
                "Time from request received to response ready, by model version and endpoint.",
                ["model", "version", "endpoint"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
            self.rows = Counter(
                "prodline_predicted_rows",
                "Input rows scored, by model version and role.",
                ["model", "version", "role"],
                registry=r,
            )
        self.errors = Counter(
            "prodline_request_errors",
            "Refused or failed requests, by endpoint, status and error code.",
            ["endpoint", "status", "code"],
            registry=r,
        )
        self.violations = Counter(
            "prodline_contract_violations",
            "Contract problems found in requests (422), by model version, column and problem.",
            ["model", "version", "column", "problem"],
            registry=r,
        )
        self.batches = Histogram(
            "prodline_batch_requests",
            "Requests per micro-batch (model call).",
            ["model", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.logs_written = Counter(
            "prodline_prediction_logs_written", "Prediction log rows written.", registry=r
        )
        self.logs_dropped = Counter(
            "prodline_prediction_logs_dropped",
            "Prediction log rows dropped because the log queue was full.",
            registry=r,
        )
        self.log_failures = Counter(
            "prodline_prediction_log_write_failures",
            "Failed writes of prediction logs (retried).",
            registry=r,
        )
        self.log_queue = Gauge(
            "prodline_prediction_log_queue_rows",
            "Prediction log rows waiting to be written.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.shadow = Counter(
            "prodline_shadow_requests",
            "Requests copied to a shadow challenger, by outcome (ok, rejected, error, dropped).",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.shadow_latency = Histogram(
            "prodline_shadow_duration_seconds",
            "Shadow challenger time per request (never seen by callers).",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "prodline_model_info",
            "Model versions being served (1), by role and serving path.",
            ["model", "version", "role", "serving_path"],
            registry=r,
            multiprocess_mode="max",
        )
        self.challenger_percent = Gauge(
            "prodline_challenger_percent",
            "Share of traffic (percent) routed to the challenger in split and canary modes.",
            ["model", "mode"],
            registry=r,
            multiprocess_mode="max",
        )
        self.reloads = Counter(
            "prodline_model_reloads",
            "Hot reloads of a served version, by role and outcome (ok, failed).",
            ["model", "role", "outcome"],
            registry=r,
        )
        self.feedback = Counter(
            "prodline_feedback_labels", "Ground-truth labels recorded.", ["model"], registry=r
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def request_stats(self, model: str, version: Any, role: str, endpoint: str) -> Any:
        """The object whose ``observe(seconds, rows)`` records one answered request."""
        if self._fast is not None:
            return self._fast.stats((model, str(version), role, endpoint))
        return _PromStats(
            self.child(self.requests, model, version, role, endpoint, 200),
            self.child(self.latency, model, version, endpoint),
            self.child(self.rows, model, version, role),
        )

    def count_refusal(self, model: str, version: Any, endpoint: str, status: int) -> None:
        """One request answered with an error status."""
        if self._fast is not None:
            self._fast.refuse((model, str(version), "", endpoint, str(status)))
        else:
            self.child(self.requests, model, version, "", endpoint, status).inc()

    def count_rows(self, model: str, version: Any, role: str, rows: int) -> None:
        """Rows scored outside a request (the shadow challenger's)."""
        self.request_stats(model, version, role, "shadow").add_rows(rows)

    def child(self, metric: Any, *labels: Any) -> Any:
        """``metric.labels(*labels)``, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = metric.labels(*(str(v) for v in labels))
            self._children[key] = found
        return found

    def exposition(self) -> bytes:
        """The text format for ``GET /metrics``."""
        if self.multiprocess_dir:
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=self.multiprocess_dir)
            return generate_latest(merged)
        return generate_latest(self.registry)


class _FastStats:
    """One (model, version, role, endpoint)'s counts, latency histogram and rows, as
    plain numbers: each is updated from one thread only (the event loop, or the
    shadow thread for its own role)."""

    __slots__ = ("count", "rows", "total", "buckets")

    def __init__(self) -> None:
        self.count = 0
        self.rows = 0
        self.total = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)

    def observe(self, seconds: float, rows: int) -> None:
        self.count += 1
        self.rows += rows
        self.total += seconds
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def add_rows(self, rows: int) -> None:
        self.rows += rows


class _PromStats:
    __slots__ = ("requests", "latency", "rows")

    def __init__(self, requests: Any, latency: Any, rows: Any) -> None:
        self.requests, self.latency, self.rows = requests, latency, rows

    def observe(self, seconds: float, rows: int) -> None:
        self.requests.inc()
        self.latency.observe(seconds)
        self.rows.inc(rows)

    def add_rows(self, rows: int) -> None:
        self.rows.inc(rows)


class _RequestCollector:
    """Exposes the _FastStats as prodline_requests_total,
    prodline_request_duration_seconds and prodline_predicted_rows_total."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str, str, str], _FastStats] = {}
        self._refusals: dict[tuple[str, ...], int] = {}

    def stats(self, key: tuple[str, str, str, str]) -> _FastStats:
        found = self._stats.get(key)
        if found is None:
            found = self._stats.setdefault(key, _FastStats())
        return found

    def refuse(self, key: tuple[str, ...]) -> None:
        self._refusals[key] = self._refusals.get(key, 0) + 1

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "prodline_requests",
            "Prediction requests answered, by model version, role, endpoint and status.",
            labels=["model", "version", "role", "endpoint", "status"],
        )
        latency = HistogramMetricFamily(
            "prodline_request_duration_seconds",
            "Time from request received to response ready, by model version and endpoint.",
            labels=["model", "version", "endpoint"],
        )
        rows = CounterMetricFamily(
            "prodline_predicted_rows",
            "Input rows scored, by model version and role.",
            labels=["model", "version", "role"],
        )
        by_endpoint: dict[tuple[str, str, str], list[Any]] = {}
        by_role: dict[tuple[str, str, str], int] = {}
        for (model, version, role, endpoint), s in list(self._stats.items()):
            if endpoint != "shadow":
                requests.add_metric([model, version, role, endpoint, "200"], s.count)
                merged = by_endpoint.setdefault(
                    (model, version, endpoint), [[0] * len(s.buckets), 0.0]
                )
                merged[0] = [a + b for a, b in zip(merged[0], s.buckets, strict=True)]
                merged[1] += s.total
            key = (model, version, role)
            by_role[key] = by_role.get(key, 0) + s.rows
        for labels, count in list(self._refusals.items()):
            requests.add_metric(list(labels), count)
        for (model, version, endpoint), (buckets, total) in by_endpoint.items():
            cumulative, running = [], 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), buckets, strict=True):
                running += count
                cumulative.append((_bound(bound), running))
            latency.add_metric([model, version, endpoint], cumulative, sum_value=total)
        for labels, count in by_role.items():
            rows.add_metric(list(labels), count)
        yield requests
        yield latency
        yield rows


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))
