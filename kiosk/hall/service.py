"""What the hall does, in the words of the counter and the lobby. Handlers in app.py call these;
SQL and encryption stay in QueueService and HallStore.

Personal data leaves this module only through `application_view`, which writes the audit row
before it returns anything; the lobby and rating-pad views carry numbers and counters only.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from collections.abc import Callable

from kiosk.hall.live import LiveFeed
from kiosk.hall.report import HallReporter
from kiosk.hall.store import HallStore
from kiosk.services.forms import FormCatalog, FormSpec, display_value, fill_placeholders
from kiosk.services.queue import PRIORITY_REASONS, AppointmentRefused, QueueService, Ticket

log = logging.getLogger(__name__)

RATING_TAGS = ("服务效率", "服务水平", "服务态度", "环境设施", "办事流程")
TAGGED_SCORES = (1, 2, 3)  # reason tags are asked under 一般 and below
RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
OUTCOME_LABELS = {"done": "办结", "returned": "退回补正", "transferred": "转办", "skipped": "过号"}
# The materials checklist: what every application needs, plus what a form's `attachments` name.
BASE_MATERIALS = ("居民身份证或社会保障卡（原件）",)
ATTACHMENT_MATERIALS = {"receipts": "医疗费用票据（原件）及费用明细", "photo": "近期免冠照片"}


# A refused 预约 check-in: HTTP status and the clerk-facing text (the kiosk has its own zh/en words).
CHECK_IN_REFUSALS = {
    "unknown": (404, "预约码不存在"),
    "not_yet": (409, "还没到预约时间"),
    "expired": (410, "预约已过期"),
    "used": (409, "预约码已签到使用"),
}


class HallError(Exception):
    """Refused for a reason the caller can show: `code` is stable, `message` is Chinese."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class HallSettings:
    service_point: str = "医保服务大厅"
    retention_s: float = 7 * 86400.0  # applications are purged this long after they arrived
    rate_window_s: float = 15 * 60.0  # the pad asks about a ticket finished this recently
    recent_calls: int = 8
    policy_qr_url: str = ""  # config [signage]: the policy-publicity QR on the lobby page (issue 19)
    phone: str = ""  # the public consultation/complaint phone


