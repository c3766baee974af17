"""Technician mode: the PIN pad (`widgets/pin_pad.py`, with lockout), then every self-test as a
row (symbol + word, never colour alone), run again per device or all, test print with its
preview, the outbox backlog and quarantine with retry, hub latency, disk, version, the config in
effect (secrets hidden), the recent audit trail, and exit.

All work goes through `DiagnosticsFacade` on a task lane (`run_in_background(work, on_done,
on_error)`, i.e. `TaskLanes.run` on one lane); a failure is shown through the one error → message
mapping (`kiosk.devices.tasks.user_error`).
"""
from __future__ import annotations

from typing import Any
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QApplication, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QStackedWidget, QVBoxLayout,
                               QWidget)

from kiosk.devices.tasks import user_error
from kiosk.services.diagnostics import overall_status
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, card, label, repolish
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.pin_pad import PinPad
from kiosk.ui.widgets.status_strip import SYMBOLS  # one set of status symbols everywhere

register_strings({
    "tech.tools": ("设备工具", "Device tools"),
    "tech.camera_preview": ("拍摄仪预览", "Camera preview"),
    "tech.reconnect_idcard": ("重连身份证读卡器", "Reconnect ID reader"),
    "tech.reconnect_printer": ("重连打印机", "Reconnect printer"),
    "tech.reconnected": ("已重新连接：{device}", "Reconnected: {device}"),
    "tech.trace": ("实时通信记录（已脱敏）", "Live device trace (masked)"),
    "tech.trace_empty": ("暂无通信", "No traffic yet"),
    "tech.title": ("技术员模式", "Technician mode"),
    "tech.enter_pin": ("请输入技术员密码", "Enter the technician PIN"),
    "tech.pin_wrong": ("密码错误，还可尝试 {n} 次", "Wrong PIN; {n} attempts left"),
    "tech.locked": ("错误次数过多，已锁定，请 {n} 秒后再试", "Too many wrong PINs; locked, try again in {n} s"),
    "tech.disabled": ("未设置技术员密码（config.toml 的 technician.pin_hash）", "No technician PIN set (technician.pin_hash in config.toml)"),
    "tech.checking_pin": ("正在核对…", "Checking…"),
    "tech.exit": ("退出技术员模式", "Exit technician mode"),
    "tech.checks": ("设备检测", "Device checks"),
    "tech.run_all": ("全部重新检测", "Run all checks"),
    "tech.run_again": ("重新检测", "Run again"),
    "tech.running": ("正在检测…", "Running checks…"),
    "tech.overall": ("总体状态：{status}", "Overall: {status}"),
    "tech.test_print": ("测试打印", "Test print"),
    "tech.printing": ("正在打印…", "Printing…"),
    "tech.print_ok": ("测试小票已打印", "Test ticket printed"),
    "tech.print_failed": ("打印失败：{reason}", "Print failed: {reason}"),
    "tech.outbox": ("待上传业务", "Outbox"),
    "tech.outbox_depth": ("待上传 {n} 笔", "{n} waiting to be sent"),
    "tech.outbox_oldest": ("最早一笔已等待 {age}", "Oldest waiting {age}"),
    "tech.outbox_none": ("没有待上传的业务", "Nothing waiting"),
    "tech.quarantined": ("被拒收待处理 {n} 笔", "{n} refused by the hub (quarantined)"),
    "tech.retry": ("重新上传被拒收的业务", "Retry refused submissions"),
    "tech.retried": ("已重新排队 {n} 笔", "{n} queued again"),
    "tech.system": ("系统信息", "System"),
    "tech.hub": ("医保中心：{detail}", "Hub: {detail}"),
    "tech.disk": ("磁盘：{detail}", "Disk: {detail}"),
    "tech.version": ("软件版本 {v}", "Software version {v}"),
    "tech.config": ("当前配置（已隐藏密钥）", "Config in effect (secrets hidden)"),
    "tech.audit": ("最近操作记录", "Recent actions"),
    "tech.audit_none": ("暂无记录", "No entries yet"),
    "tech.failed": ("操作失败：{reason}", "Action failed: {reason}"),
    "tech.minutes": ("{n} 分钟", "{n} min"),
    "tech.hours": ("{n} 小时", "{n} h"),
    "tech.group.app": ("软件", "Software"),
    "tech.group.config": ("配置", "Configuration"),
    "tech.group.idcard": ("身份证读卡器", "ID card reader"),
    "tech.group.sscard": ("社保卡读卡器", "SS card reader"),
    "tech.group.printer": ("小票打印机", "Ticket printer"),
    "tech.group.qrscan": ("扫码器", "QR scanner"),
    "tech.group.camera": ("高拍仪", "Document camera"),
    "tech.group.ocr": ("文字识别", "OCR engine"),
    "tech.group.outbox": ("待上传队列", "Outbox"),
    "tech.group.hub": ("医保中心连接", "Hub connection"),
    "tech.group.disk": ("磁盘空间", "Disk space"),
})

