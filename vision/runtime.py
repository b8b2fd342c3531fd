"""The one ONNX Runtime session wrapper every model goes through.

It chooses execution providers (``auto`` picks CUDA when the installed ONNX Runtime
offers it), reads input/output names, class names, input size and task from the
model's metadata (the keys ultralytics writes on export: ``names``, ``imgsz``,
``task``), warms up once, and logs what it runs on. A missing, truncated or non-ONNX
file raises :class:`ModelLoadError` naming the file: a model that fails to load is an
error, never "nothing found".
"""

from __future__ import annotations

import ast
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

log = logging.getLogger(__name__)

Providers = Literal["auto", "cpu", "cuda"]

SPIN_KEY = "session.intra_op.allow_spinning"
"""ONNX Runtime's session option: whether its pool threads spin-wait for work after a run.

Off for every model here unless asked (``OnnxModel(spin=True)``). ORT spins by default, which
suits one model on idle cores; a lane runs four sessions (vehicle and plate detector, reader,
classifier) and a frame decoder on 2 cores, and each session's spinning threads took the cores
from the next one's run: ``hgv-lane bench pipeline`` gave 21.6 fps spinning and 36.9 without
(same machine, back to back); one model alone is as fast either way (``bench/bench_models.py``).
"""

_ORT_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable, not ONNX, or lacks required metadata."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a loaded model says about itself.

    ``input_shape`` is the model's declared input shape with dynamic axes as ``None``
    (e.g. ``(1, 3, 320, 320)`` NCHW). ``imgsz`` is ``(height_px, width_px)`` of the
    input image, from metadata or the static input shape.
    """

    path: Path
    sha256: str
    input_name: str
    input_shape: tuple[int | None, ...]
    input_dtype: str
    output_names: tuple[str, ...]
    class_names: tuple[str, ...]
    imgsz: tuple[int, int] | None
    task: str | None
    providers: tuple[str, ...]
    metadata: Mapping[str, str]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_providers(providers: Providers) -> list[str]:
    """ONNX Runtime provider names for a choice of ``auto``, ``cpu`` or ``cuda``."""
    available = ort.get_available_providers()
    if providers == "cpu":
        return ["CPUExecutionProvider"]
    if providers == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelLoadError(f"providers='cuda' asked for, but this ONNX Runtime offers only {available}")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if providers == "auto":
        chosen = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
        return [*chosen, "CPUExecutionProvider"]
    raise ValueError(f"unknown providers choice {providers!r}: use auto, cpu or cuda")


def parse_class_names(raw: str | None) -> tuple[str, ...]:
    """Class names from metadata: a Python/JSON dict ``{0: 'plate', ...}`` or a list."""
    if not raw:
        return ()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as e:
        raise ModelLoadError(f"metadata 'names' is not a dict or list: {raw[:80]!r}") from e
    if isinstance(value, dict):
        return tuple(str(value[k]) for k in sorted(value, key=int))
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ModelLoadError(f"metadata 'names' is not a dict or list: {raw[:80]!r}")


def _parse_imgsz(raw: str | None, shape: tuple[int | None, ...]) -> tuple[int, int] | None:
    if raw:
        value = ast.literal_eval(raw)
        if isinstance(value, int):
            return (value, value)
        if isinstance(value, list | tuple) and len(value) == 2:
            return (int(value[0]), int(value[1]))
    if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
        return (shape[2], shape[3])
    return None


class OnnxModel:
    """An ONNX Runtime inference session with the model's own metadata.

    ``run`` takes the input tensor (for vision models ``(N, 3, H, W)`` float32 in
    [0, 1], RGB, unless the model card says otherwise) and returns the outputs in the
    model's order. ``spin``: let ONNX Runtime's threads spin-wait between runs (see
    :data:`SPIN_KEY`; off by default).
    """

    def __init__(
        self,
        path: str | Path,
        providers: Providers = "auto",
        *,
        warmup: bool = True,
        intra_op_threads: int | None = None,
        spin: bool = False,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"model file not found: {self.path}")
        if self.path.stat().st_size == 0:
            raise ModelLoadError(f"model file is empty: {self.path}")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if not spin:
            options.add_session_config_entry(SPIN_KEY, "0")
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        chosen = resolve_providers(providers)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=chosen)
        except Exception as e:  # ORT raises its own untyped errors (InvalidProtobuf, Fail, ...)
            raise ModelLoadError(
                f"cannot load {self.path} as an ONNX model (truncated or not ONNX?): {e}"
            ) from e
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(f"{self.path}: expected one input, found {len(inputs)}")
        inp = inputs[0]
        shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info = ModelInfo(
            path=self.path,
            sha256=file_sha256(self.path),
            input_name=inp.name,
            input_shape=shape,
            input_dtype=inp.type,
            output_names=tuple(o.name for o in self.session.get_outputs()),
            class_names=parse_class_names(meta.get("names")),
            imgsz=_parse_imgsz(meta.get("imgsz"), shape),
            task=meta.get("task"),
            providers=tuple(self.session.get_providers()),
            metadata=meta,
        )
        log.info(
            "loaded %s (task=%s, input %s %s, classes=%d) on %s",
            self.path.name,
            self.info.task,
            self.info.input_name,
            self.info.input_shape,
            len(self.info.class_names),
            ",".join(self.info.providers),
        )
        self.warmup_ms: float | None = None
        self._sample_shapes: tuple[tuple[int, ...], ...] | None = None
        if warmup:
            self.warmup_ms = self._warmup()

    def sample_input(self) -> npt.NDArray[np.generic]:
        """A zero tensor of the model's input shape (dynamic axes: batch 1, else ``imgsz``)."""
        dims: list[int] = []
        for i, d in enumerate(self.info.input_shape):
            if d is not None:
                dims.append(d)
            elif i in (2, 3) and self.info.imgsz is not None:
                dims.append(self.info.imgsz[i - 2])
            else:
                dims.append(1)
        dtype = _ORT_DTYPES.get(self.info.input_dtype)
        if dtype is None:
            raise ModelLoadError(f"{self.path}: unsupported input type {self.info.input_dtype}")
        return np.zeros(dims, dtype=dtype)

    def sample_output_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The outputs' shapes on :meth:`sample_input`: the warm-up's, else from one run."""
        if self._sample_shapes is None:
            self._sample_shapes = tuple(tuple(o.shape) for o in self.run(self.sample_input()))
        return self._sample_shapes

    def _warmup(self) -> float:
        t0 = time.perf_counter()
        self._sample_shapes = tuple(tuple(o.shape) for o in self.run(self.sample_input()))
        ms = (time.perf_counter() - t0) * 1000.0
        log.debug("warm-up of %s took %.1f ms", self.path.name, ms)
        return ms

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run the model on one input tensor; returns every output, in the model's order."""
        outputs = self.session.run(None, {self.info.input_name: tensor})
        return [np.asarray(o) for o in outputs]