class HallService:
    def __init__(self, queue: QueueService, store: HallStore, forms: FormCatalog, reporter: HallReporter | None,
                 settings: HallSettings = HallSettings(), clock: Callable[[], float] = time.time) -> None:
        self.queue, self.store, self.forms, self.reporter = queue, store, forms, reporter
        self.settings = settings
        self.clock = clock
        self.live = LiveFeed()
        self.report_failures = 0
        self._announce: dict[str, Any] | None = None
        self._announce_lock = threading.Lock()

    # -- kiosk side -----------------------------------------------------------------------------
    def issue(self, service: str, priority: bool | str, submission_id: str | None, kiosk_id: str,
              application: dict[str, Any] | None = None) -> dict[str, Any]:
        form = self.forms.by_code(service)
        if form is None:
            raise HallError(422, "unknown_service", f"没有业务代码 {service}")
        if form.band not in self.queue.config.band_names:
            raise HallError(422, "unknown_band", f"业务 {service} 的号段 {form.band} 未配置")
        reason = priority if isinstance(priority, str) else ("elderly" if priority else None)
        if reason is not None and reason not in PRIORITY_REASONS:
            raise HallError(422, "unknown_priority", f"未知的优先类别 {reason}")
        if application is not None:
            if submission_id is None:
                raise HallError(422, "application_without_submission", "申请材料需要业务编号")
            self.put_application(submission_id, service, kiosk_id, application)
        ticket = self.queue.issue(service, form.title.zh_CN or service, form.band, reason, submission_id=submission_id)
        self.live.notify()
        return self.ticket_json(ticket)

    def add_appointment(self, service: str, day: str, window_from: str | None = None, window_until: str | None = None,
                        priority: str = "appointment", created_by: str = "") -> dict[str, Any]:
        """预约: book a service for a day (and a window); the resident checks in at the kiosk with the code."""
        form = self.forms.by_code(service)
        if form is None:
            raise HallError(422, "unknown_service", f"没有业务代码 {service}")
        try:
            booked = self.queue.add_appointment(service, form.title.zh_CN or service, form.band, day, window_from or None,
                                                window_until or None, priority, created_by)
        except ValueError as exc:
            raise HallError(422, "invalid_appointment", f"预约内容无效：{exc}") from None
        return booked.to_json()

    def check_in(self, code: str, request_id: str) -> dict[str, Any]:
        """预约签到 at the kiosk: the ticket (as `issue` answers) plus the appointment."""
        try:
            booked, ticket = self.queue.check_in(code, request_id)
        except AppointmentRefused as exc:
            status, message = CHECK_IN_REFUSALS[exc.reason]
            raise HallError(status, f"appointment_{exc.reason}", message) from None
        self.live.notify()
        return {**self.ticket_json(ticket), "appointment": booked.to_json()}

    def withdraw(self, ticket_id: str) -> bool:
        """撤回 at the kiosk: a waiting ticket leaves the queue (nobody is called for it)."""
        withdrawn = self.queue.withdraw(ticket_id)
        if withdrawn:
            self.live.notify()
        return withdrawn

    def put_application(self, submission_id: str, service: str, kiosk_id: str, payload: dict[str, Any]) -> bool:
        from kiosk.hall.store import ApplicationConflict

        if self.forms.by_code(service) is None:
            raise HallError(422, "unknown_service", f"没有业务代码 {service}")
        try:
            return self.store.put_application(submission_id, service, kiosk_id, payload)
        except ApplicationConflict:
            raise HallError(409, "submission_conflict", "同一业务编号的申请内容不一致，未保存") from None

    def ticket_json(self, ticket: Ticket) -> dict[str, Any]:
        """As `kiosk ticket` prints it, plus the hall's "id" and the linked submission."""
        return {**ticket.to_json(), "people_ahead": self.queue.people_ahead(ticket),
                "estimated_wait_min": self.queue.estimated_wait_min(ticket), "id": ticket.ticket_id,
                "submission_id": ticket.submission_id, "service_point": self.settings.service_point}

    # -- counter side ---------------------------------------------------------------------------
    def current(self, counter: int) -> Ticket | None:
        return self.queue.current(counter)

    def call(self, counter: int, service: str | None = None, bands: tuple[str, ...] | None = None) -> Ticket | None:
        """叫号: the counter's current ticket ends as done (reported), the next one is called."""
        previous = self.queue.current(counter)
        if previous is not None:
            self._finished(self.queue.finish(previous.ticket_id, "done"), counter)
        ticket = self.queue.call_next(counter, service, bands)
        if ticket is not None:
            self._announce_call(ticket, counter)
        self.live.notify()
        return ticket

    def recall(self, counter: int) -> Ticket | None:
        ticket = self.queue.recall(counter)
        if ticket is not None:
            self._announce_call(ticket, counter)
            self.live.notify()
        return ticket

    def skip(self, counter: int) -> Ticket | None:
        ticket = self.queue.skip(counter)
        if ticket is not None:
            self._report(lambda r: r.ticket_finished(ticket))
            self.live.notify()
        return ticket

    def finish(self, ticket_id: str, outcome: str, note: str = "", to_band: str | None = None,
               to_counter: int | None = None) -> Ticket:
        before = self.queue.get(ticket_id)
        if before is None:
            raise HallError(404, "not_found", "没有这张号票")
        try:
            ticket = self.queue.finish(ticket_id, outcome, note, to_band, to_counter)
        except ValueError as exc:
            raise HallError(422, "invalid", str(exc)) from None
        if ticket is None:
            raise HallError(409, "not_called", f"{before.number} 号现在不在办理中")
        if outcome == "transferred":
            self._report(lambda r: r.transferred(ticket))
        else:
            self._finished(ticket, before.counter)
        self.live.notify()
        return ticket

    def _finished(self, ticket: Ticket | None, counter: int | None) -> None:
        if ticket is None:
            return
        self._report(lambda r: r.ticket_finished(ticket))

    def _report(self, send: Callable[[HallReporter], Any]) -> None:
        """The queue already holds the outcome; a report that cannot be queued is logged and
        counted (health shows it), never allowed to undo the counter's action."""
        if self.reporter is None:
            return
        try:
            send(self.reporter)
        except Exception as exc:
            self.report_failures += 1
            log.error("hall: cannot queue a report for the hub: %s", type(exc).__name__)

    def application_view(self, ticket: Ticket, viewer: str, counter: int | None, address: str | None) -> dict[str, Any] | None:
        """The resident's application beside the called ticket, for a logged-in clerk: the view
        is audited first (no audit row, no data)."""
        if ticket.submission_id is None:
            return None
        found = self.store.application(ticket.submission_id)
        if found is None:
            return None
        self.store.audit(viewer, "view_application", ticket.submission_id, ticket.ticket_id, counter, address)
        service, payload = found
        return application_view(self.forms, service, payload, ticket.submission_id)

    # -- lobby and rating pad (no personal data) ------------------------------------------------
    def lobby(self) -> dict[str, Any]:
        calling = [{"number": t.number, "counter": t.counter} for t in self.queue.current_calls()]
        now_calling = {c["number"] for c in calling}
        recent = [{"number": t.number, "counter": t.counter} for t in self.queue.recent_calls(self.settings.recent_calls + len(calling))
                  if t.number not in now_calling][: self.settings.recent_calls]
        with self._announce_lock:
            announce = dict(self._announce) if self._announce else None
        return {"calling": calling, "waiting": self.queue.waiting_by_band(), "recent": recent,
                "bands": dict(self.queue.config.band_names), "announce": announce,
                "service_point": self.settings.service_point, "version": self.live.version}

    def _announce_call(self, ticket: Ticket, counter: int) -> None:
        from kiosk.services.queue import call_announcement

        with self._announce_lock:
            seq = (self._announce or {}).get("seq", 0) + 1
            self._announce = {"seq": seq, "number": ticket.number, "counter": counter,
                              "text": call_announcement(ticket.number, counter)}

    def rate_pending(self, counter: int) -> dict[str, Any] | None:
        """The ticket the pad at this counter should ask about: finished here (done or returned)
        within the rating window and not rated yet. From the queue's rows, so a restart keeps it."""
        ticket = self.queue.last_finished(counter)
        if ticket is None or ticket.finished_at is None:
            return None
        age_s = datetime.fromtimestamp(self.clock()) - ticket.finished_at
        if age_s.total_seconds() > self.settings.rate_window_s or self.store.rated(ticket.ticket_id):
            return None
        return {"ticket_id": ticket.ticket_id, "number": ticket.number, "service_name": ticket.service_name,
                "counter": counter}

    def rate(self, counter: int, ticket_id: str, score: int, tags: list[str]) -> None:
        pending = self.rate_pending(counter)
        if pending is None or pending["ticket_id"] != ticket_id:
            raise HallError(409, "not_ratable", "这张号票现在不能评价（已评价或已过时）")
        if score not in RATING_LABELS:
            raise HallError(422, "invalid_score", "评分应为 1 到 5")
        if any(t not in RATING_TAGS for t in tags) or (tags and score not in TAGGED_SCORES):
            raise HallError(422, "invalid_tags", "评价原因不在可选范围内")
        ticket = self.queue.get(ticket_id)
        assert ticket is not None
        if self.reporter is not None:
            try:
                self.reporter.rating(ticket, score, list(tags), counter)
            except Exception as exc:  # not recorded as rated: the resident can press again
                log.error("hall: cannot queue a rating: %s", type(exc).__name__)
                raise HallError(503, "storage_unavailable", "评价暂时无法保存，请稍后再试") from None
        self.store.put_rating(ticket_id, score, list(tags), counter)
        self.live.notify()

    # -- housekeeping ---------------------------------------------------------------------------
    def purge(self) -> int:
        return self.store.purge_applications(self.settings.retention_s)


