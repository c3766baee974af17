"""The device sources of a station: driver objects that each run on their own device thread.

A source has `run(stop, on_event)` (see `kiosk.devices.threads`); its driver events are
translated into app events (`kiosk.devices.events`) before they reach the GUI.
"""
from __future__ import annotations

from typing import Any

from kiosk.config import Config
from kiosk.devices.simulators import Simulators


def identity_sources(config: Config, sims: Simulators) -> dict[str, Any]:
    """The card readers (each runs on its own device thread): resident kiosk and clerk station."""
    devices = config.devices
    sources: dict[str, Any] = {}
    if devices.idcard.enabled:
        from drivers.idcard.reader import IdCardReader

        url = sims.urls.get("idcard", devices.idcard.port)
        sources["idcard"] = IdCardReader(url, baud=devices.idcard.baud, poll_interval_s=devices.idcard.poll_interval_ms / 1000)
    if devices.sscard.enabled:
        from drivers.sscard.reader import SsCardMonitor

        sources["sscard"] = SsCardMonitor(devices.sscard.reader)
    return sources


def scanner_source(config: Config, sims: Simulators) -> Any:
    """The USB-serial QR scanner (医保电子凭证), or None when disabled. A keyboard-wedge scanner
    needs no source: `kiosk.devices.wedge.KeyboardWedgeFilter` hears it on the GUI thread."""
    section = config.devices.qrscan
    if not section.enabled:
        return None
    from drivers.qrscan.serial_scanner import SerialQrScanner

    return SerialQrScanner(sims.urls.get("qrscan", section.port), section.baud)
