"""Clerk's 零星报销 scan station: live camera, capture → OCR, field review, batch, submit.

The screen asks `kiosk.devices.receipt_capture.ReceiptCapture` for preview frames and readings
(the camera and the warm engine live on its "ocr" lane) and gets them back by signal; the submit
runs on the "outbox" lane. The screen only shows results and keeps the `ClaimBatch`
(kiosk/services/reimbursement.py) that decides what may be submitted.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from kiosk.devices.receipt_capture import ReceiptCapture, bgr_qimage
from kiosk.devices.tasks import user_error
from kiosk.errors import UserFacingError
from kiosk.ocr.checks import CHECK_FIELDS, ClaimedReceipts
from kiosk.ocr.pipeline import ReceiptResult
from kiosk.ocr.preprocess import SHARP_AT
from kiosk.services.identity import Person
from kiosk.services.reimbursement import ClaimBatch, ClaimReceipt, ReimbursementError
from kiosk.ui.i18n import STRINGS, language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, card, label, repolish
from kiosk.ui.theme import Metrics

log = logging.getLogger(__name__)

WARN, OK_MARK, NA_MARK = "⚠", "✓", "–"
CAMERA_RETRY_MS = 3000

# Two columns of fields; the long ones take a whole row.
FIELD_ROWS: tuple[tuple[str, ...], ...] = (
    ("bill_code", "bill_number"), ("check_code", "issue_date"), ("payer", "insurance"), ("hospital",),
    ("total", "total_in_words"), ("fund_paid", "personal_account_paid"), ("personal_cash_paid",),
)

register_strings({
    "clerk.title": ("零星报销 · 票据采集", "Sporadic reimbursement · receipt scan"),
    "clerk.live": ("实时画面", "Live camera"),
    "clerk.capture": ("拍照识别", "Capture"),
    "clerk.no_picture": ("没有画面", "No camera picture"),
    "clerk.recognised_here": ("拍照后，识别结果显示在这里", "The recognised receipt appears here after Capture"),
    "clerk.reading": ("正在识别，请勿移动票据…", "Reading, keep the receipt still…"),
    "clerk.camera_opening": ("正在连接拍摄仪…", "Connecting to the camera…"),
    "clerk.camera_ok": ("拍摄仪就绪：请把票据平放在拍摄区", "Camera ready: lay the receipt flat under it"),
    "clerk.camera_error": ("拍摄仪故障：{reason}", "Camera problem: {reason}"),
    "clerk.camera_generic": ("拍摄仪无法使用，请联系技术人员", "The camera cannot be used; call a technician"),
    "clerk.ocr_failed": ("识别失败：{reason}", "Reading failed: {reason}"),
    "clerk.recognised": ("识别结果：第 {n} 张", "Recognised: receipt {n}"),
    "clerk.no_receipt": ("尚未拍照。把票据放好后点“拍照识别”", "Nothing captured yet. Place a receipt and tap Capture"),
    "clerk.review": ("核对第 {n} 张票据", "Check receipt {n}"),
    "clerk.items": ("明细：{items}", "Items: {items}"),
    "clerk.no_items": ("明细：未识别到", "Items: none recognised"),
    "clerk.confirm": ("已核对", "Confirmed"),
    "clerk.remove": ("移除此票", "Remove"),
    "clerk.checks_passed": ("其余 {n} 项核对通过", "{n} other checks passed"),
    "clerk.checks_all_passed": ("{n} 项核对全部通过", "All {n} checks passed"),
    "clerk.checks_na": ("{n} 项因缺栏目未核对", "{n} checks not possible (field missing)"),
    "clerk.needs_confirm": ("请对照原件核对标出的栏目，然后点“已核对”", "Compare the marked fields with the paper, then tap Confirmed"),
    "clerk.resident": ("参保人", "Resident"),
    "clerk.resident_missing": ("请让参保人刷身份证或社保卡", "Ask the resident to read their ID or social-security card"),
    "clerk.resident_name": ("姓名 {name}", "Name {name}"),
    "clerk.resident_id": ("证件 {id}", "ID {id}"),
    "clerk.batch": ("本次报销票据", "Receipts in this claim"),
    "clerk.batch_empty": ("还没有票据", "No receipts yet"),
    "clerk.batch_row": ("第 {n} 张  ¥{amount}", "No. {n}  ¥{amount}"),
    "clerk.batch_row_flag": ("第 {n} 张  ¥{amount}  {mark}", "No. {n}  ¥{amount}  {mark}"),
    "clerk.sum": ("合计 ¥{amount}（{n} 张）", "Total ¥{amount} ({n} receipts)"),
    "clerk.submit": ("提交报销", "Submit"),
    "clerk.submitting": ("正在保存…", "Saving…"),
    "clerk.submitted": ("提交成功　业务编号 {ref}", "Submitted. Reference {ref}"),
    "clerk.new_claim": ("新的报销", "New claim"),
    "clerk.submit_failed": ("提交失败：{reason}", "Submit failed: {reason}"),
    "clerk.generic_error": ("系统繁忙，请重试", "The system is busy; please retry"),
    "clerk.block.no_resident": ("还没有读取参保人证件", "The resident has not been identified"),
    "clerk.block.no_receipts": ("还没有票据", "No receipt in the claim"),
    "clerk.block.unconfirmed": ("第 {n} 张有待核对的栏目", "Receipt {n} has fields to check"),
    "clerk.block.not_duplicate": ("第 {n} 张已报销过，请移除", "Receipt {n} was already reimbursed; remove it"),
    "clerk.block.total_missing": ("第 {n} 张缺少金额", "Receipt {n} has no total"),
    "clerk.block.in_batch": ("第 {n} 张与前面的票据重复", "Receipt {n} repeats an earlier one"),
    "clerk.field.bill_code": ("票据代码", "Bill code"),
    "clerk.field.bill_number": ("票据号码", "Bill number"),
    "clerk.field.check_code": ("校验码", "Check code"),
    "clerk.field.issue_date": ("开票日期", "Issue date"),
    "clerk.field.payer": ("交款人", "Payer"),
    "clerk.field.hospital": ("收款单位（医院）", "Hospital"),
    "clerk.field.insurance": ("医保类型", "Insurance type"),
    "clerk.field.total": ("合计（小写）", "Total (figures)"),
    "clerk.field.total_in_words": ("合计（大写）", "Total (in words)"),
    "clerk.field.fund_paid": ("医保统筹支付", "Paid by the fund"),
    "clerk.field.personal_account_paid": ("个人账户支付", "Personal account"),
    "clerk.field.personal_cash_paid": ("个人现金支付", "Personal cash"),
    "clerk.field.items": ("明细", "Items"),
    "clerk.check.words_match": ("大写金额与小写不符", "amount in words ≠ figures"),
    "clerk.check.items_sum": ("明细合计与总额不符", "items do not add up to the total"),
    "clerk.check.payments_sum": ("统筹＋个人账户＋现金 ≠ 总额", "fund + account + cash ≠ total"),
    "clerk.check.date_valid": ("开票日期无效或晚于今天", "issue date invalid or in the future"),
    "clerk.check.bill_code_format": ("票据代码应为 8 位数字", "bill code must be 8 digits"),
    "clerk.check.bill_number_format": ("票据号码应为 10 位数字", "bill number must be 10 digits"),
    "clerk.check.check_code_format": ("校验码应为 6 位（0–9、a–f）", "check code must be 6 characters 0–9, a–f"),
    "clerk.check.not_duplicate": ("该票据已报销过", "receipt already reimbursed"),
    "clerk.problem.missing": ("未识别到，请填写", "not found, please fill in"),
    "clerk.problem.unsure": ("识别不确定，请对照原件", "unsure reading, compare with the paper"),
    "clerk.problem.prefix": ("{mark} 请核对：{what}", "{mark} Check: {what}"),
})


def field_problems(receipt: ClaimReceipt, name: str) -> list[str]:
    """Translation keys explaining why `name` is flagged (empty when it is not)."""
    if name not in receipt.needs_review:
        return []
    keys = [f"clerk.check.{check}" for check, ok in receipt.checks.items() if ok is False and name in CHECK_FIELDS[check]]
    if receipt.fields.get(name) is None and name != "items":
        keys.append("clerk.problem.missing")
    if not keys:
        keys.append("clerk.problem.unsure")
    return keys


class ImageView(QLabel):
    """A picture that rescales with its box and never pushes the layout around."""

    def __init__(self, name: str, placeholder_key: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.placeholder_key = placeholder_key
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(160, 120)
        # A dark mat makes the paper's edges visible, like the camera's own viewer.
        self.setStyleSheet("background: #263238; color: #FFFFFF; border-radius: 6px;")
        self._source: QPixmap | None = None

    def show_pixmap(self, pixmap: QPixmap | None) -> None:
        self._source = pixmap if pixmap is not None and not pixmap.isNull() else None
        self._rescale()

    def refresh(self) -> None:
        """Re-read the placeholder after a language switch."""
        self._rescale()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is None:
            self.setText(tr(self.placeholder_key))
            return
        self.setPixmap(self._source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class ClerkStationScreen(Screen):
    name = "clerk_station"
    submitted = Signal(object)  # OutboxEntry, after the outbox committed

    def __init__(self, metrics: Metrics, lanes: Any, capture: ReceiptCapture, outbox: Any, kiosk_id: str,
                 claimed: ClaimedReceipts | None, *, preview_ms: int = 500,
                 today: Any = None) -> None:
        """`lanes`: the submit's "outbox" lane; `capture`: camera and OCR (their own lane)."""
        super().__init__(metrics)
        self.lanes, self.capture_service = lanes, capture
        self.outbox, self.kiosk_id, self.claimed, self.today = outbox, kiosk_id, claimed, today
        # Each receipt's picture, made on the capture lane with its reading (keyed by id(): the
        # batch keeps the receipt alive, and entries for removed receipts are dropped on select).
        self._pictures: dict[int, QPixmap] = {}
        self._preview_ms = preview_ms
        self.batch = ClaimBatch(claimed, today)
        self.submission_id = outbox.new_submission_id()
        self.selected: int | None = None
        self.frame: np.ndarray | None = None
        self._read_frame: np.ndarray | None = None  # the picture being read: the claim carries it (issue 19)
        capture.frame_grabbed.connect(self._on_frame)
        capture.camera_failed.connect(self._on_camera_error)
        capture.receipt_read.connect(self._on_read)
        capture.read_failed.connect(self._on_read_error)
        self._grabbing = self._reading = self._submitting = False
        self._closed = False
        self._camera_ok = False
        self._camera_message = ""
        self._ocr_message = ""
        self._submit_message = ("", "")  # (role, text)
        self._pending_field_errors: dict[str, str] = {}
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(preview_ms)
        self.timer.timeout.connect(self._tick)
        self.retranslate()
        self._camera_message = tr("clerk.camera_opening")
        self._tick()
        self.timer.start()

    # -- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        m = self.metrics
        gap = m.mm(2)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(gap, gap, gap, gap)
        outer.setSpacing(gap)

        # Column 1: camera and the recognised picture.
        left = QVBoxLayout()
        outer.addLayout(left, 5)
        self.title = label(role="title", wrap=False)
        left.addWidget(self.title)
        self.live_caption = label(role="hint", wrap=False)
        left.addWidget(self.live_caption)
        self.preview = ImageView("clerk_preview", "clerk.no_picture")
        left.addWidget(self.preview, 2)
        row = QHBoxLayout()
        self.capture = button(role="primary", name="clerk_capture")
        self.capture.setMinimumHeight(round(m.target_px * 1.2))
        row.addWidget(self.capture, 1)
        left.addLayout(row)
        self.camera_status = label(role="hint")
        self.camera_status.setObjectName("clerk_camera_status")
        left.addWidget(self.camera_status)
        self.recognised_caption = label(role="hint", wrap=False)
        left.addWidget(self.recognised_caption)
        self.recognised = ImageView("clerk_recognised", "clerk.recognised_here")
        left.addWidget(self.recognised, 3)

        # Column 2: the selected receipt's fields.
        middle = QVBoxLayout()
        outer.addLayout(middle, 5)
        self.review_title = label(role="title", wrap=False)
        middle.addWidget(self.review_title)
        self.checks_failed = label(role="error")
        self.checks_failed.setObjectName("clerk_checks_failed")
        self.checks_failed.setTextFormat(Qt.TextFormat.PlainText)
        middle.addWidget(self.checks_failed)
        self.checks_other = label(role="hint")
        self.checks_other.setObjectName("clerk_checks_other")
        self.checks_other.setTextFormat(Qt.TextFormat.PlainText)
        middle.addWidget(self.checks_other)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("Screen")
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, gap, 0)
        grid.setHorizontalSpacing(gap)
        grid.setVerticalSpacing(m.mm(1))
        self.captions: dict[str, QLabel] = {}
        self.edits: dict[str, QLineEdit] = {}
        self.problems: dict[str, QLabel] = {}
        r = 0
        for names in FIELD_ROWS:
            for c, name in enumerate(names):
                span = 2 if len(names) == 1 else 1
                caption = label(role="hint", wrap=False)
                edit = QLineEdit()
                edit.setObjectName(f"clerk_field_{name}")
                edit.setProperty("data", True)  # receipt text, not UI text to translate
                edit.textEdited.connect(lambda text, n=name: self._on_edited(n, text))
                problem = label(role="error")
                problem.setObjectName(f"clerk_problem_{name}")
                problem.hide()
                grid.addWidget(caption, r, c, 1, span)
                grid.addWidget(edit, r + 1, c, 1, span)
                grid.addWidget(problem, r + 2, c, 1, span)
                self.captions[name], self.edits[name], self.problems[name] = caption, edit, problem
            r += 3
        self.items_label = label()
        self.items_label.setObjectName("clerk_items")
        self.items_label.setProperty("data", True)  # item names are receipt text
        grid.addWidget(self.items_label, r, 0, 1, 2)
        grid.setRowStretch(r + 1, 1)
        scroll.setWidget(body)
        self.scroll_area = scroll
        middle.addWidget(scroll, 1)
        self.confirm_hint = label(role="hint")
        middle.addWidget(self.confirm_hint)
        row = QHBoxLayout()
        self.remove = button(role="danger", name="clerk_remove")
        self.confirm = button(role="option", name="clerk_confirm")
        self.confirm.setCheckable(True)
        row.addWidget(self.remove)
        row.addStretch(1)
        row.addWidget(self.confirm)
        middle.addLayout(row)

        # Column 3: resident, batch, sum, submit.
        right = QVBoxLayout()
        outer.addLayout(right, 3)
        frame, box = card(right)
        self.resident_caption = label(role="hint", wrap=False)
        self.resident_name = label(role="title")
        self.resident_name.setObjectName("clerk_resident_name")
        self.resident_name.setProperty("data", True)  # personal data, not UI text
        self.resident_id = label()
        self.resident_id.setObjectName("clerk_resident_id")
        self.resident_id.setProperty("data", True)
        for w in (self.resident_caption, self.resident_name, self.resident_id):
            box.addWidget(w)
        self.batch_caption = label(role="hint", wrap=False)
        right.addWidget(self.batch_caption)
        self.batch_box = QVBoxLayout()
        self.batch_box.setSpacing(m.mm(1))
        right.addLayout(self.batch_box)
        self.batch_empty = label(role="hint")
        self.batch_box.addWidget(self.batch_empty)
        self.batch_group = QButtonGroup(self)
        self.batch_group.setExclusive(True)
        self.batch_buttons: list[QPushButton] = []
        right.addStretch(1)
        self.sum_label = label(role="title")
        self.sum_label.setObjectName("clerk_sum")
        right.addWidget(self.sum_label)
        self.blockers_label = label(role="hint")
        self.blockers_label.setObjectName("clerk_blockers")
        right.addWidget(self.blockers_label)
        self.submit_message = label(role="ok")
        self.submit_message.setObjectName("clerk_submit_message")
        right.addWidget(self.submit_message)
        self.submit = button(role="accent", name="clerk_submit")
        self.submit.setMinimumHeight(round(m.target_px * 1.2))
        right.addWidget(self.submit)
        self.new_claim = button(name="clerk_new_claim")
        right.addWidget(self.new_claim)

        self.capture.clicked.connect(self.on_capture)
        self.confirm.toggled.connect(self._on_confirm)
        self.remove.clicked.connect(self._on_remove)
        self.submit.clicked.connect(self.on_submit)
        self.new_claim.clicked.connect(self.start_new_claim)

    # -- texts -----------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.title.setText(tr("clerk.title"))
        self.preview.refresh()
        self.recognised.refresh()
        self.live_caption.setText(tr("clerk.live"))
        self.capture.setText(tr("clerk.reading") if self._reading else tr("clerk.capture"))
        for name, caption in self.captions.items():
            caption.setText(tr(f"clerk.field.{name}"))
        self.confirm.setText(f"{OK_MARK} {tr('clerk.confirm')}")
        self.remove.setText(tr("clerk.remove"))
        self.resident_caption.setText(tr("clerk.resident"))
        self.batch_caption.setText(tr("clerk.batch"))
        self.batch_empty.setText(tr("clerk.batch_empty"))
        self.submit.setText(tr("clerk.submitting") if self._submitting else tr("clerk.submit"))
        self.new_claim.setText(tr("clerk.new_claim"))
        self._show_resident()
        self._show_camera_status()
        self._refresh()

    def _show_camera_status(self) -> None:
        text = self._ocr_message or self._camera_message
        error = bool(self._ocr_message) or not self._camera_ok
        if self._reading:
            text, error = tr("clerk.reading"), False
        self.camera_status.setText(text)
        self.camera_status.setProperty("role", "error" if error and text else "hint")
        repolish(self.camera_status)
        self.capture.setEnabled(self._camera_ok and not self._reading and not self._locked)

    def _show_resident(self) -> None:
        person = self.batch.resident
        if person is None:
            self.resident_name.setText(tr("clerk.resident_missing"))
            self.resident_name.setProperty("role", "hint")
            self.resident_id.hide()
        else:
            self.resident_name.setText(tr("clerk.resident_name", name=person.masked_name()))
            self.resident_name.setProperty("role", "title")
            self.resident_id.setText(tr("clerk.resident_id", id=person.masked_id()))
            self.resident_id.show()
        repolish(self.resident_name)

    # -- camera (the capture service's lane) -------------------------------------------------------
    def _tick(self) -> None:
        if self._closed or self._grabbing or self._reading or not self.isEnabled():
            return
        self._grabbing = True
        self.capture_service.grab()

    def _on_frame(self, frame: np.ndarray, small: np.ndarray) -> None:
        self._grabbing = False
        if self._closed:
            return
        self.frame = frame
        self.preview.show_pixmap(QPixmap.fromImage(bgr_qimage(small)))
        if not self._camera_ok:
            self._camera_ok, self._camera_message = True, tr("clerk.camera_ok")
            self.timer.setInterval(self._preview_ms)
            self._show_camera_status()

    def _on_camera_error(self, error: BaseException) -> None:
        self._grabbing = False
        if self._closed:
            return
        self._camera_ok = False
        self.frame = None
        self.preview.show_pixmap(None)
        if isinstance(error, UserFacingError):
            self._camera_message = f"{WARN} " + tr("clerk.camera_error", reason=error.message(language()))
        else:
            self._camera_message = f"{WARN} " + tr("clerk.camera_generic")
        self.timer.setInterval(max(self._preview_ms, CAMERA_RETRY_MS))  # retry slowly: it may be plugged back
        self._show_camera_status()

    # -- capture → OCR (the capture service's lane) ---------------------------------------------
    def on_capture(self) -> None:
        if self._reading or not self._camera_ok:
            return
        frame = self.frame  # OCR reads what the clerk saw on the preview
        self._read_frame = frame
        self._reading, self._ocr_message = True, ""
        self.capture.setText(tr("clerk.reading"))
        self._show_camera_status()
        self.capture_service.read(frame, f"capture-{len(self.batch.receipts) + 1}")

    def _on_read(self, result: ReceiptResult, picture: QImage | None) -> None:
        self._reading = False
        self.capture.setText(tr("clerk.capture"))
        if self._closed:
            return
        try:
            receipt = self.batch.add(result, original=self._read_frame)  # the photo travels with the claim (issue 19)
        except ReimbursementError as exc:
            self._ocr_message = f"{WARN} " + exc.message(language())
        else:
            if picture is not None:
                self._pictures[id(receipt)] = QPixmap.fromImage(picture)
            self._ocr_message = ""
            self.select(len(self.batch.receipts) - 1)
        self._show_camera_status()
        self._refresh()

    def _on_read_error(self, error: BaseException) -> None:
        self._reading = False
        self.capture.setText(tr("clerk.capture"))
        self._ocr_message = f"{WARN} " + tr("clerk.ocr_failed", reason=self._reason(error))
        self._show_camera_status()

    # -- review -------------------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        self.selected = index
        self._pending_field_errors.clear()
        receipt = self._receipt()
        for name, edit in self.edits.items():
            edit.setText("" if receipt is None else (receipt.fields.get(name) or ""))
        self._pictures = {id(r): p for r in self.batch.receipts if (p := self._pictures.get(id(r))) is not None}
        self.recognised.show_pixmap(None if receipt is None else self._pictures.get(id(receipt)))
        self._refresh()

    def _receipt(self) -> ClaimReceipt | None:
        if self.selected is None or self.selected >= len(self.batch.receipts):
            return None
        return self.batch.receipts[self.selected]

    @property
    def _locked(self) -> bool:
        """The batch is being saved or was saved: nothing in it may change any more."""
        return self._submitting or self.batch.submitted is not None

    def _on_edited(self, name: str, text: str) -> None:
        if self.selected is None or self._locked:
            return
        try:
            self.batch.correct(self.selected, name, text)
        except ReimbursementError as exc:
            self._pending_field_errors[name] = exc.message(language())
        else:
            self._pending_field_errors.pop(name, None)
        self._refresh()

    def _on_confirm(self, checked: bool) -> None:
        selected = self.selected
        receipt = self._receipt() if selected is not None and not self._locked else None
        if receipt is not None and selected is not None and receipt.confirmed != checked:
            self.batch.confirm(selected, checked)
            self._refresh()

    def _on_remove(self) -> None:
        if self.selected is None or self._locked:
            return
        self.batch.remove(self.selected)
        remaining = len(self.batch.receipts)
        self.select(min(self.selected, remaining - 1) if remaining else None)

    def _refresh(self) -> None:
        """Re-draw everything that depends on the batch (cheap: a handful of widgets)."""
        receipt = self._receipt()
        closed = self._locked
        n = (self.selected or 0) + 1
        self.review_title.setText(tr("clerk.review", n=n) if receipt else tr("clerk.no_receipt"))
        self.review_title.setProperty("role", "title" if receipt else "hint")
        self.review_title.setWordWrap(receipt is None)
        repolish(self.review_title)
        self.recognised_caption.setText(tr("clerk.recognised", n=n) if receipt else "")
        self.recognised_caption.setVisible(receipt is not None)
        for name, edit in self.edits.items():
            edit.setEnabled(receipt is not None and not closed)
            words = []
            if name in self._pending_field_errors:
                words.append(self._pending_field_errors[name])
            elif receipt is not None:
                words = [tr(k) for k in field_problems(receipt, name)]
            problem = self.problems[name]
            if words:
                problem.setText(tr("clerk.problem.prefix", mark=WARN, what="；".join(words) if language() == "zh_CN" else "; ".join(words)))
            problem.setVisible(bool(words))
            edit.setProperty("invalid", bool(words))
            repolish(edit)
        self._show_items(receipt)
        self._show_checks(receipt)
        self.confirm.blockSignals(True)
        self.confirm.setChecked(bool(receipt and receipt.confirmed))
        self.confirm.blockSignals(False)
        needs = bool(receipt and receipt.needs_review)
        self.confirm.setVisible(receipt is not None)
        self.confirm.setEnabled(needs and not closed)
        hint = tr("clerk.needs_confirm")
        image_problem = getattr(receipt.result, "image_problem", None) if receipt else None
        q = receipt.result.quality if receipt is not None else None
        if image_problem and q is not None:  # the picture is why: say so (with the measurement) before the clerk types
            hint = f"{WARN} " + tr(f"ocr.image_problem.{image_problem}", sharpness=q.sharpness, needed=SHARP_AT,
                                   brightness=q.brightness, contrast=q.contrast) + "\n" + hint
        self.confirm_hint.setText(hint)
        self.confirm_hint.setVisible(needs and receipt is not None and not receipt.confirmed and not closed)
        self.remove.setVisible(receipt is not None)
        self.remove.setEnabled(not closed)
        self._show_batch()

    def _show_items(self, receipt: ClaimReceipt | None) -> None:
        if receipt is None:
            self.items_label.hide()
            return
        items = receipt.result.items
        sep = "、" if language() == "zh_CN" else ", "
        text = tr("clerk.items", items=sep.join(f"{i['name']} {i['amount']}" for i in items)) if items else tr("clerk.no_items")
        problems = [tr(k) for k in field_problems(receipt, "items")]
        if problems:
            text += "\n" + tr("clerk.problem.prefix", mark=WARN, what=sep.join(problems))
        self.items_label.setText(text)
        self.items_label.setProperty("role", "error" if problems else "")
        repolish(self.items_label)
        self.items_label.show()

    def _show_checks(self, receipt: ClaimReceipt | None) -> None:
        if receipt is None:
            self.checks_failed.hide()
            self.checks_other.hide()
            return
        failed = [name for name, ok in receipt.checks.items() if ok is False]
        passed = sum(1 for ok in receipt.checks.values() if ok is True)
        unknown = sum(1 for ok in receipt.checks.values() if ok is None)
        self.checks_failed.setText("\n".join(f"{WARN} {tr(f'clerk.check.{name}')}" for name in failed))
        self.checks_failed.setVisible(bool(failed))
        others = []
        if passed:
            others.append(f"{OK_MARK} " + (tr("clerk.checks_passed", n=passed) if failed else tr("clerk.checks_all_passed", n=passed)))
        if unknown:
            others.append(f"{NA_MARK} " + tr("clerk.checks_na", n=unknown))
        self.checks_other.setText("　".join(others) if language() == "zh_CN" else "; ".join(others))
        self.checks_other.setVisible(bool(others))

    def _show_batch(self) -> None:
        receipts = self.batch.receipts
        while len(self.batch_buttons) > len(receipts):
            b = self.batch_buttons.pop()
            self.batch_group.removeButton(b)
            b.hide()
            b.deleteLater()
        while len(self.batch_buttons) < len(receipts):
            b = button(role="option", name=f"clerk_batch_{len(self.batch_buttons)}")
            b.setCheckable(True)
            index = len(self.batch_buttons)
            b.clicked.connect(lambda _=False, i=index: self.select(i))
            self.batch_group.addButton(b)
            self.batch_box.addWidget(b)
            self.batch_buttons.append(b)
        blockers = self.batch.blockers()
        flagged = {i for _, i in blockers if i is not None}
        for i, (b, receipt) in enumerate(zip(self.batch_buttons, receipts, strict=True)):
            amount = receipt.total if receipt.total is not None else "—"
            if i in flagged:
                b.setText(tr("clerk.batch_row_flag", n=i + 1, amount=amount, mark=WARN))
            else:
                b.setText(tr("clerk.batch_row", n=i + 1, amount=amount) + f"  {OK_MARK}")
            b.setChecked(i == self.selected)
        self.batch_empty.setVisible(not receipts)
        self.sum_label.setText(tr("clerk.sum", amount=self.batch.total, n=len(receipts)))
        closed = self.batch.submitted is not None
        if closed:
            self.blockers_label.hide()
        else:
            reasons = []
            for code, at in blockers:
                text = tr(f"clerk.block.{code}", n=(at or 0) + 1)
                if text not in reasons:
                    reasons.append(text)
            if self._pending_field_errors:
                reasons.append(next(iter(self._pending_field_errors.values())))
            self.blockers_label.setText("\n".join(f"{WARN} {r}" for r in reasons))
            self.blockers_label.setVisible(bool(reasons))
        role, text = self._submit_message
        self.submit_message.setText(text)
        self.submit_message.setProperty("role", role or "ok")
        repolish(self.submit_message)
        self.submit_message.setVisible(bool(text))
        self.submit.setEnabled(self.batch.ready and not self._pending_field_errors and not self._submitting)
        self.submit.setVisible(not closed)
        self.new_claim.setVisible(closed)

    # -- resident and submit -------------------------------------------------------------------
    def set_resident(self, person: Person | None) -> None:
        """Slot for the app: a card was read at the counter (None forgets the resident)."""
        if self._submitting:  # the batch is on the outbox lane; the card can be read again
            log.info("resident card ignored while a claim is being saved")
            return
        if self.batch.submitted is not None:
            self.start_new_claim()
        self.batch.resident = person
        self._show_resident()
        self._refresh()

    def on_submit(self) -> None:
        if not self.batch.ready or self._pending_field_errors or self._submitting:
            return
        self._submitting = True
        self.submit.setText(tr("clerk.submitting"))
        self._submit_message = ("", "")
        self._refresh()
        batch, outbox, kiosk_id, sid = self.batch, self.outbox, self.kiosk_id, self.submission_id
        self.lanes.run("outbox", lambda: batch.submit(outbox, kiosk_id, sid), self._on_submitted, self._on_submit_error)

    def _on_submitted(self, entry: Any) -> None:
        self._submitting = False
        self.submit.setText(tr("clerk.submit"))
        self._submit_message = ("ok", f"{OK_MARK} " + tr("clerk.submitted", ref=entry.id[:8].upper()))
        self._show_camera_status()
        self._refresh()
        self.submitted.emit(entry)

    def _on_submit_error(self, error: BaseException) -> None:
        self._submitting = False
        self.submit.setText(tr("clerk.submit"))
        self._submit_message = ("error", f"{WARN} " + tr("clerk.submit_failed", reason=self._reason(error)))
        self.batch.recheck()  # another station may have claimed a receipt meanwhile
        self._refresh()

    @staticmethod
    def _reason(error: BaseException) -> str:
        """The one error → message mapping (kiosk.devices.tasks.user_error) with the clerk's
        generic text: an unexpected error shows a logged reference, never its own text."""
        generic = STRINGS["clerk.generic_error"]
        return user_error(error, (generic[0], generic[1])).message(language())

    def start_new_claim(self) -> None:
        """Next resident: a fresh batch and a fresh submission id."""
        self.batch = ClaimBatch(self.claimed, self.today)
        self.submission_id = self.outbox.new_submission_id()
        self._submit_message = ("", "")
        self._ocr_message = ""
        self.select(None)
        self._show_resident()
        self._show_camera_status()

    def reset(self) -> None:
        self.start_new_claim()

    def shutdown(self) -> None:
        """Stop the preview and release the camera on its own thread (call before lanes.shutdown)."""
        self._closed = True
        self.timer.stop()
        self.capture_service.close()
