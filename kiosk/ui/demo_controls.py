"""Keyboard controls for the windowed demo: the simulators stand in for a resident's hands
(`kiosk.devices.simulators.DemoHands`; the UI never touches a simulator itself)."""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

HELP = "F2 放置/移开身份证 · F3 扫医保电子凭证 · F4 打印机缺纸/恢复 · F5 插入/拔出社保卡"


def install_demo_controls(window: QWidget, hands: Any) -> None:
    """`hands`: a `DemoHands` (place/remove the ID card, scan a voucher, paper out, sscard)."""
    state = {"card": False, "paper_out": False}

    def toggle_card() -> None:
        state["card"] = not state["card"]
        hands.place_idcard() if state["card"] else hands.remove_idcard()

    def toggle_paper() -> None:
        state["paper_out"] = not state["paper_out"]
        hands.set_paper_out(state["paper_out"])

    def toggle_sscard() -> None:
        hands.remove_sscard() if hands.sscard_inserted else hands.insert_sscard()

    for key, action in (("F2", toggle_card), ("F3", hands.scan_voucher), ("F4", toggle_paper), ("F5", toggle_sscard)):
        QShortcut(QKeySequence(key), window).activated.connect(action)
    window.setWindowTitle(f"医保自助 Kiosk — demo — {HELP}")
    print(HELP)
