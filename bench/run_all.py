"""Run every ``bench/bench_*.py`` in turn and collect their results (``make bench``).

    python bench/run_all.py             # full runs
    python bench/run_all.py --quick     # smaller trials
    python bench/run_all.py -k tracking # only scripts whose name contains "tracking"

Each script runs in its own process with this interpreter, prints its table, and
writes ``bench/results/<script>.json``. Every benchmark script accepts ``--quick`` and
``--json PATH``. Benchmarks are not tests: a missed target is reported, not fatal;
this exits non-zero only when a script crashes (or, with ``--strict``, when a target
fails).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("-k", dest="match", default="", help="only scripts containing this")
    args = parser.parse_args(argv)

    scripts = sorted(p for p in HERE.glob("bench_*.py") if args.match in p.stem)
    if not scripts:
        print(f"no bench/bench_*.py matches {args.match!r}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    crashed: list[str] = []
    failed: list[str] = []
    for script in scripts:
        out = RESULTS / f"{script.stem}.json"
        command = [sys.executable, str(script), "--json", str(out)]
        if args.quick:
            command.append("--quick")
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.run(command, cwd=HERE.parent).returncode
        print(f"=== {script.name}: exit {code} in {time.perf_counter() - start:,.0f} s ===")
        if code != 0:
            crashed.append(script.name)
            continue
        try:
            payload = json.loads(out.read_text())
        except (OSError, ValueError):
            payload = {}
        rows = payload.get("rows", [])
        failed += [f"{script.name}: {r['task']}" for r in rows if r.get("verdict") == "FAIL"]
        if payload.get("passed") is False:  # scripts that report one overall verdict
            failed.append(f"{script.name}: overall")

    print()
    print(f"{len(scripts)} benchmark script(s); results in {RESULTS}")
    for name in failed:
        print(f"  target missed: {name}")
    for name in crashed:
        print(f"  CRASHED: {name}")
    if crashed:
        return 1
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
