"""Frame sources: a video file, a stream URL, a folder of images, and JPEG frames pushed over HTTP.

Every source yields :class:`vision.types.Frame` (``(H, W, 3)`` uint8 BGR, ``ts_ms`` in
milliseconds since the Unix epoch, ``index`` counting from 0) from ``frames()``.

- :class:`VideoFileSource`: a file OpenCV/FFmpeg can decode; times are the file's own
  (``start_ts_ms`` + position), optionally paced at the file's frame rate and looped (the
  demo lane).
- :class:`StreamSource`: an RTSP/HTTP URL through OpenCV's FFmpeg backend; on loss it
  reconnects with exponential back-off (counted in ``reconnects`` and logged); times are
  the wall clock at capture.
- :class:`ImageFolderSource`: ``*.jpg|*.jpeg|*.png|*.bmp`` in name order, at a nominal ``fps``.
- :class:`PushedFrames`: the source side of frames pushed by a camera (``POST
  /v1/lanes/{lane}/frames``): the HTTP handler decodes the JPEG and calls
  :meth:`PushedFrames.submit` (through :class:`PushedFrameRouter`, the service's
  :class:`FrameSink`), which never blocks: a bounded queue that drops the oldest frame.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import cv2
import numpy as np

from vision.types import Frame, ImageBGR

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _bgr(image: Any) -> ImageBGR:
    """A decoded image as the (H, W, 3) uint8 BGR array it already is (typed; no copy)."""
    return np.asarray(image, dtype=np.uint8)


def now_ms() -> int:
    """Wall-clock time in milliseconds since the Unix epoch."""
    return int(time.time() * 1000)


class SourceError(RuntimeError):
    """A source cannot be opened at all (missing file, empty folder, unusable URL)."""


# --- video file ---------------------------------------------------------------------------------


class VideoFileSource:
    """Frames of a video file.

    ``ts_ms`` is ``start_ts_ms`` (default: when ``frames()`` starts) plus the frame's position
    in the file (``index * 1000 / fps``), so batch runs are reproducible with a fixed
    ``start_ts_ms``. ``realtime`` paces frames at the file's rate (a camera stand-in);
    ``loop`` starts again at the end (times keep increasing).
    """

    live = False

    def __init__(
        self,
        path: str | Path,
        *,
        lane_id: str,
        camera_id: str = "cam1",
        start_ts_ms: int | None = None,
        realtime: bool = False,
        loop: bool = False,
        fps: float | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        self.name = str(self.path)
        self.lane_id, self.camera_id = lane_id, camera_id
        self.start_ts_ms = start_ts_ms
        self.realtime, self.loop = realtime, loop
        self.live = realtime  # paced like a camera: the worker must not make it wait
        self._fps = fps
        self._stop = threading.Event()
        probe = cv2.VideoCapture(str(self.path))
        try:
            if not probe.isOpened():
                raise SourceError(f"cannot open video file {self.path} (codec not supported?)")
            self.fps = fps or float(probe.get(cv2.CAP_PROP_FPS)) or 25.0
            self.frame_count = int(probe.get(cv2.CAP_PROP_FRAME_COUNT))
            self.width_px = int(probe.get(cv2.CAP_PROP_FRAME_WIDTH))
            self.height_px = int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            probe.release()

    def frames(self) -> Iterator[Frame]:
        self._stop.clear()
        start = self.start_ts_ms if self.start_ts_ms is not None else now_ms()
        period_ms = 1000.0 / self.fps
        index = 0
        t0 = time.monotonic()
        while not self._stop.is_set():
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise SourceError(f"cannot open video file {self.path}")
            got_any = False
            try:
                while not self._stop.is_set():
                    ok, image = cap.read()
                    if not ok or image is None:
                        break
                    got_any = True
                    if self.realtime:
                        delay = t0 + index * period_ms / 1000.0 - time.monotonic()
                        if delay > 0 and self._stop.wait(delay):
                            return
                    yield Frame(
                        self.lane_id,
                        self.camera_id,
                        start + round(index * period_ms),
                        _bgr(image),
                        index=index,
                    )
                    index += 1
            finally:
                cap.release()
            if not self.loop or not got_any:
                return

    def close(self) -> None:
        self._stop.set()


# --- stream URL with reconnect ------------------------------------------------------------------


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` a stream source uses (a fake in tests)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


STREAM_OPEN_TIMEOUT_MS = 5000
"""How long opening a stream may take before it counts as a failure (OpenCV's own default is
30 s, which a camera that accepts the connection and never answers holds for every try)."""

STREAM_READ_TIMEOUT_MS = 5000
"""How long a read may wait for the next frame of an open stream before it counts as lost."""


def open_capture(url: str) -> Capture:
    """``cv2.VideoCapture`` on ``url`` through FFmpeg, giving up after
    :data:`STREAM_OPEN_TIMEOUT_MS` to open and :data:`STREAM_READ_TIMEOUT_MS` per read."""
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_OPEN_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_READ_TIMEOUT_MS,
    ]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pass", "pwd", "token", "key", "secret", "auth", "apikey", "api_key"}
)
"""Query parameters of a stream URL whose values :func:`redact_url` hides (camera makers put
credentials there too: ``?user=admin&password=...``), compared case-blind."""


def redact_url(url: str) -> str:
    """``url`` safe to show and log: the password of ``user:password@`` and the values of
    secret-looking query parameters replaced by ``***`` (the user name and host are kept so an
    installer can still tell the cameras apart). A URL with neither, and text that is not a URL,
    is returned as given."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # unchanged (urlunsplit would also turn sqlite:///path into sqlite://path)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial_s``, times ``factor`` after each failure, at most ``max_s``;
    back to ``initial_s`` once frames flow again."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before reconnect attempt number ``failures`` (1-based)."""
        return float(min(self.max_s, self.initial_s * self.factor ** max(0, failures - 1)))


