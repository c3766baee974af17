"""Lobby (waiting-area display): who is called to which counter, big; waiting counts per band.

Reads `QueueService` on a task lane every few seconds (QTimer) — the counters may be other
processes or machines sharing the queue database. The latest call is marked with an icon and
words (▶ 正在呼叫), not only with colour. Optionally speaks new calls it sees (for a hall
whose speaker hangs on the lobby PC); a recall is only heard from the counter's own voice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QSizePolicy, QVBoxLayout

from kiosk.devices.tasks import TaskLanes
from kiosk.services.queue import QueueService, Ticket, announcement_text
from kiosk.services.voice import VoicePlayer
from kiosk.ui.i18n import register_strings, tr
from kiosk.ui.screens.base import Screen, card, label
from kiosk.ui.theme import STANDARD, Metrics, Palette

log = logging.getLogger(__name__)

register_strings({
    "lobby.title": ("叫号信息", "Now calling"),
    "lobby.latest": ("▶ 正在呼叫", "▶ Calling now"),
    "lobby.counter": ("{n} 号窗口", "Counter {n}"),
    "lobby.to_counter": ("请到 {n} 号窗口", "Please go to counter {n}"),
    "lobby.priority": ("✚ 优先", "✚ Priority"),
    "lobby.none": ("请稍候，留意叫号", "Please wait for your number"),
    "lobby.recent": ("已呼叫", "Called"),
    "lobby.waiting": ("等候人数", "Waiting"),
    "lobby.band_count": ("{n} 人", "{n}"),
    "lobby.hint": ("过号请到服务台", "Missed your number? Please ask at the service desk"),
})


@dataclass(frozen=True)
class LobbyView:
    calls: tuple[Ticket, ...] = ()       # most recent first
    waiting: tuple[Ticket, ...] = ()


class LobbyScreen(Screen):
    name = "lobby"

    def __init__(self, metrics: Metrics, queue: QueueService, lanes: TaskLanes, lane: str = "queue",
                 refresh_ms: int = 3000, voice: VoicePlayer | None = None, palette: Palette = STANDARD,
                 recent_rows: int = 5) -> None:
        super().__init__(metrics)
        self.queue, self.lanes, self.lane, self.voice, self.palette = queue, lanes, lane, voice, palette
        self.view = LobbyView()
        self._loading = False
        self._seen: set[tuple[str, int | None]] | None = None  # calls already announced; None = not yet read

        outer = QVBoxLayout(self)
        self._outer = outer
        top = QHBoxLayout()
        self.title = label(role="title", wrap=False)
        top.addWidget(self.title)
        top.addStretch(1)
        self.hint = label(role="hint", wrap=False)
        top.addWidget(self.hint)
        outer.addLayout(top)

        body = QHBoxLayout()
        outer.addLayout(body, 1)
        left = QVBoxLayout()
        body.addLayout(left, 3)
        self.latest_frame, latest = card(left)
        self.latest_frame.setObjectName("LatestCall")
        self.latest_frame.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.latest_caption = label(role="ok", wrap=False)
        self.latest_caption.setObjectName("lobby_latest_caption")
        self.latest_number = label(role="huge", wrap=False)
        self.latest_number.setObjectName("lobby_latest_number")
        self.latest_counter = label(role="title", wrap=False)
        self.latest_counter.setObjectName("lobby_latest_counter")
        self.latest_priority = label(role="ok", wrap=False)
        for widget in (self.latest_caption, self.latest_number, self.latest_counter, self.latest_priority):
            widget.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            latest.addWidget(widget)
        latest.addStretch(1)

        recent_frame, recent = card(left)
        self.recent_caption = label(role="tiletitle", wrap=False)
        recent.addWidget(self.recent_caption)
        grid = QGridLayout()
        self._recent_grid = grid
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        recent.addLayout(grid)
        self.recent: list[tuple[object, object]] = []
        for i in range(recent_rows):
            number = label(wrap=False)
            number.setObjectName(f"lobby_recent_number_{i}")
            where = label(wrap=False)
            where.setObjectName(f"lobby_recent_counter_{i}")
            grid.addWidget(number, i // 2, (i % 2) * 2)
            grid.addWidget(where, i // 2, (i % 2) * 2 + 1)
            self.recent.append((number, where))

        right_frame, right = card()
        body.addWidget(right_frame, 2)
        self.waiting_caption = label(role="title", wrap=False)
        right.addWidget(self.waiting_caption)
        self.band_counts: dict[str, object] = {}
        for band, band_name in sorted(queue.config.band_names.items()):
            row = QHBoxLayout()
            name = label(f"{band} {band_name}", role="tiletitle")
            name.setProperty("data", True)  # configured band names (zh)
            count = label(role="tiletitle", wrap=False)
            count.setObjectName(f"lobby_count_{band}")
            row.addWidget(name, 1)
            row.addWidget(count)
            right.addLayout(row)
            self.band_counts[band] = count
        right.addStretch(1)

        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self.apply_metrics(metrics)
        self.retranslate()
        self.refresh()
        if refresh_ms > 0:
            self._timer.start()

    # -- data ------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._loading:
            return  # the previous read is still on the lane (a slow disk): don't pile up
        self._loading = True
        queue = self.queue

        def work() -> LobbyView:  # on the lane thread
            return LobbyView(calls=tuple(queue.current_calls()), waiting=tuple(queue.waiting()))

        self.lanes.run(self.lane, work, self._on_view, self._on_error)

    def stop(self) -> None:
        self._timer.stop()

    def _on_view(self, view: LobbyView) -> None:
        self._loading = False
        calls = {(t.ticket_id, t.counter) for t in view.calls}
        if self.voice is not None and self._seen is not None:
            for ticket in reversed(view.calls):  # oldest new call first
                if (ticket.ticket_id, ticket.counter) not in self._seen and ticket.counter is not None:
                    self.voice.say(announcement_text(ticket, ticket.counter), language="zh_CN", loggable=True)
        self._seen = calls
        self.view = view
        self.retranslate()

    def _on_error(self, error: BaseException) -> None:
        self._loading = False
        log.warning("lobby refresh failed: %s", error)  # keep showing the last good view

    # -- appearance -------------------------------------------------------------------------
    def apply_metrics(self, metrics: Metrics) -> None:
        self.metrics = m = metrics
        p = self.palette
        self._outer.setContentsMargins(m.mm(6), m.mm(4), m.mm(6), m.mm(4))
        self._outer.setSpacing(m.gap_px)
        # Read from across the hall: the called number is far bigger than body text.
        self.latest_number.setStyleSheet(f"font-size: {m.pt(m.body_pt * 7)}px; font-weight: bold;")
        self.latest_counter.setStyleSheet(f"font-size: {m.pt(m.body_pt * 3.2)}px; font-weight: bold;")
        self.latest_frame.setStyleSheet(
            f"QFrame#LatestCall {{ background: {p.surface}; border: {m.mm(1.5)}px solid {p.accent}; border-radius: {m.mm(2)}px; }}")
        self.latest_caption.setStyleSheet(f"font-size: {m.title_px}px; font-weight: bold;")
        self._recent_grid.setHorizontalSpacing(m.mm(8))
        for number, where in self.recent:
            number.setStyleSheet(f"font-size: {m.pt(m.body_pt * 2.2)}px; font-weight: bold;")
            where.setStyleSheet(f"font-size: {m.pt(m.body_pt * 1.8)}px;")

    def retranslate(self) -> None:
        self.title.setText(tr("lobby.title"))
        self.hint.setText(tr("lobby.hint"))
        calls = self.view.calls
        latest = calls[0] if calls else None
        self.latest_caption.setText(tr("lobby.latest"))
        self.latest_caption.setVisible(latest is not None)
        self.latest_number.setText(latest.number if latest else "")
        self.latest_number.setVisible(latest is not None)
        self.latest_counter.setText(tr("lobby.to_counter", n=latest.counter) if latest else tr("lobby.none"))
        self.latest_priority.setText(tr("lobby.priority"))
        self.latest_priority.setVisible(bool(latest and latest.priority))
        self.recent_caption.setText(tr("lobby.recent"))
        for i, (number, where) in enumerate(self.recent):
            ticket = calls[i + 1] if i + 1 < len(calls) else None
            number.setText(ticket.number if ticket else "")
            where.setText(tr("lobby.counter", n=ticket.counter) if ticket else "")
            number.setVisible(ticket is not None)
            where.setVisible(ticket is not None)
        self.waiting_caption.setText(tr("lobby.waiting"))
        for band, count in self.band_counts.items():
            count.setText(tr("lobby.band_count", n=sum(1 for t in self.view.waiting if t.band == band)))
