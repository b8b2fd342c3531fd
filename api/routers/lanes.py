"""``/v1/lanes``: lane status and health, a lane's snapshot, and JPEG frames pushed by lane cameras."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from PIL import Image, UnidentifiedImageError

from api.auth import AnyUser, CameraUser, Client, DbDep, StateDep, SupervisorUser, audit
from api.schemas.lanes import LANE_ID, FrameAccepted, LaneHealth
from api.settings import FrameSettings
from vision.anpr.imageio import apply_orientation, orientation_of
from vision.pipeline.sources import FrameRefused, LaneDown
from vision.types import Frame

router = APIRouter(tags=["lanes"])

LaneId = Annotated[str, Path(pattern=LANE_ID, description="Lane id: letters, digits, '_', '.', '-'")]


@router.get("/lanes", response_model=list[LaneHealth], summary="Every lane's status and health")
def list_lanes(user: AnyUser, state: StateDep) -> list[LaneHealth]:
    """What the pipeline reported for each lane, and the frames pushed to it; a lane-bound
    camera token sees its own lane only (an installer checks the camera it set up)."""
    lanes = state.lanes.all()
    return [lane for lane in lanes if lane.lane_id == user.lane_id] if user.lane_id is not None else lanes


@router.get(
    "/lanes/{lane_id}/snapshot",
    summary="What a lane's camera sees now: its last frame with the region of interest and tracks drawn",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No such lane, or no frame yet"}},
)
def lane_snapshot(
    lane_id: LaneId,
    user: SupervisorUser,
    state: StateDep,
    db: DbDep,
    client: Client,
    camera: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Supervisors and admins (an installer checking a camera's view and its region of interest:
    green, tracks and reads as the pipeline has them). JPEG, not cached; audited, since it shows
    plates. ``camera`` picks one of a lane's cameras (default the first by id)."""
    runner = state.lane_runner
    shot = runner.snapshot(lane_id, camera) if runner is not None else None
    if shot is None:
        cameras = runner.cameras(lane_id) if runner is not None else []
        why = (
            (
                f"camera {camera!r} of lane {lane_id!r} has no frame yet"
                if camera
                else f"no camera of lane {lane_id!r} has a frame yet"
            )
            + f" (cameras: {', '.join(cameras)})"
            if cameras
            else f"no lane {lane_id!r} runs in this service"
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, why)
    cam, jpeg = shot
    audit(db, user, "lane.snapshot", client, {"lane": lane_id, "camera": cam})
    db.commit()
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/lanes/{lane_id}", response_model=LaneHealth, summary="One lane's status and health")
def get_lane(lane_id: LaneId, user: AnyUser, state: StateDep) -> LaneHealth:
    if user.lane_id is not None and user.lane_id != lane_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this token is bound to lane {user.lane_id!r}, not {lane_id!r}"
        )
    lane = state.lanes.get(lane_id)
    if lane is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lane {lane_id!r} has reported or received frames")
    return lane


MAX_TS_MS = 253_402_300_799_999
"""The latest capture time a camera may give (``X-Frame-Ts-Ms``): the last millisecond of the
year 9999, the last a date can show (a larger number broke nothing at once but is no time)."""


class FrameError(ValueError):
    """A pushed body that is not an acceptable JPEG (``code`` is the HTTP status)."""

    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason
        super().__init__(reason)


