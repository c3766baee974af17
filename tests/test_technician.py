"""Technician PIN, lockout, audit log, the hidden gesture, and the technician screen (pytest-qt)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.diagnostics import CheckResult, CheckStatus
from kiosk.services.audit_log import AuditLog
from kiosk.services.diagnostics import OutboxSummary, QuarantinedItem, TestPrintResult
from kiosk.services.technician import (TapSequenceDetector, TechnicianGate, hash_pin, pin_hash_for_config,
                                       verify_pin)
from waiting import settled

FAST = dict(n=2**10)  # tests: cheap scrypt; production uses n=2**14


def test_hash_format_and_verify() -> None:
    h = hash_pin("2468", **FAST)
    kind, salt, digest, n, r, p = h.split("$")
    assert kind == "scrypt" and n == "1024" and r == "8" and p == "1" and salt and digest
    assert verify_pin("2468", h) and not verify_pin("2469", h)
    assert hash_pin("2468", **FAST) != h  # salted
    assert not verify_pin("2468", "scrypt$garbage") and not verify_pin("2468", "")


def test_pin_hash_for_config_validates() -> None:
    assert verify_pin("123456", pin_hash_for_config("123456"))
    for bad in ("12", "abcd", "1234567890123"):
        with pytest.raises(ValueError):
            pin_hash_for_config(bad)


def test_lockout_after_five_failures_and_expiry() -> None:
    now = [0.0]
    gate = TechnicianGate(hash_pin("2468", **FAST), clock=lambda: now[0])
    for _ in range(4):
        assert not gate.try_pin("0000")
    assert not gate.is_locked and gate.attempts_left == 1
    assert not gate.try_pin("0000")
    assert gate.is_locked
    assert not gate.try_pin("2468")  # the right PIN is refused while locked
    now[0] += 299
    assert gate.is_locked
    now[0] += 2
    assert not gate.is_locked and gate.try_pin("2468")


def test_empty_hash_disables_technician_mode() -> None:
    gate = TechnicianGate("")
    assert not gate.enabled and not gate.try_pin("")


def test_tap_sequence() -> None:
    taps = TapSequenceDetector(5, 3.0)
    assert not any(taps.tap(t) for t in (0, 0.5, 1, 1.5))
    assert taps.tap(2.0)
    assert not any(taps.tap(t) for t in (10, 11, 12, 13.5))  # 4 within 3 s
    assert not taps.tap(14.5)  # 10 and 11 fell out of the window
    assert not taps.tap(14.6)
    assert taps.tap(14.7)


def test_audit_log_append_only_and_recent(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", clock=lambda: 0.0)
    log.record("technician", "diag.run_all", "status ok")
    log.record("clerk", "queue.call", "counter 3 id 110105195003070019")
    first = (tmp_path / "audit.log").read_text(encoding="utf-8")
    log.record("technician", "technician.exit")
    assert (tmp_path / "audit.log").read_text(encoding="utf-8").startswith(first)
    recent = log.read_recent(2)
    assert [e.action for e in recent] == ["technician.exit", "queue.call"]
    assert "110105195003070019" not in (tmp_path / "audit.log").read_text(encoding="utf-8")
    for line in (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) == {"time", "actor", "action", "detail"}
    with pytest.raises(ValueError):
        log.record("resident", "x")


def test_facade_pin_and_actions_are_audited(tmp_path: Path) -> None:
    import dataclasses

    from kiosk.config import load_config
    from kiosk.services.diagnostics import DiagnosticsFacade

    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path)})
    config = dataclasses.replace(config, technician=dataclasses.replace(config.technician, pin_hash=hash_pin("2468", **FAST)))
    facade = DiagnosticsFacade(config, test_print=lambda: TestPrintResult(True, b"", "ok", "好"))
    assert not facade.try_pin("1111") and facade.try_pin("2468")
    facade.test_print()
    assert facade.retry_quarantined() == 0
    actions = [e.action for e in facade.recent_audit(10)]
    assert actions == ["printer.test_print", "technician.unlock", "technician.pin_wrong"]
    assert facade.config_in_effect()["technician"]["pin_hash"] == "(set, hidden)"


# -- the screen ------------------------------------------------------------------------------

class FakeGate:
    max_failures, lockout_s = 5, 300

    def __init__(self) -> None:
        self.attempts_left = 5


class FakeFacade:
    def __init__(self) -> None:
        self.gate = FakeGate()
        self.pin_enabled = True
        self.is_locked = False
        self.lockout_remaining_s = 0.0
        self.calls: list[str] = []
        self.results = [
            CheckResult("app.version", CheckStatus.OK, "kiosk 0.1.0", "版本 0.1.0"),
            CheckResult("idcard.port", CheckStatus.OK, "/dev/ttyUSB0 open", "端口已打开"),
            CheckResult("idcard.sam_status", CheckStatus.OK, "SAM ready", "安全模块正常"),
            CheckResult("sscard.pcsc", CheckStatus.ERROR, "PC/SC unavailable — start pcscd", "读卡服务未运行。请启动读卡服务"),
            CheckResult("printer.status", CheckStatus.DEGRADED, "paper near end — replace soon", "纸将用尽。请尽快更换"),
            CheckResult("camera", CheckStatus.MISSING, "camera missing — check cable", "未找到高拍仪，请检查 USB 线"),
            CheckResult("hub.reachable", CheckStatus.OK, "http://hub: ok, 12 ms", "医保中心连接正常，延迟 12 毫秒"),
            CheckResult("disk", CheckStatus.OK, "50.00 GiB free", "剩余 50.00 GiB"),
        ]

    @property
    def attempts_left(self) -> int:
        return self.gate.attempts_left

    def try_pin(self, pin: str) -> bool:
        self.calls.append(f"pin:{pin}")
        if pin == "2468":
            return True
        self.gate.attempts_left -= 1
        return False

    def audit(self, action: str, detail: str = "") -> None:
        self.calls.append(action)

    def start_trace(self) -> None:
        self.tracing = True

    def stop_trace(self) -> None:
        self.tracing = False

    def trace_lines(self, n: int = 12) -> list[str]:
        return ["07:00:00.000 drivers.idcard.reader tx cmd=20 para=01 len=10"][-n:]

    def camera_snapshot(self) -> bytes:
        from PySide6.QtCore import QBuffer
        from PySide6.QtGui import QImage

        image, buffer = QImage(64, 48, QImage.Format.Format_RGB32), QBuffer()
        image.fill(0x808080)
        buffer.open(QBuffer.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        return bytes(buffer.data())

    def reconnect(self, device: str) -> str:
        self.calls.append(f"reconnect:{device}")
        return device

    def run_all(self):
        self.calls.append("run_all")
        return list(self.results)

    def run_one(self, name):
        self.calls.append(f"run_one:{name}")
        return [r for r in self.results if r.name.startswith(name)]

    def test_print(self):
        from PIL import Image
        import io

        buf = io.BytesIO()
        Image.new("RGB", (200, 300), "white").save(buf, format="PNG")
        self.calls.append("test_print")
        return TestPrintResult(True, buf.getvalue(), "printed", "已打印")

    def outbox_summary(self):
        return OutboxSummary(3, 5400.0, 1)

    def quarantined(self, limit=20):
        return [QuarantinedItem("0f1e2d3c-aaaa", "A01", "rejected: bad form", 0.0)]

    def retry_quarantined(self):
        self.calls.append("retry")
        return 1

    def recent_audit(self, n=20):
        from kiosk.services.audit_log import AuditEntry

        return [AuditEntry("2024-05-01T10:00:00Z", "technician", "diag.run_all", "status error")]

    def config_in_effect(self):
        return {"kiosk": {"id": "KIOSK-0001"}, "hub": {"url": "http://hub", "token": "(set, hidden)"}}

    def version(self):
        return "0.1.0"


def sync_runner(work, on_done, on_error):
    """TaskLanes.run's contract (result to on_done, exception to on_error), run at once."""
    try:
        result = work()
    except Exception as exc:  # noqa: BLE001 — handed on, as a lane does
        on_error(exc)
    else:
        on_done(result)