_NOT_OPENED = (
    f"did not open (refused, unreachable, no answer within {STREAM_OPEN_TIMEOUT_MS // 1000} s, or not a "
    "stream FFmpeg reads: check the URL, the camera's address and its password)"
)


_LOST = f"lost (no frame within {STREAM_READ_TIMEOUT_MS // 1000} s, or the stream ended)"


class StreamSource:
    """A camera stream (RTSP/HTTP/any FFmpeg URL). Never ends by itself: on a failed open or
    a failed read it waits (see :class:`Backoff`) and reconnects; ``reconnects`` counts the
    attempts, ``failures`` the consecutive failures. ``ts_ms`` is the wall clock at capture.
    ``open_fn`` and ``sleep`` are injectable for tests; ``max_failures`` ends the source
    (``None``: never)."""

    live = True

    def __init__(
        self,
        url: str,
        *,
        lane_id: str,
        camera_id: str = "cam1",
        backoff: Backoff | None = None,
        open_fn: Callable[[str], Capture] = open_capture,
        clock_ms: Callable[[], int] = now_ms,
        max_failures: int | None = None,
    ) -> None:
        self.url = url
        self.name = redact_url(url)  # shown in /v1/lanes and logs: never the camera's password
        self.lane_id, self.camera_id = lane_id, camera_id
        self.backoff = backoff or Backoff()
        self._open = open_fn
        self._clock = clock_ms
        self.max_failures = max_failures
        self.reconnects = 0
        self.failures = 0
        self.last_failure: str | None = None
        self.connected = False
        self._stop = threading.Event()

    def _wait(self, what: str) -> bool:
        """Back off after a failure (``what`` happened: it did not open, or it was lost); False
        when the source was closed meanwhile or gave up."""
        self.failures += 1
        self.last_failure = what
        if self.max_failures is not None and self.failures > self.max_failures:
            log.error("stream %s: giving up after %d consecutive failures", self.name, self.failures - 1)
            return False
        delay = self.backoff.delay(self.failures)
        log.warning("stream %s %s; reconnect %d in %.1f s", self.name, what, self.reconnects + 1, delay)
        return not self._stop.wait(delay)

    def frames(self) -> Iterator[Frame]:
        self._stop.clear()
        index = 0
        first = True
        while not self._stop.is_set():
            if not first:
                self.reconnects += 1
            first = False
            cap = self._open(self.url)
            try:
                if not cap.isOpened():
                    self.connected = False
                    if not self._wait(_NOT_OPENED):
                        return
                    continue
                while not self._stop.is_set():
                    ok, image = cap.read()
                    if not ok or image is None:
                        break
                    if not self.connected:
                        log.info("stream %s: receiving frames", self.name)
                    self.connected = True
                    self.failures = 0
                    yield Frame(self.lane_id, self.camera_id, self._clock(), _bgr(image), index=index)
                    index += 1
            finally:
                cap.release()
            self.connected = False
            if self._stop.is_set() or not self._wait(_LOST):
                return

    def close(self) -> None:
        self._stop.set()