def application_view(forms: FormCatalog, service: str, payload: dict[str, Any], submission_id: str) -> dict[str, Any]:
    """The application as the counter shows it: answers with the form's labels and option
    labels, the applicant in full (the caller has audited the view), the materials checklist."""
    form = forms.by_code(service)
    raw_answers = payload.get("answers")
    answers: dict[str, Any] = raw_answers if isinstance(raw_answers, dict) else {}
    rows: list[dict[str, str]] = []
    if form is not None:
        for f in form.fields:
            if f.name in answers:
                rows.append({"name": f.name, "label": f.label.zh_CN, "value": display_value(f, answers[f.name], "zh_CN")})
        known = {f.name for f in form.fields}
    else:
        known = set()
    rows += [{"name": k, "label": k, "value": str(v)} for k, v in answers.items() if k not in known]
    applicant = payload.get("applicant") if isinstance(payload.get("applicant"), dict) else None
    receipts = [receipt_row(r) for r in payload.get("receipts", []) if isinstance(r, dict)] \
        if isinstance(payload.get("receipts"), list) else []
    return {
        "submission_id": submission_id, "service": service,
        "service_name": form.title.zh_CN if form is not None else service,
        "applicant": applicant, "answers": rows, "proxy": proxy_view(payload),
        "materials": counter_materials(form),
        "receipts": receipts,
        "payload": payload,
    }