def decode_jpeg(data: bytes, limits: FrameSettings) -> np.ndarray:
    """A pushed body as a (H, W, 3) uint8 BGR image as shown (its EXIF orientation applied, as
    for files: :mod:`vision.anpr.imageio`); raises :class:`FrameError` when it is empty,
    not a JPEG, larger than ``limits.max_pixels`` (checked from the header, before decoding), or
    does not decode completely."""
    if not data:
        raise FrameError(status.HTTP_400_BAD_REQUEST, "empty body: send the JPEG bytes")
    if not data.startswith(b"\xff\xd8\xff"):
        raise FrameError(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "not a JPEG (no JPEG start-of-image marker)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format != "JPEG":
                raise FrameError(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"not a JPEG ({img.format})")
            width, height = img.size
            if width * height > limits.max_pixels:
                raise FrameError(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    f"image too large: {width}x{height} = {width * height} pixels "
                    f"(at most {limits.max_pixels})",
                )
            img.load()  # the whole image: a truncated or corrupt file raises here
            rgb = img.convert("RGB")
            orientation = orientation_of(img)
    except FrameError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # over PIL's own limit
        raise FrameError(
            status.HTTP_413_CONTENT_TOO_LARGE, f"image too large: {exc} (at most {limits.max_pixels} pixels)"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FrameError(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the JPEG does not decode: {exc}") from exc
    except ModuleNotFoundError as exc:
        # ultralytics, once imported in the process, patches Image.open to try its optional
        # pi-heif plugin on files PIL cannot identify; offline that import fails
        if exc.name != "pi_heif":
            raise
        raise FrameError(status.HTTP_422_UNPROCESSABLE_CONTENT, "the JPEG does not decode") from exc
    bgr: np.ndarray = apply_orientation(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1], orientation)
    return bgr


async def _read_body(request: Request, max_bytes: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise FrameError(status.HTTP_413_CONTENT_TOO_LARGE, f"body of {length} bytes is over {max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise FrameError(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _capture_time(ts_ms: int, arrived_ms: int, limits: FrameSettings) -> int:
    """``X-Frame-Ts-Ms`` when it is near the service's clock; else 422 saying by how much it is off
    (a lane's times only go forward, so a frame dated in the future would hold its clock there and
    blind it to every frame after)."""
    off_s = (ts_ms - arrived_ms) / 1000
    if -limits.max_behind_s <= off_s <= limits.max_ahead_s:
        return ts_ms
    hint = (
        " (it looks like seconds: send milliseconds since the epoch)"
        if abs(ts_ms * 1000 - arrived_ms) < 86_400_000
        else " (set the camera's clock by NTP, or leave the header out to use the arrival time)"
    )
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"X-Frame-Ts-Ms {ts_ms} is {abs(off_s):.0f} s {'ahead of' if off_s > 0 else 'behind'} this service's "
        f"clock; at most {limits.max_ahead_s:g} s ahead and {limits.max_behind_s:g} s behind are taken{hint}",
    )


@router.post(
    "/lanes/{lane_id}/frames",
    response_model=FrameAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Push one camera frame (image/jpeg body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        400: {"description": "Empty body"},
        403: {"description": "The token is bound to another lane"},
        409: {"description": "The lane takes no pushed frames, or none from this camera"},
        413: {"description": "Too many bytes or pixels"},
        415: {"description": "Not image/jpeg"},
        422: {"description": "The JPEG does not decode"},
        503: {"description": "The lane's pipeline is not running (stopped or failed)"},
    },
)
async def push_frame(
    lane_id: LaneId,
    request: Request,
    user: CameraUser,
    state: StateDep,
    content_type: Annotated[str | None, Header()] = None,
    x_camera_id: Annotated[str | None, Header(max_length=64)] = None,
    x_frame_ts_ms: Annotated[int | None, Header(ge=0, le=MAX_TS_MS)] = None,
) -> FrameAccepted:
    """A lane camera (role ``camera``) pushes one JPEG frame. The body is checked (not empty, at
    most ``frames.max_bytes`` bytes and ``frames.max_pixels`` pixels, a JPEG that decodes) and the
    decoded image handed to the lane's frame sink, which never blocks: when the lane is behind,
    its oldest queued frame is dropped and counted. A refused frame is not stored or queued.
    ``X-Camera-Id`` names the camera (default: the token's user), ``X-Frame-Ts-Ms`` the capture
    time (default: arrival; 422 when it is more than ``frames.max_ahead_s`` ahead of the service's
    clock or ``frames.max_behind_s`` behind it). A token bound to a lane (``tokens create
    --lane``) pushes to that lane only (403 for any other): a camera's stolen token cannot feed
    another lane's queue; one bound to a camera of its lane too (``--camera``) pushes as that
    camera only (403 for another ``X-Camera-Id``).
    A lane that runs another source (a file or stream), one lane more than the service runs
    pushed, or a camera a two-camera lane does not have: 409 with the reason. A lane whose
    pipeline stopped or failed: 503 with the reason (nothing queued)."""
    if user.lane_id is not None and user.lane_id != lane_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this token is bound to lane {user.lane_id!r}, not {lane_id!r}"
        )
    limits = state.settings.frames
    try:
        media = (content_type or "").split(";")[0].strip().lower()
        if media != "image/jpeg":
            raise FrameError(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be image/jpeg, not {media or 'missing'}",
            )
        data = await _read_body(request, limits.max_bytes)
        image = await asyncio.to_thread(decode_jpeg, data, limits)
    except FrameError as exc:
        raise HTTPException(exc.code, exc.reason) from exc
    arrived = int(time.time() * 1000)
    ts = arrived if x_frame_ts_ms is None else _capture_time(x_frame_ts_ms, arrived, limits)
    if user.camera_id is not None and x_camera_id not in (None, user.camera_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token is bound to camera {user.camera_id!r} of lane {user.lane_id!r}, not {x_camera_id!r}",
        )
    camera = user.camera_id or x_camera_id or user.name
    frame = Frame(lane_id=lane_id, camera_id=camera, ts_ms=ts, image=image)
    try:
        queued = state.frame_sink.submit(frame)
    except LaneDown as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.reason) from exc
    except FrameRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from exc
    lane = state.lanes.record_frame(lane_id, arrived, dropped=not queued)
    return FrameAccepted(
        lane_id=lane_id,
        camera_id=camera,
        ts_ms=ts,
        width_px=frame.width_px,
        height_px=frame.height_px,
        bytes=len(data),
        queued=queued,
        frames_dropped=lane.frames_dropped,
    )
