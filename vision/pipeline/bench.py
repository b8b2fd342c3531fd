"""The pipeline benchmark: synthetic 1280x720 lane clips with ground truth, run end to end.

Clips are made deterministically by the synthetic generator (:func:`benchmark_clips`) and
cached; each runs through a :class:`vision.pipeline.worker.LaneWorker` (decoding on one
thread, the pipeline on another, every frame taken) and its passages are scored against
the ground truth (:func:`vision.pipeline.truth.score_passages`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.pipeline.assemble import VehicleTrack
from vision.pipeline.config import CameraView, LaneConfig
from vision.pipeline.lane import FrameResult, LanePipeline
from vision.pipeline.merge import CameraFeed, MergeRule
from vision.pipeline.protocols import BodyClassifier, LaneModels, PlateReader
from vision.pipeline.sinks import ListSink
from vision.pipeline.sources import VideoFileSource
from vision.pipeline.truth import (
    ClipScore,
    ClipTruthData,
    TruthDetector,
    has_body_shown,
    load_clip_truth,
    plates_read,
    score_passages,
)
from vision.pipeline.worker import LaneWorker
from vision.types import BBox, BodyType, Frame, Passage

if TYPE_CHECKING:
    from vision.synth.render import StaticTextures

START_TS_MS = 1_735_689_600_000
"""Time of every clip's first frame in benchmark runs (2025-01-01 00:00 UTC)."""


@dataclass(frozen=True, slots=True)
class BenchClip:
    """A clip on disk: ``clip.mp4`` and ``truth.json`` in ``folder``; ``view`` of its camera."""

    folder: Path
    view: CameraView

    @property
    def video(self) -> Path:
        return self.folder / "clip.mp4"

    @property
    def truth_path(self) -> Path:
        return self.folder / "truth.json"


def _cached_clip(
    cache_dir: Path,
    seed: int,
    view: CameraView,
    *,
    vehicles: int,
    seconds: float,
    fps: float,
    progress: bool,
    static: list[StaticTextures],
) -> BenchClip:
    """The clip of ``seed`` seen from ``view``, rendered into ``cache_dir`` unless there already
    (``static`` holds the generator's static textures once made, shared by the renders)."""
    if view != "front" and view != "rear":
        raise ValueError(f"single-camera benchmark clips are front or rear, not {view!r}")
    folder = cache_dir / f"clip-{seed}-{view}-{vehicles}v-{seconds:g}s-{fps:g}fps"
    clip = BenchClip(folder, view)
    if not (clip.video.is_file() and clip.truth_path.is_file() and _truth_current(clip.truth_path)):
        from vision.synth.clip import random_clip_spec, render_clip  # noqa: PLC0415 - the generator
        from vision.synth.render import StaticTextures  # noqa: PLC0415

        if not static:
            static.append(StaticTextures())
        spec = random_clip_spec(seed, view=view, n_vehicles=vehicles, seconds=seconds, fps=fps)
        tmp = folder.with_name(folder.name + ".partial")
        render_clip(spec, tmp, video=True, static=static[0], progress=progress)
        if folder.exists():  # rendered before the truth gave body_shown: the same frames, more truth
            shutil.rmtree(folder)
        tmp.rename(folder)
    return clip


