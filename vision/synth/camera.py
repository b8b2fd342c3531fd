"""Pinhole camera, projection of planar faces and compositing into an image.

World frame: X along the lane (direction of travel), Y to the left, Z up, metres.
Camera frame: x right, y down, z forward. Image coordinates are continuous pixels with
(0, 0) at the top-left corner of the top-left pixel (a box ``0..W`` spans the image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

NEAR_M = 0.3


@dataclass(frozen=True)
class CameraSpec:
    """A static camera: position and look-at point in world metres, horizontal FOV, roll."""

    position_m: tuple[float, float, float]
    target_m: tuple[float, float, float]
    hfov_deg: float
    roll_deg: float
    width_px: int
    height_px: int


@dataclass(frozen=True, eq=False)
class Camera:
    """Projection matrices of a :class:`CameraSpec`. ``K`` 3x3, ``R`` 3x3 (world to camera), ``t`` (3,)."""

    spec: CameraSpec
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray

    @staticmethod
    def from_spec(spec: CameraSpec) -> Camera:
        pos = np.array(spec.position_m, np.float64)
        fwd = np.array(spec.target_m, np.float64) - pos
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        r = math.radians(spec.roll_deg)
        right, down = right * math.cos(r) + down * math.sin(r), -right * math.sin(r) + down * math.cos(r)
        R = np.stack([right, down, fwd])
        f = spec.width_px / 2.0 / math.tan(math.radians(spec.hfov_deg) / 2.0)
        K = np.array([[f, 0, spec.width_px / 2.0], [0, f, spec.height_px / 2.0], [0, 0, 1]], np.float64)
        return Camera(spec=spec, K=K, R=R, t=-R @ pos)

    @cached_property
    def position(self) -> np.ndarray:
        """(3,) the camera centre in world metres."""
        return -self.R.T @ self.t

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.spec.width_px, self.spec.height_px

    def to_cam(self, pts: np.ndarray) -> np.ndarray:
        """World points (N, 3) to camera frame (N, 3)."""
        return pts @ self.R.T + self.t

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> image points (N, 2) float64 and depths (N,) in metres."""
        c = self.to_cam(np.asarray(pts, np.float64))
        z = c[:, 2]
        zz = np.where(np.abs(z) < 1e-9, 1e-9, z)
        uv = (c[:, :2] / zz[:, None]) * np.array([self.K[0, 0], self.K[1, 1]]) + self.K[:2, 2]
        return uv, z

    def px_per_m_at(self, depth_m: float) -> float:
        """Image pixels per metre for a fronto-parallel surface at ``depth_m``."""
        return float(self.K[0, 0] / max(depth_m, NEAR_M))


Polygon = list[list[float]]


def _clip_half(poly: Polygon, axis: int, bound: float, keep_above: bool) -> Polygon:
    """Clip polygon ``poly`` (vertex lists) to ``v[axis] >= bound`` (or ``<=``), Sutherland-Hodgman."""
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ina = a[axis] >= bound if keep_above else a[axis] <= bound
        inb = b[axis] >= bound if keep_above else b[axis] <= bound
        if ina:
            out.append(a)
        if ina != inb:
            t = (bound - a[axis]) / (b[axis] - a[axis])
            out.append([ai + t * (bi - ai) for ai, bi in zip(a, b, strict=True)])
    return out


def clip_polygon_near(cam_pts: np.ndarray, near: float = NEAR_M) -> np.ndarray:
    """Clip a polygon given in camera coordinates (N, 3) to ``z >= near`` (Sutherland-Hodgman)."""
    return np.array(_clip_half(cam_pts.tolist(), 2, near, True), np.float64).reshape(-1, 3)


def clip_polygon_box(uv: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Clip an image polygon (N, 2) to the box ``[x0, x1] x [y0, y1]``; unchanged if inside it.

    A polygon clipped at the near plane can reach 1e5 px and more, and cv2.fillPoly then
    takes milliseconds to rasterise it, so such polygons are cut to a box a little larger
    than the pixels being filled first.
    """
    poly = uv.tolist()
    for axis, bound, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if poly:
            poly = _clip_half(poly, axis, bound, keep_above)
    return np.array(poly, np.float64).reshape(-1, 2)


def face_homography(cam: Camera, corners_w: np.ndarray, tex_w: int, tex_h: int) -> np.ndarray:
    """Homography from texture pixel coordinates (cv2 convention) to image pixel coordinates.

    ``corners_w``: (4, 3) world corners TL, TR, BR, BL of a rectangular face whose
    texture is ``tex_w`` x ``tex_h`` pixels.
    """
    p0 = corners_w[0]
    eu = (corners_w[1] - p0) / tex_w
    ev = (corners_w[3] - p0) / tex_h
    M = np.stack([cam.R @ eu, cam.R @ ev, cam.R @ p0 + cam.t], axis=1)
    H = cam.K @ M
    return _PIXEL_CENTRES_OUT @ H @ _PIXEL_CENTRES_IN


# cv2 puts pixel centres at integer coordinates, our geometry at half-integers
_PIXEL_CENTRES_IN = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], np.float64)
_PIXEL_CENTRES_OUT = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], np.float64)


def draw_face(
    img: np.ndarray,
    idbuf: np.ndarray,
    cam: Camera,
    corners_w: np.ndarray,
    tex: np.ndarray,
    group: int,
) -> np.ndarray | None:
    """Warp BGRA texture ``tex`` onto the world quad ``corners_w`` (TL, TR, BR, BL) and composite it.

    ``img`` is the BGR uint8 (H, W, 3) frame, ``idbuf`` the uint16 (H, W) group buffer:
    pixels where the texture is opaque (alpha >= 128) take the texture's colour and
    ``group``. Returns the visible polygon in image pixels, or ``None`` when the face
    is behind the camera or outside the frame.
    """
    H_img, W_img = img.shape[:2]
    cam_pts = cam.to_cam(corners_w)
    if np.all(cam_pts[:, 2] < NEAR_M):
        return None
    clipped = not np.all(cam_pts[:, 2] >= NEAR_M)
    poly_c = clip_polygon_near(cam_pts) if clipped else cam_pts
    uv = (poly_c[:, :2] / poly_c[:, 2:3]) * np.array([cam.K[0, 0], cam.K[1, 1]]) + cam.K[:2, 2]
    x0 = max(0, math.floor(uv[:, 0].min()))
    y0 = max(0, math.floor(uv[:, 1].min()))
    x1 = min(W_img, math.ceil(uv[:, 0].max()))
    y1 = min(H_img, math.ceil(uv[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return None
    th, tw = tex.shape[:2]
    Hm = face_homography(cam, corners_w, tw, th)
    Hroi = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ Hm
    warped = cv2.warpPerspective(
        tex,
        Hroi,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    _, mask = cv2.threshold(cv2.extractChannel(warped, 3), 127, 1, cv2.THRESH_BINARY)
    if clipped:
        pm = np.zeros(mask.shape, np.uint8)
        local = clip_polygon_box(uv - [x0, y0], -8, -8, x1 - x0 + 8, y1 - y0 + 8)
        if len(local) >= 3:
            cv2.fillPoly(pm, [np.round(local * 8).astype(np.int32)], 1, cv2.LINE_8, 3)
        mask = cv2.bitwise_and(mask, pm)
    cv2.copyTo(cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), mask, img[y0:y1, x0:x1])
    cv2.copyTo(np.full(mask.shape, group, np.uint16), mask, idbuf[y0:y1, x0:x1])
    return uv
