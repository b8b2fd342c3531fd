"""Lane-pipeline benchmark: ``hgv-lane bench pipeline`` with this script's arguments.

Usage: ``.venv/bin/python bench/bench_pipeline.py [--json] [--detectors models|truth] [--clips N]
[--min-frames N] ...`` (``--help`` lists them). Renders the synthetic 1280x720 clips on first
use (cached in ``<data_dir>/bench/clips``), runs each through a lane worker and prints fps,
ms per frame (p50/p95), passages expected/found, passage read rate and body-type accuracy;
with ``--json`` one JSON object as the last line.
"""

from __future__ import annotations

import sys

from api.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "pipeline", *sys.argv[1:]]))