ROLES = {"ok": "ok", "degraded": "error", "missing": "error", "error": "error"}
# TaskLanes.run on one lane: (work, on_done, on_error); results arrive on the GUI thread.
RunInBackground = Callable[[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]], Any]


def _status_text(status: str) -> str:
    return f"{SYMBOLS[status]} {tr('status.' + status)}"


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def _age(seconds: float) -> str:
    if seconds >= 3600:
        return tr("tech.hours", n=f"{seconds / 3600:.1f}")
    return tr("tech.minutes", n=max(0, round(seconds / 60)))


class TechnicianScreen(Screen):
    name = "technician"
    exit_clicked = Signal()

    def __init__(self, metrics: Metrics, run_in_background: RunInBackground, diagnostics: Any,
                 idle_exit_s: float = 180.0) -> None:
        super().__init__(metrics)
        self.run_in_background = run_in_background
        self.diagnostics = diagnostics
        self._results: list[Any] = []
        self._busy = False
        self._row_widgets: list[QWidget] = []
        self._pin_message: tuple[str, dict] | None = None
        self._last_message: tuple[str, dict] | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(6), metrics.mm(4), metrics.mm(6), metrics.mm(4))
        self.pages = QStackedWidget()
        outer.addWidget(self.pages)
        self.pages.addWidget(self._build_pin_page())
        self.pages.addWidget(self._build_panel_page())

        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(int(idle_exit_s * 1000))
        self._idle.timeout.connect(self._on_idle)
        self._lock_tick = QTimer(self)
        self._lock_tick.setInterval(1000)
        self._lock_tick.timeout.connect(self._refresh_pin_message)
        self.retranslate()

    # -- building ----------------------------------------------------------------------------
    def _build_pin_page(self) -> QWidget:
        self.pin_pad = PinPad(self.metrics, title_key="tech.title", hint_key="tech.enter_pin", exit_key="tech.exit",
                              prefix="tech_pin")
        self.pin_pad.submitted.connect(self._submit_pin)
        self.pin_pad.exit_clicked.connect(self._exit)
        return self.pin_pad

    def _build_panel_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.panel_title = label(role="title", wrap=False)
        self.panel_title.setObjectName("tech_title")
        self.overall = label(wrap=False)
        self.overall.setObjectName("tech_overall")
        self.run_all_button = button(role="primary", name="tech_run_all")
        self.run_all_button.clicked.connect(self.run_all)
        self.exit_button = button(name="tech_exit")
        self.exit_button.clicked.connect(self._exit)
        top.addWidget(self.panel_title)
        top.addWidget(self.overall, 1)
        top.addWidget(self.run_all_button)
        top.addWidget(self.exit_button)
        layout.addLayout(top)
        self.busy_label = label(role="hint")
        self.busy_label.setObjectName("tech_busy")
        layout.addWidget(self.busy_label)

        scroll = QScrollArea()
        self.scroll_area = scroll
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        body = QWidget()
        body.setObjectName("Screen")
        self._body = body
        self.body_layout = QVBoxLayout(body)
        self.body_layout.setSpacing(self.metrics.gap_px)
        scroll.setWidget(body)
        layout.addWidget(scroll, 1)

        _, checks_box = card(self.body_layout)
        self.checks_heading = label(role="title")
        checks_box.addWidget(self.checks_heading)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(self.metrics.gap_px)
        self.rows.setColumnStretch(2, 1)
        checks_box.addLayout(self.rows)

        row = QHBoxLayout()
        self.body_layout.addLayout(row)
        print_frame, print_box = card()
        row.addWidget(print_frame, 1)
        self.print_heading = label(role="title")
        self.print_button = button(name="tech_test_print")
        self.print_button.clicked.connect(self.test_print)
        self.print_status = label()
        self.print_status.setObjectName("tech_print_status")
        self.print_preview = QLabel()
        self.print_preview.setObjectName("tech_print_preview")
        self.print_preview.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        for widget in (self.print_heading, self.print_button, self.print_status, self.print_preview):
            print_box.addWidget(widget)
        print_box.addStretch(1)

        side = QVBoxLayout()
        row.addLayout(side, 1)
        outbox_frame, outbox_box = card()
        side.addWidget(outbox_frame)
        self.outbox_heading = label(role="title")
        self.outbox_depth = label()
        self.outbox_depth.setObjectName("tech_outbox_depth")
        self.outbox_oldest = label()
        self.outbox_quarantined = label()
        self.outbox_quarantined.setObjectName("tech_outbox_quarantined")
        self.quarantine_list = label(role="hint")
        self.retry_button = button(name="tech_retry")
        self.retry_button.clicked.connect(self.retry_quarantined)
        self.retry_status = label(role="ok")
        for widget in (self.outbox_heading, self.outbox_depth, self.outbox_oldest, self.outbox_quarantined,
                       self.quarantine_list, self.retry_button, self.retry_status):
            outbox_box.addWidget(widget)

        system_frame, system_box = card()
        side.addWidget(system_frame)
        self.system_heading = label(role="title")
        self.hub_line = label()
        self.hub_line.setObjectName("tech_hub")
        self.disk_line = label()
        self.disk_line.setObjectName("tech_disk")
        self.version_line = label()
        self.version_line.setObjectName("tech_version")
        for widget in (self.system_heading, self.hub_line, self.disk_line, self.version_line):
            system_box.addWidget(widget)
        side.addStretch(1)

        _, tools_box = card(self.body_layout)
        self.tools_heading = label(role="title")
        tools_row = QHBoxLayout()
        self.camera_button = button(name="tech_camera_preview")
        self.camera_button.clicked.connect(self.camera_preview)
        self.reconnect_buttons = {}
        tools_row.addWidget(self.camera_button)
        for device in ("idcard", "printer"):
            widget = button(name=f"tech_reconnect_{device}")
            widget.clicked.connect(lambda _=False, d=device: self.reconnect(d))
            tools_row.addWidget(widget)
            self.reconnect_buttons[device] = widget
        tools_row.addStretch(1)
        self.tools_status = label()
        self.tools_status.setObjectName("tech_tools_status")
        self.camera_image = QLabel()
        self.camera_image.setObjectName("tech_camera_image")
        self.trace_heading = label(role="hint")
        self.trace_text = label(role="hint", wrap=False)
        self.trace_text.setObjectName("tech_trace")
        self.trace_text.setProperty("data", True)  # wire codes, not UI text
        for item in (self.tools_heading, tools_row, self.tools_status, self.camera_image, self.trace_heading, self.trace_text):
            tools_box.addLayout(item) if isinstance(item, QHBoxLayout) else tools_box.addWidget(item)
        self._trace_timer = QTimer(self)
        self._trace_timer.setInterval(1000)
        self._trace_timer.timeout.connect(self._show_trace)

        _, config_box = card(self.body_layout)
        self.config_heading = label(role="title")
        self.config_text = label(role="hint", wrap=False)
        self.config_text.setObjectName("tech_config")
        self.config_text.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        config_box.addWidget(self.config_heading)
        config_box.addWidget(self.config_text)

        _, audit_box = card(self.body_layout)
        self.audit_heading = label(role="title")
        self.audit_text = label(role="hint", wrap=False)
        self.audit_text.setObjectName("tech_audit")
        audit_box.addWidget(self.audit_heading)
        audit_box.addWidget(self.audit_text)
        self.body_layout.addStretch(1)
        return page

    # -- PIN ---------------------------------------------------------------------------------
    @property
    def unlocked(self) -> bool:
        return self.pages.currentIndex() == 1

    def _submit_pin(self, pin: str) -> None:
        if self._busy:
            return
        self._set_busy(True, "tech.checking_pin")
        self.run_in_background(lambda: self.diagnostics.try_pin(pin), self._pin_checked, self._failed)

    def _pin_checked(self, ok: bool) -> None:
        self._set_busy(False)
        if ok is True:
            self._pin_message = None
            self.pages.setCurrentIndex(1)
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)  # any touch anywhere keeps the session
            self._idle.start()
            self.diagnostics.start_trace()
            self._trace_timer.start()
            self.refresh()
            self.run_all()
        else:
            self._pin_message = ("tech.locked", {}) if self.diagnostics.is_locked else \
                ("tech.pin_wrong", {"n": self.diagnostics.attempts_left})
        self._refresh_pin_message()

    def _refresh_pin_message(self) -> None:
        locked = self.diagnostics.is_locked
        if not self.diagnostics.pin_enabled:
            text = tr("tech.disabled")
        elif locked:
            text = tr("tech.locked", n=int(self.diagnostics.lockout_remaining_s + 0.999))
        elif self._pin_message is not None and self._pin_message[0] != "tech.locked":
            text = tr(self._pin_message[0], **self._pin_message[1])
        else:
            text = ""
        self.pin_pad.set_message(text)
        self.pin_pad.set_entry_enabled(self.diagnostics.pin_enabled and not locked and not self._busy)
        if locked and not self._lock_tick.isActive():
            self._lock_tick.start()
        elif not locked and self._lock_tick.isActive():
            self._lock_tick.stop()

    # -- actions -----------------------------------------------------------------------------
    def _set_busy(self, busy: bool, key: str = "") -> None:
        self._busy = busy
        self.busy_label.setText(tr(key) if busy and key else "")
        self.busy_label.setVisible(bool(busy and key))
        for b in (self.run_all_button, self.print_button, self.retry_button):
            b.setEnabled(not busy)
        if not self.unlocked:
            self._refresh_pin_message()
        for widget in self._row_widgets:
            if widget.property("rerun"):
                widget.setEnabled(not busy)

    def run_all(self) -> None:
        if self._busy:
            return
        self._set_busy(True, "tech.running")
        self.run_in_background(self.diagnostics.run_all, self._got_all, self._failed)

    def run_one(self, group: str) -> None:
        if self._busy:
            return
        self._set_busy(True, "tech.running")
        self.run_in_background(lambda: self.diagnostics.run_one(group), lambda r: self._got_one(group, r), self._failed)

    def _got_all(self, results: Any) -> None:
        self._set_busy(False)
        self._results = list(results)
        self._show_results()
        self.refresh()

    def _got_one(self, group: str, results: Any) -> None:
        self._set_busy(False)
        kept, inserted = [], False
        for r in self._results:
            if _group(r.name) == group:
                if not inserted:
                    kept.extend(results)
                    inserted = True
            else:
                kept.append(r)
        if not inserted:
            kept.extend(results)
        self._results = kept
        self._show_results()
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        """Any action's failure: a driver's or service's own message, else a generic one with the
        reference under which the traceback was logged."""
        self._set_busy(False)
        text = tr("tech.failed", reason=user_error(error).message(language()))
        if self.unlocked:
            self.busy_label.setText(text)
            self.busy_label.setVisible(True)
        else:
            self.pin_pad.set_message(text)

    def test_print(self) -> None:
        if self._busy:
            return
        self._set_busy(True, "tech.printing")
        self.run_in_background(self.diagnostics.test_print, self._printed, self._failed)

    def _printed(self, result: Any) -> None:
        self._set_busy(False)
        if result.ok:
            self._last_message = ("tech.print_ok", {})
            self.print_status.setProperty("role", "ok")
        else:
            reason = result.detail_zh if language() == "zh_CN" and result.detail_zh else result.detail
            self._last_message = ("tech.print_failed", {"reason": reason})
            self.print_status.setProperty("role", "error")
        self.print_status.setText(tr(self._last_message[0], **self._last_message[1]))
        repolish(self.print_status)
        pixmap = QPixmap()
        if result.png and pixmap.loadFromData(result.png, "PNG"):
            width = self.metrics.mm(60)
            self.print_preview.setPixmap(pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation))

    def retry_quarantined(self) -> None:
        if self._busy:
            return
        self._set_busy(True, "tech.running")
        self.run_in_background(self.diagnostics.retry_quarantined, self._retried, self._failed)

    def _retried(self, n: int) -> None:
        self._set_busy(False)
        self.retry_status.setText(tr("tech.retried", n=n))
        self.retry_status.setVisible(True)
        self.refresh()

    def refresh(self) -> None:
        """Outbox, quarantine, audit trail, config: cheap reads, off the GUI thread too."""
        def work() -> tuple:
            d = self.diagnostics
            return d.outbox_summary(), d.quarantined(), d.recent_audit(8), d.config_in_effect(), d.version()
        self.run_in_background(work, self._refreshed, self._failed)

    def _refreshed(self, data: Any) -> None:
        self._summary, self._quarantined, self._audit, self._config, self._version = data
        self._show_side()

    # -- showing -----------------------------------------------------------------------------
    def _show_results(self) -> None:
        for widget in self._row_widgets:
            self.rows.removeWidget(widget)
            widget.setParent(None)  # off screen now, not at the next event-loop turn
            widget.deleteLater()
        self._row_widgets = []
        zh = language() == "zh_CN"
        seen: set[str] = set()
        for i, r in enumerate(self._results):
            status = r.status.value
            state = label(_status_text(status), role=ROLES[status], wrap=False)
            state.setObjectName(f"tech_state_{r.name}")
            group = _group(r.name)
            name = label(f"{tr('tech.group.' + group) if 'tech.group.' + group in _known_groups() else group}\n{r.name}")
            detail = label(r.detail_zh if zh and r.detail_zh else r.detail)
            detail.setObjectName(f"tech_detail_{r.name}")
            self.rows.addWidget(state, i, 0, Qt.AlignmentFlag.AlignTop)
            self.rows.addWidget(name, i, 1, Qt.AlignmentFlag.AlignTop)
            self.rows.addWidget(detail, i, 2, Qt.AlignmentFlag.AlignTop)
            self._row_widgets += [state, name, detail]
            if group not in seen:
                seen.add(group)
                again = button(tr("tech.run_again"), name=f"tech_rerun_{group}")
                again.setProperty("rerun", True)
                again.clicked.connect(lambda _=False, g=group: self.run_one(g))
                again.setEnabled(not self._busy)
                again.setMinimumHeight(self.metrics.target_px)
                self.rows.setRowMinimumHeight(i, self.metrics.target_px + self.metrics.gap_px)
                self.rows.addWidget(again, i, 3, Qt.AlignmentFlag.AlignTop)
                self._row_widgets.append(again)
        for widget in self._row_widgets:
            widget.show()
        # The body grew: have the scroll area size it again now (its own LayoutRequest handling
        # can lag a turn behind, which left rows squeezed under their buttons).
        self.body_layout.activate()
        body, viewport = self._body, self.scroll_area.viewport()
        body.resize(viewport.width(), max(viewport.height(), body.minimumSizeHint().height()))
        self._show_overall()
        self._show_system()

    def _show_overall(self) -> None:
        if not self._results:
            self.overall.setText("")
            return
        status = overall_status(self._results)
        self.overall.setText(tr("tech.overall", status=_status_text(status)))
        self.overall.setProperty("role", ROLES[status])
        repolish(self.overall)

    def _show_system(self) -> None:
        zh = language() == "zh_CN"
        by_name = {r.name: r for r in self._results}
        for key, name, widget in (("tech.hub", "hub.reachable", self.hub_line), ("tech.disk", "disk", self.disk_line)):
            r = by_name.get(name)
            text = "—" if r is None else f"{SYMBOLS[r.status.value]} " + (r.detail_zh if zh and r.detail_zh else r.detail)
            widget.setText(tr(key, detail=text))

    def _show_side(self) -> None:
        if not hasattr(self, "_summary"):
            return
        s = self._summary
        self.outbox_depth.setText(tr("tech.outbox_depth", n=s.depth) if s.depth else tr("tech.outbox_none"))
        self.outbox_oldest.setText(tr("tech.outbox_oldest", age=_age(s.oldest_pending_age_s)) if s.oldest_pending_age_s else "")
        self.outbox_oldest.setVisible(bool(s.oldest_pending_age_s))
        self.outbox_quarantined.setText(f"{SYMBOLS['degraded' if s.quarantined else 'ok']} " + tr("tech.quarantined", n=s.quarantined))
        self.outbox_quarantined.setProperty("role", "error" if s.quarantined else "")
        repolish(self.outbox_quarantined)
        self.quarantine_list.setText("\n".join(f"{q.id[:8]} {q.service}: {q.reason}" for q in self._quarantined))
        self.quarantine_list.setVisible(bool(self._quarantined))
        self.retry_button.setVisible(bool(s.quarantined))
        self.version_line.setText(tr("tech.version", v=self._version))
        self.config_text.setText("\n".join(f"{k} = {v}" for k, v in _flatten(self._config)))
        self.audit_text.setText("\n".join(f"{e.time}  {e.actor}  {e.action}  {e.detail}".rstrip() for e in self._audit)
                                or tr("tech.audit_none"))

    def retranslate(self) -> None:
        self.pin_pad.retranslate()
        self.exit_button.setText(tr("tech.exit"))
        self.panel_title.setText(tr("tech.title"))
        self.run_all_button.setText(tr("tech.run_all"))
        self.checks_heading.setText(tr("tech.checks"))
        self.print_heading.setText(tr("tech.test_print"))
        self.print_button.setText(tr("tech.test_print"))
        self.outbox_heading.setText(tr("tech.outbox"))
        self.retry_button.setText(tr("tech.retry"))
        self.system_heading.setText(tr("tech.system"))
        self.config_heading.setText(tr("tech.config"))
        self.audit_heading.setText(tr("tech.audit"))
        self.tools_heading.setText(tr("tech.tools"))
        self.camera_button.setText(tr("tech.camera_preview"))
        for device, widget in self.reconnect_buttons.items():
            widget.setText(tr(f"tech.reconnect_{device}"))
        self.trace_heading.setText(tr("tech.trace"))
        self._show_trace()
        self._refresh_pin_message()
        self.print_status.setText(tr(self._last_message[0], **self._last_message[1]) if self._last_message else "")
        self.retry_status.setVisible(False)
        self.busy_label.setVisible(False)
        if self._results:
            self._show_results()
        else:
            self._show_system()
        self._show_side()

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        self.pin_pad.apply_metrics(metrics)

    # -- leaving -----------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress) and self.unlocked:
            self._idle.start()
        return False

    def _on_idle(self) -> None:
        if self.unlocked:
            self._audit_in_background("technician.idle_exit")
            self.reset()
            self.exit_clicked.emit()

    def _audit_in_background(self, action: str) -> None:
        """The audit log is a file (appended and synced): never written on the GUI thread."""
        self.run_in_background(lambda: self.diagnostics.audit(action), lambda _result: None, self._audit_failed)

    @staticmethod
    def _audit_failed(error: BaseException) -> None:
        user_error(error)  # logged with a reference; the technician has already left the screen

    def _exit(self) -> None:
        if self.unlocked:
            self._audit_in_background("technician.exit")
        self.reset()
        self.exit_clicked.emit()

    # -- device tools ----------------------------------------------------------------------------
    def camera_preview(self) -> None:
        self._set_busy(True, "tech.running")
        self.run_in_background(self.diagnostics.camera_snapshot, self._camera_shown, self._failed)

    def _camera_shown(self, png: bytes) -> None:
        self._set_busy(False)
        pixmap = QPixmap()
        pixmap.loadFromData(png)
        self.camera_image.setPixmap(pixmap)
        self.tools_status.setText("")

    def reconnect(self, device: str) -> None:
        self._set_busy(True, "tech.running")
        self.run_in_background(lambda: self.diagnostics.reconnect(device), self._reconnected, self._failed)

    def _reconnected(self, device: str) -> None:
        self._set_busy(False)
        self.tools_status.setText("✓ " + tr("tech.reconnected", device=tr(f"tech.reconnect_{device}")))

    def _show_trace(self) -> None:
        lines = self.diagnostics.trace_lines(10) if self.unlocked else []
        self.trace_text.setText("\n".join(lines) if lines else tr("tech.trace_empty"))

    def reset(self) -> None:
        """Back to the PIN pad: the next technician must unlock again."""
        self._trace_timer.stop()
        if self.unlocked:
            self.diagnostics.stop_trace()
        self.camera_image.clear()
        self._idle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.pin_pad.clear()
        self._pin_message = None
        self.pages.setCurrentIndex(0)
        self._refresh_pin_message()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self._refresh_pin_message()
        super().showEvent(event)


def _known_groups() -> set[str]:
    from kiosk.ui.i18n import STRINGS

    return {k for k in STRINGS if k.startswith("tech.group.")}


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        out.append((prefix, data))
    return out


__all__ = ["TechnicianScreen", "SYMBOLS"]

