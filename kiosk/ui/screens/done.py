"""Done: 提交成功, the queue number (big), people ahead, wait, the ticket, reprint and undo."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from kiosk.ui.i18n import tr
from kiosk.ui.screens.base import Screen, button, card, label, repolish
from kiosk.ui.theme import Metrics


@dataclass
class DoneView:
    """What the done screen shows; filled in stages (saved → ticket issued → printed/failed)."""

    reference: str = ""
    instant: bool = False
    saved: bool = False
    number: str = ""
    people_ahead: int = 0
    wait_min: int = 0
    priority: bool = False
    printing: bool = False
    print_error: str = ""
    offline: bool = False
    undone: bool = False
    record: dict | None = None  # 参保信息查询: the hub's reply
    record_error: str = ""
    record_loading: bool = False
    certificate: str = ""  # "", "printing", "printed"
    rated: bool = False
    notice: str = ""  # an inline problem after the save (no number, undo refused): shown, not an error page


class DoneScreen(Screen):
    name = "done"
    home_clicked = Signal()
    reprint_clicked = Signal()
    undo_clicked = Signal()
    certificate_clicked = Signal()
    rated = Signal(int)  # 5 非常满意 … 1 非常不满意

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.view = DoneView()
        outer = QHBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        left = QVBoxLayout()
        outer.addLayout(left, 3)
        self.result = label(role="ok")
        self.result.setObjectName("done_result")
        self.result.setProperty("role", "title")
        left.addWidget(self.result)
        self.reference = label(role="hint")
        left.addWidget(self.reference)
        frame, box = card(left)
        self.number_caption = label(role="hint")
        self.number = label(role="huge")
        self.number.setObjectName("done_number")
        self.priority = label(role="ok")
        self.ahead = label()
        self.wait = label()
        for widget in (self.number_caption, self.number, self.priority, self.ahead, self.wait):
            box.addWidget(widget)
        self.ticket_card = frame
        self.record_card, record_box = card(left)
        self.record_heading = label(role="title")
        self.record_grid = QGridLayout()
        self.record_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for row, key in enumerate(("enrolled", "type", "region", "paid_until", "contribution")):
            caption, value = label(role="hint"), label()
            value.setObjectName(f"record_{key}")
            self.record_grid.addWidget(caption, row, 0)
            self.record_grid.addWidget(value, row, 1)
            self.record_labels[key] = (caption, value)
        self.print_certificate = button(role="accent", name="done_certificate")
        self.print_certificate.clicked.connect(self.certificate_clicked)
        record_box.addWidget(self.record_heading)
        record_box.addLayout(self.record_grid)
        record_box.addWidget(self.print_certificate)
        self.message = label(role="hint")
        self.message.setObjectName("done_message")
        left.addWidget(self.message)
        left.addStretch(1)
        self.rating_prompt = label(role="hint")
        left.addWidget(self.rating_prompt)
        ratings = QHBoxLayout()
        self.rating_buttons: dict[int, QPushButton] = {}
        for score in (5, 4, 3, 2, 1):
            widget = button(name=f"rate_{score}")
            widget.clicked.connect(lambda _=False, s=score: self.rated.emit(s))
            ratings.addWidget(widget)
            self.rating_buttons[score] = widget
        left.addLayout(ratings)
        buttons = QHBoxLayout()
        self.undo = button(name="done_undo")
        self.reprint = button(role="accent", name="done_reprint")
        self.home = button(role="primary", name="done_home")
        buttons.addWidget(self.undo)
        buttons.addStretch(1)
        buttons.addWidget(self.reprint)
        buttons.addWidget(self.home)
        left.addLayout(buttons)
        self.preview = QLabel()
        self.preview.setObjectName("done_preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        outer.addWidget(self.preview, 2)
        self.home.clicked.connect(self.home_clicked)
        self.reprint.clicked.connect(self.reprint_clicked)
        self.undo.clicked.connect(self.undo_clicked)
        self.update_view(DoneView())

    def update_view(self, view: DoneView) -> None:
        self.view = view
        self.retranslate()

    def show_preview(self, png: bytes | None) -> None:
        if not png:
            self.preview.clear()
            return
        pixmap = QPixmap()
        pixmap.loadFromData(png)
        height = max(200, self.height() - self.metrics.mm(10))
        self.preview.setPixmap(pixmap.scaledToHeight(min(pixmap.height(), height), Qt.TransformationMode.SmoothTransformation))

    def reset(self) -> None:
        self.preview.clear()
        self.update_view(DoneView())

    def retranslate(self) -> None:
        v = self.view
        if v.undone:
            self.result.setText("↩ " + tr("done.undone"))
        elif not v.saved:
            self.result.setText(tr("done.saving"))
        else:
            self.result.setText("✔ " + (tr("done.instant") if v.instant else tr("done.success")))
        self.reference.setText(tr("done.reference", ref=v.reference[:8].upper()) if v.reference else "")
        self.ticket_card.setVisible(bool(v.number) and not v.undone)
        self.number_caption.setText(tr("done.your_number"))
        self.number.setText(v.number)
        self.priority.setVisible(v.priority)
        self.priority.setText("✚ " + tr("done.priority"))
        self.ahead.setText(tr("done.people_ahead", n=v.people_ahead))
        self.wait.setText(tr("done.wait", n=v.wait_min))
        if v.notice:
            self.message.setText("⚠ " + v.notice)
            self.message.setProperty("role", "error")
        elif v.print_error:
            self.message.setText("⚠ " + tr("done.print_failed", reason=v.print_error))
            self.message.setProperty("role", "error")
        elif v.printing:
            self.message.setText(tr("done.printing"))
            self.message.setProperty("role", "hint")
        elif v.certificate:
            self.message.setText(tr("record.printing") if v.certificate == "printing" else "✓ " + tr("record.printed"))
            self.message.setProperty("role", "hint")
        elif v.number:
            self.message.setText(tr("done.take_ticket") + ("\n" + tr("done.offline_note") if v.offline else ""))
            self.message.setProperty("role", "hint")
        else:
            self.message.setText(tr("done.offline_note") if v.offline else "")
            self.message.setProperty("role", "hint")
        repolish(self.message)
        self.reprint.setVisible(bool(v.print_error))
        self.reprint.setText(tr("done.reprint"))
        self.undo.setVisible(v.saved and not v.undone and not v.instant)  # nothing to withdraw from a query
        self.undo.setText("↩ " + tr("done.undo"))
        self.home.setText("⌂ " + tr("common.home"))
        self._retranslate_record()
        self.rating_prompt.setText("✓ " + tr("rating.thanks") if v.rated else tr("rating.prompt"))
        self.rating_prompt.setProperty("role", "ok" if v.rated else "hint")
        repolish(self.rating_prompt)
        for score, widget in self.rating_buttons.items():
            widget.setText(tr(f"rating.{score}"))
            widget.setVisible(v.saved and not v.rated and not v.undone)
        self.rating_prompt.setVisible(v.saved and not v.undone)

    def _retranslate_record(self) -> None:
        v = self.view
        shown = v.record is not None or v.record_loading or bool(v.record_error)
        self.record_card.setVisible(shown and not v.undone)
        if not shown:
            return
        self.record_heading.setText(tr("record.heading"))
        record = v.record or {}
        values = {
            "enrolled": (tr("record.enrolled_yes") if record.get("enrolled") else tr("record.enrolled_no")) if record else "",
            "type": str(record.get("insurance_type", "")), "region": str(record.get("region", "")),
            "paid_until": str(record.get("paid_until", "")), "contribution": str(record.get("annual_contribution_yuan", "")),
        }
        for key, (caption, value) in self.record_labels.items():
            caption.setText(tr(f"record.{key}"))
            value.setText(values[key])
            value.setProperty("data", True)
            caption.setVisible(bool(record))
            value.setVisible(bool(record))
        if v.record_loading:
            self.record_heading.setText(tr("record.loading"))
        elif v.record_error:
            self.record_heading.setText("⚠ " + v.record_error)
        self.print_certificate.setVisible(bool(record) and v.certificate != "printing")
        self.print_certificate.setText(tr("record.print"))

    def spoken_prompt(self) -> str:
        return self.result.text().lstrip("✔↩ ")
