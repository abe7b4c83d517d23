"""Committed demo data (``default/``), produced by ``dispatch seed generate`` with its defaults."""

from pathlib import Path

DEFAULT_DIR = Path(__file__).parent / "default"
