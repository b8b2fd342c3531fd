"""Benchmark: action-list matching on a synthetic 100,000-entry list.

Builds a list of UK/EU-shaped marks (UK current, UK trailer marks, PL, RO, NL, ES, FR, DE,
LT, BG), then times :meth:`api.matching.Matcher.match` on reads of several candidates each:
exact hits, look-alike hits, one-edit near misses and misses. Prints the figures; with
``--json`` the last stdout line is one JSON object.

    .venv/bin/python bench/bench_match.py [--entries 100000] [--reads 5000] [--candidates 5]
        [--max-edit 1] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.matching import ListEntry, Matcher, MatchType
from vision.anpr.lookalike import LOOKALIKE_GROUPS

L = string.ascii_uppercase
D = string.digits
UK_MEM = "ABCDEFGHJKLMNOPRSTUVWXY"
UK_RAND = "ABCDEFGHJKLMNOPRSTUVWXYZ"
PL_TAIL = "ACEFGHJKLMNPRSTUVWXY" + D
NL_CONS = "BDFGHJKLNPRSTVXZ"
ES_CONS = "BCDFGHJKLMNPRSTVWXYZ"
FR_LET = "ABCDEFGHJKLMNPQRSTVWXYZ"
BG_LET = "ABEKMHOPCTYX"
LT_LET = "ABCDEFGHIJKLMNOPRSTUVYZ"


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


SHAPES: tuple[tuple[str, float, Callable[[random.Random], str]], ...] = (
    (
        "UK current",
        0.30,
        lambda r: (
            _pick(r, UK_MEM, 2)
            + f"{r.choice([r.randint(2, 49), r.randint(51, 99)]):02d}"
            + _pick(r, UK_RAND, 3)
        ),
    ),
    ("UK trailer", 0.10, lambda r: r.choice(L) + _pick(r, D, 7)),
    ("PL", 0.15, lambda r: _pick(r, L, 3) + r.choice(D) + _pick(r, PL_TAIL, 4)),
    ("RO", 0.10, lambda r: _pick(r, L, 2) + _pick(r, D, 2) + _pick(r, "ABCDEFGHJKLMNPRSTUVWXYZ", 3)),
    ("NL", 0.05, lambda r: _pick(r, NL_CONS, 2) + _pick(r, D, 3) + r.choice(NL_CONS)),
    ("ES", 0.05, lambda r: _pick(r, D, 4) + _pick(r, ES_CONS, 3)),
    ("FR", 0.05, lambda r: _pick(r, FR_LET, 2) + _pick(r, D, 3) + _pick(r, FR_LET, 2)),
    (
        "DE",
        0.10,
        lambda r: _pick(r, L, r.randint(1, 3)) + _pick(r, L, r.randint(1, 2)) + str(r.randint(1, 9999)),
    ),
    ("LT", 0.05, lambda r: _pick(r, LT_LET, 3) + _pick(r, D, 3)),
    ("BG", 0.05, lambda r: _pick(r, BG_LET, 2) + _pick(r, D, 4) + _pick(r, BG_LET, 2)),
)

_PARTNER = {ch: [o for o in group if o != ch] for group in LOOKALIKE_GROUPS for ch in group}


def synthetic_list(n: int, rng: random.Random) -> list[ListEntry]:
    """``n`` distinct marks in the proportions of :data:`SHAPES`."""
    makers = [m for _name, _w, m in SHAPES]
    weights = [w for _name, w, _m in SHAPES]
    marks: set[str] = set()
    while len(marks) < n:
        marks.add(rng.choices(makers, weights)[0](rng))
    return [
        ListEntry(mark, rng.choice(["vehicle", "trailer"]), f"Haulier {i % 5000}", f"CP-2024-{i:06d}")
        for i, mark in enumerate(sorted(marks))
    ]


def _lookalike(mark: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(mark) if ch in _PARTNER]
    if not positions:
        return mark
    i = rng.choice(positions)
    return mark[:i] + rng.choice(_PARTNER[mark[i]]) + mark[i + 1 :]


def _edit(mark: str, rng: random.Random) -> str:
    i = rng.randrange(len(mark))
    op = rng.choice(["replace", "delete", "insert"])
    if op == "replace":
        return mark[:i] + rng.choice(L + D) + mark[i + 1 :]
    if op == "delete":
        return mark[:i] + mark[i + 1 :]
    return mark[:i] + rng.choice(L + D) + mark[i:]


def synthetic_reads(entries: list[ListEntry], n: int, k: int, rng: random.Random) -> list[list[str]]:
    """``n`` reads of ``k`` candidates: a quarter each exact, look-alike, one-edit and random misses."""
    makers = [m for _name, _w, m in SHAPES]
    reads = []
    for i in range(n):
        mark = rng.choice(entries).mark
        kind = i % 4
        top = mark if kind == 0 else _lookalike(mark, rng) if kind == 1 else _edit(mark, rng)
        if kind == 3:
            top = rng.choice(makers)(rng)
        reads.append([top, *(_lookalike(_edit(top, rng), rng) for _ in range(k - 1))])
    return reads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000, help="list size")
    parser.add_argument("--reads", type=int, default=5_000, help="reads timed")
    parser.add_argument("--candidates", type=int, default=5, help="candidates per read")
    parser.add_argument("--max-edit", type=int, default=1, choices=(0, 1, 2), help="edit distance limit")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after building the index")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    entries = synthetic_list(args.entries, rng)
    reads = synthetic_reads(entries, args.reads, args.candidates, rng)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    matcher = Matcher(entries, max_edit_distance=args.max_edit)
    build_s = time.perf_counter() - t0
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024

    if args.freeze:
        gc.freeze()  # the index is long-lived: keep it out of the collector's generations
    for read in reads[:200]:  # warm-up
        matcher.match(read)
    times_ms: list[float] = []
    counts = dict.fromkeys(MatchType, 0)
    for read in reads:
        t = time.perf_counter_ns()
        matches = matcher.match(read)
        times_ms.append((time.perf_counter_ns() - t) / 1e6)
        if matches:
            counts[matches[0].match_type] += 1
    q = statistics.quantiles(times_ms, n=100)
    result = {
        "entries": len(matcher),
        "reads": len(reads),
        "candidates_per_read": args.candidates,
        "max_edit_distance": args.max_edit,
        "build_s": round(build_s, 3),
        "index_rss_mb": round(rss_mb, 1),
        "p50_ms": round(q[49], 4),
        "p95_ms": round(q[94], 4),
        "p99_ms": round(q[98], 4),
        "max_ms": round(max(times_ms), 4),
        "best_match": {t.value: c for t, c in counts.items()},
        "no_match": len(reads) - sum(counts.values()),
    }
    print(
        f"list: {result['entries']} entries, index built in {build_s:.2f} s (+{rss_mb:.0f} MB RSS), "
        f"max edit distance {args.max_edit}"
    )
    print(f"reads: {len(reads)} x {args.candidates} candidates")
    print(
        f"match per read: p50 {result['p50_ms']:.3f} ms  p95 {result['p95_ms']:.3f} ms  "
        f"p99 {result['p99_ms']:.3f} ms  max {result['max_ms']:.3f} ms"
    )
    print(f"best match: {result['best_match']}, no match: {result['no_match']}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
