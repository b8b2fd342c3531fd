"""Event sinks on the vision side: a JSONL file for batch runs (evidence crops as JPEG files
beside it), a list for tests, a fan-out and a callback. The store sink lives in
``api/sinks.py`` (vision never imports api); :mod:`vision.pipeline.spool` keeps a store's
passages when the store is away.

JSON form of a passage (one line each): the :class:`vision.types.Passage` fields, the body
as ``{"body_type", "side", "confidence", "n_looks"}``, plates with their candidates, and
crops as paths relative to the JSONL file (``null`` when none).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

log = logging.getLogger(__name__)


def worth_logging(n: int) -> bool:
    """Whether the ``n``-th of a repeated event is logged: the 1st, 10th, 100th and every
    1000th (a log that says how often without a line each time)."""
    return n in (1, 10, 100) or n % 1000 == 0


def short_error(e: BaseException, limit: int = 200) -> str:
    """``Type: first line`` of ``e``, at most ``limit`` characters (for health and logs shown to
    operators: a database error's SQL and parameters stay out)."""
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    out = f"{type(e).__name__}: {first}" if first else type(e).__name__
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _candidate_json(c: PlateCandidate) -> dict[str, Any]:
    return {
        "text": c.text,
        "confidence": round(c.confidence, 4),
        "char_confidences": [round(x, 4) for x in c.char_confidences],
        "country": c.country,
        "format_name": c.format_name,
    }


def _opt_int(x: Any) -> int | None:
    """``x`` as an int, ``None`` for ``None`` (a field written as null, or by an older writer)."""
    return None if x is None else int(x)


def passage_to_json(passage: Passage, crop_paths: dict[str, str | None] | None = None) -> dict[str, Any]:
    """A JSON-ready dict of ``passage``; ``crop_paths`` maps ``"body"`` and ``"plate-<i>"`` to
    where the crops were written (crops themselves are not inlined)."""
    paths = crop_paths or {}
    return {
        "passage_id": passage.passage_id,
        "lane_id": passage.lane_id,
        "first_seen_ts_ms": passage.first_seen_ts_ms,
        "last_seen_ts_ms": passage.last_seen_ts_ms,
        "direction": passage.direction,
        "camera_ids": list(passage.camera_ids),
        "read_quality": passage.read_quality,
        "body": {
            "body_type": passage.body.body_type.value,
            "side": passage.body.side.value,
            "confidence": round(passage.body.confidence, 4),
            "soft_probability": round(passage.body.soft_probability, 4),
            "n_looks": passage.body.n_looks,
            "probabilities": {t.value: round(p, 4) for t, p in passage.body.probabilities},
        },
        "body_crop": paths.get("body"),
        "plates": [
            {
                "role": p.role.value,
                "text": p.text,
                "confidence": round(p.confidence, 4),
                "status": p.status.value,
                "country": p.country,
                "format_valid": p.format_valid,
                "n_looks": p.n_looks,
                "first_seen_ts_ms": p.first_seen_ts_ms,
                "last_seen_ts_ms": p.last_seen_ts_ms,
                "candidates": [_candidate_json(c) for c in p.candidates],
                "crop": paths.get(f"plate-{i}"),
            }
            for i, p in enumerate(passage.plates)
        ],
    }


def passage_from_json(d: dict[str, Any], base_dir: Path | None = None) -> Passage:
    """The passage back from :func:`passage_to_json`; crops are read from files relative to
    ``base_dir`` (left empty when ``base_dir`` is ``None``)."""

    def read(rel: str | None) -> bytes:
        return (base_dir / rel).read_bytes() if rel and base_dir is not None else b""

    body = d["body"]
    return Passage(
        passage_id=d["passage_id"],
        lane_id=d["lane_id"],
        first_seen_ts_ms=int(d["first_seen_ts_ms"]),
        last_seen_ts_ms=int(d["last_seen_ts_ms"]),
        plates=tuple(
            PassagePlate(
                role=PlateRole(p["role"]),
                text=p["text"],
                confidence=float(p["confidence"]),
                status=ReadStatus(p["status"]),
                candidates=tuple(
                    PlateCandidate(
                        c["text"],
                        float(c["confidence"]),
                        tuple(float(x) for x in c["char_confidences"]),
                        c["country"],
                        c["format_name"],
                    )
                    for c in p["candidates"]
                ),
                country=p["country"],
                format_valid=bool(p["format_valid"]),
                n_looks=int(p["n_looks"]),
                crop_jpeg=read(p.get("crop")),
                first_seen_ts_ms=_opt_int(p.get("first_seen_ts_ms")),
                last_seen_ts_ms=_opt_int(p.get("last_seen_ts_ms")),
            )
            for p in d["plates"]
        ),
        body=TrailerVerdict(
            BodyType(body["body_type"]),
            float(body["confidence"]),
            int(body["n_looks"]),
            tuple((BodyType(t), float(p)) for t, p in body.get("probabilities", {}).items()),
        ),
        direction=d["direction"],
        body_crop_jpeg=read(d.get("body_crop")),
        camera_ids=tuple(d["camera_ids"]),
    )


class JsonlSink:
    """Appends one JSON line per passage to ``path``; crops go to ``crops_dir`` (default
    ``<path's folder>/crops``) as ``<passage_id>/body.jpg`` and ``plate-<i>-<role>.jpg``.
    Thread-safe; each line is flushed as it is written."""

    def __init__(self, path: Path, crops_dir: Path | None = None) -> None:
        self.path = path
        self.crops_dir = crops_dir if crops_dir is not None else path.parent / "crops"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("a", encoding="utf-8")
        if self._f.tell() and not path.read_bytes().endswith(b"\n"):  # a line left cut short
            self._f.write("\n")  # stays a bad line of its own; the next one is whole
        self._lock = threading.Lock()
        self.count = 0

    def _write(self, folder: Path, name: str, data: bytes) -> str | None:
        if not data:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(data)
        return (
            target.relative_to(self.path.parent).as_posix()
            if target.is_relative_to(self.path.parent)
            else str(target)
        )

    @staticmethod
    def crop_folder_in(path: Path, passage_id: str) -> Path:
        """Where a sink on ``path`` with the default crops folder writes ``passage_id``'s crops."""
        return path.parent / "crops" / _SAFE.sub("_", passage_id)

    def emit(self, passage: Passage) -> None:
        folder = self.crops_dir / _SAFE.sub("_", passage.passage_id)
        paths: dict[str, str | None] = {"body": self._write(folder, "body.jpg", passage.body_crop_jpeg)}
        for i, p in enumerate(passage.plates):
            paths[f"plate-{i}"] = self._write(folder, f"plate-{i}-{p.role.value}.jpg", p.crop_jpeg)
        line = json.dumps(passage_to_json(passage, paths), ensure_ascii=False)
        with self._lock:
            self._f.write(line + "\n")
            self._f.flush()
            self.count += 1

    def close(self) -> None:
        """Close the file; a failure to write its last bytes (a full disk) is logged, not raised:
        the lines already written stay."""
        with self._lock:
            try:
                self._f.close()
            except OSError as e:
                log.error("%s: could not close: %s", self.path, e)


def read_passages(path: Path) -> list[Passage]:
    """Every passage of a JSONL file written by :class:`JsonlSink`, with their crops. A last
    line cut short (the writer stopped mid-line: a crash, a full disk) is skipped with a warning;
    a bad line anywhere else raises ``ValueError`` naming it."""
    with path.open(encoding="utf-8") as f:
        lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    out: list[Passage] = []
    for k, (i, line) in enumerate(lines):
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            if k == len(lines) - 1 and not line.endswith("\n"):
                log.warning("%s: line %d is cut short (the writer stopped mid-line): skipped", path, i)
                break
            raise ValueError(f"{path}: line {i} is not JSON: {e}") from e
        out.append(passage_from_json(d, path.parent))
    return out


class ListSink:
    """Keeps passages in a list (tests, benchmarks)."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self._lock = threading.Lock()

    def emit(self, passage: Passage) -> None:
        with self._lock:
            self.passages.append(passage)

    def close(self) -> None:
        pass


class CallbackSink:
    """Calls ``fn(passage)`` for each passage."""

    def __init__(self, fn: Callable[[Passage], None]) -> None:
        self.fn = fn

    def emit(self, passage: Passage) -> None:
        self.fn(passage)

    def close(self) -> None:
        pass


class FanoutSink:
    """Hands each passage to every sink in order; a sink that raises does not keep the passage
    from the others (the first error is raised after all were tried)."""

    def __init__(self, sinks: Iterable[Any]) -> None:
        self.sinks = list(sinks)

    def emit(self, passage: Passage) -> None:
        first: Exception | None = None
        for s in self.sinks:
            try:
                s.emit(passage)
            except Exception as e:
                first = first or e
        if first is not None:
            raise first

    def close(self) -> None:
        for s in self.sinks:
            s.close()
