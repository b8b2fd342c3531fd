"""Rendered scenes: labels re-projected onto the pixels, determinism, every body type in every view."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.synth import BODY_TYPES, SIDE_OF, VIEWS, Box, Scene, StaticTextures, random_spec, render_scene
from vision.synth.render import MIN_PLATE_H_PX, TextureCache, plate_corners, render_spec, vehicle_pose
from vision.synth.scene import Lighting, OccluderSpec, SceneSpec, View
from vision.synth.taxonomy import BodyType
from vision.synth.vehicles import build_model

STATIC = StaticTextures()


def _render(bt: BodyType, view: View, seed: int, lighting: Lighting | None = "day") -> Scene:
    spec = random_spec(
        np.random.default_rng([seed, len(bt), len(view)]),
        view=view,
        body_type=bt,
        size=(1280, 720),
        lighting=lighting,
        extras=False,
        occluders=False,
    )
    return render_spec(spec, cache=TextureCache(STATIC))


def test_same_seed_same_pixels_different_seed_differs() -> None:
    a = render_scene(123, static=STATIC)
    b = render_scene(123)
    c = render_scene(124, static=STATIC)
    assert a.image.dtype == np.uint8 and a.image.ndim == 3 and a.image.shape[2] == 3
    assert np.array_equal(a.image, b.image)
    assert a.yolo_lines() == b.yolo_lines()
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("view", VIEWS)
def test_every_body_type_renders_in_every_view(view: View) -> None:
    labelled_bodies = 0
    for i, bt in enumerate(BODY_TYPES):
        sc = _render(bt, view, 7 + i)
        assert sc.image.shape == (720, 1280, 3)
        v = sc.vehicles[0]
        assert v.body_type == bt and v.side == SIDE_OF[bt]
        if v.labelled:
            assert v.box.contains(v.body_box, tol=1.0), (bt, view, v.box, v.body_box)
        if v.body_labelled:
            labelled_bodies += 1
            x0, y0, x1, y1 = v.body_box.as_int()
            region = sc.image[y0:y1, x0:x1].astype(np.float32)
            # the body box holds a vehicle, not flat background: strong local structure
            assert float(np.std(region)) > 12.0, (bt, view)
    assert labelled_bodies >= len(BODY_TYPES) - 2, view


def _plate_checks(sc: Scene) -> int:
    n = 0
    W, H = sc.size
    for p in sc.plates:
        if not p.labelled:
            continue
        n += 1
        assert p.facing and p.box.height >= MIN_PLATE_H_PX
        assert 0 <= p.box.x0 < p.box.x1 <= W and 0 <= p.box.y0 < p.box.y1 <= H
        # the character cells project inside the plate box
        assert p.box.contains(p.text_box, tol=1.0), (p.text, p.box, p.text_box)
        x0, y0, x1, y1 = p.box.as_int()
        crop = sc.image[y0:y1, x0:x1]
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
        hi, lo = np.percentile(grey, 85), np.percentile(grey, 10)
        assert hi - lo > 60, (p.text, hi, lo)  # dark characters on a bright plate
        b, g, r = (np.percentile(crop[..., k], 85) for k in range(3))
        assert r > 120 and g > 110, (p.text, b, g, r)  # white or yellow plate background (red: E trailers)
        # the plate is brighter than its surroundings on average (retro-reflective sheet)
        tx0, ty0, tx1, ty1 = p.text_box.as_int()
        assert tx1 > tx0 and ty1 > ty0
    return n


def test_plate_boxes_contain_plates() -> None:
    total = 0
    for i in range(16):
        view: View = "front" if i % 2 == 0 else "rear"
        bt = BODY_TYPES[i % len(BODY_TYPES)]
        total += _plate_checks(_render(bt, view, 100 + i))
    assert total >= 12


def test_night_plates_stay_bright() -> None:
    n = 0
    for i in range(6):
        sc = _render("curtainsider", "front" if i % 2 else "rear", 300 + i, lighting="night_ir")
        img = sc.image
        # greyscale (up to JPEG chroma rounding)
        assert float(np.abs(img[..., 0].astype(int) - img[..., 2]).mean()) < 1.0
        for p in sc.plates:
            if p.labelled:
                x0, y0, x1, y1 = p.box.as_int()
                assert np.percentile(img[y0:y1, x0:x1], 85) > 2 * np.median(img)
                n += 1
    assert n >= 3


def test_yolo_lines_round_trip() -> None:
    sc = render_scene(42)
    W, H = sc.size
    dets = sc.detections()
    lines = sc.yolo_lines()
    assert len(lines) == len(dets) and len(lines) > 0
    for line, (cls, box) in zip(lines, dets, strict=False):
        c, cx, cy, w, h = line.split()
        assert int(c) == cls
        back = Box(
            (float(cx) - float(w) / 2) * W,
            (float(cy) - float(h) / 2) * H,
            (float(cx) + float(w) / 2) * W,
            (float(cy) + float(h) / 2) * H,
        )
        for a, b in ((back.x0, box.x0), (back.y0, box.y0), (back.x1, box.x1), (back.y1, box.y1)):
            assert abs(a - b) < 0.01
        assert 0.0 <= float(cx) <= 1.0 and 0.0 < float(w) <= 1.0


def _front_box_spec() -> SceneSpec:
    """A box lorry seen from the front by day, with no extras or occluders (seed 9)."""
    return random_spec(
        np.random.default_rng(9),
        view="front",
        body_type="box",
        size=(1280, 720),
        lighting="day",
        extras=False,
        occluders=False,
    )


def _pole_before_front_plate(spec: SceneSpec) -> OccluderSpec:
    """A 0.5 m pole 60 % of the way from the camera to the front plate's centre."""
    model = build_model(spec.vehicles[0])
    _, centre = plate_corners(model, vehicle_pose(spec.vehicles[0]), 0)
    cam = np.array(spec.camera.position_m)
    t = 0.6
    return OccluderSpec(
        "pole", float(cam[0] + (centre[0] - cam[0]) * t), float(cam[1] + (centre[1] - cam[1]) * t), 0.5
    )


