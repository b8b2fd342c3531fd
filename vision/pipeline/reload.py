"""Swapping a promoted model into running lanes without a restart.

Each model the lanes share sits in a :class:`ModelSlot`; the lanes read ``slot.model`` on
every call, so replacing it (one attribute assignment, atomic in Python) takes effect at the
next frame. A :class:`ModelWatcher` thread asks the :class:`vision.registry.ModelRegistry`
every ``poll_s`` seconds which version of each role is in use; when that changes it loads
the new file *beside* the old model, and only a model that loaded swaps in. A version that
fails to load is logged and recorded once, and the lanes go on with the model they had.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from vision.registry import ModelRegistry

log = logging.getLogger(__name__)

M = TypeVar("M")


class ModelSlot(Generic[M]):
    """The model currently in use for one role, with its registry version."""

    def __init__(self, model: M, version: str = "shipped", path: Path | None = None) -> None:
        self.model = model
        self.version = version
        self.path = path
        self.loaded_at = time.time()

    def swap(self, model: M, version: str, path: Path) -> None:
        """Put ``model`` in use (the next call through this slot uses it)."""
        self.model, self.version, self.path, self.loaded_at = model, version, path, time.time()


@dataclass(frozen=True, slots=True)
class InUse:
    """What a role runs: registry version, file, when it was loaded (Unix seconds) and the
    last reload error (empty when the last attempt succeeded)."""

    role: str
    version: str
    path: str
    loaded_at: float
    error: str = ""


@dataclass
class _Watched(Generic[M]):
    slot: ModelSlot[M]
    load: Callable[[Path], M]
    failed_version: str = ""
    error: str = ""


class ModelWatcher:
    """Polls ``registry`` and swaps newly promoted versions into the watched slots."""

    def __init__(self, registry: ModelRegistry, poll_s: float = 5.0) -> None:
        self.registry = registry
        self.poll_s = poll_s
        self._watched: dict[str, _Watched[object]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0

    def watch(self, role: str, slot: ModelSlot[M], load: Callable[[Path], M]) -> None:
        """Keep ``slot`` on ``role``'s version in use; ``load`` builds a model from an ONNX file
        (and raises on a bad one)."""
        self._watched[role] = _Watched(slot, load)  # type: ignore[arg-type]

    def check(self) -> list[str]:
        """One poll: reload every role whose version in use changed. Returns the roles swapped."""
        swapped = []
        for role, w in self._watched.items():
            try:
                current = self.registry.current(role)
            except Exception as e:  # a broken current.json must not stop the lanes
                w.error = f"registry: {e}"
                log.error("model registry for %s unreadable: %s", role, e)
                continue
            if current.version == w.slot.version or current.version == w.failed_version:
                continue
            try:
                model = w.load(current.onnx)
            except Exception as e:
                w.failed_version, w.error = current.version, f"{current.version}: {e}"
                log.error("%s %s did not load, lanes keep %s: %s", role, current.version, w.slot.version, e)
                continue
            log.info("%s: %s -> %s (%s)", role, w.slot.version, current.version, current.onnx)
            w.slot.swap(model, current.version, current.onnx)
            w.failed_version, w.error = "", ""
            self.reloads += 1
            swapped.append(role)
        return swapped

    def in_use(self) -> list[InUse]:
        """The version each watched role runs, for health pages."""
        return [
            InUse(role, w.slot.version, str(w.slot.path or ""), w.slot.loaded_at, w.error)
            for role, w in self._watched.items()
        ]

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling (returns once the thread has ended)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
