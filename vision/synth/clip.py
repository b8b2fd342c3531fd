"""Passage clips: a queue of vehicles driving through a static lane camera, with ground truth.

Front clips: vehicles approach a front-oblique camera (front plates readable for a run of
frames, trailer sides in perspective). Rear clips: vehicles pass the camera and drive away
(rear plates and trailer marks readable). Every frame is rendered by the scene renderer,
so per-frame boxes are exact; per-frame sensor noise differs, textures stay fixed.

Lane clips (:func:`random_lane_clip_spec`, :func:`render_lane_clip`): ONE queue on ONE
timeline seen by several cameras of the lane's gantry at once - front-oblique, side (or high
side) and rear. Every camera's frame ``i`` is the same instant; vehicle ids, plates and body
types are the same in every camera's ``truth.json``, boxes are in that camera's pixels.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from .camera import Camera, CameraSpec
from .randomize import random_background, random_body_type, random_condition, random_vehicle
from .render import StaticTextures, TextureCache, compose, moved, render_spec
from .scene import Box, ConditionSpec, Scene, SceneSpec, View
from .taxonomy import CROP_CLASS_OF, SIDE_OF, BodyType
from .vehicles import Geometry, VehicleModel, VehicleSpec, build_model, geometry

ClipView = Literal["front", "rear"]
"""Views of a single-camera clip (:func:`random_clip_spec`)."""

LANE_VIEWS: tuple[View, ...] = ("front", "side", "high_side", "rear")
"""Cameras a lane clip can have, in the order a lorry passes them (front first sees it)."""


@dataclass(frozen=True)
class ClipSpec:
    """A clip: a scene at t = 0 plus per-vehicle speeds (m/s along the lane), frame rate and length."""

    scene: SceneSpec
    speeds_mps: tuple[float, ...]
    fps: float
    n_frames: int

    def at(self, frame: int) -> SceneSpec:
        """The scene at ``frame`` (vehicles moved; a gentle speed wobble keeps motion natural)."""
        t = frame / self.fps
        dx = tuple(v * t + 0.15 * v * math.sin(0.7 * t + i) for i, v in enumerate(self.speeds_mps))
        return moved(self.scene, dx)


@dataclass(frozen=True)
class ClipPlate:
    """A plate of a clip vehicle and the frames in which it is labelled (readable)."""

    role: str
    text: str
    country: str
    two_line: bool
    first_frame: int | None
    last_frame: int | None
    n_frames: int


@dataclass(frozen=True)
class ClipVehicle:
    """A vehicle of a clip and the span of frames in which it is labelled."""

    vehicle_id: int
    body_type: BodyType
    side: str
    crop_class: str
    country: str
    plates: tuple[ClipPlate, ...]
    first_frame: int | None
    last_frame: int | None


@dataclass(frozen=True)
class FramePlate:
    """A labelled plate in one frame (box in pixels)."""

    role: str
    text: str
    box: Box


@dataclass(frozen=True)
class FrameObject:
    """A labelled vehicle in one frame: whole box, body box (or None when not labelled), plates,
    and with a body box the share of the body that shows, its own cab counted as hiding it
    (:attr:`vision.synth.scene.VehicleTruth.body_shown_fraction`)."""

    vehicle_id: int
    box: Box
    body_box: Box | None
    plates: tuple[FramePlate, ...]
    body_shown: float | None = None


@dataclass(frozen=True)
class ClipTruth:
    """Ground truth of a clip: vehicles with spans and every frame's labelled boxes."""

    seed: int
    view: View
    fps: float
    width_px: int
    height_px: int
    n_frames: int
    vehicles: tuple[ClipVehicle, ...]
    frames: tuple[tuple[FrameObject, ...], ...]

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable dict (boxes as [x0, y0, x1, y1] rounded to 0.01 px)."""

        def b(box: Box | None) -> list[float] | None:
            return (
                None
                if box is None
                else [round(box.x0, 2), round(box.y0, 2), round(box.x1, 2), round(box.y1, 2)]
            )

        return {
            "format": "hgv-lane-synth-clip/1",
            "seed": self.seed,
            "view": self.view,
            "fps": self.fps,
            "width": self.width_px,
            "height": self.height_px,
            "n_frames": self.n_frames,
            "vehicles": [
                {
                    "vehicle_id": v.vehicle_id,
                    "body_type": v.body_type,
                    "side": v.side,
                    "crop_class": v.crop_class,
                    "country": v.country,
                    "first_frame": v.first_frame,
                    "last_frame": v.last_frame,
                    "plates": [
                        {
                            "role": p.role,
                            "text": p.text,
                            "country": p.country,
                            "two_line": p.two_line,
                            "first_frame": p.first_frame,
                            "last_frame": p.last_frame,
                            "n_frames": p.n_frames,
                        }
                        for p in v.plates
                    ],
                }
                for v in self.vehicles
            ],
            "frames": [
                {
                    "frame": i,
                    "objects": [
                        {
                            "vehicle_id": o.vehicle_id,
                            "box": b(o.box),
                            "body_box": b(o.body_box),
                            "body_shown": None if o.body_shown is None else round(o.body_shown, 3),
                            "plates": [{"role": p.role, "text": p.text, "box": b(p.box)} for p in o.plates],
                        }
                        for o in objs
                    ],
                }
                for i, objs in enumerate(self.frames)
            ],
        }


def _queue_and_light(
    rng: np.random.Generator,
    seed: int,
    bts: list[BodyType],
    xs: list[float],
    *,
    yaw_sd_deg: float,
    max_blur_px: float,
) -> tuple[tuple[VehicleSpec, ...], ConditionSpec]:
    """A clip's lorries (body types ``bts`` at positions ``xs``, metres along the lane, small yaw
    of ``yaw_sd_deg``) and its light and degradations: day, dusk or night IR, no rain, glare or
    JPEG step, motion blur up to ``max_blur_px``. Draws from ``rng`` in a fixed order (same
    seed, same clip)."""
    vehicles = tuple(
        random_vehicle(rng, k + 1, bt, xs[k], float(rng.normal(0, 0.1)), detail_seed=seed * 97 + k)
        for k, bt in enumerate(bts)
    )
    vehicles = tuple(replace(v, variant=0, yaw_deg=float(rng.normal(0, yaw_sd_deg))) for v in vehicles)
    cond = random_condition(
        rng, lighting="day" if rng.random() < 0.6 else ("dusk" if rng.random() < 0.5 else "night_ir")
    )
    cond = replace(
        cond,
        rain=False,
        glare=False,
        motion_blur_px=float(rng.uniform(0, max_blur_px)),
        jpeg_quality=0,
        defocus_sigma_px=float(rng.uniform(0.0, 0.8)),
    )
    return vehicles, cond


def random_clip_spec(
    seed: int,
    *,
    view: ClipView = "front",
    n_vehicles: int = 2,
    seconds: float = 8.0,
    fps: float = 25.0,
    size: tuple[int, int] = (1280, 720),
    lorries_only: bool = True,
) -> ClipSpec:
    """A queue of ``n_vehicles`` (lorries by default) passing a static ``view`` camera within ``seconds``."""
    rng = np.random.default_rng([seed, 4242])
    bg = random_background(rng, seed)
    side = -1.0 if rng.random() < 0.7 else 1.0
    x_cam = 0.0
    bts: list[BodyType] = [random_body_type(rng, lorries_only=lorries_only) for _ in range(n_vehicles)]
    geos: list[Geometry] = [geometry(bt, 0, seed * 97 + k) for k, bt in enumerate(bts)]
    gaps = [float(rng.uniform(3.0, 9.0)) for _ in bts]
    queue = sum(g.length for g in geos) + sum(gaps[:-1])
    n_frames = max(2, round(seconds * fps))
    cam_h = float(rng.uniform(3.0, 5.0))
    if view == "front":
        cam = CameraSpec(
            position_m=(x_cam, side * float(rng.uniform(2.4, 3.6)), cam_h),
            target_m=(x_cam - float(rng.uniform(11.0, 15.0)), -side * 0.5, 1.3),
            hfov_deg=float(rng.uniform(45, 58)),
            roll_deg=float(rng.normal(0, 0.7)),
            width_px=size[0],
            height_px=size[1],
        )
        start = x_cam - 40.0
        travel = queue + 40.0 - 6.0
        xs, x = [], start
        for g, gap in zip(geos, gaps, strict=False):
            xs.append(x)
            x -= g.length + gap
    else:
        cam = CameraSpec(
            position_m=(x_cam, side * float(rng.uniform(2.4, 3.6)), cam_h),
            target_m=(x_cam + float(rng.uniform(11.0, 15.0)), -side * 0.5, 1.3),
            hfov_deg=float(rng.uniform(45, 58)),
            roll_deg=float(rng.normal(0, 0.7)),
            width_px=size[0],
            height_px=size[1],
        )
        xs, x = [], x_cam + geos[0].length + 4.0
        for g, gap in zip(geos, gaps, strict=False):
            xs.append(x)
            x -= g.length + gap
        travel = queue + 22.0 - geos[0].length
    speed = travel / (n_frames / fps)
    vehicles, cond = _queue_and_light(rng, seed, bts, xs, yaw_sd_deg=0.4, max_blur_px=3.0)
    scene = SceneSpec(
        seed=seed, view=view, camera=cam, vehicles=vehicles, occluders=(), background=bg, condition=cond
    )
    return ClipSpec(scene=scene, speeds_mps=tuple(speed for _ in vehicles), fps=fps, n_frames=n_frames)


def _warm(clip: ClipSpec, cache: TextureCache) -> None:
    """Make each vehicle's textures at its closest useful approach so they stay sharp in every frame."""
    cam_x = clip.scene.camera.position_m[0]
    cam = Camera.from_spec(clip.scene.camera)
    for v in clip.scene.vehicles:
        g = geometry(v.body_type, v.variant, v.detail_seed)
        if clip.scene.view in ("side", "high_side"):
            x = cam_x + g.length / 2  # broadside, centred on the camera
        else:
            x = cam_x - 8.0 if clip.scene.view == "front" else cam_x + 7.0 + g.length
        solo = replace(clip.scene, vehicles=(replace(v, x_front_m=x),))
        models: tuple[VehicleModel, ...] = (build_model(solo.vehicles[0]),)
        compose(solo, cam, models, cache)


