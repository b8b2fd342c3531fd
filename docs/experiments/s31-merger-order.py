"""The lane merger's record against the order its cameras' events come in (thirty-first session).

Usage, from the project folder: ``.venv/bin/python docs/experiments/s31-merger-order.py SEED``.
Runs ``hgv-lane bench lane --seed SEED --sets 1`` recording every event each camera's feed gives
the :class:`vision.pipeline.merge.LaneMerger` (passages, frame clocks, the end), then replays
them into fresh mergers with the same rule: each camera's events whole, one camera after
another, and all merged by clip time with one camera's events delayed by 2, 5 or 10 s; and
prints whether the merged groups are those of the run. Set 5311 before ``_handover_order``: the
same unless the rear camera's events came late, when lorries 2 and 3 swapped side passages
(``docs/pipeline.md``); since, the same in all 15 orders. Not a test (it needs the rendered set
and the shipped models): ``tests/vision/pipeline/test_merge.py`` replays the set's passages."""

import contextlib
import itertools
import sys

import vision.pipeline.merge as M
from api.cli import main
from vision.pipeline.sinks import ListSink

events = []  # (camera_id, kind, payload)
OF = M.CameraFeed


class Rec(OF):
    def emit(self, p):
        events.append((self.camera_id, "arrive", p))
        super().emit(p)

    def observe(self, frame, result):
        events.append((self.camera_id, "observe", (result.ts_ms, result.open_since_ms)))
        super().observe(frame, result)

    def close(self):
        events.append((self.camera_id, "close", None))
        super().close()


M.CameraFeed = Rec
rules = []
OL = M.LaneMerger


class RL(OL):
    def __init__(self, lane_id, cams, sink, rule, on_merge=None):
        rules.append((lane_id, dict(cams), rule))
        super().__init__(lane_id, cams, sink, rule, on_merge=on_merge)


M.LaneMerger = RL

with contextlib.suppress(SystemExit):
    main(["bench", "lane", "--seed", sys.argv[1], "--sets", "1", "--quiet"])
M.LaneMerger = OL
lane_id, cams, rule = rules[0]


def replay(order):
    sink = ListSink()
    groups = []
    m = OL(
        lane_id,
        cams,
        sink,
        rule,
        on_merge=lambda parts, mm: groups.append(tuple(sorted(p.passage_id for p in parts.values()))),
    )
    {c: m.feed(c) for c in cams}
    for cam, kind, pl in order:
        if kind == "arrive":
            m.arrive(cam, pl)
        elif kind == "observe":
            m.observe(cam, pl[0], pl[1])
        else:
            m.finish(cam)
    m.flush()
    return sorted(groups), sorted(p.passage_id for p in sink.passages)


by_cam = {c: [e for e in events if e[0] == c] for c in cams}
base = replay(events)
print("recorded", len(events), "events; groups", base[0])
for perm in itertools.permutations(cams):
    seq = [e for c in perm for e in by_cam[c]]
    r = replay(seq)
    print("one camera after another", perm, "SAME" if r == base else f"DIFFERENT {r[0]}")
# all cameras merged by clip time, one camera's events delayed by ``lag`` ms
for lagcam in cams:
    for lag in (2000, 5000, 10000):
        # merge streams: each event keyed by its camera's last observed ts (+lag for lagcam)
        keyed = []
        for c in cams:
            last = 0
            for i, e in enumerate(by_cam[c]):
                if e[1] == "observe":
                    last = e[2][0]
                keyed.append((last + (lag if c == lagcam else 0), c, i, e))
        keyed.sort(key=lambda k: (k[0], k[1], k[2]))
        r = replay([k[3] for k in keyed])
        print("lag", lagcam, lag, "SAME" if r == base else f"DIFFERENT {r[0]}")
