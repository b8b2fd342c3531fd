"""The small committed fixtures under ``fixtures/synth`` (made by ``synth fixtures``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from .cli import FIXTURE_SEED
from .clip import random_clip_spec, render_clip
from .datasets import _crop, _plate_notes, _write_manifest, encode_jpeg, scene_truth_json, write_json
from .randomize import random_spec
from .render import StaticTextures, TextureCache, render_spec
from .scene import Lighting, View
from .taxonomy import BODY_TYPES

SCENE_JPEG_QUALITY = 70


def write_fixtures(out: Path, *, seed: int = FIXTURE_SEED, progress: bool = True) -> None:
    """Scenes per body type (JPEG + YOLO + truth JSON), 40 plate crops with manifest, one short front clip."""
    static = StaticTextures()
    scenes = out / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    views: tuple[View, ...] = ("front", "side", "rear", "high_side")
    truth: dict[str, object] = {}
    for bi, bt in enumerate(BODY_TYPES):
        for k in range(2):
            view = views[(bi + k * 2) % 4] if k == 0 else views[(bi + 1) % 4]
            for attempt in range(20):
                rng = np.random.default_rng([seed, bi, k, attempt])
                spec = random_spec(
                    rng, view=view, body_type=bt, size=(1280, 720), lighting="day" if k == 0 else None
                )
                spec = replace(
                    spec, condition=replace(spec.condition, noise_sigma=min(spec.condition.noise_sigma, 2.0))
                )
                sc = render_spec(spec, cache=TextureCache(static), jpeg=False)
                if sc.vehicles[0].body_labelled:
                    break
            stem = f"{bt}_{view}_{k}"
            (scenes / f"{stem}.jpg").write_bytes(encode_jpeg(sc.image, SCENE_JPEG_QUALITY))
            (scenes / f"{stem}.txt").write_text("".join(line + "\n" for line in sc.yolo_lines()))
            truth[f"{stem}.jpg"] = scene_truth_json(sc)
            if progress:
                print(
                    f"\rfixtures: scenes {len(truth)}/{2 * len(BODY_TYPES)}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
    write_json(scenes / "truth.json", truth)
    if progress:
        print(file=sys.stderr)
    _plate_fixtures(out / "plates", seed, static, progress)
    clip = random_clip_spec(seed, view="front", n_vehicles=2, seconds=4.0, fps=10.0)
    quiet = replace(
        clip.scene.condition, noise_sigma=0.0, lighting="day", motion_blur_px=0.0, defocus_sigma_px=0.6
    )
    clip = replace(clip, scene=replace(clip.scene, condition=quiet))
    render_clip(clip, out / "clip", video=True, frames=False, static=static, progress=progress)


def _plate_fixtures(out: Path, seed: int, static: StaticTextures, progress: bool) -> None:
    crops = out / "crops"
    crops.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    lightings: tuple[Lighting | None, ...] = ("day", "night_ir", "dusk", None)
    i = 0
    want = 40
    while len(rows) < want and i < 400:
        rng = np.random.default_rng([seed, 555, i])
        view: View = "front" if i % 2 == 0 else "rear"
        spec = random_spec(rng, view=view, size=(1280, 720), lighting=lightings[i % 4], extras=False)
        sc = render_spec(spec, cache=TextureCache(static))
        for k, p in enumerate(sc.plates):
            if p.labelled and p.box.height >= 18 and len(rows) < want:
                name = f"plate_{i:04d}_{k}.jpg"
                (crops / name).write_bytes(encode_jpeg(_crop(sc.image, p.box, rng, (0.08, 0.2), 320), 90))
                rows.append((f"crops/{name}", p.text, p.country, "", "", "", "", _plate_notes(p, sc.spec)))
        i += 1
        if progress:
            print(f"\rfixtures: plates {len(rows)}/{want}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    _write_manifest(out / "manifest.csv", rows)
