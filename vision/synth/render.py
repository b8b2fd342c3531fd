"""Compose scenes: project every face with the camera, paint it, and label what landed where."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import cv2
import numpy as np

from .camera import NEAR_M, Camera, clip_polygon_box, clip_polygon_near, draw_face
from .canvas import scale_bgra
from .effects import EffectInputs, NoiseBank, apply_all
from .plates import PlateSpec, PlateTexture, char_cells, plate_layout, plate_size_mm, render_plate
from .scene import Box, OccluderSpec, PlateTruth, Quad, Scene, SceneSpec, VehicleTruth
from .scenery import WorldFace, backdrop, booth, canopy, columns, draw_ground, occluder
from .taxonomy import CROP_CLASS_OF, SIDE_OF
from .vehicles import FaceName, Part, VehicleModel, VehicleSpec, build_model

GROUND, BACKDROP, SCENERY, OCCLUDER = 1, 2, 3, 4
_FIRST_VEHICLE_GROUP = 5
PLATE_OFFSET_M = 0.015

MIN_PLATE_H_PX = 12.0
MIN_PLATE_VISIBLE = 0.8
MIN_PLATE_IN_FRAME = 0.9
MIN_VEHICLE_VISIBLE = 0.3
MIN_VEHICLE_IN_FRAME = 0.35
MIN_BODY_VISIBLE = 0.4
MIN_BODY_IN_FRAME = 0.5
MIN_BOX_SIDE_PX = 16.0


class StaticTextures:
    """Scenery textures that depend only on their key (style seed, size, scale bucket).

    Safe to share across scenes and renders (results are identical with or without it);
    bounded to ``max_items`` entries (oldest dropped first).
    """

    def __init__(self, max_items: int = 400) -> None:
        self._tex: dict[str, np.ndarray] = {}
        self.max_items = max_items

    def noise_bank(self) -> NoiseBank:
        """The sensor-noise bank, shared by the whole process (made on first use)."""
        return NoiseBank.shared()

    def get(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        t = self._tex.get(key)
        if t is None:
            t = make()
            if len(self._tex) >= self.max_items:
                self._tex.pop(next(iter(self._tex)))
            self._tex[key] = t
        return t


@cache
def process_static_textures() -> StaticTextures:
    """One :class:`StaticTextures` per process (made on first use; a forked worker starts
    with a copy of its parent's). Data set workers use it so that scenery textures are
    painted once per process rather than once per block of samples."""
    return StaticTextures()


class TextureCache:
    """Face textures of one render or clip, keyed by a stable name.

    Textures are made on first use at the scale the camera needs then, so a clip that
    warms the cache at each vehicle's closest approach reuses sharp textures throughout.
    ``static`` holds scenery textures that may be shared with other renders.
    """

    def __init__(self, static: StaticTextures | None = None) -> None:
        self._tex: dict[str, np.ndarray] = {}
        self._plates: dict[str, PlateTexture] = {}
        self.static = static if static is not None else StaticTextures()

    def get(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        t = self._tex.get(key)
        if t is None:
            t = make()
            self._tex[key] = t
        return t

    def plate(self, key: str, make: Callable[[], PlateTexture]) -> PlateTexture:
        t = self._plates.get(key)
        if t is None:
            t = make()
            self._plates[key] = t
        return t


def group_counts(ids: np.ndarray, n: int) -> np.ndarray:
    """int64 (n,): how many pixels of the uint16 group buffer ``ids`` show each group ``0..n-1``.

    The same as ``np.bincount(ids.ravel(), minlength=n)`` for ids below ``n``, without
    copying the buffer to 64-bit integers first.
    """
    hist = cv2.calcHist([ids], [0], None, [n], [0, n])
    return hist.ravel().astype(np.int64)


def _rng_for(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


@dataclass(frozen=True, eq=False)
class Pose:
    """Rigid transform local -> world: ``R`` (3, 3), ``t`` (3,)."""

    R: np.ndarray
    t: np.ndarray

    def apply(self, pts: np.ndarray) -> np.ndarray:
        return pts @ self.R.T + self.t


def vehicle_pose(v: VehicleSpec) -> Pose:
    """World pose of a vehicle spec (yaw about Z, front bumper centre at x_front/y_centre)."""
    a = math.radians(v.yaw_deg)
    R = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], np.float64)
    return Pose(R, np.array([v.x_front_m, v.y_centre_m, 0.0]))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _normal(corners: np.ndarray) -> np.ndarray:
    """Unit normal (3,) of a quad TL, TR, BR, BL: (BL - TL) x (TR - TL)."""
    # plain floats: these run for every face of every scene, and numpy's per-call overhead
    # on 3-vectors is many times the arithmetic
    (x0, y0, z0), (x1, y1, z1), _, (x3, y3, z3) = corners.tolist()
    ax, ay, az, bx, by, bz = x3 - x0, y3 - y0, z3 - z0, x1 - x0, y1 - y0, z1 - z0
    nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
    norm = max(1e-9, math.sqrt(nx * nx + ny * ny + nz * nz))
    return np.array([nx / norm, ny / norm, nz / norm])


def _facing(cam: Camera, corners: np.ndarray) -> bool:
    """Whether the quad's front side (see :func:`_normal`) faces the camera."""
    nx, ny, nz = _normal(corners).tolist()
    cx, cy, cz = (corners.sum(axis=0) / len(corners)).tolist()
    px, py, pz = cam.position.tolist()
    return nx * (px - cx) + ny * (py - cy) + nz * (pz - cz) > 1e-6


def _px_per_m(cam: Camera, corners: np.ndarray, w_m: float, h_m: float) -> float:
    """Texture scale a face needs: the larger of its mean scale (sqrt of projected area over
    metric area) and 60 % of its largest edge scale (so a face in steep perspective stays
    sharp at its near end while a grazing face is not painted at full resolution)."""
    c = cam.to_cam(corners)
    if np.any(c[:, 2] < NEAR_M):
        return cam.px_per_m_at(max(NEAR_M, float(c[:, 2].max()) * 0.05))
    uv = (c[:, :2] / c[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = uv.tolist()
    top = math.hypot(x1 - x0, y1 - y0) / w_m
    bot = math.hypot(x2 - x3, y2 - y3) / w_m
    lft = math.hypot(x3 - x0, y3 - y0) / h_m
    rgt = math.hypot(x2 - x1, y2 - y1) / h_m
    area = 0.5 * abs(x0 * y1 - x1 * y0 + x1 * y2 - x2 * y1 + x2 * y3 - x3 * y2 + x3 * y0 - x0 * y3)
    mean = math.sqrt(area / max(1e-6, w_m * h_m))
    return max(mean, 0.6 * max(top, bot, lft, rgt))


def _ppm_for(cam: Camera, corners: np.ndarray, w_m: float, h_m: float, lo: float, hi: float) -> float:
    ppm = min(hi, max(lo, 1.1 * _px_per_m(cam, corners, w_m, h_m)))
    max_px = 1.2e6
    if w_m * h_m * ppm * ppm > max_px:
        ppm = math.sqrt(max_px / (w_m * h_m))
    return ppm


def _light_factor(n: np.ndarray, sun_az_deg: float) -> float:
    if n[2] > 0.7:
        return 1.08
    if n[2] < -0.7:
        return 0.75
    a = math.radians(sun_az_deg)
    d = n[0] * math.cos(a) + n[1] * math.sin(a)
    return 0.84 + 0.18 * max(0.0, d)


def _lit(tex: np.ndarray, f: float) -> np.ndarray:
    if abs(f - 1.0) < 1e-3:
        return tex
    return scale_bgra(tex, f)


def plate_corners(model: VehicleModel, pose: Pose, mount_index: int) -> tuple[np.ndarray, np.ndarray]:
    """World corners (4, 3) of a mounted plate and of its character cells."""
    m = model.mounts[mount_index]
    part = next(p for p in model.parts if p.name == m.part)
    fc = pose.apply(part.corners(m.face))
    _, fh = part.face_size(m.face)
    e_u = (fc[1] - fc[0]) / np.linalg.norm(fc[1] - fc[0])
    e_d = (fc[3] - fc[0]) / np.linalg.norm(fc[3] - fc[0])
    n = _cross(e_d, e_u)
    a = math.radians(m.roll_deg)
    ru, rd = e_u * math.cos(a) + e_d * math.sin(a), -e_u * math.sin(a) + e_d * math.cos(a)
    spec = model.spec.plates[m.plate_index]
    w_mm, h_mm = plate_size_mm(spec)
    centre = fc[0] + e_u * m.u_m + e_d * (fh - m.v_m) + n * PLATE_OFFSET_M

    def at(x_mm: float, y_mm: float) -> np.ndarray:
        return centre + ru * (x_mm - w_mm / 2) / 1000.0 + rd * (y_mm - h_mm / 2) / 1000.0

    corners = np.array([at(0, 0), at(w_mm, 0), at(w_mm, h_mm), at(0, h_mm)])
    return corners, centre


@dataclass(frozen=True)
class _GroupInfo:
    vehicle: int  # index into the scene's vehicles, -1 for scenery
    kind: Literal["tractor", "body", "plate", "scenery"]
    plate: int


@dataclass(frozen=True, eq=False)
class Composite:
    """A composed frame before conditions: BGR image, group buffer and group facts."""

    image: np.ndarray
    idbuf: np.ndarray
    groups: tuple[_GroupInfo, ...]
    painted: np.ndarray  # pixels each group covered right after its object was drawn
    # pixels each vehicle's body group covered before the nearer parts of its own vehicle (a
    # cab in front of its trailer) were drawn over it: the body as if the vehicle were see-through
    alone: np.ndarray
    lamps: np.ndarray
    lamp_red: np.ndarray


def _scenery_faces(
    spec: SceneSpec, cam: Camera, x_centre: float, models: tuple[VehicleModel, ...]
) -> list[tuple[float, list[WorldFace], int]]:
    bg = spec.background
    items: list[tuple[float, list[WorldFace], int]] = []
    pos = cam.position
    main = models[0] if models else None
    look = (
        np.array(spec.camera.target_m)
        if main is None
        else np.array([main.spec.x_front_m - main.geo.length / 2, main.spec.y_centre_m, 0.0])
    )
    for faces in columns(bg, pos, spec.view in ("side", "high_side"), look):
        items.append((float(np.linalg.norm(faces[0].corners.mean(0) - pos)), faces, SCENERY))
    b = booth(bg, pos, look)
    if b:
        items.append((float(np.linalg.norm(b[0].corners.mean(0) - pos)), b, SCENERY))
    for o in spec.occluders:
        faces = occluder(o, pos, bg.lane_w_m)
        items.append((float(np.linalg.norm(np.array([o.x_m, o.y_m, 1.0]) - pos)), faces, OCCLUDER))
    return items


def compose(spec: SceneSpec, cam: Camera, models: tuple[VehicleModel, ...], cache: TextureCache) -> Composite:
    """Draw background, scenery, vehicles and occluders far to near; no conditions applied."""
    W, H = cam.size
    img = np.empty((H, W, 3), np.uint8)
    sky = (215, 200, 170) if spec.condition.lighting == "day" else (140, 120, 110)
    cv2.rectangle(img, (0, 0), (W - 1, H - 1), sky, -1)  # far faster than numpy's img[:] = sky
    idbuf = np.zeros((H, W), np.uint16)
    groups: list[_GroupInfo] = [_GroupInfo(-1, "scenery", -1)] * _FIRST_VEHICLE_GROUP
    sun = spec.condition.sun_azimuth_deg
    seed = spec.background.seed
    pos = cam.position
    x_centre = float(spec.camera.target_m[0])
    dusk = spec.condition.lighting != "day"

    def put(face: WorldFace, group: int, lo: float = 3.0) -> np.ndarray | None:
        if face.cull and not _facing(cam, face.corners):
            return None
        ppm = _ppm_for(cam, face.corners, face.size_m[0], face.size_m[1], lo, face.max_ppm)
        if face.static:
            ppm = min(face.max_ppm, 2.0 ** math.ceil(math.log2(ppm)))
            key = f"{face.key}@{ppm:g}"
            tex = cache.static.get(key, lambda: face.paint(ppm, _rng_for(0, key)))
        else:
            tex = cache.get(face.key, lambda: face.paint(ppm, _rng_for(seed, face.key)))
        return draw_face(img, idbuf, cam, face.corners, tex, group)

    for f in backdrop(spec.background, x_centre, dusk):
        put(f, BACKDROP, 1.0)
    draw_ground(img, idbuf, cam, spec.background, x_centre, GROUND, _rng_for(seed, "ground"), cache.static)
    if spec.view != "high_side" or (spec.background.canopy_h_m or 0) > pos[2] + 0.5:
        for f in canopy(spec.background, x_centre):
            put(f, SCENERY)
    if spec.condition.lighting != "night_ir":
        _shadows(img, idbuf, cam, models)

    items: list[tuple[float, int, object]] = []
    for d, faces, grp in _scenery_faces(spec, cam, x_centre, models):
        items.append((d, grp, faces))
    for i, m in enumerate(models):
        pose = vehicle_pose(m.spec)
        centre = pose.apply(np.array([[-m.geo.length / 2, 0.0, 1.5]]))[0]
        items.append((float(np.linalg.norm(centre - pos)), -1 - i, m))
    items.sort(key=lambda t: -t[0])

    vehicle_groups: list[tuple[int, int, int]] = []  # (vehicle index, first group, n groups)
    painted_list: list[int] = [0] * _FIRST_VEHICLE_GROUP
    alone_list: list[int] = [0] * _FIRST_VEHICLE_GROUP
    lamps: list[tuple[float, float, float]] = []
    lamp_red: list[bool] = []
    for _, grp, obj in items:
        if isinstance(obj, VehicleModel):
            vi = -1 - grp
            base = len(groups)
            groups.append(_GroupInfo(vi, "tractor", -1))
            groups.append(_GroupInfo(vi, "body", -1))
            for k in range(len(obj.mounts)):
                groups.append(_GroupInfo(vi, "plate", k))
            painted_list += [0] * (len(groups) - len(painted_list))
            alone_list += [0] * (len(groups) - len(alone_list))
            roi, body_alone = _draw_vehicle(img, idbuf, cam, obj, cache, base, sun, pos)
            vehicle_groups.append((vi, base, len(groups) - base))
            if roi is not None:
                x0, y0, x1, y1 = roi
                cnt = group_counts(idbuf[y0:y1, x0:x1], len(groups))
                for g in range(base, len(groups)):
                    painted_list[g] = alone_list[g] = int(cnt[g])
                alone_list[base + 1] = max(body_alone, painted_list[base + 1])
            for lamp in obj.lamps:
                p = vehicle_pose(obj.spec).apply(np.array([[lamp.x, lamp.y, lamp.z]]))
                normal = vehicle_pose(obj.spec).R @ np.array([1.0 if lamp.kind == "head" else -1.0, 0, 0])
                if float(np.dot(normal, pos - p[0])) <= 0:
                    continue
                uv, z = cam.project(p)
                if z[0] > NEAR_M:
                    lamps.append(
                        (float(uv[0, 0]), float(uv[0, 1]), max(1.5, cam.px_per_m_at(float(z[0])) * 0.09))
                    )
                    lamp_red.append(lamp.kind == "tail")
        else:
            assert isinstance(obj, list)
            for f in obj:
                put(f, grp)
    painted = np.array(painted_list, np.int64)
    return Composite(
        img,
        idbuf,
        tuple(groups),
        painted,
        np.array(alone_list, np.int64),
        np.array(lamps, np.float64).reshape(-1, 3),
        np.array(lamp_red, bool),
    )


def _shadows(img: np.ndarray, idbuf: np.ndarray, cam: Camera, models: tuple[VehicleModel, ...]) -> None:
    H, W = img.shape[:2]
    mask = np.zeros((H, W), np.uint8)
    any_drawn = False
    for m in models:
        pose = vehicle_pose(m.spec)
        hw = m.geo.width / 2 + 0.25
        foot = pose.apply(
            np.array(
                [(0.3, hw, 0), (0.3, -hw, 0), (-m.geo.length - 0.3, -hw, 0), (-m.geo.length - 0.3, hw, 0)],
                np.float64,
            )
        )
        c = clip_polygon_near(cam.to_cam(foot))
        if len(c) < 3:
            continue
        uv = (c[:, :2] / c[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
        uv = clip_polygon_box(uv, -8, -8, W + 8, H + 8)
        if len(uv) < 3:
            continue
        cv2.fillPoly(mask, [np.round(uv * 4).astype(np.int32)], 255, cv2.LINE_AA, 2)
        any_drawn = True
    if not any_drawn:
        return
    ys, xs = np.nonzero(mask[::8, ::8])
    if len(xs) == 0:
        return
    pad = int(W / 50)
    x0, x1 = max(0, xs.min() * 8 - pad), min(W, xs.max() * 8 + 8 + pad)
    y0, y1 = max(0, ys.min() * 8 - pad), min(H, ys.max() * 8 + 8 + pad)
    sub = mask[y0:y1, x0:x1]
    small = cv2.resize(sub, (max(1, (x1 - x0) // 4), max(1, (y1 - y0) // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(0.6, W / 800))
    soft = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    soft *= idbuf[y0:y1, x0:x1] == GROUND  # on the road only
    f = np.full_like(soft, 255) - soft // 2
    roi = img[y0:y1, x0:x1]
    np.copyto(roi, cv2.multiply(roi, cv2.merge([f, f, f]), scale=1.0 / 255.0))


def _part_faces(cam: Camera, part: Part, pose: Pose) -> list[tuple[FaceName, np.ndarray]]:
    out = []
    # a front face with margins (mirrors) sticks out of the box: draw it last
    order = sorted(part.faces, key=lambda f: f == "front" and part.front_margin > 0)
    for face in order:
        corners = pose.apply(part.corners(face))
        if _facing(cam, corners):
            out.append((face, corners))
    return out


def _draw_vehicle(
    img: np.ndarray,
    idbuf: np.ndarray,
    cam: Camera,
    m: VehicleModel,
    cache: TextureCache,
    base: int,
    sun: float,
    cam_pos: np.ndarray,
) -> tuple[tuple[int, int, int, int] | None, int]:
    """Draw vehicle ``m`` part by part, far to near, into ``img`` and ``idbuf`` (groups ``base``:
    tractor, ``base + 1``: body, ``base + 2 + k``: plate k). Returns the drawn box (x0, y0, x1, y1)
    px, or ``None``, and the most pixels the body group showed before a nearer part of the
    tractor was drawn over it (px; the body seen through its own cab)."""
    pose = vehicle_pose(m.spec)
    vid = m.spec.vehicle_id
    parts = sorted(
        m.parts,
        key=lambda p: (
            -float(
                np.linalg.norm(
                    pose.apply(np.array([[(p.x0 + p.x1) / 2, 0.0, (p.z0 + p.z1) / 2]]))[0] - cam_pos
                )
            )
        ),
    )
    H, W = img.shape[:2]
    bx0, by0, bx1, by1 = W, H, 0, 0
    body_alone, body_since_count = 0, False
    for part in parts:
        group = base + (0 if part.group == "tractor" else 1)
        if group == base and body_since_count and bx1 > bx0 and by1 > by0:
            roi_ids = idbuf[max(0, by0) : min(H, by1), max(0, bx0) : min(W, bx1)]
            body_alone = max(body_alone, int(np.count_nonzero(roi_ids == base + 1)))
            body_since_count = False
        body_since_count = body_since_count or group == base + 1
        for face, corners in _part_faces(cam, part, pose):
            key = f"v{vid}/{m.spec.detail_seed}/{part.name}/{face}"
            fw, fh = part.face_size(face)

            def make(
                face: FaceName = face,
                corners: np.ndarray = corners,
                fw: float = fw,
                fh: float = fh,
                part: Part = part,
                key: str = key,
            ) -> np.ndarray:
                ppm = _ppm_for(cam, corners, fw, fh, 12.0, 75.0)
                tex = part.paint(face, ppm, _rng_for(m.spec.detail_seed, key))
                return _lit(tex, _light_factor(_normal(corners), sun))

            tex = cache.get(key, make)
            uv = draw_face(img, idbuf, cam, corners, tex, group)
            if uv is not None:
                bx0, by0 = min(bx0, int(uv[:, 0].min())), min(by0, int(uv[:, 1].min()))
                bx1, by1 = max(bx1, math.ceil(uv[:, 0].max())), max(by1, math.ceil(uv[:, 1].max()))
        for k, mt in enumerate(m.mounts):
            if mt.part != part.name:
                continue
            corners, _ = plate_corners(m, pose, k)
            if not _facing(cam, corners):
                continue
            spec = m.spec.plates[mt.plate_index]
            key = f"v{vid}/{m.spec.detail_seed}/plate{k}"

            def make_plate(
                corners: np.ndarray = corners, spec_i: int = mt.plate_index, key: str = key
            ) -> PlateTexture:
                sp = m.spec.plates[spec_i]
                s = min(2.5, max(0.12, 1.6 * _px_per_m(cam, corners, 0.52, 0.11) / 1000.0))
                return render_plate(sp, s, _rng_for(m.spec.detail_seed, key))

            pt = cache.plate(key, make_plate)

            def make_lit(pt: PlateTexture = pt, corners: np.ndarray = corners) -> np.ndarray:
                return _lit(pt.image, _light_factor(_normal(corners), sun) * 1.04)

            lit = cache.get(key + "/lit", make_lit)
            del spec
            draw_face(img, idbuf, cam, corners, lit, base + 2 + k)
    if bx1 <= bx0 or by1 <= by0:
        return None, body_alone
    return (max(0, bx0), max(0, by0), min(W, bx1), min(H, by1)), body_alone


def _project_hull(cam: Camera, pts_world: np.ndarray) -> np.ndarray | None:
    c = cam.to_cam(pts_world)
    if np.all(c[:, 2] >= NEAR_M):
        uv, _ = cam.project(pts_world)
        return uv
    return None


def _box_points(part: Part, pose: Pose) -> np.ndarray:
    xs = (part.x0, part.x1)
    ys = (-part.half_w, part.half_w)
    zs = (part.z0, part.z1)
    return pose.apply(np.array([(x, y, z) for x in xs for y in ys for z in zs], np.float64))


def _amodal_box(cam: Camera, parts: list[Part], pose: Pose) -> Box | None:
    pts: list[np.ndarray] = []
    for p in parts:
        corners = _box_points(p, pose)
        c = cam.to_cam(corners)
        if np.all(c[:, 2] >= NEAR_M):
            pts.append(cam.project(corners)[0])
            continue
        # clip each box face against the near plane, keep what is in front
        idx = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5))
        for q in idx:
            poly = clip_polygon_near(c[list(q)])
            if len(poly):
                uv = (poly[:, :2] / poly[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
                pts.append(uv)
    if not pts:
        return None
    allp = np.concatenate(pts)
    return Box.of_points(allp)


def _quad(uv: np.ndarray) -> Quad:
    return (
        (float(uv[0, 0]), float(uv[0, 1])),
        (float(uv[1, 0]), float(uv[1, 1])),
        (float(uv[2, 0]), float(uv[2, 1])),
        (float(uv[3, 0]), float(uv[3, 1])),
    )


def _on_plate(
    corners: np.ndarray, box_mm: tuple[float, float, float, float], size_mm: tuple[float, float]
) -> np.ndarray:
    """World points (4, 3) TL, TR, BR, BL of the box ``(x0, y0, x1, y1)`` (mm on a plate of
    ``size_mm`` (w, h)) on the plate whose world corners are ``corners`` (TL, TR, BR, BL)."""
    x0, y0, x1, y1 = box_mm
    tc = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]) / np.array(size_mm)
    return (
        corners[0] + np.outer(tc[:, 0], corners[1] - corners[0]) + np.outer(tc[:, 1], corners[3] - corners[0])
    )


def _min_char_visible(
    cam: Camera, idbuf: np.ndarray, group: int, corners: np.ndarray, ps: PlateSpec
) -> float:
    """The least share of any character cell of plate ``ps`` whose pixels show the plate
    (group ``group`` of ``idbuf``): 0 when one character is wholly hidden or out of the
    frame. ``corners``: the plate's world corners TL, TR, BR, BL (4, 3)."""
    H, W = idbuf.shape[:2]
    size_mm = plate_size_mm(ps)
    worst = 1.0
    for cell in char_cells(ps):
        uv = cam.project(_on_plate(corners, cell, size_mm))[0]
        bx0, by0 = np.floor(uv.min(axis=0)).astype(int)
        bx1, by1 = np.ceil(uv.max(axis=0)).astype(int) + 1
        mask = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(uv - (bx0, by0)).astype(np.int32), 1)
        area = int(mask.sum())
        if area == 0:
            continue
        cx0, cy0, cx1, cy1 = max(bx0, 0), max(by0, 0), min(bx1, W), min(by1, H)
        shown = 0
        if cx1 > cx0 and cy1 > cy0:
            sub = mask[cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0]
            shown = int(np.count_nonzero((idbuf[cy0:cy1, cx0:cx1] == group) & (sub > 0)))
        worst = min(worst, shown / area)
    return worst


def _in_frame(b: Box, W: int, H: int) -> float:
    return b.clip(W, H).area / b.area if b.area > 0 else 0.0


def label(
    spec: SceneSpec, cam: Camera, models: tuple[VehicleModel, ...], comp: Composite, cache: TextureCache
) -> tuple[tuple[VehicleTruth, ...], tuple[PlateTruth, ...]]:
    """Ground truth for every vehicle and plate (see README for the label rules)."""
    W, H = cam.size
    final = group_counts(comp.idbuf, len(comp.groups))
    base_of: dict[int, int] = {}
    for g, info in enumerate(comp.groups):
        if info.vehicle >= 0 and info.vehicle not in base_of:
            base_of[info.vehicle] = g
    vts: list[VehicleTruth] = []
    pts: list[PlateTruth] = []
    for vi, m in enumerate(models):
        pose = vehicle_pose(m.spec)
        base = base_of.get(vi)
        n_pl = len(m.mounts)
        whole = _amodal_box(cam, list(m.parts), pose)
        body_parts = [p for p in m.parts if p.group == "body"]
        bodyb = _amodal_box(cam, body_parts, pose)
        empty = Box(0, 0, 0, 0)
        if base is None or whole is None or bodyb is None:
            vis = bvis = shown = 0.0
            whole_c = body_c = empty
            inf = binf = 0.0
        else:
            gs = list(range(base, base + 2 + n_pl))
            p_all = float(comp.painted[gs].sum())
            vis = float(final[gs].sum()) / p_all if p_all > 0 else 0.0
            bg = [base + 1] + ([base] if m.spec.body_type == "tractor_only" else [])
            p_b = float(comp.painted[bg].sum())
            bvis = float(final[bg].sum()) / p_b if p_b > 0 else 0.0
            a_b = float(comp.alone[bg].sum())
            shown = min(1.0, float(final[bg].sum()) / a_b) if a_b > 0 else 0.0
            inf, binf = _in_frame(whole, W, H), _in_frame(bodyb, W, H)
            whole_c, body_c = whole.clip(W, H), bodyb.clip(W, H)
        side_vis = _body_side_visible(cam, body_parts, pose, bodyb)
        labelled = (
            vis >= MIN_VEHICLE_VISIBLE
            and inf >= MIN_VEHICLE_IN_FRAME
            and min(whole_c.width, whole_c.height) >= MIN_BOX_SIDE_PX
        )
        body_labelled = (
            labelled
            and bvis >= MIN_BODY_VISIBLE
            and binf >= MIN_BODY_IN_FRAME
            and min(body_c.width, body_c.height) >= MIN_BOX_SIDE_PX
        )
        bt = m.spec.body_type
        vts.append(
            VehicleTruth(
                vehicle_id=m.spec.vehicle_id,
                body_type=bt,
                side=SIDE_OF[bt],
                crop_class=CROP_CLASS_OF[bt],
                country=m.spec.country,
                box=whole_c,
                body_box=body_c,
                visible_fraction=round(vis, 4),
                body_visible_fraction=round(bvis, 4),
                body_shown_fraction=round(shown, 4),
                in_frame_fraction=round(inf, 4),
                body_in_frame_fraction=round(binf, 4),
                body_side_visible=side_vis,
                labelled=labelled,
                body_labelled=body_labelled,
            )
        )
        for k, mt in enumerate(m.mounts):
            ps = m.spec.plates[mt.plate_index]
            corners, _ = plate_corners(m, pose, k)
            facing = _facing(cam, corners)
            uv = _project_hull(cam, corners)
            if uv is None:
                quad = text_quad = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0))
                box = text_box = empty
                pvis = pinf = char_vis = 0.0
            else:
                quad = _quad(uv)
                full = Box.of_points(uv)
                box = full.clip(W, H)
                pinf = _in_frame(full, W, H)
                g = base + 2 + k if base is not None else -1
                pvis = (
                    float(final[g]) / float(comp.painted[g])
                    if base is not None and comp.painted[g] > 0
                    else 0.0
                )
                _, text_mm = plate_layout(ps)
                tuv = cam.project(_on_plate(corners, text_mm, plate_size_mm(ps)))[0]
                text_quad = _quad(tuv)
                text_box = Box.of_points(tuv).clip(W, H)
                char_vis = _min_char_visible(cam, comp.idbuf, g, corners, ps) if pvis > 0 else 0.0
            ok = (
                facing
                and box.height >= MIN_PLATE_H_PX
                and pinf >= MIN_PLATE_IN_FRAME
                and pvis >= MIN_PLATE_VISIBLE
            )
            pts.append(
                PlateTruth(
                    vehicle_id=m.spec.vehicle_id,
                    text=ps.text,
                    lines=ps.lines,
                    country=ps.country,
                    grammar=ps.grammar,
                    role=ps.role,
                    two_line=ps.two_line,
                    quad=quad,
                    box=box,
                    text_quad=text_quad,
                    text_box=text_box,
                    visible_fraction=round(pvis, 4),
                    in_frame_fraction=round(pinf, 4),
                    facing=facing,
                    labelled=ok,
                    min_char_visible=round(char_vis, 4),
                )
            )
    return tuple(vts), tuple(pts)


def _body_side_visible(cam: Camera, parts: list[Part], pose: Pose, bodyb: Box | None) -> bool:
    if bodyb is None or bodyb.area <= 0:
        return False
    best = 0.0
    for p in parts:
        for face in ("left", "right"):
            if face not in p.faces:
                continue
            corners = pose.apply(p.corners(face))
            if not _facing(cam, corners):
                continue
            uv = _project_hull(cam, corners)
            if uv is None:
                continue
            best = max(best, float(abs(cv2.contourArea(uv.astype(np.float32)))))
    return best >= 0.3 * bodyb.area


def effect_inputs(comp: Composite) -> EffectInputs:
    """Group buffer facts and lamp positions the condition effects need."""
    lut = np.zeros(max(len(comp.groups), 1), bool)
    for g, info in enumerate(comp.groups):
        lut[g] = info.kind == "plate"
    return EffectInputs(
        idbuf=comp.idbuf,
        plate_groups=lut,
        ground_group=GROUND,
        sky_group=BACKDROP,
        lamps=comp.lamps,
        lamp_red=comp.lamp_red,
    )


def render_spec(
    spec: SceneSpec, *, cache: TextureCache | None = None, frame: int = 0, jpeg: bool = True
) -> Scene:
    """Render ``spec`` to a :class:`Scene` (image + ground truth).

    ``frame`` only changes the per-frame randomness of the conditions (noise, rain).
    ``jpeg=False`` skips the JPEG round trip (for callers that save the image as JPEG at
    ``spec.condition.jpeg_quality`` themselves).
    """
    cam = Camera.from_spec(spec.camera)
    models = tuple(build_model(v) for v in spec.vehicles)
    cache = cache if cache is not None else TextureCache()
    comp = compose(spec, cam, models, cache)
    vts, pts = label(spec, cam, models, comp, cache)
    cond = spec.condition if jpeg else replace(spec.condition, jpeg_quality=0)
    img = apply_all(
        comp.image,
        effect_inputs(comp),
        cond,
        np.random.default_rng([spec.seed, 99, frame]),
        cache.static.noise_bank(),
    )
    return Scene(image=img, spec=spec, vehicles=vts, plates=pts)


def moved(spec: SceneSpec, dx_m: tuple[float, ...]) -> SceneSpec:
    """``spec`` with each vehicle moved ``dx_m[i]`` metres along its heading."""
    vs = []
    for v, d in zip(spec.vehicles, dx_m, strict=False):
        a = math.radians(v.yaw_deg)
        vs.append(
            replace(v, x_front_m=v.x_front_m + d * math.cos(a), y_centre_m=v.y_centre_m + d * math.sin(a))
        )
    return replace(spec, vehicles=tuple(vs))


def occluders_of(spec: SceneSpec) -> tuple[OccluderSpec, ...]:
    """The occluders of a spec (convenience for callers that filter them)."""
    return spec.occluders
