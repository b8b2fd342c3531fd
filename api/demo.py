"""Demo mode (``hgv-lane serve --demo``): demo users, a demo action list, and optionally a replay
of the demo clip's ground truth.

Demo users (created only in demo mode, only when missing; change or delete them before real use):

========== ================= ==========
name       password          role
========== ================= ==========
officer    officer-demo      officer
supervisor supervisor-demo   supervisor
admin      admin-demo        admin
========== ================= ==========

The action list comes from ``fixtures/demo/actionlist.csv`` (imported when the store's current
list is a different file).

:func:`replay_ground_truth` is a demo lane runner that turns the **ground truth** of the bundled
synthetic clip (``fixtures/synth/clip/truth.json``) into passages, with evidence crops cut from
the clip at the labelled boxes, and records them through the flag rules, one vehicle every few
seconds, in a loop. No vision runs: it is for trying the officers' page before the real demo
lane (the pipeline playing ``clip.mp4``) is registered. Its lane says so in its health message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.actionlist import ImportRejected, import_action_list
from api.auth import create_user
from api.db import repository as repo
from api.db.models import UserRole
from api.db.session import session_scope
from api.flags import DuplicatePassage
from api.schemas.lanes import LaneStatus
from api.settings import PROJECT_ROOT
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

if TYPE_CHECKING:
    from api.app import AppState

log = logging.getLogger(__name__)

DEMO_USERS: tuple[tuple[str, str, UserRole], ...] = (
    ("officer", "officer-demo", UserRole.OFFICER),
    ("supervisor", "supervisor-demo", UserRole.SUPERVISOR),
    ("admin", "admin-demo", UserRole.ADMIN),
)
DEMO_ACTION_LIST = PROJECT_ROOT / "fixtures" / "demo" / "actionlist.csv"
DEMO_CLIP_DIR = PROJECT_ROOT / "fixtures" / "synth" / "clip"
REPLAY_LANE = "demo-1"
REPLAY_INTERVAL_S = 8.0
"""Seconds between two replayed vehicles."""


def setup_demo(state: AppState) -> None:
    """Create the demo users (when missing) and import the demo action list (when not current)."""
    with session_scope(state.engine) as session:
        for name, password, role in DEMO_USERS:
            if repo.get_user_by_name(session, name) is None:
                create_user(session, name, role, password, min_password_len=1)
                log.warning("demo: created user %r (role %s) with password %r", name, role.value, password)
    data = DEMO_ACTION_LIST.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with session_scope(state.engine) as session:
        latest = repo.latest_version(session)
        if latest is None or latest.source_sha256 != digest:
            try:
                outcome = import_action_list(session, data, source_name=DEMO_ACTION_LIST.name, actor="demo")
            except ImportRejected as exc:  # the fixture is ours: a rejection is a bug
                raise RuntimeError(f"demo action list {DEMO_ACTION_LIST} rejected: {exc}") from exc
            log.info("demo: imported %s as action-list version %s", DEMO_ACTION_LIST, outcome.version_id)
    state.passage_recorder().rebuild_matcher()


@dataclass(frozen=True, slots=True)
class ReplayVehicle:
    """One vehicle of the clip's ground truth, ready to become a passage."""

    vehicle_id: int
    body_type: BodyType
    n_frames: int
    plates: tuple[PassagePlate, ...]
    body_crop_jpeg: bytes


