"""Plate-reading benchmark on the shared dev sets: runs ``hgv-lane eval plates`` per engine.

Usage: ``.venv/bin/python bench/bench_plates.py [--engines rapidocr,easyocr] [--limit N] [--raw]
[--manifest CSV ...] [--heldout] [--skip-tag TAGS]``.
Prints one line per (manifest, engine) with exact match, char accuracy, detection recall (scenes)
and time per plate, and the command that produced it. ``--manifest`` runs the given manifests
instead of the dev sets; ``--heldout`` runs the sets the issue's targets are checked on without
training on them: the held-out real crops and scenes (written by ``train reader`` and
``dataset plate-tiles``) and the synthetic UK/EU set of seed 901 (``synth plates``), the last
twice: whole, and without the plates nobody could read (tagged ``illegible``/``char_hidden``).
``--skip-tag`` is passed to every run. Exits 0 with
a note when ``../shared/data`` (or a named manifest) is absent (as on a user's machine): the dev
sets are never part of the project.
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
TILE_SETS = ("plate_tiles", "plate_tiles_r3", "plate_tiles_r4")
"""The plate detector's tile sets ``make models`` writes, in order. ``dataset plate-tiles``
splits the real scenes by file the same way for each, so every one holds out the same 56."""


def heldout_scenes() -> Path:
    """The held-out real scenes of the first tile set on this machine (the first of
    :data:`TILE_SETS` when there is none: the run then says it is absent)."""
    found = [ROOT / "data" / "train" / t / "heldout" / "scenes.csv" for t in TILE_SETS]
    return next((p for p in found if p.is_file()), found[0])


HELDOUT = (
    ROOT / "data" / "train" / "reader" / "heldout" / "crops.csv",
    heldout_scenes(),
    ROOT / "data" / "eval" / "plates_s901" / "manifest.csv",
)


UNREADABLE = "illegible,char_hidden"
"""The tags ``synth plates`` gives plates nobody could read (``vision/synth/README.md``)."""


def run_one(
    manifest: Path, engine: str | None, limit: int | None, raw: bool, skip: str | None = None
) -> tuple[list[str], dict[str, object]]:
    """Run one evaluation in a fresh process (``engine`` None: the settings' default); the
    command and its JSON summary."""
    cmd = [sys.executable, "-m", "api.cli", "eval", "plates", str(manifest), "--json"]
    if engine is not None:
        cmd += ["--engine", engine]
    if skip:
        cmd += ["--skip-tag", skip]
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
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="manifest to run (repeat)")
    parser.add_argument("--heldout", action="store_true", help="the held-out and synthetic test sets")
    parser.add_argument("--skip-tag", default=None, help="comma-separated tags of rows to leave out")
    args = parser.parse_args(argv)
    runs = [(m, args.skip_tag) for m in args.manifest]
    if args.heldout:
        runs += [(m, args.skip_tag) for m in HELDOUT]
        both = ",".join(t for t in (args.skip_tag, UNREADABLE) if t)
        runs.append((HELDOUT[-1], both))
    if not runs:
        if not DEV.is_dir():
            print(f"skipped: {DEV} is absent (the shared dev sets are not part of the project)")
            return 0
        runs = [(DEV / name, args.skip_tag) for name in MANIFESTS]
    cols = " ".join(f"{h:>7s}" for h in ("exact", "~exact", "chars", "det", "ms p50", "cpu p50"))
    print(f"{'manifest':33s} {'engine':14s} {'n':>4s} {cols}")
    for manifest, skip in runs:
        label = f"{manifest.parent.name}/{manifest.name}" + ("" if skip == args.skip_tag else " -tagged")
        if not manifest.is_file():
            print(f"{label:33s} skipped: {manifest} is absent", flush=True)
            continue
        for engine in args.engines.split(","):
            for raw in (False, True) if args.raw else (False,):
                cmd, s = run_one(manifest, engine, args.limit, raw, skip)
                recall = s.get("detection_recall")
                det = f"{recall:>7.4f}" if isinstance(recall, float) else f"{'-':>7s}"
                n = s.get("n_read_scored", s["n"])  # the rows the reading figures are over
                print(
                    f"{label:33s} {s['engine']!s:14s} {n:>4} {s['exact_match']:>7.4f} "
                    f"{s['exact_match_lookalike']:>7.4f} {s['char_accuracy']:>7.4f} {det} "
                    f"{s['ms_per_image_p50']:>7.1f} {s['cpu_ms_per_image_p50']:>7.1f}",
                    flush=True,
                )
                print(f"  $ hgv-lane {' '.join(cmd[3:])}", flush=True)
    print(
        "~exact: exact up to look-alike characters (0/O, 1/I, ...); chars: mean per-image char accuracy; "
        "det: detection recall (scenes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
