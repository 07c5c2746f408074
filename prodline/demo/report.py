"""The demo's closing report: one self-contained HTML page that tells the story."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prodline.demo.story import Story

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}th{background:#f6f6f6}
.pass{color:#17663a}.fail{color:#a11}.muted{color:#666}
"""


def write_story(story: Story, path: Path, model: str) -> Path:
    """Write the story of a demo run to ``path``; returns the path."""
    e = html.escape
    parts = [f"<h1>prodline demo: {e(model)}</h1>",
             "<p>Data → experiments → governance → serving → drift → retraining → promotion "
             "→ hot reload, on scikit-learn's breast-cancer data.</p>"]  # fmt: skip
    parts.append("<h2>1. Candidates (each a tracked run with a handover contract)</h2>")
    parts.append(_table(
        ["version", "candidate", "eval f1", "recall (malignant)", "serving path", "p99 1-row ms"],
        [[c["version"], c["name"], _f(c["f1"]), _f(c["recall"]), c["path"], _f(c["p99_ms"])]
         for c in story.candidates],
    ))  # fmt: skip
    parts.append("<h2>2. Governance: the policy decides</h2>")
    parts.append(_table(
        ["version", "outcome", "why"],
        [[d["version"], d["outcome"], d["why"]] for d in story.first_decision],
        outcome_column=1,
    ))  # fmt: skip
    parts.append(f"<p>Production: version {story.champion}.</p>")
    parts.append("<h2>3. Production traffic and the shift</h2>")
    parts.append(
        f"<p>Mid-sized lesions were {story.baseline.get('band_share', 0):.0%} of referrals, "
        f"then {story.shifted.get('band_share', 0):.0%} once a screening programme started "
        "referring earlier cases. Every request was answered over HTTP, logged off the "
        "request path, and its diagnosis fed back.</p>"
    )
    parts.append("<h2>4. Monitoring found drift and decay</h2>")
    parts.append(
        f"<p>Share of drifting features: {_f(story.drift_share)}. Live f1 "
        f"{_f(story.shifted.get('live_f1'))} on {story.shifted.get('labelled', 0)} labelled "
        f"cases vs {_f(story.shifted.get('contract_f1'))} in the contract.</p>"
    )
    parts.append(
        _table(
            ["drifting feature", "PSI", "Wasserstein / ref. spread"],
            [[d["column"], _f(d["psi"]), _f(d["wasserstein"])] for d in story.drift],
        )
    )
    parts.append(
        _table(
            ["alert", "message", "actions"],
            [[a["rule"], a["message"], ", ".join(a["actions"])] for a in story.alerts],
        )
    )
    parts.append("<h2>5. Retraining, promotion and hot reload</h2>")
    retrain = story.retrain
    parts.append(
        f"<p>The retrain request started the pipeline ({e(str(retrain.get('status')))}); it "
        f"registered {e(', '.join(retrain.get('versions', [])) or 'nothing')} and governance "
        f"moved production to version {story.reload.get('holder')}. The running server "
        f"switched after {story.reload.get('seconds', 0):.1f} s, with "
        f"{story.reload.get('failed', 0)} failed requests.</p>"
    )
    parts.append(_bars([("before retraining", story.shifted.get("live_f1")),
                        ("after retraining", story.after.get("live_f1"))]))  # fmt: skip
    parts.append(
        f'<p class="muted">Detailed drift plots: <a href="monitoring.html">monitoring.html</a>. '
        f"Home folder: {e(str(story.home))}</p>"
    )
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>prodline demo: {e(model)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
    path.write_text(document, encoding="utf-8")
    return path


def _table(header: list[str], rows: list[list[Any]], outcome_column: int | None = None) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            css = ""
            if i == outcome_column:
                css = (
                    " class='pass'"
                    if value in ("promoted", "holder", "challenger")
                    else " class='fail'"
                )
            cells.append(f"<td{css}>{e(str(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _bars(values: list[tuple[str, float | None]]) -> str:
    """A small inline SVG bar chart of live f1."""
    width, bar = 560, 28
    rows = []
    for i, (label, value) in enumerate(values):
        length = 0 if value is None else max(0.0, min(1.0, value)) * 260
        y = 10 + i * (bar + 12)
        rows.append(
            f"<text x='0' y='{y + 19}' font-size='13'>{html.escape(label)}</text>"
            f"<rect x='140' y='{y}' width='{length:.1f}' height='{bar}' fill='#3b7dd8'/>"
            f"<text x='{145 + length:.1f}' y='{y + 19}' font-size='13'>f1 {_f(value)}</text>"
        )
    height = 20 + len(values) * (bar + 12)
    return (
        f"<svg role='img' aria-label='live f1 before and after retraining' width='{width}' "
        f"height='{height}' xmlns='http://www.w3.org/2000/svg'>{''.join(rows)}</svg>"
    )


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
