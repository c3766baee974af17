"""Keyboard controls for the windowed demo: the simulators stand in for a resident's hands."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence, QShortcut

from kiosk.ui.shell import KioskShell

HELP = "F2 放置/移开身份证 · F3 扫医保电子凭证 · F4 打印机缺纸/恢复 · F5 插入/拔出社保卡"


def install_demo_controls(shell: KioskShell, sscard=None) -> None:
    from drivers.idcard.simulator import load_profile

    sims, window = shell.runtime.sims, shell.window
    profile = load_profile(shell.config.resolve(shell.config.devices.idcard.sim_profile))
    state = {"card": False, "paper_out": False}

    def toggle_card() -> None:
        state["card"] = not state["card"]
        sims.idcard.insert(profile) if state["card"] else sims.idcard.remove()

    def scan_voucher() -> None:
        if sims.qrscan is not None:
            sims.qrscan.scan("YBPZ-DEMO-11010519491231002X")  # the hub's demo resolver knows this one

    def toggle_paper() -> None:
        state["paper_out"] = not state["paper_out"]
        sims.printer.paper = "out" if state["paper_out"] else "ok"

    def toggle_sscard() -> None:
        if sscard is not None:
            sscard.remove() if sscard.inserted else sscard.insert()

    for key, action in (("F2", toggle_card), ("F3", scan_voucher), ("F4", toggle_paper), ("F5", toggle_sscard)):
        QShortcut(QKeySequence(key), window).activated.connect(action)
    window.setWindowTitle(f"医保自助 Kiosk — demo — {HELP}")
    print(HELP)
