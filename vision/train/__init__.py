"""Training and export of the project's models (torch and ultralytics are imported lazily)."""

from pathlib import Path

CFG_DIR = Path(__file__).resolve().parent / "cfg"
"""Model definitions (``.yaml``) of the project's own small YOLO variants."""