def iter_clip(clip: ClipSpec, *, static: StaticTextures | None = None) -> Iterator[Scene]:
    """Render the frames of ``clip`` one by one (BGR uint8 images with per-frame truth)."""
    cache = TextureCache(static)
    _warm(clip, cache)
    for i in range(clip.n_frames):
        yield render_spec(clip.at(i), cache=cache, frame=i)


def frame_objects(scene: Scene) -> tuple[FrameObject, ...]:
    """Labelled vehicles (with labelled plates) of one frame."""
    out = []
    for v in scene.vehicles:
        if not v.labelled:
            continue
        plates = tuple(
            FramePlate(p.role, p.text, p.box)
            for p in scene.plates
            if p.vehicle_id == v.vehicle_id and p.labelled
        )
        if v.body_labelled:
            out.append(FrameObject(v.vehicle_id, v.box, v.body_box, plates, v.body_shown_fraction))
        else:
            out.append(FrameObject(v.vehicle_id, v.box, None, plates))
    return tuple(out)


def _progress(done: int, total: int) -> None:
    """Rendering progress on stderr: one line rewritten in place on a terminal, else a line every
    50 frames and at the end (a log file gets no run of carriage returns)."""
    if sys.stderr.isatty():
        print(f"\rclip frame {done}/{total}", end="", file=sys.stderr, flush=True)
    elif done % 50 == 0 or done == total:
        print(f"clip frame {done}/{total}", file=sys.stderr, flush=True)


