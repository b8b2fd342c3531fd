"""Lane surroundings: ground, backdrop, canopy, columns, booth and occluders.

Each item is a list of :class:`WorldFace` (a world-space quad plus a function that
paints its texture at a given pixels-per-metre), drawn by the renderer like vehicle faces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .camera import Camera, clip_polygon_box, clip_polygon_near, face_homography
from .canvas import Canvas, Colour, shade
from .livery import CONTAINER_PAINTS
from .scene import BackgroundSpec, OccluderSpec

TexFn = Callable[[float, np.random.Generator], np.ndarray]


@dataclass(frozen=True, eq=False)
class WorldFace:
    """A textured world quad: corners (4, 3) TL, TR, BR, BL; ``size_m`` (width, height);
    ``paint(ppm, rng)`` returns its BGRA texture; ``cull`` enables back-face culling."""

    key: str
    corners: np.ndarray
    size_m: tuple[float, float]
    paint: TexFn
    cull: bool = True
    max_ppm: float = 80.0
    static: bool = False  # texture depends only on ``key`` and scale: shared across faces and scenes


def _canvas_fn(w: float, h: float, draw: Callable[[Canvas, np.random.Generator], None]) -> TexFn:
    def fn(ppm: float, rng: np.random.Generator) -> np.ndarray:
        c = Canvas(w, h, ppm)
        draw(c, rng)
        return c.img

    return fn


def ground_extent(bg: BackgroundSpec, x_centre: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the ground rectangle around ``x_centre``."""
    return x_centre - 55.0, x_centre + 55.0, -26.0, 26.0