# --- image folder -------------------------------------------------------------------------------


class ImageFolderSource:
    """Images of a folder in name order at a nominal ``fps`` (``ts_ms`` = start + the file's
    position / fps: an unreadable image is skipped, logged and counted in ``skipped``, and
    keeps its time slot, so the frames after it are not timed early)."""

    live = False

    def __init__(
        self,
        folder: str | Path,
        *,
        lane_id: str,
        camera_id: str = "cam1",
        fps: float = 25.0,
        start_ts_ms: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"not a folder: {self.folder}")
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folder}")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.name = str(self.folder)
        self.lane_id, self.camera_id = lane_id, camera_id
        self.fps = fps
        self.start_ts_ms = start_ts_ms
        self.skipped = 0
        self._stop = threading.Event()

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    def frames(self) -> Iterator[Frame]:
        self._stop.clear()
        start = self.start_ts_ms if self.start_ts_ms is not None else now_ms()
        index = 0
        for position, path in enumerate(self.paths):
            if self._stop.is_set():
                return
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                log.warning("skipping unreadable image %s", path)
                continue
            yield Frame(
                self.lane_id, self.camera_id, start + round(position * 1000.0 / self.fps), _bgr(image), index
            )
            index += 1

    def close(self) -> None:
        self._stop.set()


# --- frames pushed over HTTP --------------------------------------------------------------------


class FrameSink(Protocol):
    """What the service's ``POST /v1/lanes/{lane}/frames`` handler hands decoded frames to
    (the same shape as ``api.events.FrameSink``): ``submit`` never blocks; it returns False
    when the lane was behind and its oldest queued frame was dropped to take this one, and
    raises :class:`FrameRefused` for a frame it does not take at all."""

    def submit(self, frame: Frame) -> bool: ...


CLOCK_STEP_MS = 2000
"""A pushed frame this much older than the one before it means the camera's clock stepped back
(:meth:`PushedFrames.frames`); less is a frame that arrived out of order."""

CLOCK_AHEAD_MS = 1000
"""A pushed frame timed this much after its own arrival means the camera's clock is ahead (it
stepped forward again after a step back): a capture cannot follow its arrival."""


