"""Shared fixtures: Qt offscreen, a private data dir per test, a config pointing at it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")  # as the kiosk runs (kiosk.ui.shell)
os.environ.setdefault("QT_VIRTUALKEYBOARD_DESKTOP_DISABLE", "1")
os.environ.setdefault("QT_QUICK_BACKEND", "software")
os.environ.pop("KIOSK_HUB_URL", None)
os.environ.pop("KIOSK_HUB_TOKEN", None)

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("KIOSK_DATA_DIR", str(path))
    return path


@pytest.fixture
def config(data_dir: Path):
    from kiosk.config import load_config

    return load_config(PROJECT / "config.toml")