@pytest.fixture
def make_window(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from kiosk.ui.i18n import set_language
    from kiosk.ui.screens.technician import TechnicianScreen
    from kiosk.ui.theme import STANDARD, Metrics, stylesheet

    def make(elderly: bool = False, language: str = "zh_CN"):
        set_language(language)
        metrics = Metrics(dpi=96, elderly=elderly)
        facade = FakeFacade()
        window = QMainWindow()
        window.setStyleSheet(stylesheet(metrics, STANDARD, "Noto Sans CJK SC"))
        screen = TechnicianScreen(metrics, sync_runner, facade)
        window.setCentralWidget(screen)
        window.resize(1600 if elderly else 1280, 1000 if elderly else 800)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window, screen, facade, metrics

    yield make
    set_language("zh_CN")


def enter_pin(qtbot, screen, pin: str) -> None:
    from PySide6.QtCore import Qt

    for digit in pin:
        qtbot.mouseClick(screen.pin_pad.digit_buttons[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.pin_pad.confirm_button, Qt.MouseButton.LeftButton)


def test_screen_unlock_rows_run_all_exit(make_window, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    window, screen, facade, _ = make_window()
    enter_pin(qtbot, screen, "1111")
    assert not screen.unlocked and "还可尝试 4 次" in screen.pin_pad.message.text()
    enter_pin(qtbot, screen, "2468")
    assert screen.unlocked and "run_all" in facade.calls
    state = screen.findChild(QLabel, "tech_state_sscard.pcsc")
    assert state.text() == "✖ 故障"
    assert screen.findChild(QLabel, "tech_state_printer.status").text() == "▲ 异常"
    assert screen.findChild(QLabel, "tech_state_camera").text() == "○ 未连接"
    assert screen.findChild(QLabel, "tech_detail_sscard.pcsc").text().endswith("请启动读卡服务")
    assert "3" in screen.outbox_depth.text() and "1.5" in screen.outbox_oldest.text()
    assert "(set, hidden)" in screen.config_text.text()
    facade.calls.clear()
    qtbot.mouseClick(screen.run_all_button, Qt.MouseButton.LeftButton)
    assert facade.calls == ["run_all"]
    from PySide6.QtWidgets import QPushButton

    qtbot.mouseClick(screen.findChild(QPushButton, "tech_rerun_idcard"), Qt.MouseButton.LeftButton)
    assert "run_one:idcard" in facade.calls
    qtbot.mouseClick(screen.print_button, Qt.MouseButton.LeftButton)
    assert screen.print_preview.pixmap() is not None and not screen.print_preview.pixmap().isNull()
    qtbot.mouseClick(screen.retry_button, Qt.MouseButton.LeftButton)
    assert "retry" in facade.calls and "1" in screen.retry_status.text()
    window.grab().save(str(tmp_path / "technician.png"))
    with qtbot.waitSignal(screen.exit_clicked, timeout=1000):
        qtbot.mouseClick(screen.exit_button, Qt.MouseButton.LeftButton)
    assert "technician.exit" in facade.calls and not screen.unlocked


def test_screen_lockout_message(make_window, qtbot) -> None:
    window, screen, facade, _ = make_window()
    facade.is_locked, facade.lockout_remaining_s = True, 120.0
    screen._refresh_pin_message()
    assert "120" in screen.pin_pad.message.text() and not screen.pin_pad.confirm_button.isEnabled()
    assert not screen.pin_pad.digit_buttons["1"].isEnabled()


@pytest.mark.parametrize("elderly", [False, True])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_screen_passes_the_accessibility_audit(make_window, qtbot, elderly: bool, language: str) -> None:
    from kiosk.ui.audit import audit

    window, screen, facade, metrics = make_window(elderly, language)
    assert audit(window, metrics, language=language) == []
    enter_pin(qtbot, screen, "2468")
    screen.test_print()
    window.resize(window.width(), 2600)  # everything in view: a half-scrolled-out button is not a finding
    # the panel's own texts (check details from the fake are data, as from a real device)
    assert settled(qtbot, lambda: [f for f in audit(window, metrics, language=language) if f.rule != "untranslated"]) == []


def test_screen_renders_pin_pad_then_panel(make_window, qtbot, tmp_path: Path) -> None:
    """What a technician sees, grabbed as pixels (into tmp_path, for a look when it fails): the PIN
    pad, then the panel with its device rows; the 长辈版 draws the same screen larger."""
    from PySide6.QtWidgets import QLabel

    digit_heights = {}
    for elderly in (False, True):
        window, screen, facade, _ = make_window(elderly)
        pin = window.grab().toImage()
        pin.save(str(tmp_path / f"pin_{int(elderly)}.png"))
        assert (pin.width(), pin.height()) == (window.width(), window.height())
        assert screen.pin_pad.digit_buttons["1"].isVisible() and not screen.unlocked
        digit_heights[elderly] = screen.pin_pad.digit_buttons["1"].height()
        assert distinct_colours(pin) > 3  # a drawn pad, not a blank window

        enter_pin(qtbot, screen, "2468")
        screen.test_print()
        row = screen.findChild(QLabel, "tech_state_sscard.pcsc")
        qtbot.waitUntil(lambda: row.isVisible() and not screen.pin_pad.digit_buttons["1"].isVisible())  # noqa: B023
        panel = window.grab().toImage()
        panel.save(str(tmp_path / f"panel_{int(elderly)}.png"))
        assert panel != pin
        assert row.text() == "✖ 故障" and distinct_colours(row.grab().toImage()) > 2  # the state is drawn, not just set
        assert not screen.print_preview.pixmap().isNull()
        assert window.rect().contains(row.mapTo(window, row.rect().center()))
        window.close()
    assert digit_heights[True] > digit_heights[False]


def distinct_colours(image, step: int = 7) -> int:
    """Colours on a sparse grid of the image (enough to tell a drawn widget from a blank one)."""
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})

def test_pin_pad_collects_hides_and_hands_over_the_pin(qtbot) -> None:
    from PySide6.QtCore import Qt

    from kiosk.ui.theme import Metrics
    from kiosk.ui.widgets.pin_pad import MAX_DIGITS, PinPad

    pad = PinPad(Metrics(dpi=96), title_key="tech.title", hint_key="tech.enter_pin", exit_key="tech.exit", prefix="t")
    qtbot.addWidget(pad)
    for digit in "2468":
        qtbot.mouseClick(pad.digit_buttons[digit], Qt.MouseButton.LeftButton)
    assert pad.display.text() == "＊ ＊ ＊ ＊" and "2" not in pad.display.text()
    qtbot.mouseClick(pad.delete_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(pad.digit_buttons["8"], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(pad.submitted, timeout=1000) as submitted:
        qtbot.mouseClick(pad.confirm_button, Qt.MouseButton.LeftButton)
    assert submitted.args == ["2468"] and not pad.has_entry and pad.display.text().strip() == ""
    for _ in range(MAX_DIGITS + 3):
        pad.press("1")
    assert pad.display.text().count("＊") == MAX_DIGITS
    pad.clear()
    pad.set_entry_enabled(False)
    pad.press("1")
    assert not pad.has_entry and not pad.confirm_button.isEnabled()


def test_a_failed_action_shows_a_message_never_the_exception_text(make_window, qtbot) -> None:
    from PySide6.QtCore import Qt

    window, screen, facade, _ = make_window()
    enter_pin(qtbot, screen, "2468")

    def broken() -> bytes:
        raise RuntimeError("/secret/path/110105195003070019")
    facade.camera_snapshot = broken
    qtbot.mouseClick(screen.camera_button, Qt.MouseButton.LeftButton)
    text = screen.busy_label.text()
    assert screen.busy_label.isVisible() and "参考号" in text
    assert "secret" not in text and "RuntimeError" not in text
    assert screen.run_all_button.isEnabled()  # not left busy
