"""Run comparison: which params and metrics differ, and which run is best per metric.

``compare`` builds JSON-safe data from run records; ``render_comparison`` prints it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prodline.cli import render

if TYPE_CHECKING:
    from rich.console import Console

    from prodline.store.records import RunRecord

#: name fragments of metrics where lower is better (everything else: higher is better)
LOWER_IS_BETTER = frozenset(
    {
        "loss", "logloss", "error", "err", "mse", "rmse", "mae", "mape", "smape", "msle",
        "rmsle", "brier", "perplexity", "latency", "duration", "time", "seconds", "cost",
        "fpr", "fnr", "wer", "cer", "ece", "hamming",
    }
)  # fmt: skip


def metric_goal(key: str, maximize: Sequence[str] = (), minimize: Sequence[str] = ()) -> str:
    """``"max"`` or ``"min"``: which way a metric improves (explicit choices first, then
    the name: ``val_loss``, ``rmse``, ``fit_time`` are minimised, ``neg_*`` maximised)."""
    if key in maximize:
        return "max"
    if key in minimize:
        return "min"
    tokens = [token for token in re.split(r"[^a-z0-9]+", key.lower()) if token]
    if tokens and tokens[0] == "neg":
        return "max"
    if any(token in LOWER_IS_BETTER or token.endswith(("loss", "error")) for token in tokens):
        return "min"
    return "max"


def compare(
    records: Sequence[RunRecord], maximize: Sequence[str] = (), minimize: Sequence[str] = ()
) -> dict[str, Any]:
    """The comparison of runs as JSON-safe data: the run records, and per param and
    metric the values in run order, whether they differ, and (metrics) the best runs."""
    param_keys = sorted({key for record in records for key in record.params})
    metric_keys = sorted({key for record in records for key in record.metrics})
    params = []
    for key in param_keys:
        values = [record.params.get(key) for record in records]
        params.append({"key": key, "values": values, "differs": len(set(values)) > 1})
    metrics = []
    for key in metric_keys:
        values = [record.metrics.get(key) for record in records]
        goal = metric_goal(key, maximize, minimize)
        finite = [v for v in values if v is not None and math.isfinite(v)]
        differs = len({_metric_identity(v) for v in values}) > 1
        best: list[str] = []
        if len(set(finite)) > 1:  # a best value needs at least two different values
            target = max(finite) if goal == "max" else min(finite)
            best = [record.id for record, v in zip(records, values, strict=True) if v == target]
        metrics.append(
            {"key": key, "values": values, "differs": differs, "goal": goal, "best": best}
        )
    return {
        "runs": [record.to_dict() for record in records],
        "params": params,
        "metrics": metrics,
    }


def _metric_identity(value: float | None) -> Any:
    return "nan" if value is not None and value != value else value


def render_comparison(
    out: Console, records: Sequence[RunRecord], comparison: dict[str, Any], diff_only: bool
) -> None:
    headers = [f"{render.short_id(r.id)}" for r in records]
    runs = render.new_table("", *headers)
    for label, cells in (
        ("name", [render.text(r.name) for r in records]),
        ("experiment", [render.text(r.experiment) for r in records]),
        ("status", [render.status_text(r.status) for r in records]),
        ("start (UTC)", [render.fmt_time(r.start_time) for r in records]),
        ("duration", [render.fmt_duration(r.duration_s) for r in records]),
    ):
        runs.add_row(label, *cells)
    render.section(out, "Runs", runs)

    params = render.new_table("", "param", *headers)
    for row in comparison["params"]:
        if diff_only and not row["differs"]:
            continue
        style = "yellow" if row["differs"] else None
        params.add_row(
            "*" if row["differs"] else "",
            render.text(row["key"], style),
            *[render.text("-" if v is None else v, style) for v in row["values"]],
        )
    render.section(out, "Params" + (" that differ" if diff_only else ""), params)

    metrics = render.new_table("", "metric", "goal", *headers, right=headers)
    for row in comparison["metrics"]:
        if diff_only and not row["differs"]:
            continue
        cells = []
        for record, value in zip(records, row["values"], strict=True):
            if record.id in row["best"]:
                cells.append(render.text(f"{render.fmt_number(value)} (best)", "bold green"))
            else:
                cells.append(render.text(render.fmt_number(value)))
        metrics.add_row(
            "*" if row["differs"] else "",
            render.text(row["key"], "yellow" if row["differs"] else None),
            row["goal"],
            *cells,
        )
    render.section(out, "Metrics" + (" that differ" if diff_only else ""), metrics)
    out.print(
        render.text(
            "* differs between runs; (best) marks the best value of a metric "
            "(goal max: highest, min: lowest); - means not logged.",
            "dim",
        )
    )
