"""Plate-reading benchmark on the shared dev sets: runs ``hgv-lane eval plates`` per engine.

Usage: ``.venv/bin/python bench/bench_plates.py [--engines rapidocr,easyocr] [--limit N] [--raw]``.
Prints one line per (manifest, engine) with exact match, char accuracy and time per plate,
and the command that produced it. Exits 0 with a note when ``../shared/data`` is absent
(as on a user's machine): the dev sets are never part of the project.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "data" / "plates-dev"
MANIFESTS = ("crops.csv", "scenes.csv")


def run_one(manifest: Path, engine: str, limit: int | None, raw: bool) -> tuple[list[str], dict[str, object]]:
    """Run one evaluation in a fresh process; the command and its JSON summary."""
    cmd = [sys.executable, "-m", "api.cli", "eval", "plates", str(manifest), "--engine", engine, "--json"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    if raw:
        cmd.append("--raw")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    summary: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return cmd, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engines", default="rapidocr,easyocr", help="comma-separated engine names")
    parser.add_argument("--limit", type=int, default=None, help="first N rows of each manifest")
    parser.add_argument("--raw", action="store_true", help="also run each engine raw (no rectify/grammars)")
    args = parser.parse_args(argv)
    if not DEV.is_dir():
        print(f"skipped: {DEV} is absent (the shared dev sets are not part of the project)")
        return 0
    cols = " ".join(f"{h:>7s}" for h in ("exact", "~exact", "chars", "ms p50", "cpu p50"))
    print(f"{'manifest':12s} {'engine':14s} {'n':>4s} {cols}")
    for name in MANIFESTS:
        for engine in args.engines.split(","):
            for raw in (False, True) if args.raw else (False,):
                cmd, s = run_one(DEV / name, engine, args.limit, raw)
                print(
                    f"{name:12s} {s['engine']!s:14s} {s['n']:>4} {s['exact_match']:>7.4f} "
                    f"{s['exact_match_lookalike']:>7.4f} {s['char_accuracy']:>7.4f} "
                    f"{s['ms_per_image_p50']:>7.1f} {s['cpu_ms_per_image_p50']:>7.1f}",
                    flush=True,
                )
                print(f"  $ hgv-lane {' '.join(cmd[3:])}", flush=True)
    print("~exact: exact up to look-alike characters (0/O, 1/I, ...); chars: mean per-image char accuracy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
