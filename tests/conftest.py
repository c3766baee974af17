"""Shared fixtures: Qt offscreen, a private data dir per test, a config pointing at it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")  # as the kiosk runs (kiosk.stations.qt)
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


@pytest.fixture
def kiosk_shell(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`shell, hub = kiosk_shell(hub=True, sscard=False, **{section: {key: value}})`: the real
    kiosk on its simulators, offscreen, with its own data dir and (optionally) a hub on 127.0.0.1.
    The social-security reader is off unless asked for (it needs pcscd; see pcscd_fixture)."""
    import dataclasses

    from kiosk.config import load_config
    from kiosk.stations.resident import KioskShell

    made = []

    def make(hub: bool = True, sscard: bool = False, **sections: dict):
        from kiosk.hub.server import start_hub_in_thread

        monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
        config = load_config(PROJECT / "config.toml")
        handle = None
        if hub:
            handle = start_hub_in_thread(f"sqlite:///{tmp_path / 'hub.sqlite3'}", {config.hub.token: config.kiosk.id})
            config = dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=handle.url))
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=sscard))
        config = dataclasses.replace(config, devices=devices, **{
            name: dataclasses.replace(getattr(config, name), **values) for name, values in sections.items()})
        shell = KioskShell(config)
        shell.window.resize(1280, 800)
        shell.window.show()
        made.append((shell, handle))
        return shell, handle

    yield make
    for shell, handle in made:
        shell.close()
        if handle is not None:
            handle.stop()