def counter_materials(form: FormSpec | None) -> list[str]:
    """The clerk's checklist: the very list the resident was told to bring (the form's 办事指南,
    also printed on the ticket); a form without a guide gets the base list and its attachments."""
    if form is None:
        return list(BASE_MATERIALS)
    if form.guide is not None and form.guide.materials:
        return [fill_placeholders(m.zh_CN, {}) for m in form.guide.materials]
    return [*BASE_MATERIALS, *(ATTACHMENT_MATERIALS.get(a, a) for a in form.attachments)]


RESIDENT_CHECK_LABELS = {"card": "读卡核验", "hub": "姓名与参保记录一致", "unverified": "未核验：请核对被代办人的证件"}


def proxy_view(payload: dict[str, Any]) -> dict[str, Any] | None:
    """帮办代办 (issue 19): who acted for the applicant, how related, when the 委托 was confirmed,
    and whether the typed-in applicant still needs checking at the counter."""
    from kiosk.services.submissions import RELATION_LABELS_ZH

    proxy = payload.get("proxy")
    if not isinstance(proxy, dict) or not isinstance(helper := proxy.get("helper"), dict):
        return None
    check = str(proxy.get("resident_check", ""))
    return {"helper_name": str(helper.get("name", "")), "helper_id_number": str(helper.get("id_number", "")),
            "relation": RELATION_LABELS_ZH.get(str(proxy.get("relation")), str(proxy.get("relation", ""))),
            "authorised_at": str(proxy.get("authorised_at", "")).replace("T", " "),
            "resident_check": RESIDENT_CHECK_LABELS.get(check, check), "unverified": check == "unverified"}


def receipt_row(receipt: dict[str, Any]) -> dict[str, Any]:
    """One OCR'd receipt of a 零星报销 claim (kiosk.services.reimbursement's payload) for the counter."""
    raw_fields, raw_items = receipt.get("fields"), receipt.get("items")
    fields: dict[str, Any] = raw_fields if isinstance(raw_fields, dict) else {}
    items: list[Any] = raw_items if isinstance(raw_items, list) else []

    def text(key: str) -> str:
        return str(fields.get(key) or "—")

    return {"number": f"{fields.get('bill_code') or ''}{fields.get('bill_number') or ''}" or "—",
            "hospital": text("hospital"), "date": text("issue_date"), "total": text("total"),
            "items": len(items), "confirmed": bool(receipt.get("confirmed_by_clerk")),
            "needs_review": [str(n) for n in receipt.get("needs_review", []) if isinstance(n, str)]}


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    """A ticket for the counter page (no personal data of its own)."""
    def hm(value: datetime | None) -> str:
        return value.strftime("%H:%M") if value else "—"

    from kiosk.services.queue import PRIORITY_LABELS_ZH

    return {**ticket.to_json(), "id": ticket.ticket_id, "submission_id": ticket.submission_id,
            "priority_label": PRIORITY_LABELS_ZH.get(ticket.priority_reason or "", ""),
            "issued": hm(ticket.issued_at), "called": hm(ticket.first_called_at),
            "waiting_min": None if ticket.waiting_s is None else round(ticket.waiting_s / 60),
            "outcome": ticket.outcome, "note": ticket.note}
