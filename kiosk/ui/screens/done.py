"""Done: 提交成功, the queue number (big), people ahead, wait, the ticket, reprint and undo."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (QBoxLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from kiosk.devices.ticket_preview import TicketPicture
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, card, clause, label, repolish
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.reflow import ReflowGrid

register_strings({
    "done.ticket_only": ("取号成功", "Here is your number"),
    "done.ticket_issuing": ("正在取号…", "Getting your number…"),
    "done.another": ("办理其他业务", "Another service"),
    "done.slip_take": ("请取走凭条，到窗口出示此凭条", "Take the slip and show it at the counter"),
    "done.ticket_only_failed": ("暂时无法取号，请到咨询窗口或询问工作人员", "No number could be issued; please ask at the enquiries counter or a member of staff"),
    "progress.heading": ("办理进度", "Application progress"),
    "progress.loading": ("正在查询办理进度…", "Checking your applications…"),
    "progress.none": ("暂无已提交的业务", "No applications found"),
    "progress.submitted_on": ("{date} 提交 · 业务编号 {ref}", "Submitted {date} · ref. {ref}"),
    "progress.state": ("状态：{state}", "State: {state}"),
    "progress.note": ("说明：{note}", "Note: {note}"),
    "progress.next": ("下一步：{step}", "Next: {step}"),
    "progress.counter": ("窗口办理结果：{outcome}", "At the counter: {outcome}"),
})
# a state the resident must act on stands out (and says so in words, not colour alone)
ACTION_STATES = ("returned", "refused")


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
    slip: bool = False  # no number: a slip with the 业务编号 is printed for the counter instead
    ticket_only: bool = False  # 取号咨询: a number and nothing submitted (no reference, undo or rating)
    another: bool = False  # the resident is identified: offer 办理其他业务 (same visit, person kept)
    progress_only: bool = False  # 办理进度查询: the person's applications, nothing submitted
    progress: list | None = None  # kiosk.services.progress.Progress rows, newest first
    progress_loading: bool = False
    progress_error: str = ""

    @property
    def settled(self) -> bool:
        """Nothing more is on its way to this screen (saved, numbered or told why not, printed)."""
        if self.printing or self.record_loading or self.certificate == "printing":
            return False
        if self.progress_only:
            return not self.progress_loading
        if self.ticket_only:
            return bool(self.number or self.notice)
        return self.saved and (self.instant or self.undone or bool(self.number or self.notice))


class TicketPreview(QLabel):
    """The printed ticket, scaled into whatever room is left; it never asks the window for more."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("done_preview")
        self.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.ticket: QPixmap | None = None

    def show_picture(self, picture: TicketPicture | None) -> None:
        self.ticket = None
        if picture is not None:  # its RGB rows, copied into the pixmap: no image format to decode
            rows = QImage(picture.rgb, picture.width, picture.height, picture.width * 3, QImage.Format.Format_RGB888)
            self.ticket = QPixmap.fromImage(rows)
        self._fit()

    def _fit(self) -> None:
        if self.ticket is None or self.ticket.isNull():
            self.clear()
            return
        if self.width() < 10 or self.height() < 10:
            return
        size = self.ticket.size().scaled(self.size().boundedTo(self.ticket.size()), Qt.AspectRatioMode.KeepAspectRatio)
        self.setPixmap(self.ticket.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit()


class DoneScreen(Screen):
    name = "done"
    home_clicked = Signal()
    reprint_clicked = Signal()
    undo_clicked = Signal()
    another_clicked = Signal()
    certificate_clicked = Signal()
    rated = Signal(int)  # 5 非常满意 … 1 非常不满意

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.view = DoneView()
        # Side by side on a landscape panel, the ticket preview below on a portrait one.
        outer = self._outer = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        column = QVBoxLayout()
        outer.addLayout(column, 3)
        # What the resident reads scrolls if a small panel in 长辈版 cannot hold it all; the
        # buttons below it are always in view.
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        content.setObjectName("ScrollContent")
        left = QVBoxLayout(content)
        left.setContentsMargins(0, 0, 0, 0)
        self.scroll_area.setWidget(content)
        column.addWidget(self.scroll_area, 1)
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
        self.progress_card, progress_box = card(left)
        self.progress_card.setObjectName("done_progress")
        self.progress_heading = label(role="title")
        progress_box.addWidget(self.progress_heading)
        self.progress_rows = QVBoxLayout()
        progress_box.addLayout(self.progress_rows)
        self.progress_labels: list[QLabel] = []
        self.message = label(role="hint")
        self.message.setObjectName("done_message")
        left.addWidget(self.message)
        left.addStretch(1)
        self.rating_prompt = label(role="hint")
        left.addWidget(self.rating_prompt)
        self.ratings_box = QWidget()
        ratings = self.ratings_grid = ReflowGrid(self.ratings_box, spacing=metrics.gap_px)
        self.rating_buttons: dict[int, QPushButton] = {}
        for score in (5, 4, 3, 2, 1):
            rate = button(name=f"rate_{score}")
            rate.clicked.connect(lambda _=False, s=score: self.rated.emit(s))
            ratings.add(rate)
            self.rating_buttons[score] = rate
        left.addWidget(self.ratings_box)
        buttons = QHBoxLayout()
        self.undo = button(name="done_undo")
        self.reprint = button(role="accent", name="done_reprint")
        self.home = button(role="primary", name="done_home")
        self.another = button(name="done_another")
        buttons.addWidget(self.undo)
        buttons.addStretch(1)
        buttons.addWidget(self.reprint)
        buttons.addWidget(self.another)
        buttons.addWidget(self.home)
        column.addLayout(buttons)
        self.preview = TicketPreview()
        outer.addWidget(self.preview, 2)
        self.home.clicked.connect(self.home_clicked)
        self.reprint.clicked.connect(self.reprint_clicked)
        self.undo.clicked.connect(self.undo_clicked)
        self.another.clicked.connect(self.another_clicked)
        self.update_view(DoneView())

    def update_view(self, view: DoneView) -> None:
        self.view = view
        self.retranslate()

    def show_preview(self, picture: TicketPicture | None) -> None:
        self.preview.show_picture(picture)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        portrait = event.size().height() > event.size().width()
        wanted = QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        if self._outer.direction() != wanted:
            self._outer.setDirection(wanted)

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        self.ratings_grid.setSpacing(metrics.gap_px)

    def reset(self) -> None:
        self.preview.show_picture(None)
        self.update_view(DoneView())

    def retranslate(self) -> None:
        v = self.view
        if v.progress_only:
            self.result.setText(tr("progress.heading"))
        elif v.ticket_only:
            self.result.setText(("✔ " + tr("done.ticket_only")) if v.number else "" if v.notice else tr("done.ticket_issuing"))
        elif v.undone:
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
            slip_out = v.slip and not v.printing and not v.print_error
            self.message.setText("⚠ " + v.notice + ("\n" + tr("done.slip_take") if slip_out else ""))
            self.message.setProperty("role", "error")
        elif v.print_error:
            self.message.setText("⚠ " + tr("done.print_failed", reason=clause(v.print_error)))
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
        self.another.setText(tr("done.another") + " ›")
        self.another.setVisible(v.another and v.settled)
        self._retranslate_record()
        self._retranslate_progress()
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
        self.print_certificate.setEnabled(v.certificate != "printed")  # one certificate per visit
        self.print_certificate.setText(tr("record.print"))

    def _retranslate_progress(self) -> None:
        """One block per application: service and date, the state in words, the bureau's note
        (missing materials, the reason), what to do next, and the counter's outcome if any."""
        v = self.view
        self.progress_card.setVisible(v.progress_only)
        for widget in self.progress_labels:  # out of the tree now, freed by the event loop
            self.progress_rows.removeWidget(widget)
            widget.hide()
            widget.setParent(None)
            widget.deleteLater()
        self.progress_labels = []
        if not v.progress_only:
            return
        lang = language()
        if v.progress_loading:
            self.progress_heading.setText(tr("progress.loading"))
        elif v.progress_error:
            self.progress_heading.setText("⚠ " + v.progress_error)
        elif not v.progress:
            self.progress_heading.setText(tr("progress.none"))
        else:
            self.progress_heading.setText(tr("progress.heading") + f"（{len(v.progress)}）" if lang == "zh_CN"
                                          else f"{tr('progress.heading')} ({len(v.progress)})")
        for n, p in enumerate(v.progress or []):
            title = label(role="title")
            title.setObjectName(f"progress_title_{n}")
            title.setText(p.title.get(lang) if p.title else p.service)
            when = label(role="hint")
            when.setText(tr("progress.submitted_on", date=p.submitted_on or "—", ref=p.reference))
            act = p.state in ACTION_STATES
            state = label(role="error" if act else "ok")
            state.setObjectName(f"progress_state_{n}")
            state.setText(("⚠ " if act else "● ") + tr("progress.state", state=p.label.get(lang)))
            parts = [title, when, state]
            if p.note:
                note = label()
                note.setObjectName(f"progress_note_{n}")
                note.setText(tr("progress.note", note=p.note))
                parts.append(note)
            step = label(role="hint")
            step.setText(tr("progress.next", step=p.next_step.get(lang)))
            parts.append(step)
            if p.counter is not None:
                counter = label()
                counter.setObjectName(f"progress_counter_{n}")
                outcome = p.counter.get(lang) + (f"（{p.counter_note}）" if p.counter_note else "")
                counter.setText(tr("progress.counter", outcome=outcome))
                parts.append(counter)
            for widget in parts:
                self.progress_rows.addWidget(widget)
                widget.show()  # a child added to a shown card is not shown by itself
            self.progress_labels.extend(parts)

    def spoken_prompt(self) -> str:
        return self.result.text().lstrip("✔↩ ")
