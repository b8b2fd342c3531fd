"""Random scene specifications: vehicles, plates, camera, background and conditions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np

from .camera import CameraSpec
from .livery import PAINTS, make_livery
from .plates import COUNTRIES, PlateSpec, make_plate
from .scene import (
    VIEWS,
    BackgroundSpec,
    ConditionSpec,
    Lighting,
    OccluderKind,
    OccluderSpec,
    Scene,
    SceneSpec,
    View,
)
from .taxonomy import BODY_TYPES, TRAILER_TYPES, BodyType
from .vehicles import VehicleSpec, geometry, random_cab_colour

if TYPE_CHECKING:
    from .render import StaticTextures

COUNTRY_WEIGHTS: Final[dict[str, float]] = {
    "UK": 0.38,
    "PL": 0.15,
    "RO": 0.08,
    "BG": 0.06,
    "LT": 0.08,
    "NL": 0.06,
    "E": 0.04,
    "F": 0.04,
    "D": 0.05,
    "IRL": 0.03,
    "H": 0.03,
}
_EU: Final = tuple(c for c in COUNTRIES if c not in ("UK", "IRL"))
SIZES: Final[tuple[tuple[int, int], ...]] = ((1280, 720), (1920, 1080))


def _choice(rng: np.random.Generator, items: tuple[str, ...], weights: tuple[float, ...]) -> str:
    w = np.array(weights, np.float64)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def random_country(rng: np.random.Generator) -> str:
    """A registration country, weighted like traffic through a UK port."""
    return _choice(rng, tuple(COUNTRY_WEIGHTS), tuple(COUNTRY_WEIGHTS.values()))


def random_body_type(rng: np.random.Generator, *, lorries_only: bool = False) -> BodyType:
    """Main-vehicle body type: mostly artics (even over trailer types), some tractors, rigids, vans, cars."""
    r = rng.random()
    if r < 0.7 or (lorries_only and r < 0.85):
        return TRAILER_TYPES[int(rng.integers(len(TRAILER_TYPES)))]
    if r < 0.78 or lorries_only:
        return "tractor_only" if rng.random() < 0.5 or lorries_only else "rigid_box"
    if r < 0.86:
        return "rigid_box"
    return "van" if rng.random() < 0.5 else "car"


def vehicle_plates(rng: np.random.Generator, body_type: BodyType, country: str) -> tuple[PlateSpec, ...]:
    """Plates in mount order: front, rear, and for some UK trailers the two-line trailer mark."""
    front = make_plate(rng, country, "front")
    same_rear = make_plate(rng, country, "rear", grammar_name=front.grammar, lines=front.lines)
    if body_type not in TRAILER_TYPES:
        return (front, same_rear)
    if country in ("UK", "IRL"):
        if country == "UK" and rng.random() < 0.5:
            return (front, same_rear, make_plate(rng, "UK", "trailer_mark", grammar_name="trailer_mark"))
        return (front, same_rear)
    tc = country if rng.random() < 0.85 else _EU[int(rng.integers(len(_EU)))]
    if tc == "E" and rng.random() < 0.7:
        return (front, make_plate(rng, "E", "rear", grammar_name="trailer"))
    two = tc in ("PL", "D") and rng.random() < 0.4
    return (front, make_plate(rng, tc, "rear", two_line=two))


def random_vehicle(
    rng: np.random.Generator,
    vehicle_id: int,
    body_type: BodyType,
    x_front_m: float,
    y_m: float,
    *,
    detail_seed: int,
) -> VehicleSpec:
    """A vehicle of ``body_type`` with random country, livery, colours and plates."""
    country = random_country(rng)
    variant = int(rng.integers(0, 40))
    cab = random_cab_colour(rng)
    base = None
    if body_type == "reefer":
        base = PAINTS[int(rng.integers(0, 4))] if rng.random() < 0.8 else None
    livery = make_livery(rng, country, base=base)
    return VehicleSpec(
        vehicle_id=vehicle_id,
        body_type=body_type,
        country=country,
        x_front_m=x_front_m,
        y_centre_m=y_m,
        yaw_deg=float(rng.normal(0.0, 1.2)),
        cab_colour=cab,
        livery=livery,
        plates=vehicle_plates(rng, body_type, country),
        variant=variant,
        detail_seed=detail_seed,
    )


def random_background(rng: np.random.Generator, seed: int) -> BackgroundSpec:
    """Lane width, islands, booth, canopy, columns and backdrop."""
    lane_w = float(rng.uniform(3.6, 4.4))
    canopy = float(round(rng.uniform(6.0, 7.5) * 4) / 4) if rng.random() < 0.6 else None
    style = int(rng.integers(0, 32))
    sr = np.random.default_rng([style, 3])
    spacing = float(rng.uniform(14.0, 24.0))
    start = float(rng.uniform(-spacing, 0))
    cols = tuple(start + k * spacing for k in range(-2, 4)) if rng.random() < 0.6 else ()
    asphalt_v = int(sr.uniform(70, 115))
    return BackgroundSpec(
        asphalt=(asphalt_v, asphalt_v, asphalt_v + int(sr.integers(-4, 5))),
        lane_w_m=lane_w,
        island_w_m=float(round(rng.uniform(1.2, 2.4), 1)),
        booth_x_m=float(rng.uniform(-12, 12)) if rng.random() < 0.6 else None,
        booth_side=-1 if rng.random() < 0.6 else 1,
        canopy_h_m=canopy,
        column_x_m=cols,
        backdrop=int(sr.integers(0, 4)),
        stop_line_x_m=float(rng.uniform(-5, 15)) if rng.random() < 0.5 else None,
        seed=seed,
        style_seed=style,
    )


def random_condition(rng: np.random.Generator, *, lighting: Lighting | None = None) -> ConditionSpec:
    """Lighting, weather and degradations, most images mildly degraded, some badly."""
    light: Lighting = (
        lighting
        if lighting is not None
        else ("day" if (r := rng.random()) < 0.6 else ("dusk" if r < 0.78 else "night_ir"))
    )
    rain = rng.random() < 0.15
    glare = light == "day" and rng.random() < 0.1
    motion = float(rng.uniform(2, 8)) if rng.random() < 0.2 else 0.0
    defocus = float(rng.uniform(1.0, 2.2)) if rng.random() < 0.15 else float(rng.uniform(0.0, 0.7))
    noise = float(rng.uniform(1.0, 3.5)) + (
        float(rng.uniform(3, 8)) if light == "night_ir" or rng.random() < 0.15 else 0.0
    )
    jq = int(rng.uniform(25, 50)) if rng.random() < 0.15 else int(rng.uniform(60, 95))
    return ConditionSpec(
        lighting=light,
        rain=rain,
        glare=glare,
        motion_blur_px=motion,
        motion_angle_deg=float(rng.uniform(-15, 15)),
        defocus_sigma_px=defocus,
        noise_sigma=noise,
        jpeg_quality=jq,
        exposure=float(rng.uniform(0.85, 1.15)),
        sun_azimuth_deg=float(rng.uniform(0, 360)),
    )


def camera_for(rng: np.random.Generator, view: View, v: VehicleSpec, size: tuple[int, int]) -> CameraSpec:
    """A camera placed the way a lane installer would for ``view`` of vehicle ``v``."""
    L = geometry(v.body_type, v.variant, v.detail_seed).length
    xf, yc = v.x_front_m, v.y_centre_m
    side = -1.0 if rng.random() < 0.7 else 1.0
    small = v.body_type in ("car", "van")
    zoom = rng.random() < 0.5  # a plate-reading camera rather than an overview camera
    if view == "front":
        if zoom:
            d = float(rng.uniform(6.0, 12.0))
            pos = (xf + d, yc + side * float(rng.uniform(1.5, 3.5)), float(rng.uniform(2.0, 4.5)))
            tgt = (
                xf - float(rng.uniform(0.0, 2.5)),
                yc - side * float(rng.uniform(0.0, 0.6)),
                float(rng.uniform(0.8, 1.6)),
            )
            hfov = float(rng.uniform(20, 34))
        else:
            d = float(rng.uniform(7.0, 15.0)) * (0.85 if small else 1.0)
            pos = (xf + d, yc + side * float(rng.uniform(2.2, 4.5)), float(rng.uniform(2.5, 5.5)))
            tgt = (
                xf - float(rng.uniform(3.0, 7.0)) * (0.4 if small else 1.0),
                yc - side * float(rng.uniform(0.0, 0.8)),
                float(rng.uniform(1.0, 2.0)),
            )
            hfov = float(rng.uniform(38, 60))
    elif view == "rear":
        xr = xf - L
        if zoom:
            d = float(rng.uniform(6.0, 12.0))
            pos = (xr - d, yc + side * float(rng.uniform(1.5, 3.5)), float(rng.uniform(2.0, 4.5)))
            tgt = (
                xr + float(rng.uniform(0.0, 2.0)),
                yc - side * float(rng.uniform(0.0, 0.4)),
                float(rng.uniform(0.9, 1.8)),
            )
            hfov = float(rng.uniform(22, 36))
        else:
            d = float(rng.uniform(6.0, 13.0)) * (0.85 if small else 1.0)
            pos = (xr - d, yc + side * float(rng.uniform(2.2, 4.5)), float(rng.uniform(2.2, 5.0)))
            tgt = (
                xr + float(rng.uniform(1.5, 5.0)) * (0.4 if small else 1.0),
                yc - side * float(rng.uniform(0.0, 0.5)),
                float(rng.uniform(1.0, 2.0)),
            )
            hfov = float(rng.uniform(38, 60))
    elif view == "side":
        dist = float(rng.uniform(9.0, 15.0)) * (0.6 if small else 1.0)
        xm = xf - L * float(rng.uniform(0.4, 0.6))
        pos = (xm + float(rng.uniform(-2.0, 2.0)), yc + side * dist, float(rng.uniform(1.3, 3.0)))
        tgt = (xm, yc, float(rng.uniform(1.4, 2.2)))
        hfov = float(rng.uniform(70, 90)) if not small else float(rng.uniform(50, 70))
    else:
        dist = float(rng.uniform(7.0, 12.0)) * (0.7 if small else 1.0)
        xm = xf - L * float(rng.uniform(0.4, 0.6))
        pos = (xm + float(rng.uniform(-3.0, 3.0)), yc + side * dist, float(rng.uniform(5.5, 8.0)))
        tgt = (xm, yc, float(rng.uniform(0.5, 1.5)))
        hfov = float(rng.uniform(75, 95)) if not small else float(rng.uniform(55, 75))
    return CameraSpec(
        position_m=pos,
        target_m=tgt,
        hfov_deg=hfov,
        roll_deg=float(rng.normal(0.0, 1.0)),
        width_px=size[0],
        height_px=size[1],
    )


def _extra_vehicles(
    rng: np.random.Generator,
    main: VehicleSpec,
    view: View,
    lane_w: float,
    island: float,
    seed: int,
    cam_side: float,
) -> list[VehicleSpec]:
    out: list[VehicleSpec] = []
    L = geometry(main.body_type, main.variant, main.detail_seed).length
    n = int(rng.choice(3, p=[0.5, 0.35, 0.15]))
    for k in range(n):
        bt = random_body_type(rng)
        adj = rng.random() < 0.6
        if adj:
            y = (lane_w + island + 0.5) * (
                -cam_side if view in ("side", "high_side") else float(rng.choice([-1, 1]))
            )
            x = main.x_front_m + float(rng.uniform(-L - 8, 10))
        else:
            y = main.y_centre_m
            g = geometry(bt, 0, seed * 31 + k)
            if view == "rear":
                x = main.x_front_m + g.length + float(rng.uniform(2.5, 10))
            else:
                x = main.x_front_m - L - float(rng.uniform(2.5, 10))
        out.append(
            random_vehicle(rng, k + 2, bt, x, y + float(rng.normal(0, 0.15)), detail_seed=seed * 31 + k)
        )
    return out


def random_spec(
    rng: np.random.Generator,
    *,
    seed: int | None = None,
    view: View | None = None,
    body_type: BodyType | None = None,
    size: tuple[int, int] | None = None,
    lighting: Lighting | None = None,
    extras: bool = True,
    occluders: bool = True,
) -> SceneSpec:
    """A random :class:`SceneSpec`; any argument given pins that aspect.

    ``seed`` (default: drawn from ``rng``) seeds the render-time details.
    Deterministic for a given ``rng`` state.
    """
    s = int(seed if seed is not None else rng.integers(0, 2**31 - 1))
    view_: View = view if view is not None else VIEWS[int(rng.choice(4, p=[0.35, 0.3, 0.2, 0.15]))]
    size_ = size if size is not None else SIZES[int(rng.integers(2))]
    bt: BodyType = body_type if body_type is not None else random_body_type(rng)
    bg = random_background(rng, s)
    main = random_vehicle(rng, 1, bt, float(rng.uniform(-3, 3)), float(rng.normal(0, 0.15)), detail_seed=s)
    cam = camera_for(rng, view_, main, size_)
    cam_side = math.copysign(1.0, cam.position_m[1] - main.y_centre_m)
    vehicles = [main]
    if extras:
        vehicles += _extra_vehicles(rng, main, view_, bg.lane_w_m, bg.island_w_m, s, cam_side)
    occ: list[OccluderSpec] = []
    if occluders and rng.random() < 0.22:
        kind: OccluderKind = ("pole", "person", "barrier", "cone")[int(rng.integers(4))]
        cx, cy, _ = cam.position_m
        tx, ty, _ = cam.target_m
        t = float(rng.uniform(0.3, 0.7))
        ox, oy = cx + (tx - cx) * t, cy + (ty - cy) * t
        if kind == "barrier":
            if view_ == "front":
                occ.append(OccluderSpec("barrier", main.x_front_m + float(rng.uniform(0.8, 3.0)), 0.0, 1.0))
            elif view_ == "rear":
                xr = main.x_front_m - geometry(bt, main.variant, main.detail_seed).length
                occ.append(OccluderSpec("barrier", xr - float(rng.uniform(0.8, 3.0)), 0.0, 1.0))
        else:
            size_m = {
                "pole": float(rng.uniform(0.12, 0.3)),
                "person": float(rng.uniform(1.6, 1.9)),
                "cone": float(rng.uniform(0.5, 0.8)),
            }[kind]
            occ.append(
                OccluderSpec(kind, ox + float(rng.normal(0, 0.5)), oy + float(rng.normal(0, 0.3)), size_m)
            )
    return SceneSpec(
        seed=s,
        view=view_,
        camera=cam,
        vehicles=tuple(vehicles),
        occluders=tuple(occ),
        background=bg,
        condition=random_condition(rng, lighting=lighting),
    )


def all_body_types() -> tuple[BodyType, ...]:
    """Every body type (convenience re-export)."""
    return BODY_TYPES


def render_scene(
    spec_or_seed: SceneSpec | int,
    *,
    view: View | None = None,
    body_type: BodyType | None = None,
    size: tuple[int, int] | None = None,
    static: StaticTextures | None = None,
) -> Scene:
    """Render one lane-camera image with its ground truth.

    ``spec_or_seed``: a :class:`SceneSpec`, or an int seed from which
    ``random_spec(np.random.default_rng([seed]), seed=seed, view=..., body_type=..., size=...)``
    builds one (``view``/``body_type``/``size`` are only used with a seed).
    Returns a :class:`Scene` whose ``image`` is BGR uint8 (H, W, 3) and whose boxes are
    pixel ``xyxy`` floats. ``static`` may share scenery textures between calls (speed only).
    """
    if isinstance(spec_or_seed, SceneSpec):
        spec = spec_or_seed
    else:
        spec = random_spec(
            np.random.default_rng([int(spec_or_seed)]),
            seed=int(spec_or_seed),
            view=view,
            body_type=body_type,
            size=size,
        )
    from .render import TextureCache, render_spec  # noqa: PLC0415 - render imports nothing from here

    return render_spec(spec, cache=TextureCache(static))