def render_clip(
    clip: ClipSpec,
    out_dir: Path,
    *,
    video: bool = True,
    frames: bool = False,
    jpeg_quality: int = 90,
    static: StaticTextures | None = None,
    progress: bool = False,
) -> ClipTruth:
    """Render ``clip`` into ``out_dir``: ``clip.mp4`` (mp4v) and/or ``frames/NNNNNN.jpg`` and ``truth.json``.

    Returns the ground truth that was written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    W, H = clip.scene.camera.width_px, clip.scene.camera.height_px
    writer = None
    if video:
        writer = cv2.VideoWriter(str(out_dir / "clip.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), clip.fps, (W, H))
        if not writer.isOpened():
            raise RuntimeError("cv2.VideoWriter could not open an mp4v writer")
    if frames:
        (out_dir / "frames").mkdir(exist_ok=True)
    per_frame: list[tuple[FrameObject, ...]] = []
    spans: dict[int, list[int]] = {}
    plate_frames: dict[tuple[int, str], list[int]] = {}
    try:
        for i, scene in enumerate(iter_clip(clip, static=static)):
            objs = frame_objects(scene)
            per_frame.append(objs)
            for o in objs:
                spans.setdefault(o.vehicle_id, []).append(i)
                for fp in o.plates:
                    plate_frames.setdefault((o.vehicle_id, fp.role), []).append(i)
            if writer is not None:
                writer.write(scene.image)
            if frames:
                cv2.imwrite(
                    str(out_dir / "frames" / f"{i:06d}.jpg"),
                    scene.image,
                    [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality],
                )
            if progress:
                _progress(i + 1, clip.n_frames)
    finally:
        if writer is not None:
            writer.release()
        if progress and sys.stderr.isatty():
            print(file=sys.stderr)
    vehicles = []
    for v in clip.scene.vehicles:
        fr = spans.get(v.vehicle_id, [])
        plates = []
        for p in v.plates:
            pf = plate_frames.get((v.vehicle_id, p.role), [])
            plates.append(
                ClipPlate(
                    p.role,
                    p.text,
                    p.country,
                    p.two_line,
                    min(pf) if pf else None,
                    max(pf) if pf else None,
                    len(pf),
                )
            )
        vehicles.append(
            ClipVehicle(
                v.vehicle_id,
                v.body_type,
                SIDE_OF[v.body_type],
                CROP_CLASS_OF[v.body_type],
                v.country,
                tuple(plates),
                min(fr) if fr else None,
                max(fr) if fr else None,
            )
        )
    truth = ClipTruth(
        seed=clip.scene.seed,
        view=clip.scene.view,
        fps=clip.fps,
        width_px=W,
        height_px=H,
        n_frames=clip.n_frames,
        vehicles=tuple(vehicles),
        frames=tuple(per_frame),
    )
    (out_dir / "truth.json").write_text(json.dumps(truth.to_json(), indent=1) + "\n")
    return truth


# --- one queue, one timeline, several cameras of the lane ----------------------------------------


@dataclass(frozen=True)
class LaneClipSpec:
    """One lorry queue on one timeline seen by several cameras of a lane's gantry.

    ``clips[k]`` is camera ``views[k]``'s clip: the same vehicles, speeds, background, light,
    frame rate and length in every one (frame ``i`` is the same instant in all); only the camera
    (and the scene's ``view``) differ.
    """

    seed: int
    views: tuple[View, ...]
    clips: tuple[ClipSpec, ...]

    def clip(self, view: View) -> ClipSpec:
        """The clip of camera ``view``."""
        return self.clips[self.views.index(view)]


def _lane_cameras(rng: np.random.Generator, side: float, size: tuple[int, int]) -> dict[View, CameraSpec]:
    """The gantry's cameras at x = 0 (all drawn, in a fixed order, whichever are rendered): a
    front-oblique and a rear camera over the lane's edge, a side camera level with the body
    ``side * 11.5-13.5`` m out, a high side camera looking down from 5.5-7.5 m."""
    W, H = size
    cams: dict[View, CameraSpec] = {}
    cams["front"] = CameraSpec(
        position_m=(0.0, side * float(rng.uniform(2.4, 3.6)), float(rng.uniform(3.0, 5.0))),
        target_m=(-float(rng.uniform(11.0, 15.0)), -side * 0.5, 1.3),
        hfov_deg=float(rng.uniform(45, 58)),
        roll_deg=float(rng.normal(0, 0.7)),
        width_px=W,
        height_px=H,
    )
    cams["rear"] = CameraSpec(
        position_m=(0.0, side * float(rng.uniform(2.4, 3.6)), float(rng.uniform(3.0, 5.0))),
        target_m=(float(rng.uniform(11.0, 15.0)), -side * 0.5, 1.3),
        hfov_deg=float(rng.uniform(45, 58)),
        roll_deg=float(rng.normal(0, 0.7)),
        width_px=W,
        height_px=H,
    )
    cams["side"] = CameraSpec(
        position_m=(
            float(rng.uniform(-1.0, 1.0)),
            side * float(rng.uniform(11.5, 13.5)),
            float(rng.uniform(1.8, 3.0)),
        ),
        target_m=(0.0, 0.0, float(rng.uniform(1.5, 2.1))),
        hfov_deg=float(rng.uniform(68, 76)),
        roll_deg=float(rng.normal(0, 0.5)),
        width_px=W,
        height_px=H,
    )
    cams["high_side"] = CameraSpec(
        position_m=(
            float(rng.uniform(-1.0, 1.0)),
            side * float(rng.uniform(10.0, 12.0)),
            float(rng.uniform(5.5, 7.5)),
        ),
        target_m=(0.0, 0.0, float(rng.uniform(0.8, 1.4))),
        hfov_deg=float(rng.uniform(72, 80)),
        roll_deg=float(rng.normal(0, 0.5)),
        width_px=W,
        height_px=H,
    )
    return cams


def random_lane_clip_spec(
    seed: int,
    *,
    views: tuple[View, ...] = ("front", "side", "rear"),
    n_vehicles: int = 2,
    seconds: float = 12.0,
    fps: float = 12.5,
    size: tuple[int, int] = (1280, 720),
    lorries_only: bool = True,
) -> LaneClipSpec:
    """A queue of ``n_vehicles`` driving through a lane's gantry within ``seconds``, seen by the
    cameras ``views`` (any of :data:`LANE_VIEWS`, each once) on one shared timeline.

    The queue's head starts 35 m before the gantry (approaching the front camera) and the last
    vehicle's rear ends about 24 m past it (driving away from the rear camera). Everything but
    which cameras are rendered is drawn from ``seed`` alone, so a camera's clip is the same
    bytes whichever other cameras are asked for.
    """
    if not views or len(set(views)) != len(views) or any(v not in LANE_VIEWS for v in views):
        raise ValueError(f"views must be distinct, from {LANE_VIEWS}; got {views}")
    rng = np.random.default_rng([seed, 4343])
    bg = random_background(rng, seed)
    side = -1.0 if rng.random() < 0.7 else 1.0
    bts: list[BodyType] = [random_body_type(rng, lorries_only=lorries_only) for _ in range(n_vehicles)]
    geos: list[Geometry] = [geometry(bt, 0, seed * 97 + k) for k, bt in enumerate(bts)]
    gaps = [float(rng.uniform(3.0, 9.0)) for _ in bts]
    queue = sum(g.length for g in geos) + sum(gaps[:-1])
    n_frames = max(2, round(seconds * fps))
    cams = _lane_cameras(rng, side, size)
    xs, x = [], -35.0
    for g, gap in zip(geos, gaps, strict=False):
        xs.append(x)
        x -= g.length + gap
    travel = queue + 35.0 + 24.0
    speed = travel / (n_frames / fps)
    vehicles, cond = _queue_and_light(rng, seed, bts, xs, yaw_sd_deg=0.3, max_blur_px=2.5)
    clips = tuple(
        ClipSpec(
            scene=SceneSpec(
                seed=seed,
                view=view,
                camera=cams[view],
                vehicles=vehicles,
                occluders=(),
                background=bg,
                condition=cond,
            ),
            speeds_mps=tuple(speed for _ in vehicles),
            fps=fps,
            n_frames=n_frames,
        )
        for view in views
    )
    return LaneClipSpec(seed=seed, views=tuple(views), clips=clips)


def render_lane_clip(
    lane: LaneClipSpec,
    out_dir: Path,
    *,
    video: bool = True,
    frames: bool = False,
    static: StaticTextures | None = None,
    progress: bool = False,
) -> dict[View, ClipTruth]:
    """Render each camera of ``lane`` into ``out_dir/<view>/`` (as :func:`render_clip`) and
    write ``out_dir/lane.json`` (``{"format": "hgv-lane-synth-lane/1", "seed", "fps",
    "n_frames", "views"}``). Returns each camera's truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    static = static if static is not None else StaticTextures()
    truths: dict[View, ClipTruth] = {}
    for view, clip in zip(lane.views, lane.clips, strict=True):
        if progress:
            print(f"camera {view}:", file=sys.stderr)
        truths[view] = render_clip(
            clip, out_dir / view, video=video, frames=frames, static=static, progress=progress
        )
    first = lane.clips[0]
    meta = {
        "format": "hgv-lane-synth-lane/1",
        "seed": lane.seed,
        "fps": first.fps,
        "n_frames": first.n_frames,
        "views": list(lane.views),
    }
    (out_dir / "lane.json").write_text(json.dumps(meta, indent=1) + "\n")
    return truths
