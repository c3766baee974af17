"""Counter (clerk's window): 叫号 / 重呼 / 过号 / 办结, the current ticket, the waiting list.

Every action runs `QueueService` on a task lane (the GUI thread never touches the database);
the result comes back through the lane's queued delivery. Calling order (priority alternation)
is `QueueService.call_next`'s, not this screen's. A call or recall goes to the `VoicePlayer`
as `announcement_text(ticket, counter)`; `queue_changed` lets a lobby in the same process
refresh at once (a lobby elsewhere refreshes on its own timer from the same database).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QSizePolicy, QVBoxLayout

from kiosk.devices.tasks import TaskLanes
from kiosk.services.queue import QueueService, Ticket, announcement_text
from kiosk.services.voice import VoicePlayer
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, card, label, repolish
from kiosk.ui.theme import Metrics

log = logging.getLogger(__name__)

register_strings({
    "counter.title": ("{n} 号窗口", "Counter {n}"),
    "counter.filter": ("叫号范围", "Call from"),
    "counter.filter_all": ("全部业务", "All services"),
    "counter.current": ("当前号码", "Now serving"),
    "counter.none": ("暂无", "None"),
    "counter.normal": ("普通号", "Regular ticket"),
    "counter.priority": ("✚ 优先号：{reason}", "✚ Priority: {reason}"),
    "counter.call": ("叫号", "Call next"),
    "counter.recall": ("重呼", "Recall"),
    "counter.skip": ("过号", "Skip"),
    "counter.done": ("办结", "Done"),
    "counter.called": ("已呼叫 {number}", "Called {number}"),
    "counter.recalled": ("已重呼 {number}", "Called {number} again"),
    "counter.skipped": ("{number} 已过号", "{number} skipped"),
    "counter.finished": ("{number} 已办结", "{number} done"),
    "counter.nobody": ("暂无等候的号", "Nobody is waiting"),
    "counter.no_current": ("当前没有正在办理的号", "No ticket is being served"),
    "counter.working": ("正在处理…", "Working…"),
    "counter.failed": ("操作失败，请重试", "That did not work; please try again"),
    "counter.waiting": ("等候 {n} 人", "{n} waiting"),
    "counter.band_count": ("{n} 人", "{n}"),
    "counter.band_priority": ("{n} 人（优先 {p}）", "{n} ({p} priority)"),
    "counter.next": ("下一位：{numbers}", "Next: {numbers}"),
    "counter.next_none": ("无", "none"),
    "counter.priority_number": ("{number}（优先）", "{number} (priority)"),
    "counter.separator": ("、", ", "),
    "queue.reason.elderly": ("长者优先", "senior"),
    "queue.reason.disabled": ("残疾人优先", "disability"),
    "queue.reason.appointment": ("预约优先", "appointment"),
})

ACTIONS = ("call", "recall", "skip", "done")
NEXT_SHOWN = 3  # numbers listed per band: enough to prepare, short enough to read at a glance


def priority_words(ticket: Ticket) -> str:
    return tr(f"queue.reason.{ticket.priority_reason}") if ticket.priority_reason else ""


@dataclass(frozen=True)
class CounterView:
    """One read of the queue for this counter (made on the lane, shown on the GUI thread)."""

    current: Ticket | None = None
    waiting: tuple[Ticket, ...] = ()
    action: str = ""            # the action that produced this view ("" = plain refresh)
    acted_on: Ticket | None = None
    failed: bool = False


@dataclass
class _BandRow:
    name: object
    count: object
    upcoming: object
    numbers: list[str] = field(default_factory=list)


class CounterScreen(Screen):
    name = "counter"
    queue_changed = Signal()

    def __init__(self, metrics: Metrics, queue: QueueService, lanes: TaskLanes, voice: VoicePlayer | None,
                 counter: int, services: Sequence[tuple[str, str, str]] = (), lane: str = "queue",
                 refresh_ms: int = 5000) -> None:
        """`services`: (service_code, name_zh, name_en) offered in the filter, besides 全部业务."""
        super().__init__(metrics)
        self.queue, self.lanes, self.voice, self.counter, self.lane = queue, lanes, voice, counter, lane
        self.services = list(services)
        self.view = CounterView()
        self.busy = False
        self._status_key: tuple[str, dict] = ("", {})

        outer = QVBoxLayout(self)
        self._outer = outer
        top = QHBoxLayout()
        self.title = label(role="title", wrap=False)
        self.title.setObjectName("counter_title")
        top.addWidget(self.title)
        top.addStretch(1)
        self.filter_caption = label(wrap=False)
        self.filter = QComboBox()
        self.filter.setObjectName("counter_filter")
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top.addWidget(self.filter_caption)
        top.addWidget(self.filter)
        outer.addLayout(top)

        body = QHBoxLayout()
        outer.addLayout(body, 1)
        left = QVBoxLayout()
        body.addLayout(left, 3)
        frame, box = card(left)
        frame.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.current_caption = label(role="hint")
        self.number = label(role="huge", wrap=False)
        self.number.setObjectName("counter_number")
        self.service = label()
        self.service.setObjectName("counter_service")
        self.service.setProperty("data", True)  # the ticket's service name as issued (zh)
        self.priority = label()
        self.priority.setObjectName("counter_priority")
        for widget in (self.current_caption, self.number, self.service, self.priority):
            box.addWidget(widget)
        box.addStretch(1)
        self.status = label(role="hint")
        self.status.setObjectName("counter_status")
        box.addWidget(self.status)

        grid = QGridLayout()
        self.call_button = button(role="primary", name="counter_call")
        self.recall_button = button(name="counter_recall")
        self.skip_button = button(role="danger", name="counter_skip")
        self.done_button = button(role="accent", name="counter_done")
        self.buttons = {"call": self.call_button, "recall": self.recall_button,
                        "skip": self.skip_button, "done": self.done_button}
        grid.addWidget(self.call_button, 0, 0, 1, 3)
        grid.addWidget(self.recall_button, 1, 0)
        grid.addWidget(self.skip_button, 1, 1)
        grid.addWidget(self.done_button, 1, 2)
        left.addLayout(grid)
        for action, widget in self.buttons.items():
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            widget.clicked.connect(lambda _=False, a=action: self.run_action(a))

        right_frame, right = card()
        body.addWidget(right_frame, 2)
        self.waiting_title = label(role="title")
        self.waiting_title.setObjectName("counter_waiting")
        right.addWidget(self.waiting_title)
        self.band_rows: dict[str, _BandRow] = {}
        for band, band_name in sorted(queue.config.band_names.items()):
            name = label(f"{band} {band_name}", role="tiletitle")
            name.setProperty("data", True)  # configured band names (zh)
            count = label(wrap=False)
            count.setObjectName(f"counter_count_{band}")
            upcoming = label(role="hint")
            upcoming.setObjectName(f"counter_next_{band}")
            row = QHBoxLayout()
            row.addWidget(name, 1)
            row.addWidget(count)
            right.addLayout(row)
            right.addWidget(upcoming)
            self.band_rows[band] = _BandRow(name, count, upcoming)
        right.addStretch(1)

        self.filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self.apply_metrics(metrics)
        self.retranslate()
        self.refresh()
        if refresh_ms > 0:
            self._timer.start()

    # -- actions (each on the lane) -----------------------------------------------------------
    @property
    def service_code(self) -> str | None:
        return self.filter.currentData() or None

    def run_action(self, action: str) -> None:
        if action not in ACTIONS or self.busy:
            return
        self._set_busy(True)
        self._set_status("counter.working")
        self._submit(self._work(action), self._on_result)

    def refresh(self) -> None:
        """Re-read the current ticket and the waiting list (tickets keep arriving from the kiosk)."""
        if self.busy:
            return
        self._submit(self._work(""), self._on_refresh)

    def stop(self) -> None:
        """Stop the refresh timer (before the lanes shut down)."""
        self._timer.stop()

    def _submit(self, work: Callable[[], CounterView], on_done: Callable[[CounterView], None]) -> None:
        self.lanes.run(self.lane, work, on_done, self._on_error)

    def _work(self, action: str) -> Callable[[], CounterView]:
        queue, counter, code = self.queue, self.counter, self.service_code

        def work() -> CounterView:  # runs on the lane thread
            acted_on = None
            if action == "call":
                acted_on = queue.call_next(counter, code)
            elif action:
                acted_on = getattr(queue, action)(counter)
            return CounterView(current=queue.recall(counter), waiting=tuple(queue.waiting(code)),
                               action=action, acted_on=acted_on)

        return work

    def _on_result(self, view: CounterView) -> None:
        self._set_busy(False)
        self.view = view
        ticket = view.acted_on
        if ticket is not None and view.action in ("call", "recall") and self.voice is not None:
            # Ticket number and counter only: safe to log.
            self.voice.say(announcement_text(ticket, self.counter), language="zh_CN", loggable=True)
        if ticket is None:
            self._set_status("counter.nobody" if view.action == "call" else "counter.no_current")
        else:
            key = {"call": "counter.called", "recall": "counter.recalled",
                   "skip": "counter.skipped", "done": "counter.finished"}[view.action]
            self._set_status(key, number=ticket.number)
        if view.action != "recall":
            self.queue_changed.emit()
        self.retranslate()

    def _on_refresh(self, view: CounterView) -> None:
        if self.busy:
            return  # an action's result is on its way and is newer
        self.view = view
        self.retranslate()

    def _on_error(self, error: BaseException) -> None:
        self._set_busy(False)
        log.warning("counter %s: queue action failed: %s", self.counter, error)
        self._set_status("counter.failed", error=True)
        self.retranslate()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in self.buttons.values():
            widget.setEnabled(not busy)

    def _set_status(self, key: str, error: bool = False, **values: object) -> None:
        self._status_key = (key, values)
        self.status.setProperty("role", "error" if error else "hint")
        repolish(self.status)
        self.status.setText(tr(key, **values) if key else "")
        self.status.setVisible(bool(key))

    # -- appearance -------------------------------------------------------------------------
    def apply_metrics(self, metrics: Metrics) -> None:
        self.metrics = metrics
        m = metrics
        self._outer.setContentsMargins(m.mm(6), m.mm(4), m.mm(6), m.mm(4))
        self._outer.setSpacing(m.gap_px)
        self.call_button.setMinimumHeight(round(m.target_px * 1.6))
        for widget in (self.recall_button, self.skip_button, self.done_button):
            widget.setMinimumHeight(round(m.target_px * 1.3))
        self.number.setStyleSheet(f"font-size: {m.pt(m.body_pt * 5)}px;")
        for widget in self.buttons.values():
            widget.setStyleSheet(f"font-size: {m.title_px}px; font-weight: bold;")

    def retranslate(self) -> None:
        self.title.setText(tr("counter.title", n=self.counter))
        self.filter_caption.setText(tr("counter.filter"))
        self._fill_filter()
        for action, widget in self.buttons.items():
            widget.setText(tr(f"counter.{action}"))
        self.current_caption.setText(tr("counter.current"))
        current = self.view.current
        self.number.setText(current.number if current else tr("counter.none"))
        self.service.setText(current.service_name if current else "")
        self.service.setVisible(current is not None)
        self.priority.setVisible(current is not None)
        if current is not None:
            priority = current.priority
            self.priority.setText(tr("counter.priority", reason=priority_words(current)) if priority else tr("counter.normal"))
            self.priority.setProperty("role", "ok" if priority else "hint")
            repolish(self.priority)
        key, values = self._status_key
        self.status.setText(tr(key, **values) if key else "")
        self.status.setVisible(bool(key))
        waiting = self.view.waiting
        self.waiting_title.setText(tr("counter.waiting", n=len(waiting)))
        for band, row in self.band_rows.items():
            in_band = [t for t in waiting if t.band == band]
            priority_count = sum(t.priority for t in in_band)
            row.count.setText(tr("counter.band_priority", n=len(in_band), p=priority_count) if priority_count
                              else tr("counter.band_count", n=len(in_band)))
            shown = [tr("counter.priority_number", number=t.number) if t.priority else t.number for t in in_band[:NEXT_SHOWN]]
            if len(in_band) > NEXT_SHOWN:
                shown.append("…")
            row.numbers = [t.number for t in in_band]
            row.upcoming.setText(tr("counter.next", numbers=tr("counter.separator").join(shown) if shown else tr("counter.next_none")))

    def _fill_filter(self) -> None:
        code = self.filter.currentData()
        self.filter.blockSignals(True)
        self.filter.clear()
        self.filter.addItem(tr("counter.filter_all"), None)
        for service_code, zh, en in self.services:
            self.filter.addItem(zh if language() == "zh_CN" else (en or zh), service_code)
        index = self.filter.findData(code) if code else 0
        self.filter.setCurrentIndex(max(0, index))
        self.filter.blockSignals(False)
