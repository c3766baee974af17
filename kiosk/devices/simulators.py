"""Simulated devices for `sim://` addresses, and the hands that work them in the demo.

`start_simulators` starts one simulator per device whose address is `sim://`; each speaks the
real wire protocol (a pty or socket), so the drivers run unchanged against them. `DemoHands` is
the small API the demo tooling in `kiosk/ui` calls to stand in for a resident (place a card,
scan a voucher, take the paper out): the UI never imports a simulator itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config import SIMULATED, Config

log = logging.getLogger(__name__)

DEMO_VOUCHER = "YBPZ-DEMO-11010519491231002X"  # the hub's demo resolver knows this one


@dataclass
class Simulators:
    """Simulated devices started for `sim://` addresses; each speaks the real wire protocol."""

    idcard: Any = None
    printer: Any = None
    qrscan: Any = None
    sscard: Any = None
    urls: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for sim in (self.idcard, self.printer, self.qrscan, self.sscard):
            if sim is not None:
                try:
                    sim.stop()
                except Exception:
                    log.exception("stopping simulator failed")


def start_simulators(config: Config, kinds: tuple[str, ...] = ("idcard", "printer", "qrscan")) -> Simulators:
    sims = Simulators()
    devices = config.devices
    if "idcard" in kinds and devices.idcard.enabled and devices.idcard.port == SIMULATED:
        from drivers.idcard.simulator import start_simulated_reader

        sims.urls["idcard"], sims.idcard = start_simulated_reader(config.resolve(devices.idcard.sim_profile))
        sims.idcard.remove()  # the reader starts empty: a resident places the card
    if "printer" in kinds and devices.printer.enabled and devices.printer.url == SIMULATED:
        from drivers.printer.simulator import start_simulated_printer

        sims.urls["printer"], sims.printer = start_simulated_printer()
    if "qrscan" in kinds and devices.qrscan.enabled and devices.qrscan.port == SIMULATED:
        from drivers.qrscan.simulator import QrScannerSimulator

        sims.qrscan = QrScannerSimulator()
        sims.urls["qrscan"] = sims.qrscan.start_pty()
    return sims


class DemoHands:
    """What a resident (or a tester) does at a simulated kiosk. `sscard` is the social-security
    card emulator behind pcscd when the demo started one (it is not a `sim://` device)."""

    def __init__(self, sims: Simulators, config: Config, sscard: Any = None) -> None:
        self.sims, self.config, self.sscard = sims, config, sscard

    # -- ID card ---------------------------------------------------------------------------------
    def place_idcard(self, profile_path: str | Path | None = None) -> None:
        """Place a card on the reader: `profile_path` (a card JSON under assets/cards/idcard), or the
        configured simulator profile."""
        from drivers.idcard.simulator import load_profile

        path = profile_path if profile_path is not None else self.config.devices.idcard.sim_profile
        self.sims.idcard.insert(load_profile(self.config.resolve(str(path))))

    def remove_idcard(self) -> None:
        self.sims.idcard.remove()

    # -- QR voucher ------------------------------------------------------------------------------
    @property
    def has_scanner(self) -> bool:
        return self.sims.qrscan is not None

    def scan_voucher(self, code: str = DEMO_VOUCHER) -> None:
        if self.sims.qrscan is not None:
            self.sims.qrscan.scan(code)

    # -- ticket printer --------------------------------------------------------------------------
    def set_paper_out(self, out: bool) -> None:
        if self.sims.printer is not None:
            self.sims.printer.paper = "out" if out else "ok"

    # -- social-security card --------------------------------------------------------------------
    @property
    def has_sscard(self) -> bool:
        return self.sscard is not None

    @property
    def sscard_inserted(self) -> bool:
        return bool(self.sscard is not None and self.sscard.inserted)

    def insert_sscard(self) -> None:
        if self.sscard is not None:
            self.sscard.insert()

    def remove_sscard(self) -> None:
        if self.sscard is not None:
            self.sscard.remove()
