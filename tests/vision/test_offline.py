"""Offline by construction: with every socket blocked, each shipped model loads and runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from api.settings import PROJECT_ROOT
from vision.shipped import check_all, onnx_files


class NetworkBlocked(RuntimeError):
    pass


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise NetworkBlocked(f"network access attempted: {args[1:]!r}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)


@pytest.mark.usefixtures("no_network")
def test_block_is_effective() -> None:
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("127.0.0.1", 9))


@pytest.mark.slow
@pytest.mark.usefixtures("no_network")
def test_every_shipped_model_loads_and_runs_offline(tmp_path: Path) -> None:
    checks = check_all(PROJECT_ROOT / "models", tmp_path, "cpu")
    failures = [f"{c.name}: {c.error}" for c in checks if not c.ok]
    assert not failures, failures
    assert len(checks) == len(onnx_files(PROJECT_ROOT / "models")) + 2
    by_kind = {c.kind: c for c in checks}
    # both OCR engines really read the sample image, not merely load
    for kind in ("easyocr", "rapidocr"):
        text = by_kind[kind].output.replace(" ", "").upper()
        assert "HGV" in text and "123" in text, (kind, by_kind[kind].output)


@pytest.mark.slow
def test_ultralytics_trains_and_predicts_offline(tmp_path: Path) -> None:
    """In a fresh interpreter (ultralytics reads its settings at import): block sockets,
    configure, build a classifier from its .yaml, train one tiny epoch, predict once."""
    data = tmp_path / "cls"
    code = textwrap.dedent(
        f"""
        import socket, sys
        from pathlib import Path
        import numpy as np, cv2
        def refuse(*a, **k):
            raise RuntimeError("network access attempted")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from vision.offline import configure_ultralytics
        user_dir = configure_ultralytics(Path({str(tmp_path)!r}))
        assert (user_dir / "Arial.ttf").is_file()
        rng = np.random.default_rng(0)
        root = Path({str(data)!r})
        for split in ("train", "val"):
            for cls, colour in (("hard", 40), ("soft", 200)):
                d = root / split / cls
                d.mkdir(parents=True)
                for i in range(4):
                    img = np.clip(rng.normal(colour, 10, (32, 32, 3)), 0, 255).astype(np.uint8)
                    cv2.imwrite(str(d / f"{{i}}.png"), img)
        from ultralytics import YOLO
        from ultralytics.utils import SETTINGS
        assert SETTINGS["sync"] is False
        model = YOLO("yolov8n-cls.yaml")
        model.train(data=str(root), epochs=1, imgsz=32, batch=4, workers=0, device="cpu",
                    project=str(root.parent / "runs"), name="t", plots=False, verbose=False, amp=False)
        res = model.predict(np.zeros((32, 32, 3), np.uint8), imgsz=32, verbose=False)
        assert res[0].probs is not None
        print("OFFLINE-OK", sorted(res[0].names.values()))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "OFFLINE-OK ['hard', 'soft']" in proc.stdout