def _truth_current(path: Path) -> bool:
    """Whether a cached clip's truth has every field the scoring uses (``body_shown``)."""
    try:
        return has_body_shown(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def benchmark_clips(
    cache_dir: Path,
    *,
    n_clips: int = 4,
    seed: int = 5100,
    vehicles: int = 3,
    seconds: float = 12.0,
    fps: float = 25.0,
    progress: bool = False,
) -> list[BenchClip]:
    """``n_clips`` synthetic 1280x720 clips (front and rear views alternating, ``vehicles``
    lorries each), rendered once into ``cache_dir`` and reused (same parameters, same bytes)."""
    static: list[StaticTextures] = []
    return [
        _cached_clip(
            cache_dir,
            seed + i,
            "front" if i % 2 == 0 else "rear",
            vehicles=vehicles,
            seconds=seconds,
            fps=fps,
            progress=progress,
            static=static,
        )
        for i in range(n_clips)
    ]


@dataclass(frozen=True, slots=True)
class ClipRun:
    """One clip's run: frames, wall time, per-frame processing times and the score."""

    clip: BenchClip
    frames: int
    wall_s: float
    frame_ms: tuple[float, ...]
    detected_ms: tuple[float, ...]
    score: ClipScore
    dropped: int


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return 0.0


ModelsFor = Callable[[ClipTruthData, LaneConfig], LaneModels]
"""Builds a lane's models for a clip (the truth is there for ground-truth detectors)."""


def truth_detectors(reader: PlateReader, classifier: BodyClassifier | None) -> ModelsFor:
    """Models whose detectors answer from the clip's ground truth, with a real ``reader`` and
    ``classifier`` (measures everything but detection)."""

    def make(truth: ClipTruthData, config: LaneConfig) -> LaneModels:
        return LaneModels(TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate"), reader, classifier)

    return make


def run_clip(
    clip: BenchClip,
    config: LaneConfig,
    models_for: ModelsFor,
    *,
    on_frame: Callable[[Frame, FrameResult], None] | None = None,
    repeat: int = 1,
) -> ClipRun:
    """Run one clip (``repeat`` times back to back through the same pipeline, times continuing)
    and score its passages."""
    truth = load_clip_truth(clip.truth_path)
    models = models_for(truth, config)
    score: ClipScore | None = None
    frame_ms: list[float] = []
    detected_ms: list[float] = []
    frames = dropped = 0
    wall = 0.0
    period_ms = 1000.0 / truth.fps
    key_of: dict[str, int] = {}  # passage id -> vehicle key (the track's boxes are recorded by key)
    boxes: dict[int, list[tuple[int, BBox]]] = {}  # vehicle key -> (clip frame, box) when detected

    def passage_id(cfg: LaneConfig, vehicle: VehicleTrack) -> str:
        pid = f"{cfg.lane_id}-{cfg.camera_id}-{vehicle.first_ts_ms}-{vehicle.key}"
        key_of[pid] = vehicle.key
        return pid

    pipeline = LanePipeline(config, models, passage_id=passage_id)
    for r in range(repeat):
        sink = ListSink()
        boxes.clear()  # each repeat ends with every track closed
        start = START_TS_MS + round(
            r * (truth.n_frames + 2 * config.tracking.close_after_ms / period_ms) * period_ms
        )
        source = VideoFileSource(clip.video, lane_id=config.lane_id, start_ts_ms=start, fps=truth.fps)

        def record(frame: Frame, result: FrameResult) -> None:
            frame_ms.append(result.ms)
            if result.detected:
                detected_ms.append(result.ms)
                for view in result.vehicles:
                    boxes.setdefault(view.track_id, []).append((frame.index, view.box))
            if on_frame is not None:
                on_frame(frame, result)

        worker = LaneWorker(source, pipeline, sink, queue_size=8, on_frame=record)
        t0 = time.perf_counter()
        worker.start()
        worker.join()
        wall += time.perf_counter() - t0
        health = worker.health()
        if health.error:
            raise RuntimeError(f"{clip.folder.name}: {health.error}")
        frames = pipeline.counters.frames  # the pipeline counts across repeats
        dropped += health.frames_dropped
        tracks = {p.passage_id: boxes.get(key_of.pop(p.passage_id, -1), []) for p in sink.passages}
        s = score_passages(
            sink.passages, truth, start_ts_ms=start, label=f"{clip.folder.name}: ", boxes=tracks
        )
        score = s if score is None else score + s
    assert score is not None
    return ClipRun(clip, frames, wall, tuple(frame_ms), tuple(detected_ms), score, dropped)


@dataclass(frozen=True, slots=True)
class BenchSummary:
    """The figures ``hgv-lane bench pipeline`` prints (see :meth:`as_json`)."""

    runs: tuple[ClipRun, ...]
    rss_start_mb: float
    rss_end_mb: float
    detectors: str
    classifier: str

    def as_json(self) -> dict[str, object]:
        frames = sum(r.frames for r in self.runs)
        wall = sum(r.wall_s for r in self.runs)
        ms = np.array([m for r in self.runs for m in r.frame_ms]) if frames else np.zeros(1)
        det = np.array([m for r in self.runs for m in r.detected_ms] or [0.0])
        score = self.score
        shown = score.body_accuracy_shown
        return {
            "fps": round(frames / wall, 2) if wall else 0.0,
            "ms_per_frame_p50": round(float(np.percentile(ms, 50)), 2),
            "ms_per_frame_p95": round(float(np.percentile(ms, 95)), 2),
            "ms_per_detected_frame_p50": round(float(np.percentile(det, 50)), 2),
            "ms_per_detected_frame_p95": round(float(np.percentile(det, 95)), 2),
            "passages_expected": score.expected,
            "passages_found": score.found,
            "passages_matched": score.matched,
            "duplicates": score.duplicates,
            "spurious": score.spurious,
            "passage_read_rate": round(score.read_rate, 4),
            "body_type_accuracy": round(score.body_accuracy, 4) if self.classifier != "none" else None,
            # over the lorries whose body the clips show (vision.pipeline.truth.BODY_SHOWN_FRAMES)
            "body_type_accuracy_shown": (  # null when no body is shown
                None if self.classifier == "none" or shown is None else round(shown, 4)
            ),
            "bodies_hardly_shown": score.expected - score.body_shown,
            "frames": frames,
            "frames_detected": sum(len(r.detected_ms) for r in self.runs),
            "frames_dropped": sum(r.dropped for r in self.runs),
            "clips": len({r.clip.folder for r in self.runs}),
            "detectors": self.detectors,
            "classifier": self.classifier,
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
            "load_average": round(os.getloadavg()[0], 2),
        }

    @property
    def score(self) -> ClipScore:
        total = ClipScore(0, 0, 0, 0, 0, 0, 0)
        for r in self.runs:
            total = total + r.score
        return total


def run_benchmark(
    clips: Sequence[BenchClip],
    base_config: LaneConfig,
    models_for: ModelsFor,
    *,
    detectors: str,
    classifier: str,
    min_frames: int = 0,
    progress: Callable[[str], None] | None = None,
) -> BenchSummary:
    """Run every clip (each with ``base_config`` and the clip's view, one lane pipeline per clip),
    each repeated back to back through its pipeline until at least ``min_frames`` frames have gone
    through in all (the memory check); RSS before and after."""
    from dataclasses import replace  # noqa: PLC0415

    rss0 = rss_mb()
    runs: list[ClipRun] = []
    total = sum(load_clip_truth(c.truth_path).n_frames for c in clips)
    repeat = max(1, -(-min_frames // total)) if total else 1
    for clip in clips:
        cfg = replace(base_config, view=clip.view)
        run = run_clip(clip, cfg, models_for, repeat=repeat)
        runs.append(run)
        if progress is not None:
            progress(
                f"{clip.folder.name}{f' x{repeat}' if repeat > 1 else ''}: {run.frames} frames in "
                f"{run.wall_s:.1f} s ({run.frames / max(run.wall_s, 1e-9):.1f} fps), "
                f"{run.score.found}/{run.score.expected} passages, reads ok {run.score.read_ok}, "
                f"body ok {run.score.body_ok}, RSS {rss_mb():.0f} MB"
            )
    return BenchSummary(tuple(runs), rss0, rss_mb(), detectors, classifier)


# --- a lane with several cameras on one timeline ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LaneSet:
    """One queue of lorries seen by several cameras of a lane: one clip per camera (``view``),
    and when each clip's frame 0 is on the lane's clock (ms after the set's start; all 0 for a
    set the generator rendered on one timeline, :func:`lane_sets`)."""

    name: str
    clips: tuple[BenchClip, ...]
    offsets_ms: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.clips) != len(self.offsets_ms) or len(self.clips) < 2:
            raise ValueError(f"{self.name}: a lane set needs two clips or more, one offset each")


def lane_sets(
    cache_dir: Path,
    *,
    n_sets: int = 3,
    seed: int = 5200,
    views: tuple[CameraView, ...] = ("front", "side", "rear"),
    vehicles: int = 3,
    seconds: float = 16.0,
    fps: float = 12.5,
    progress: bool = False,
) -> list[LaneSet]:
    """For seeds ``seed`` .. ``seed + n_sets - 1``: one queue rendered once from each of ``views``
    on one timeline (:func:`vision.synth.clip.render_lane_clip`), cached in ``cache_dir``."""
    static: list[StaticTextures] = []
    out = []
    for k in range(n_sets):
        name = f"lane-{seed + k}-{'+'.join(views)}-{vehicles}v-{seconds:g}s-{fps:g}fps"
        folder = cache_dir / name
        current = _lane_current(folder, views)  # each cached set's truth files are parsed once
        if not current:
            # a camera's clip is the same bytes whichever other cameras were rendered with it
            others = sorted(cache_dir.glob(f"lane-{seed + k}-*-{vehicles}v-{seconds:g}s-{fps:g}fps"))
            found = next((o for o in others if o != folder and _lane_current(o, views)), None)
            if found is not None:
                folder, current = found, True
        if not current:
            from vision.synth.clip import random_lane_clip_spec, render_lane_clip  # noqa: PLC0415
            from vision.synth.render import StaticTextures  # noqa: PLC0415

            if not static:
                static.append(StaticTextures())
            spec = random_lane_clip_spec(seed + k, views=views, n_vehicles=vehicles, seconds=seconds, fps=fps)
            tmp = folder.with_name(folder.name + ".partial")
            render_lane_clip(spec, tmp, video=True, static=static[0], progress=progress)
            if folder.exists():  # rendered before the truth gave body_shown: the same frames, more truth
                shutil.rmtree(folder)
            tmp.rename(folder)
        clips = tuple(BenchClip(folder / v, v) for v in views)
        out.append(LaneSet(name, clips, tuple(0 for _ in views)))
    return out


def _lane_current(folder: Path, views: Sequence[CameraView]) -> bool:
    """Whether a cached lane set holds a clip of every one of ``views`` with a current truth
    (:func:`_truth_current`)."""
    return (folder / "lane.json").is_file() and all(_truth_current(folder / v / "truth.json") for v in views)


@dataclass(frozen=True, slots=True)
class LaneScore:
    """A lane's passages (its cameras' passages merged) against its lorries (see
    :func:`run_lane_set`).

    ``lorries``: labelled in any camera's clip; ``passages``: what the lane recorded;
    ``merged`` / ``merged_wrong``: passages joining passages of two cameras or more, all of one
    lorry / not; ``alone``: passages of one camera only; ``one_passage``: lorries with exactly
    one passage (the target: all); ``duplicates``: passages beyond the first of a lorry;
    ``none``: lorries with no passage; ``spurious``: passages of no lorry; ``read_ok``: lorries
    with one passage whose plates read (:func:`vision.pipeline.truth.plates_read`) are exactly
    the lorry's readable plates of the cameras that read them (front plate from the front clip;
    rear plate and trailer mark from the rear clip);
    ``body_ok``: lorries with one passage of the right body type; ``body_shown`` /
    ``body_shown_ok``: the lorries whose body some camera's clip shows
    (:attr:`vision.pipeline.truth.TruthVehicle.body_shown`) and those of them with one passage of
    the right body type.
    """

    lorries: int = 0
    passages: int = 0
    merged: int = 0
    merged_wrong: int = 0
    alone: int = 0
    one_passage: int = 0
    duplicates: int = 0
    none: int = 0
    spurious: int = 0
    read_ok: int = 0
    body_ok: int = 0
    body_shown: int = 0
    body_shown_ok: int = 0
    misses: tuple[str, ...] = ()

    @property
    def body_accuracy_shown(self) -> float | None:
        """Body type accuracy over the lorries whose body some camera shows; None when none is."""
        return self.body_shown_ok / self.body_shown if self.body_shown else None

    def __add__(self, other: LaneScore) -> LaneScore:
        from dataclasses import fields  # noqa: PLC0415

        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "misses"
        }
        return LaneScore(**counts, misses=self.misses + other.misses)


@dataclass(frozen=True, slots=True)
class LaneRun:
    """One lane set's run: frames (all cameras), wall time, per-frame processing times (ms, all
    cameras), the score and the merger's counters."""

    lane: LaneSet
    frames: int
    wall_s: float
    frame_ms: tuple[float, ...]
    score: LaneScore


def run_lane_set(lane: LaneSet, config: LaneConfig, models_for: ModelsFor, rule: MergeRule) -> LaneRun:
    """Run a set's clips at once, each through its camera's pipeline (``config`` with the
    camera's id and view; camera id = view), into one :class:`LaneMerger`, and score the lane's
    passages against the lorries."""
    from dataclasses import replace  # noqa: PLC0415

    from vision.pipeline.merge import LaneMerger  # noqa: PLC0415
    from vision.pipeline.sinks import FanoutSink  # noqa: PLC0415

    out = ListSink()
    parts_of: dict[str, list[str]] = {}  # merged passage id -> its cameras' passage ids
    merger = LaneMerger(
        config.lane_id,
        {c.view: c.view for c in lane.clips},
        out,
        rule,
        on_merge=lambda parts, m: parts_of.__setitem__(m.passage_id, [p.passage_id for p in parts.values()]),
    )
    frame_ms: list[float] = []
    runs = []
    for clip, offset in zip(lane.clips, lane.offsets_ms, strict=True):
        cfg = replace(config, camera_id=clip.view, view=clip.view)
        truth = load_clip_truth(clip.truth_path)
        key_of: dict[str, int] = {}
        boxes: dict[int, list[tuple[int, BBox]]] = {}

        def passage_id(c: LaneConfig, v: VehicleTrack, key_of: dict[str, int] = key_of) -> str:
            pid = f"{c.lane_id}-{c.camera_id}-{v.first_ts_ms}-{v.key}"
            key_of[pid] = v.key
            return pid

        feed = merger.feed(clip.view)

        def on_frame(
            frame: Frame,
            result: FrameResult,
            boxes: dict[int, list[tuple[int, BBox]]] = boxes,
            feed: CameraFeed = feed,
        ) -> None:
            frame_ms.append(result.ms)
            if result.detected:
                for view in result.vehicles:
                    boxes.setdefault(view.track_id, []).append((frame.index, view.box))
            feed.observe(frame, result)

        mine = ListSink()
        start = START_TS_MS + offset
        source = VideoFileSource(
            clip.video, lane_id=cfg.lane_id, camera_id=cfg.camera_id, start_ts_ms=start, fps=truth.fps
        )
        pipeline = LanePipeline(cfg, models_for(truth, cfg), passage_id=passage_id)
        worker = LaneWorker(source, pipeline, FanoutSink([mine, feed]), queue_size=8, on_frame=on_frame)
        runs.append((clip, truth, start, worker, mine, key_of, boxes, feed))
    t0 = time.perf_counter()
    for r in runs:
        r[3].start()
    for r in runs:
        r[3].join()
        r[7].close()
    wall = time.perf_counter() - t0
    merger.flush()
    vehicle_of: dict[str, int] = {}  # each camera's passages' lorry (by their tracks' boxes)
    frames = 0
    truths = []
    for clip, truth, start, worker, mine, key_of, boxes, _ in runs:
        health = worker.health()
        if health.error:
            raise RuntimeError(f"{clip.folder}: {health.error}")
        frames += health.frames_processed
        truths.append((clip.view, truth))
        tracks = {p.passage_id: boxes.get(key_of.get(p.passage_id, -1), []) for p in mine.passages}
        score_passages(mine.passages, truth, start_ts_ms=start, boxes=tracks, matched_to=vehicle_of)
    score = score_lane(lane.name, truths, out.passages, parts_of, vehicle_of)
    return LaneRun(lane, frames, wall, tuple(frame_ms), score)


def score_lane(
    label: str,
    truths: Sequence[tuple[CameraView, ClipTruthData]],
    passages: Sequence[Passage],
    parts_of: dict[str, list[str]],
    vehicle_of: dict[str, int],
) -> LaneScore:
    """Score a lane's passages against its lorries (:class:`LaneScore`). ``truths``: each
    camera's view and clip truth; ``parts_of``: the cameras' passage ids of each merged
    passage; ``vehicle_of``: each camera passage's lorry (those matched to one)."""
    lorries = sorted({tv.vehicle_id for _, t in truths for tv in t.vehicles if tv.labelled})
    want: dict[int, list[tuple[str, str]]] = {v: [] for v in lorries}
    body_of: dict[int, BodyType] = {}
    shown: set[int] = set()  # lorries whose body some camera shows
    for view, t in truths:
        roles = {"front": ("front",), "rear": ("rear", "trailer_mark")}.get(view, ())
        for tv in t.vehicles:
            body_of.setdefault(tv.vehicle_id, tv.body_type)
            if tv.body_shown:
                shown.add(tv.vehicle_id)
            if tv.vehicle_id in want:
                want[tv.vehicle_id] += [
                    (p.role.value, p.text) for p in tv.readable_plates if p.role.value in roles
                ]
    merged = merged_wrong = alone = spurious = 0
    of_lorry: dict[int, list[Passage]] = {v: [] for v in lorries}
    for p in passages:
        part_ids = parts_of.get(p.passage_id)
        if part_ids is not None:
            vids = [vehicle_of.get(i) for i in part_ids]
            if None not in vids and len(set(vids)) == 1:
                merged += 1
            else:
                merged_wrong += 1
        else:
            alone += 1
            vids = [vehicle_of.get(p.passage_id)]
        ids = {v for v in vids if v is not None}
        if not ids:
            spurious += 1
        for vid in ids:
            of_lorry.setdefault(vid, []).append(p)
    misses: list[str] = []
    read_ok = body_ok = body_shown_ok = 0
    for v in lorries:
        n = len(of_lorry[v])
        if n != 1:
            misses.append(f"{label}: lorry {v}: {n} passages")
            continue
        p = of_lorry[v][0]
        got = plates_read(p)
        if got == sorted(want[v]):
            read_ok += 1
        else:
            misses.append(f"{label}: lorry {v}: plates {got} != truth {sorted(want[v])}")
        if p.body.body_type is body_of[v]:
            body_ok += 1
            body_shown_ok += v in shown
        else:
            hardly = "" if v in shown else " (body hardly shown by any camera)"
            misses.append(
                f"{label}: lorry {v}: body {p.body.body_type.value} ({p.body.confidence:.2f}, "
                f"{p.body.n_looks} looks) != truth {body_of[v].value}{hardly}"
            )
    return LaneScore(
        lorries=len(lorries),
        passages=len(passages),
        merged=merged,
        merged_wrong=merged_wrong,
        alone=alone,
        one_passage=sum(len(of_lorry[v]) == 1 for v in lorries),
        duplicates=sum(max(0, len(of_lorry[v]) - 1) for v in lorries),
        none=sum(not of_lorry[v] for v in lorries),
        spurious=spurious,
        read_ok=read_ok,
        body_ok=body_ok,
        body_shown=sum(v in shown for v in lorries),
        body_shown_ok=body_shown_ok,
        misses=tuple(misses),
    )
