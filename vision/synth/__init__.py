"""Synthetic lane-camera scenes: lorries, trailers, plates and passage clips with exact labels.

Public API (all deterministic for a given seed):

- :func:`render_scene` -- one image and its ground truth (:class:`Scene`).
- :func:`random_spec` -- a random :class:`SceneSpec` (pin view, body type, size, lighting).
- :func:`random_clip_spec` / :func:`render_clip` / :func:`iter_clip` -- passage clips.
- :func:`write_detect`, :func:`write_crops`, :func:`write_plates`, :func:`write_sheet`,
  :func:`write_fixtures` -- data set writers.
- ``BODY_TYPES``, ``SIDE_OF``, ``CROP_CLASSES``, ``CROP_CLASS_OF``, ``DETECT_CLASSES`` -- taxonomy.
- ``GRAMMARS`` -- plate formats (regex + generator per country and format).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ClipSpec": "clip",
    "ClipTruth": "clip",
    "iter_clip": "clip",
    "random_clip_spec": "clip",
    "render_clip": "clip",
    "write_crops": "datasets",
    "write_detect": "datasets",
    "write_plates": "datasets",
    "write_sheet": "datasets",
    "write_trailer_scenes": "datasets",
    "write_fixtures": "fixtures",
    "GRAMMARS": "plates",
    "PlateSpec": "plates",
    "matches_country": "plates",
    "random_spec": "randomize",
    "render_scene": "randomize",
    "StaticTextures": "render",
    "TextureCache": "render",
    "render_spec": "render",
    "VIEWS": "scene",
    "Box": "scene",
    "ConditionSpec": "scene",
    "PlateTruth": "scene",
    "Scene": "scene",
    "SceneSpec": "scene",
    "VehicleTruth": "scene",
    "View": "scene",
    "BODY_TYPES": "taxonomy",
    "CROP_CLASS_OF": "taxonomy",
    "CROP_CLASSES": "taxonomy",
    "DETECT_CLASSES": "taxonomy",
    "SIDE_OF": "taxonomy",
    "BodyType": "taxonomy",
    "Side": "taxonomy",
    "VehicleSpec": "vehicles",
}

if TYPE_CHECKING:
    from .clip import ClipSpec, ClipTruth, iter_clip, random_clip_spec, render_clip
    from .datasets import write_crops, write_detect, write_plates, write_sheet, write_trailer_scenes
    from .fixtures import write_fixtures
    from .plates import GRAMMARS, PlateSpec, matches_country
    from .randomize import random_spec, render_scene
    from .render import StaticTextures, TextureCache, render_spec
    from .scene import VIEWS, Box, ConditionSpec, PlateTruth, Scene, SceneSpec, VehicleTruth, View
    from .taxonomy import BODY_TYPES, CROP_CLASS_OF, CROP_CLASSES, DETECT_CLASSES, SIDE_OF, BodyType, Side
    from .vehicles import VehicleSpec


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (keeps ``import vision.synth.cli`` light)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vision.synth' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BODY_TYPES",
    "CROP_CLASSES",
    "CROP_CLASS_OF",
    "DETECT_CLASSES",
    "GRAMMARS",
    "SIDE_OF",
    "VIEWS",
    "BodyType",
    "Box",
    "ClipSpec",
    "ClipTruth",
    "ConditionSpec",
    "PlateSpec",
    "PlateTruth",
    "Scene",
    "SceneSpec",
    "Side",
    "StaticTextures",
    "TextureCache",
    "VehicleSpec",
    "VehicleTruth",
    "View",
    "iter_clip",
    "matches_country",
    "random_clip_spec",
    "random_spec",
    "render_clip",
    "render_scene",
    "render_spec",
    "write_crops",
    "write_detect",
    "write_fixtures",
    "write_plates",
    "write_sheet",
    "write_trailer_scenes",
]