def asphalt_tile(bg: BackgroundSpec, ppm: float, rng: np.random.Generator) -> np.ndarray:
    """A seamless (wrapping) BGR tile of road surface, 256 px square at ``ppm`` px/m."""
    n = 256
    base = np.array(bg.asphalt, np.float32)
    coarse = rng.normal(0.0, 1.0, (8, 8)).astype(np.float32)
    # smooth and seamless: the coarse grid wrapped by the two cells bicubic reads around
    # it, upsampled (32 px per cell), centre cut out
    lo = cv2.resize(
        np.pad(coarse, 2, mode="wrap"), (12 * n // 8, 12 * n // 8), interpolation=cv2.INTER_CUBIC
    )[n // 4 : n // 4 + n, n // 4 : n // 4 + n]
    hi = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    f = 1.0 + 0.05 * lo + 0.05 * hi
    tile = np.clip(cv2.merge([f * base[0], f * base[1], f * base[2]]), 0, 255).astype(np.uint8)
    for _ in range(3):
        y = int(rng.integers(0, n))
        cv2.line(
            tile,
            (0, y),
            (n, int(y + rng.integers(-20, 20))),
            tuple(int(v * 0.7) for v in bg.asphalt),
            1,
            cv2.LINE_AA,
        )
    return tile


def _fill_world_poly(
    img: np.ndarray, idbuf: np.ndarray, cam: Camera, pts: np.ndarray, colour: Colour, group: int | None
) -> None:
    c = clip_polygon_near(cam.to_cam(pts))
    if len(c) < 3:
        return
    uv = (c[:, :2] / c[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
    H, W = img.shape[:2]
    uv = clip_polygon_box(uv, -8, -8, W + 8, H + 8)
    if len(uv) < 3:
        return
    poly = [np.round(uv * 8).astype(np.int32)]
    cv2.fillPoly(img, poly, colour, cv2.LINE_AA, 3)
    if group is not None:
        cv2.fillPoly(idbuf, poly, group, cv2.LINE_8, 3)


class TexStore(Protocol):
    """Something that returns a cached texture for a key or makes it."""

    def get(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray: ...


def draw_ground(
    img: np.ndarray,
    idbuf: np.ndarray,
    cam: Camera,
    bg: BackgroundSpec,
    x_centre: float,
    group: int,
    rng: np.random.Generator,
    static: TexStore | None = None,
) -> None:
    """Road surface (a tiled asphalt texture warped onto z = 0), islands and markings (projected polygons)."""
    x0, x1, y0, y1 = ground_extent(bg, x_centre)
    H, W = img.shape[:2]
    ppm = 9.0
    tw, th = int((y1 - y0) * ppm), int((x1 - x0) * ppm)

    def road() -> np.ndarray:
        tile = asphalt_tile(bg, ppm, np.random.default_rng([bg.style_seed, 77]))
        tex = np.tile(tile, (th // tile.shape[0] + 1, tw // tile.shape[1] + 1, 1))[:th, :tw]
        # BGRA although the road is opaque: OpenCV warps 4-channel images about twice as
        # fast as 3-channel ones, with the same colour values
        return cv2.cvtColor(tex, cv2.COLOR_BGR2BGRA)

    tex = road() if static is None else static.get(f"road/{bg.style_seed}", road)
    corners = np.array([(x1, y1, 0.0), (x1, y0, 0.0), (x0, y0, 0.0), (x0, y1, 0.0)])
    c = clip_polygon_near(cam.to_cam(corners))
    if len(c) < 3:
        return
    uv = (c[:, :2] / c[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
    top = max(0, min(H, int(np.floor(uv[:, 1].min()))))
    if top >= H:
        return
    mask = np.zeros((H - top, W), np.uint8)
    cv2.fillPoly(mask, [np.round(np.clip(uv - [0, top], -2e6, 2e6) * 8).astype(np.int32)], 1, cv2.LINE_8, 3)
    Hm = np.array([[1, 0, 0], [0, 1, -top], [0, 0, 1]], np.float64) @ face_homography(cam, corners, tw, th)
    warped = cv2.warpPerspective(
        tex, Hm, (W, H - top), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    cv2.copyTo(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), mask, img[top:])
    cv2.copyTo(np.full(mask.shape, group, np.uint16), mask, idbuf[top:])
    hw = bg.lane_w_m / 2
    line = (222, 222, 222)
    conc = shade(bg.asphalt, 1.45)
    kerb = (205, 205, 200)
    for s in (-1.0, 1.0):
        ia, ib = hw + 0.25, hw + 0.25 + bg.island_w_m
        ya, yb = sorted((s * ia, s * ib))
        _fill_world_poly(
            img, idbuf, cam, np.array([(x1, ya, 0), (x1, yb, 0), (x0, yb, 0), (x0, ya, 0)]), conc, None
        )
        for yk in (ya, yb):
            _fill_world_poly(
                img,
                idbuf,
                cam,
                np.array([(x1, yk - 0.06, 0), (x1, yk + 0.06, 0), (x0, yk + 0.06, 0), (x0, yk - 0.06, 0)]),
                kerb,
                None,
            )
        yl = s * hw
        _fill_world_poly(
            img,
            idbuf,
            cam,
            np.array([(x1, yl - 0.075, 0), (x1, yl + 0.075, 0), (x0, yl + 0.075, 0), (x0, yl - 0.075, 0)]),
            line,
            None,
        )
        far = s * (ib + 4.0)
        xx = x0 + float(rng.uniform(0, 9))
        while xx < x1:
            _fill_world_poly(
                img,
                idbuf,
                cam,
                np.array(
                    [
                        (xx + 4, far - 0.07, 0),
                        (xx + 4, far + 0.07, 0),
                        (xx, far + 0.07, 0),
                        (xx, far - 0.07, 0),
                    ]
                ),
                line,
                None,
            )
            xx += 9.0
        edge = s * (ib + 8.0)
        outer = s * (y1 - 0.01)
        _fill_world_poly(
            img,
            idbuf,
            cam,
            np.array([(x1, edge, 0), (x1, outer, 0), (x0, outer, 0), (x0, edge, 0)]),
            shade(bg.asphalt, 1.2),
            None,
        )
    if bg.stop_line_x_m is not None:
        xs = bg.stop_line_x_m
        _fill_world_poly(
            img,
            idbuf,
            cam,
            np.array([(xs + 0.2, -hw, 0), (xs + 0.2, hw, 0), (xs - 0.2, hw, 0), (xs - 0.2, -hw, 0)]),
            line,
            None,
        )


def backdrop(bg: BackgroundSpec, x_centre: float, dusk: bool) -> list[WorldFace]:
    """Four inward-facing walls around the ground: sky above, port scenery below."""
    x0, x1, y0, y1 = ground_extent(bg, x_centre)
    H = 45.0
    walls = [
        ("wall_far_x", [(x1, y1, H), (x1, y0, H), (x1, y0, 0), (x1, y1, 0)], y1 - y0),
        ("wall_near_x", [(x0, y0, H), (x0, y1, H), (x0, y1, 0), (x0, y0, 0)], y1 - y0),
        ("wall_left", [(x0, y1, H), (x1, y1, H), (x1, y1, 0), (x0, y1, 0)], x1 - x0),
        ("wall_right", [(x1, y0, H), (x0, y0, H), (x0, y0, 0), (x1, y0, 0)], x1 - x0),
    ]
    out = []
    for idx, (_, corners, w) in enumerate(walls):

        def draw(c: Canvas, rng: np.random.Generator, w: float = w, idx: int = idx) -> None:
            top, bot = (200, 160, 120), (235, 225, 215)
            c.vgrad(0, 0, w, H, top, bot)
            kind = (bg.backdrop + idx) % 4
            if kind == 0:
                u = 0.0
                while u < w:
                    bw, bh = float(rng.uniform(10, 35)), float(rng.uniform(6, 16))
                    col = (int(rng.uniform(120, 190)),) * 3
                    c.rect(u, 0, u + bw, bh, col)
                    for k in range(int(bw / 3)):
                        c.rect(u + 1 + k * 3, bh * 0.6, u + 2.2 + k * 3, bh * 0.75, shade(col, 0.6))
                    u += bw + float(rng.uniform(0, 8))
            elif kind == 1:
                u = 0.0
                while u < w:
                    n = int(rng.integers(1, 5))
                    for k in range(n):
                        colc = CONTAINER_PAINTS[int(rng.integers(len(CONTAINER_PAINTS)))]
                        c.rect(u, k * 2.6, u + 12.0, k * 2.6 + 2.5, colc)
                    u += 12.4
                for _ in range(2):
                    cu = float(rng.uniform(5, w - 5))
                    crane = (60, 60, 180) if rng.random() < 0.5 else (70, 70, 70)
                    c.rect(cu - 8, 0, cu - 7, 35, crane)
                    c.rect(cu + 7, 0, cu + 8, 35, crane)
                    c.rect(cu - 20, 33, cu + 25, 35, crane)
            elif kind == 2:
                for k in range(int(w / 4)):
                    cu = k * 4.0 + float(rng.uniform(-1, 1))
                    g = (40, int(rng.uniform(80, 120)), 40)
                    c.ellipse(
                        cu, float(rng.uniform(5, 8)), float(rng.uniform(2, 4)), float(rng.uniform(3, 5)), g
                    )
                c.rect(0, 0, w, 2.5, (120, 125, 120))
                c.column_shade(0, 0, w, 2.5, np.where(np.arange(int(w / 0.05)) % 12 == 0, 0.75, 1.0))
            else:
                c.rect(0, 0, w, 4.5, (170, 172, 168))
                for k in range(int(w / 3)):
                    c.rect(k * 3.0, 0, k * 3.0 + 0.08, 4.5, (130, 130, 128))
            for k in range(int(w / 25)):
                lu = k * 25.0 + 10
                c.rect(lu, 0, lu + 0.3, 14, (90, 90, 90))
                c.rect(lu - 1.0, 13.5, lu + 1.3, 14, (90, 90, 90))

        out.append(
            WorldFace(
                f"wall{idx}/{bg.style_seed}",
                np.array(corners, np.float64),
                (w, H),
                _canvas_fn(w, H, draw),
                max_ppm=5.0,
                static=True,
            )
        )
    return out


def _box_faces(
    key: str,
    cx: float,
    cy: float,
    sx: float,
    sy: float,
    z0: float,
    z1: float,
    draw: Callable[[str, Canvas, np.random.Generator], None],
    *,
    static: bool = False,
) -> list[WorldFace]:
    x0, x1, y0, y1 = cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2
    faces = {
        "front": ([(x1, y0, z1), (x1, y1, z1), (x1, y1, z0), (x1, y0, z0)], sy),
        "rear": ([(x0, y1, z1), (x0, y0, z1), (x0, y0, z0), (x0, y1, z0)], sy),
        "left": ([(x1, y1, z1), (x0, y1, z1), (x0, y1, z0), (x1, y1, z0)], sx),
        "right": ([(x0, y0, z1), (x1, y0, z1), (x1, y0, z0), (x0, y0, z0)], sx),
    }
    out = []
    for name, (corners, w) in faces.items():

        def paint(ppm: float, rng: np.random.Generator, name: str = name, w: float = w) -> np.ndarray:
            c = Canvas(w, z1 - z0, ppm)
            draw(name, c, rng)
            return c.img

        out.append(
            WorldFace(f"{key}_{name}", np.array(corners, np.float64), (w, z1 - z0), paint, static=static)
        )
    return out


def _seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip((p - a) @ ab / max(1e-9, float(ab @ ab)), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def columns(
    bg: BackgroundSpec, cam_pos: np.ndarray, side_view: bool, look_at: np.ndarray
) -> list[list[WorldFace]]:
    """Canopy columns on both islands, each as a list of faces. Installers keep the line of
    sight clear, so no column stands within 2 m of the segment camera -> ``look_at``
    (ground-plane x, y), and for side views none is on the island nearest the camera."""
    top = bg.canopy_h_m if bg.canopy_h_m is not None else 5.5
    y = bg.lane_w_m / 2 + 0.25 + bg.island_w_m / 2
    out: list[list[WorldFace]] = []

    def draw(name: str, c: Canvas, rng: np.random.Generator) -> None:
        c.rect(0, 0, c.width_m, c.height_m, (150, 150, 148))
        c.column_shade(0, 0, c.width_m, c.height_m, np.array([0.8, 1.0, 1.1, 0.9]))
        for k in range(6):
            c.rect(0, k * 0.25, c.width_m, k * 0.25 + 0.125, (0, 200, 245) if k % 2 == 0 else (30, 30, 30))

    for x in bg.column_x_m:
        for s in (-1, 1):
            if _seg_dist(np.array([x, s * y]), cam_pos[:2], look_at[:2]) < 2.0:
                continue
            if side_view and s * cam_pos[1] > 0:
                continue
            out.append(_box_faces(f"column/{top:.2f}", x, s * y, 0.4, 0.4, 0.0, top, draw, static=True))
    return out


def booth(bg: BackgroundSpec, cam_pos: np.ndarray, look_at: np.ndarray) -> list[WorldFace]:
    """The officers' booth on one island (left out if it would stand in the camera's line of sight)."""
    if bg.booth_x_m is None:
        return []
    y = bg.booth_side * (bg.lane_w_m / 2 + 0.25 + bg.island_w_m / 2)
    if _seg_dist(np.array([bg.booth_x_m, y]), cam_pos[:2], look_at[:2]) < 2.5:
        return []

    def draw(name: str, c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        c.rect(0, 0, W, H, (200, 200, 195))
        c.rect(0, H - 0.35, W, H, (60, 60, 60))
        c.vgrad(0.2, 1.0, W - 0.2, H - 0.5, (150, 130, 110), (80, 70, 60))
        c.frame(0.2, 1.0, W - 0.2, H - 0.5, (90, 90, 90), 0.05)
        if name in ("front", "rear"):
            c.text("CONTROL", W / 2, H - 0.3, 0.18, (240, 240, 240), anchor="centre", max_width_m=W * 0.8)

    return _box_faces(
        f"booth/{min(1.8, bg.island_w_m):.1f}",
        bg.booth_x_m,
        y,
        2.0,
        min(1.8, bg.island_w_m),
        0.0,
        2.8,
        draw,
        static=True,
    )


def canopy(bg: BackgroundSpec, x_centre: float) -> list[WorldFace]:
    """Underside of the canopy over the lanes plus its fascia (with a lane sign)."""
    if bg.canopy_h_m is None:
        return []
    z = bg.canopy_h_m
    xa, xb = x_centre - 9.0, x_centre + 9.0
    ya, yb = -14.0, 14.0
    under = [(xb, ya, z), (xb, yb, z), (xa, yb, z), (xa, ya, z)]

    def draw_under(c: Canvas, rng: np.random.Generator) -> None:
        c.rect(0, 0, c.width_m, c.height_m, (150, 150, 150))
        for k in range(int(c.height_m / 1.5)):
            c.rect(0, k * 1.5, c.width_m, k * 1.5 + 0.15, (110, 110, 110))
        for k in range(int(c.width_m / 4)):
            c.rect(k * 4.0 + 1.5, 2, k * 4.0 + 2.5, c.height_m - 2, (240, 245, 250))

    lane_no = bg.style_seed % 11 + 1

    def draw_fascia(c: Canvas, rng: np.random.Generator) -> None:
        c.rect(0, 0, c.width_m, c.height_m, (60, 60, 60))
        c.rect(0, 0, c.width_m, 0.08, (200, 200, 200))
        cu = c.width_m / 2
        c.rect(cu - 1.2, 0.15, cu + 1.2, 1.05, (120, 60, 10))
        c.text(f"LANE {lane_no}", cu, 0.35, 0.45, (250, 250, 250), anchor="centre", max_width_m=2.2)

    fas_f = [(xb, ya, z + 1.2), (xb, yb, z + 1.2), (xb, yb, z), (xb, ya, z)]
    fas_r = [(xa, yb, z + 1.2), (xa, ya, z + 1.2), (xa, ya, z), (xa, yb, z)]
    return [
        WorldFace(
            "canopy",
            np.array(under, np.float64),
            (yb - ya, xb - xa),
            _canvas_fn(yb - ya, xb - xa, draw_under),
            max_ppm=12.0,
            static=True,
        ),
        WorldFace(
            f"fascia/{lane_no}",
            np.array(fas_f, np.float64),
            (yb - ya, 1.2),
            _canvas_fn(yb - ya, 1.2, draw_fascia),
            max_ppm=40.0,
            static=True,
        ),
        WorldFace(
            f"fascia/{lane_no}",
            np.array(fas_r, np.float64),
            (yb - ya, 1.2),
            _canvas_fn(yb - ya, 1.2, draw_fascia),
            max_ppm=40.0,
            static=True,
        ),
    ]


def occluder(o: OccluderSpec, cam_pos: np.ndarray, lane_w_m: float) -> list[WorldFace]:
    """A pole, person, cone (camera-facing billboards) or a lowered barrier arm across the lane."""
    if o.kind == "barrier":
        y0, y1 = -lane_w_m / 2 - 0.3, lane_w_m / 2 + 0.3
        z0, z1 = 0.95, 1.07
        facing_pos_x = cam_pos[0] > o.x_m
        if facing_pos_x:
            arm = [(o.x_m, y0, z1), (o.x_m, y1, z1), (o.x_m, y1, z0), (o.x_m, y0, z0)]
        else:
            arm = [(o.x_m, y1, z1), (o.x_m, y0, z1), (o.x_m, y0, z0), (o.x_m, y1, z0)]
        w = y1 - y0

        def draw_arm(c: Canvas, rng: np.random.Generator) -> None:
            for k in range(int(w / 0.5) + 1):
                c.rect(
                    k * 0.5, 0, k * 0.5 + 0.5, c.height_m, (30, 30, 210) if k % 2 == 0 else (245, 245, 245)
                )

        post_y = y1 if cam_pos[1] > 0 else y0
        post = [
            (o.x_m, post_y - 0.15, 1.2),
            (o.x_m, post_y + 0.15, 1.2),
            (o.x_m, post_y + 0.15, 0.0),
            (o.x_m, post_y - 0.15, 0.0),
        ]
        if not facing_pos_x:
            post = [post[1], post[0], post[3], post[2]]

        def draw_post(c: Canvas, rng: np.random.Generator) -> None:
            c.rect(0, 0, c.width_m, c.height_m, (40, 40, 200))
            c.rect(0, 0.9, c.width_m, 1.2, (235, 235, 235))

        return [
            WorldFace("arm", np.array(arm, np.float64), (w, z1 - z0), _canvas_fn(w, z1 - z0, draw_arm)),
            WorldFace("post", np.array(post, np.float64), (0.3, 1.2), _canvas_fn(0.3, 1.2, draw_post)),
        ]
    d = np.array([cam_pos[0] - o.x_m, cam_pos[1] - o.y_m])
    n = d / max(1e-6, float(np.hypot(*d)))
    right = np.array([-n[1], n[0]])  # viewer's right when looking along -n
    if o.kind == "pole":
        w, h = o.size_m, 4.5
    elif o.kind == "person":
        w, h = o.size_m * 0.34, o.size_m
    else:
        w, h = o.size_m * 0.6, o.size_m
    p = np.array([o.x_m, o.y_m])
    lft, rgt = p - right * w / 2, p + right * w / 2
    corners = np.array(
        [(lft[0], lft[1], h), (rgt[0], rgt[1], h), (rgt[0], rgt[1], 0.0), (lft[0], lft[1], 0.0)]
    )

    def draw(c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        if o.kind == "pole":
            c.rect(0, 0, W, H, (140, 140, 140))
            c.column_shade(0, 0, W, H, 0.55 + 0.6 * np.sin(np.linspace(0.1, math.pi - 0.1, 32)))
            c.rect(0, 0.2, W, 0.5, (0, 190, 240))
        elif o.kind == "cone":
            c.poly([(W * 0.1, 0.05), (W * 0.9, 0.05), (W * 0.55, H), (W * 0.45, H)], (0, 100, 245))
            c.rect(W * 0.3, H * 0.45, W * 0.7, H * 0.6, (240, 240, 240))
            c.rect(0, 0, W, 0.05, (30, 30, 30))
        else:
            skin = ((140, 170, 210), (90, 120, 160), (60, 80, 110))[int(rng.integers(3))]
            c.rect(W * 0.22, 0, W * 0.45, H * 0.47, (60, 50, 40))
            c.rect(W * 0.55, 0, W * 0.78, H * 0.47, (60, 50, 40))
            vest = (0, 230, 250) if rng.random() < 0.6 else (0, 130, 250)
            c.poly(
                [
                    (W * 0.12, H * 0.45),
                    (W * 0.88, H * 0.45),
                    (W * 0.95, H * 0.78),
                    (W * 0.7, H * 0.83),
                    (W * 0.3, H * 0.83),
                    (W * 0.05, H * 0.78),
                ],
                vest,
            )
            c.rect(W * 0.12, H * 0.55, W * 0.88, H * 0.58, (200, 200, 200))
            c.rect(W * 0.1, H * 0.68, W * 0.9, H * 0.71, (200, 200, 200))
            c.rect(0, H * 0.5, W * 0.1, H * 0.78, vest)
            c.rect(W * 0.9, H * 0.5, W, H * 0.78, vest)
            c.ellipse(W * 0.5, H * 0.9, W * 0.17, H * 0.075, skin)
            c.ellipse(
                W * 0.5,
                H * 0.95,
                W * 0.19,
                H * 0.05,
                (245, 245, 245) if rng.random() < 0.5 else (30, 30, 30),
                a0=180,
                a1=360,
            )

    return [WorldFace(o.kind, corners, (w, h), _canvas_fn(w, h, draw), cull=False)]