class PushedFrames:
    """A live source fed by :meth:`submit` (one lane, or one camera of a lane when ``camera_id``
    is given: a lane with a front and a rear camera has one source per camera).

    Holds at most ``max_queue`` frames; when full the oldest is dropped and counted in
    ``dropped``. Frames whose ``ts_ms`` is not after the previous one's get the previous one
    plus 1 ms (tracking needs increasing times). The camera's clock is trusted only while it
    agrees with the arrival times (``clock_ms`` at :meth:`submit`): a frame more than
    :data:`CLOCK_STEP_MS` behind the last one, or more than :data:`CLOCK_AHEAD_MS` ahead of its
    own arrival, means the camera's clock stepped (NTP, a reboot); its times are then re-based
    on the arrival time, so they keep their spacing and stay with the service's clock (and with
    the lane's other cameras). ``index`` counts delivered frames.
    """

    live = True

    def __init__(
        self,
        lane_id: str,
        *,
        camera_id: str | None = None,
        max_queue: int = 8,
        poll_s: float = 0.2,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.lane_id = lane_id
        self.camera_id = camera_id
        self.name = f"push:{lane_id}" + (f"/{camera_id}" if camera_id else "")
        self.max_queue = max_queue
        self._queue: deque[tuple[Frame, int]] = deque()  # each with its arrival (ms)
        self._cond = threading.Condition()
        self._closed = False
        self._poll_s = poll_s
        self._clock = clock_ms
        self.received = 0
        self.dropped = 0

    def submit(self, frame: Frame) -> bool:
        """Queue one frame; never blocks. False when the oldest queued frame was dropped for it;
        raises :class:`LaneDown` once the source is closed (its lane stopped or failed)."""
        if frame.lane_id != self.lane_id:
            raise ValueError(f"frame of lane {frame.lane_id!r} pushed to lane {self.lane_id!r}")
        if self.camera_id is not None and frame.camera_id != self.camera_id:
            raise ValueError(f"frame of camera {frame.camera_id!r} pushed to camera {self.camera_id!r}")
        with self._cond:
            if self._closed:
                raise LaneDown(
                    f"lane {self.lane_id!r}{f' camera {self.camera_id!r}' if self.camera_id else ''} is not "
                    f"running (stopped or failed: GET /v1/lanes/{self.lane_id} says why): frame not taken"
                )
            self.received += 1
            full = len(self._queue) >= self.max_queue
            if full:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((frame, self._clock()))
            self._cond.notify()
            return not full

    def frames(self) -> Iterator[Frame]:
        index = 0
        last_ts = -1
        shift = 0  # added to the camera's times since its clock last stepped
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait(self._poll_s)
                if self._closed:
                    return
                frame, arrived = self._queue.popleft()
            ts = frame.ts_ms + shift
            if last_ts - ts > CLOCK_STEP_MS or ts - arrived > CLOCK_AHEAD_MS:
                # the camera's clock stepped (back: NTP, a reboot; or forward again after a step
                # back): its times are re-based on the arrival, not squeezed 1 ms apart after the
                # last frame (the lane's clock would stand still, and no lorry would ever leave)
                if shift == 0 or abs(arrived - frame.ts_ms - shift) > CLOCK_STEP_MS:
                    log.warning(
                        "lane %s: the camera's clock is %.1f s off the arrival times; its frames are timed "
                        "by their arrival from here",
                        self.lane_id,
                        (frame.ts_ms - arrived) / 1000,
                    )
                shift = arrived - frame.ts_ms
                ts = arrived
            ts = max(ts, last_ts + 1)
            last_ts = ts
            yield Frame(frame.lane_id, frame.camera_id, ts, frame.image, index=index)
            index += 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class FrameRefused(Exception):
    """A pushed frame a frame sink does not take at all, ``reason`` saying why (a lane that runs
    another source, a camera the lane does not have): nothing is queued or dropped, and the
    camera is told (``POST /v1/lanes/{lane}/frames`` answers 409 with the reason)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LaneDown(FrameRefused):
    """A pushed frame for a lane whose pipeline is no longer running (it stopped or failed):
    ``POST /v1/lanes/{lane}/frames`` answers 503 with the reason, not "queued"."""


class PushedFrameRouter:
    """A :class:`FrameSink` over several lanes' :class:`PushedFrames`: the service's frame sink.

    A frame goes to its lane's source for its camera, else to its lane's source for every
    camera. A frame for a lane without a source goes to ``on_new_lane(lane_id)``, which may
    return a new :class:`PushedFrames` for it (a pipeline is started for the lane), or refuse
    with :class:`FrameRefused` (its reason) or ``None``. A refused frame, and one of a
    two-camera lane from a camera that is neither of its two, makes ``submit`` raise
    :class:`FrameRefused`; ``refused`` counts them.
    """

    def __init__(self, on_new_lane: Callable[[str], PushedFrames | None] | None = None) -> None:
        self._lanes: dict[tuple[str, str | None], PushedFrames] = {}
        self._lock = threading.Lock()
        self._on_new_lane = on_new_lane
        self.refused = 0

    def add(self, source: PushedFrames) -> None:
        with self._lock:
            key = (source.lane_id, source.camera_id)
            if key in self._lanes or (source.lane_id, None) in self._lanes:
                raise ValueError(f"lane {source.lane_id!r} already has a pushed-frames source")
            if source.camera_id is None and any(lane == source.lane_id for lane, _ in self._lanes):
                raise ValueError(f"lane {source.lane_id!r} already has per-camera pushed-frames sources")
            self._lanes[key] = source

    def lanes(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted({lane for lane, _ in self._lanes}))

    def submit(self, frame: Frame) -> bool:
        """Queue ``frame`` on its lane's source: False when the lane was behind and its oldest
        frame was dropped; raises :class:`FrameRefused` when no source takes it."""
        with self._lock:
            source = self._lanes.get((frame.lane_id, frame.camera_id)) or self._lanes.get(
                (frame.lane_id, None)
            )
            cameras = sorted(str(c) for lane, c in self._lanes if lane == frame.lane_id)
            reason = f"lane {frame.lane_id!r} takes no pushed frames"
            if source is None and cameras:
                reason = (
                    f"lane {frame.lane_id!r} takes pushed frames from cameras {', '.join(cameras)} only, not "
                    f"{frame.camera_id!r}: send X-Camera-Id: {' or '.join(cameras)}"
                )
            elif source is None and self._on_new_lane is not None:
                try:
                    source = self._on_new_lane(frame.lane_id)
                except FrameRefused as exc:
                    reason = exc.reason
                if source is not None:
                    self._lanes[(frame.lane_id, None)] = source
            if source is None:
                self.refused += 1
                raise FrameRefused(reason)
        return source.submit(frame)


# --- choosing a source --------------------------------------------------------------------------

_URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def probe_source(spec: str | Path, *, lane_id: str = "probe") -> tuple[bool, str]:
    """Whether ``spec`` (a lane's ``source``) gives a frame now, and what was found: its size and,
    for a file, frame count and rate; or why not (``hgv-lane doctor``, for an installer). A stream
    is opened once, waiting at most :data:`STREAM_OPEN_TIMEOUT_MS` and
    :data:`STREAM_READ_TIMEOUT_MS`, without the lane's retries."""
    try:
        source = open_source(spec, lane_id=lane_id)
    except SourceError as e:
        return False, str(e)
    if isinstance(source, StreamSource):
        cap = open_capture(source.url)
        try:
            if not cap.isOpened():
                return False, f"{source.name} {_NOT_OPENED}"
            ok, image = cap.read()
        finally:
            cap.release()
        if not ok or image is None:
            return False, f"{source.name} opened but sent no frame within {STREAM_READ_TIMEOUT_MS // 1000} s"
        return True, f"stream {source.name}: {image.shape[1]}x{image.shape[0]} frames"
    try:
        frame = next(iter(source.frames()), None)
    except SourceError as e:
        return False, str(e)
    finally:
        source.close()
    if frame is None:
        return False, f"{source.name}: no frame could be read"
    size = f"{frame.width_px}x{frame.height_px}"
    if isinstance(source, VideoFileSource):
        return True, f"video {source.name}: {size}, {source.frame_count} frames at {source.fps:g} fps"
    return True, f"image folder {source.name}: {size} (first image)"


def open_source(
    spec: str | Path,
    *,
    lane_id: str,
    camera_id: str = "cam1",
    start_ts_ms: int | None = None,
    fps: float | None = None,
    realtime: bool = False,
    loop: bool = False,
) -> VideoFileSource | StreamSource | ImageFolderSource:
    """The source ``spec`` names: a URL (``rtsp://``, ``http(s)://``, ...), a folder of images,
    or a video file. Raises :class:`SourceError` when a file or folder does not exist."""
    text = str(spec)
    if text.lower().startswith(_URL_SCHEMES):
        return StreamSource(text, lane_id=lane_id, camera_id=camera_id)
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:  # rstp://... is a typo, not a file of that name
        known = ", ".join(s.removesuffix("://") for s in _URL_SCHEMES)
        raise SourceError(f"{redact_url(text)}: unknown URL scheme {scheme.group(1)!r} (known: {known})")
    path = Path(text)
    if path.is_dir():
        return ImageFolderSource(
            path, lane_id=lane_id, camera_id=camera_id, fps=fps or 25.0, start_ts_ms=start_ts_ms
        )
    return VideoFileSource(
        path,
        lane_id=lane_id,
        camera_id=camera_id,
        start_ts_ms=start_ts_ms,
        realtime=realtime,
        loop=loop,
        fps=fps,
    )
