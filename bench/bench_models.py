"""Model-loading benchmark (the "Handover" issue): prodline.load_model against calling the
scikit-learn estimator directly, same model, same row, one run.

    python bench/bench_models.py [--quick] [--json out.json]

Targets: single-row ``predict_proba`` through ``load_model`` of a 100-tree random forest
on scikit-learn's breast-cancer data at least 100x faster than the estimator's own
``predict_proba`` on the same row (one-row DataFrame, as a notebook would call it); and
``load_model`` of that package in at most 0.5 s (median of fresh loads, cache warm).
Medians of repeated, interleaved trials; ratios from the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _median_us(fn, repeat: int) -> float:
    for _ in range(10):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    repeat = 200 if args.quick else 1000

    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    import prodline

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    X_test = test.drop(columns="target")
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(
        train.drop(columns="target"), train["target"]
    )
    with tempfile.TemporaryDirectory() as home:
        prodline.init(home=home)
        with prodline.start_run(experiment="bench", capture_code=False) as run:
            run.log_model(
                forest, "bench-forest", train=train, target="target",
                eval=(X_test, test["target"]), owner="bench", intended_use="benchmark",
            )  # fmt: skip
        prodline.load_model("bench-forest/1")  # warm the local cache
        loads = []
        for _ in range(3 if args.quick else 7):
            start = time.perf_counter()
            model = prodline.load_model("bench-forest/1")
            loads.append(time.perf_counter() - start)
        row_frame = X_test.iloc[[0]]
        row_dict = X_test.iloc[0].to_dict()
        sklearn_us = _median_us(lambda: forest.predict_proba(row_frame), max(50, repeat // 10))
        prodline_dict_us = _median_us(lambda: model.predict_proba(row_dict), repeat)
        prodline_frame_us = _median_us(lambda: model.predict_proba(row_frame), repeat // 2)
        np.testing.assert_allclose(
            model.predict_proba(row_dict), forest.predict_proba(row_frame), atol=1e-5
        )
        prodline.init()
    load_s = statistics.median(loads)
    rows = [
        ("sklearn predict_proba, 1-row DataFrame", f"{sklearn_us:,.1f} us", "", ""),
        ("prodline predict_proba, dict row (validated)", f"{prodline_dict_us:,.1f} us",
         f"{sklearn_us / prodline_dict_us:,.0f}x", ">= 100x"),
        ("prodline predict_proba, 1-row DataFrame (validated)", f"{prodline_frame_us:,.1f} us",
         f"{sklearn_us / prodline_frame_us:,.0f}x", ""),
        ("prodline load_model (ONNX path)", f"{load_s:.3f} s", "", "<= 0.5 s"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'task':<{width}}  {'median':>12}  {'speed-up':>9}  target")
    for name, value, ratio, target in rows:
        print(f"{name:<{width}}  {value:>12}  {ratio:>9}  {target}")
    passed = sklearn_us / prodline_dict_us >= 100 and load_s <= 0.5
    print("PASS" if passed else "FAIL")
    if args.json_path:
        Path(args.json_path).write_text(
            json.dumps(
                {
                    "sklearn_us": sklearn_us,
                    "prodline_dict_us": prodline_dict_us,
                    "prodline_frame_us": prodline_frame_us,
                    "load_model_s": load_s,
                    "passed": passed,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