def test_occluded_plate_is_not_labelled() -> None:
    # a pole right in front of the front plate hides it: the label rule drops the plate
    from dataclasses import replace

    spec = _front_box_spec()
    base = render_spec(spec)
    front = next(p for p in base.plates if p.role == "front")
    assert front.labelled
    pole = _pole_before_front_plate(spec)
    hidden = render_spec(replace(spec, occluders=(pole,)))
    front2 = next(p for p in hidden.plates if p.role == "front")
    assert front2.visible_fraction < 0.5 and not front2.labelled


def test_legibility_of_a_plate_blur_and_hidden_characters() -> None:
    # a sharp, unhidden plate is legible; defocus or a streak past its limit (as a share of the
    # character height) makes it illegible; a pole over its characters makes one hidden
    from dataclasses import replace

    from vision.synth.datasets import _plate_notes
    from vision.synth.scene import (
        LEGIBLE_DEFOCUS,
        LEGIBLE_MOTION,
        SPEC_CHAR_PX,
        char_height_px,
        illegible_reasons,
    )

    spec = _front_box_spec()
    sharp = replace(spec.condition, motion_blur_px=0.0, defocus_sigma_px=0.0)
    front = next(p for p in render_spec(replace(spec, condition=sharp)).plates if p.role == "front")
    h = char_height_px(front)
    assert 0.5 * front.text_box.height / len(front.lines) < h <= front.text_box.height
    assert front.min_char_visible > 0.99
    assert illegible_reasons(front, sharp) == ()
    soft = replace(sharp, defocus_sigma_px=0.9 * LEGIBLE_DEFOCUS * h)
    assert illegible_reasons(front, soft) == ()
    assert illegible_reasons(front, replace(sharp, defocus_sigma_px=1.2 * LEGIBLE_DEFOCUS * h)) == (
        "illegible",
    )
    blurred = replace(sharp, motion_blur_px=1.3 * LEGIBLE_MOTION * h)
    assert illegible_reasons(front, blurred) == ("illegible",)
    # the manifests' notes carry the reason as a tag (``eval plates --skip-tag``)
    assert _plate_notes(front, replace(spec, condition=blurred)).split(";")[-1] == "illegible"
    assert "illegible" not in _plate_notes(front, replace(spec, condition=sharp)).split(";")
    # characters under 15 px (what plate readers are installed for) are tagged, legible or not
    small = "small_chars" in _plate_notes(front, replace(spec, condition=sharp)).split(";")
    assert small == (h < SPEC_CHAR_PX)
    (a, b), (c, d), (e, f), (g, k) = front.text_quad
    shrunk = replace(front, text_quad=((a / 4, b / 4), (c / 4, d / 4), (e / 4, f / 4), (g / 4, k / 4)))
    assert char_height_px(shrunk) < SPEC_CHAR_PX
    assert "small_chars" in _plate_notes(shrunk, replace(spec, condition=sharp)).split(";")

    pole = _pole_before_front_plate(spec)
    hidden = render_spec(replace(spec, condition=sharp, occluders=(pole,)))
    front2 = next(p for p in hidden.plates if p.role == "front")
    assert front2.min_char_visible < 0.1
    assert illegible_reasons(front2, sharp) == ("char_hidden",)


def test_a_trailer_behind_its_own_cab_is_shown_less_than_it_is_visible() -> None:
    """From the front the cab hides most of the trailer behind it: the label rule's visibility
    (other objects only) says all of it shows, ``body_shown_fraction`` says how little does. From
    the side and the rear nothing of the lorry's own hides its trailer."""
    front = _render("tanker", "front", 7).vehicles[0]
    assert front.body_visible_fraction > 0.99
    assert 0.05 < front.body_shown_fraction < 0.6
    for view in ("side", "rear"):
        v = _render("tanker", view, 7).vehicles[0]
        assert v.body_shown_fraction == pytest.approx(v.body_visible_fraction, abs=0.02), view


def test_a_flatbeds_trailer_mark_is_on_its_rear_not_in_the_air_over_its_deck() -> None:
    """Bench lane set 5322's lorry 2, a UK flatbed with an empty deck (1.45 m), drew its trailer
    mark 2.07 m up on the rear face: over the deck, where nothing holds it, and the rear camera
    saw it float above the deck boards. A flatbed's mark sits on the beam under its deck (a low
    mark, 1.05 m up, hung in the air between the lamps and the beam)."""
    from vision.synth.clip import random_lane_clip_spec
    from vision.synth.vehicles import FLATBED_MARK_BELOW_DECK_M, geometry

    flatbed = random_lane_clip_spec(5322, n_vehicles=3, seconds=16.0).clips[0].scene.vehicles[1]
    assert flatbed.body_type == "flatbed" and len(flatbed.plates) == 3
    model = build_model(flatbed)
    deck = geometry(flatbed.body_type, flatbed.variant, flatbed.detail_seed).deck
    (mark,) = [m for m in model.mounts if m.plate_index == 2]
    assert mark.face == "rear" and mark.v_m == pytest.approx(deck - FLATBED_MARK_BELOW_DECK_M)
    # on the beam (painted from 0.22 m under the deck to the deck) from edge to edge: 0.21 m high
    assert deck - 0.22 <= mark.v_m - 0.105 and mark.v_m + 0.105 <= deck
