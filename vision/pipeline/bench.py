"""The pipeline benchmark: synthetic 1280x720 lane clips with ground truth, run end to end.

Clips are made deterministically by the synthetic generator (:func:`benchmark_clips`) and
cached; each runs through a :class:`vision.pipeline.worker.LaneWorker` (decoding on one
thread, the pipeline on another, every frame taken) and its passages are scored against
the ground truth (:func:`vision.pipeline.truth.score_passages`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.pipeline.config import CameraView, LaneConfig
from vision.pipeline.lane import FrameResult, LanePipeline
from vision.pipeline.protocols import BodyClassifier, LaneModels, PlateReader
from vision.pipeline.sinks import ListSink
from vision.pipeline.sources import VideoFileSource
from vision.pipeline.truth import ClipScore, ClipTruthData, TruthDetector, load_clip_truth, score_passages
from vision.pipeline.worker import LaneWorker
from vision.types import Frame

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
    from vision.synth.clip import random_clip_spec, render_clip  # noqa: PLC0415 - the generator
    from vision.synth.render import StaticTextures  # noqa: PLC0415

    static: StaticTextures | None = None
    out: list[BenchClip] = []
    for i in range(n_clips):
        view: CameraView = "front" if i % 2 == 0 else "rear"
        folder = cache_dir / f"clip-{seed + i}-{view}-{vehicles}v-{seconds:g}s-{fps:g}fps"
        clip = BenchClip(folder, view)
        if not (clip.video.is_file() and clip.truth_path.is_file()):
            static = static or StaticTextures()
            spec = random_clip_spec(seed + i, view=view, n_vehicles=vehicles, seconds=seconds, fps=fps)
            tmp = folder.with_name(folder.name + ".partial")
            render_clip(spec, tmp, video=True, static=static, progress=progress)
            tmp.rename(folder)
        out.append(clip)
    return out


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
    pipeline = LanePipeline(config, models)
    for r in range(repeat):
        sink = ListSink()
        start = START_TS_MS + round(
            r * (truth.n_frames + 2 * config.tracking.close_after_ms / period_ms) * period_ms
        )
        source = VideoFileSource(clip.video, lane_id=config.lane_id, start_ts_ms=start, fps=truth.fps)

        def record(frame: Frame, result: FrameResult) -> None:
            frame_ms.append(result.ms)
            if result.detected:
                detected_ms.append(result.ms)
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
        s = score_passages(sink.passages, truth, start_ts_ms=start, label=f"{clip.folder.name}: ")
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
