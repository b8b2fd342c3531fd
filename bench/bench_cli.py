"""Start-up time of the console script: ``hgv-lane --help`` must answer in about a second.

Usage: ``.venv/bin/python bench/bench_cli.py [--runs N] [--json]``; prints the median and
worst wall time of N fresh interpreter runs, and (``--json``) one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times_ms: list[float] = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "api.cli", "--help"], check=True, capture_output=True)
        times_ms.append((time.perf_counter() - t0) * 1000.0)
    p50, worst = statistics.median(times_ms), max(times_ms)
    print(f"hgv-lane --help: median {p50:.0f} ms, worst {worst:.0f} ms over {args.runs} runs")
    if args.json:
        print(json.dumps({"help_ms_p50": round(p50, 1), "help_ms_max": round(worst, 1), "runs": args.runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