def _crop_jpeg(frame: Any, box: list[float] | None) -> bytes:
    import cv2  # noqa: PLC0415

    if frame is None or not box:
        return b""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return b""
    ok, buf = cv2.imencode(".jpg", frame[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return bytes(buf) if ok else b""


def load_ground_truth(clip_dir: Path = DEMO_CLIP_DIR) -> list[ReplayVehicle]:
    """The clip's vehicles from ``truth.json`` with crops cut from ``clip.mp4`` at the labelled boxes
    (the largest labelled box of each plate and of each body). Plates never seen in the clip are left out."""
    import cv2  # noqa: PLC0415

    truth = json.loads((clip_dir / "truth.json").read_text())
    frames: list[Any] = []
    cap = cv2.VideoCapture(str(clip_dir / "clip.mp4"))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()

    def best_box(vehicle_id: int, what: str, role: str | None = None) -> tuple[int, list[float]] | None:
        best: tuple[float, int, list[float]] | None = None
        for fr in truth["frames"]:
            for obj in fr["objects"]:
                if obj["vehicle_id"] != vehicle_id:
                    continue
                boxes = (
                    [obj.get("body_box")]
                    if what == "body"
                    else [p["box"] for p in obj["plates"] if p["role"] == role]
                )
                for box in boxes:
                    if box:
                        area = (box[2] - box[0]) * (box[3] - box[1])
                        if best is None or area > best[0]:
                            best = (area, fr["frame"], box)
        return (best[1], best[2]) if best else None

    out = []
    for v in truth["vehicles"]:
        plates = []
        for p in v["plates"]:
            if not p["n_frames"]:
                continue
            found = best_box(v["vehicle_id"], "plate", p["role"])
            crop = _crop_jpeg(
                frames[found[0]] if found and found[0] < len(frames) else None, found[1] if found else None
            )
            plates.append(
                PassagePlate(
                    role=PlateRole(p["role"]),
                    text=p["text"],
                    confidence=1.0,
                    status=ReadStatus.COMMITTED,
                    candidates=(PlateCandidate(p["text"], 1.0, country=p["country"]),),
                    country=p["country"],
                    format_valid=True,
                    n_looks=int(p["n_frames"]),
                    crop_jpeg=crop,
                )
            )
        body = best_box(v["vehicle_id"], "body")
        body_crop = _crop_jpeg(
            frames[body[0]] if body and body[0] < len(frames) else None, body[1] if body else None
        )
        out.append(
            ReplayVehicle(
                vehicle_id=int(v["vehicle_id"]),
                body_type=BodyType(v["body_type"]),
                n_frames=int(v["last_frame"]) - int(v["first_frame"]) + 1,
                plates=tuple(plates),
                body_crop_jpeg=body_crop,
            )
        )
    return out


def replay_passage(vehicle: ReplayVehicle, *, lane_id: str, run: str, n: int, now_ms: int) -> Passage:
    """A passage of one ground-truth vehicle, seen now (``passage_id`` says it is a replay)."""
    return Passage(
        passage_id=f"replay-{run}-{n}-v{vehicle.vehicle_id}",
        lane_id=lane_id,
        first_seen_ts_ms=now_ms - 4_000,
        last_seen_ts_ms=now_ms,
        plates=vehicle.plates,
        body=TrailerVerdict(vehicle.body_type, 1.0, vehicle.n_frames),
        direction="inbound",
        body_crop_jpeg=vehicle.body_crop_jpeg,
        camera_ids=("replay",),
    )


async def replay_ground_truth(state: AppState, *, interval_s: float = REPLAY_INTERVAL_S) -> None:
    """Demo lane runner: record the clip's ground-truth vehicles as passages, one every
    ``interval_s`` seconds, forever (cancelled at shutdown)."""
    vehicles = await asyncio.to_thread(load_ground_truth)
    recorder = state.passage_recorder()
    message = "REPLAY of the demo clip's ground truth (no vision)"
    state.lanes.update(REPLAY_LANE, name="Demo lane", status=LaneStatus.OK, source="replay", message=message)
    log.warning(
        "demo: lane %s: %s, %d vehicles every %.0f s", REPLAY_LANE, message, len(vehicles), interval_s
    )
    run, n = uuid.uuid4().hex[:8], 0
    while True:
        for vehicle in vehicles:
            await asyncio.sleep(interval_s)
            n += 1
            passage = replay_passage(
                vehicle, lane_id=REPLAY_LANE, run=run, n=n, now_ms=int(time.time() * 1000)
            )
            try:
                outcome = await asyncio.to_thread(recorder.record, passage)
            except DuplicatePassage:
                continue
            log.info(
                "demo replay: passage %s -> %s (flag %s, risk %d)",
                passage.passage_id,
                outcome.action.value,
                outcome.flag_id,
                outcome.risk_score,
            )
