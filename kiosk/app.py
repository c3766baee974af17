"""The resident kiosk's runtime: config → simulators (for sim://) → drivers → services.

`KioskRuntime` owns every long-lived object and the order they start and stop in; the station
(`kiosk.stations.resident`) builds the window around it. `KioskBackend` is the narrow, blocking
API the UI controller calls on its task lanes: the UI never opens a port, a card, a socket or a
database itself. Simulators and device sources are `kiosk.devices`' (re-exported here for
callers of the old names).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.devices.simulators import Simulators, start_simulators
from kiosk.devices.sources import identity_sources, scanner_source
from kiosk.errors import UserFacingError
from kiosk.services import submissions
from kiosk.services.forms import FormCatalog, FormSpec, load_forms
from kiosk.services.identity import Person, person_from_voucher, record_evidence
from kiosk.services.sync import HubError

log = logging.getLogger(__name__)
__all__ = ["IssuedTicket", "KioskBackend", "KioskRuntime", "PrintResult", "Simulators", "identity_sources",
           "record_offline", "start_simulators"]


def record_offline() -> UserFacingError:
    return UserFacingError("RECORD_OFFLINE", "网络暂时中断，无法查询参保信息，请稍后再试或到窗口查询",
                           "The network is down; the record cannot be queried now. Try later or ask at a counter")


@dataclass(frozen=True)
class IssuedTicket:
    ticket: Any  # kiosk.services.ticket_desk.DeskTicket (from the hall, or the local queue)
    number: str
    people_ahead: int
    wait_min: int
    priority_reason: str | None
    content: Any  # drivers.printer.ticket.TicketContent


@dataclass(frozen=True)
class PrintResult:
    ok: bool
    message_zh: str = ""
    message_en: str = ""
    preview: Any = None  # kiosk.devices.ticket_preview.TicketPicture: what was printed, for the screen
    stream: bytes = b""
    printer_state: str = "unknown"  # for the status strip: read during the print, not asked again


def printer_state_of(status: Any) -> str:
    """ok / degraded (near end, or a silent printer) / error (out, offline)."""
    if status.paper == "out" or status.online is False:
        return "error"
    if status.paper == "near_end" or not status.answered:
        return "degraded"
    return "ok"


class KioskBackend:
    """Blocking operations for the UI's task lanes; each method is called from one lane only."""

    def __init__(self, config: Config, forms: FormCatalog, outbox: Any, desk: Any, printer: Any,
                 hub_client: Any, sync_worker: Any = None) -> None:
        """`desk`: where numbers come from (kiosk.services.ticket_desk: the hall, or the local queue)."""
        self.config, self.forms = config, forms
        self.outbox, self.desk, self.printer = outbox, desk, printer
        self.hub_client, self.sync_worker = hub_client, sync_worker
        self.device_board: Any = None  # kiosk.services.device_board.DeviceBoard, for the hub heartbeat

    def new_submission_id(self) -> str:
        return self.outbox.new_submission_id()

    def submit(self, form: FormSpec, payload: dict, submission_id: str) -> Any:
        """Durable before it returns: the done screen says 提交成功 only after this."""
        entry = submissions.submit(self.config, form.code, payload, submission_id, store=self.outbox)
        if self.sync_worker is not None:
            self.sync_worker.wake()
        return entry

    def undo(self, submission_id: str, ticket_id: str | None = None) -> Any:
        entry = self.outbox.undo(submission_id)  # raises UndoRefused once the hub has it
        if ticket_id:
            self.desk.withdraw(ticket_id)  # no one is called for withdrawn business
        return entry

    def issue_ticket(self, form: FormSpec, priority_reason: str | None, submission_id: str | None = None,
                     application: dict | None = None) -> IssuedTicket:
        """Called only after `submit` stored the submission: the ticket is linked to it (and, at a
        hall, carries the application to the counter). A hall that cannot be reached raises
        HallUnavailable; the stored submission is untouched."""
        from drivers.printer.ticket import TicketContent

        from kiosk.services.signage import Signage, ticket_checklist

        signage = Signage.from_config(self.config)
        ticket = self.desk.issue(form, priority_reason, submission_id, application)
        ahead, wait = ticket.people_ahead, ticket.wait_min
        content = TicketContent(
            service_point=self.config.kiosk.service_point, service_name=form.title.zh_CN, number=ticket.number,
            people_ahead=ahead, estimated_wait_min=wait, issued_at=datetime.now(), priority=priority_reason is not None,
            ticket_id=ticket.ticket_id, footer="请留意叫号屏幕和语音提示",
            checklist=ticket_checklist(form, signage), signage=signage.ticket_footer(),  # 一次性告知 (issue 19)
            counter_hint=submissions.ticket_hint(priority_reason, application),  # 代办 and the priority reason
        )
        return IssuedTicket(ticket, ticket.number, ahead, wait, priority_reason, content)

    def reference_slip(self, form: FormSpec, priority_reason: str | None, submission_id: str,
                       application: dict | None = None) -> IssuedTicket:
        """No number (the hall was down) but the submission is stored: a slip with its 业务编号 and
        请到窗口出示此凭条, for the clerk to find the application by. No ticket behind it (`ticket` None),
        so nothing to mark printed or to withdraw."""
        from drivers.printer.ticket import TicketContent

        from kiosk.services.signage import Signage, ticket_checklist

        signage = Signage.from_config(self.config)
        content = TicketContent(
            service_point=self.config.kiosk.service_point, service_name=form.title.zh_CN, number="",
            people_ahead=0, estimated_wait_min=0, issued_at=datetime.now(), priority=priority_reason is not None,
            ticket_id=submission_id, checklist=ticket_checklist(form, signage), signage=signage.ticket_footer(),
            counter_hint=submissions.ticket_hint(priority_reason, application), reference=submissions.reference(submission_id),
        )
        return IssuedTicket(None, "", 0, 0, priority_reason, content)

    def check_in(self, code: str, request_id: str) -> IssuedTicket:
        """预约签到 (issue 19): the appointment's ticket with its priority, at the hall (or the local
        queue). CheckInRefused / CheckInUnavailable carry the resident's message."""
        from drivers.printer.ticket import TicketContent

        ticket = self.desk.check_in(code, request_id)
        content = TicketContent(
            service_point=self.config.kiosk.service_point, service_name=ticket.service_name, number=ticket.number,
            people_ahead=ticket.people_ahead, estimated_wait_min=ticket.wait_min, issued_at=datetime.now(),
            priority=ticket.priority_reason is not None, ticket_id=ticket.ticket_id, footer="请留意叫号屏幕和语音提示",
            counter_hint=submissions.ticket_hint(ticket.priority_reason, None),
        )
        return IssuedTicket(ticket, ticket.number, ticket.people_ahead, ticket.wait_min, ticket.priority_reason, content)

    def check_typed_resident(self, id_number: str, name: str) -> tuple[Person, str]:
        """帮办代办: the resident their helper typed (ID number + name). (person, "hub") when the
        hub's record has that name; (person, "unverified") when the hub cannot be asked (the
        counter checks); UserFacingError when the number fails its check or the name does not
        match the record. Nothing of the record reaches the kiosk's screen."""
        from kiosk.services.identity import person_from_typed

        person = person_from_typed(id_number, name)
        if person is None:
            raise UserFacingError("TYPED_INVALID", "证件号码校验未通过或姓名为空，请核对后重新输入",
                                  "The ID number failed its check or the name is empty; please check and try again")
        try:
            self.hub_client.person_record(person.id_number, {"id_name": person.name})
        except HubError as exc:
            if exc.status in (403, 404):
                log.info("typed resident refused by the hub (HTTP %s)", exc.status)
                raise UserFacingError("TYPED_MISMATCH", "姓名与证件号码不符或未查到参保记录，请核对后重新输入",
                                      "The name does not match the ID number or no record was found; please check") from None
            log.warning("typed resident not checked (hub unavailable): %s", type(exc).__name__)
            return person, "unverified"
        except Exception as exc:
            log.warning("typed resident not checked: %s", type(exc).__name__)
            return person, "unverified"
        return person, "hub"

    def print_ticket(self, issued: IssuedTicket) -> PrintResult:
        """Never raises: whatever goes wrong, the ticket is marked failed (reprint is offered) and
        the number stays on screen, so no resident is left without a number."""
        try:
            return self._print_ticket(issued)
        except Exception as exc:
            log.exception("printing ticket failed")
            try:
                if issued.ticket is not None:  # a reference slip has no ticket behind it
                    self.desk.mark_print_failed(issued.ticket.ticket_id, type(exc).__name__)
            except Exception:
                log.exception("could not mark the ticket as failed")
            return PrintResult(False, "小票打印出错，请记住屏幕上的号码，或点“重新打印”",
                               "Printing failed; please note the number on screen or tap Reprint")

    def _print_ticket(self, issued: IssuedTicket) -> PrintResult:
        from kiosk.devices.ticket_preview import ticket_stream_and_picture

        stream, picture = ticket_stream_and_picture(issued.content, self.config.devices.printer.width_chars)
        queued = issued.ticket is not None  # a reference slip (no number) has no ticket to mark
        if self.printer is None:
            if queued:
                self.desk.mark_print_failed(issued.ticket.ticket_id, "printer disabled")
            return PrintResult(False, "打印机未启用，请记住屏幕上的号码", "The printer is disabled; please note your number",
                               picture, stream, "missing")
        outcome = self.printer.print_ticket(issued.content)
        self._note_printer(outcome.status_after)
        if queued and outcome.ok:
            self.desk.mark_printed(issued.ticket.ticket_id)
        elif queued:
            self.desk.mark_print_failed(issued.ticket.ticket_id, outcome.error_code)  # no ghost number: reprint offered
        return PrintResult(outcome.ok, outcome.message_zh, outcome.message_en, picture, stream,
                           printer_state_of(outcome.status_after))

    def printer_state(self) -> str:
        if self.printer is None:
            return "missing"
        status = self.printer.status()
        self._note_printer(status)
        return printer_state_of(status)

    def _note_printer(self, status: Any) -> None:
        if self.device_board is not None and status is not None:
            from kiosk.services.device_board import printer_detail

            self.device_board.set("printer", printer_detail(status))

    def person_record(self, person: Person) -> dict:
        """The resident's insurance record from the hub (参保信息查询); offline → a clear message."""
        try:
            return self.hub_client.person_record(person.id_number, record_evidence(person))
        except HubError as exc:
            log.warning("record query failed: %s", exc)
            if exc.message_zh:  # the hub (or the platform behind it) said what the resident should do
                raise UserFacingError("RECORD_REFUSED", exc.message_zh, exc.message_en) from None
            raise record_offline() from None
        except Exception as exc:
            log.warning("record query failed: %s", type(exc).__name__)
            raise record_offline() from None

    def person_progress(self, person: Person) -> list:
        """办理进度查询: the resident's applications with their states (newest first), the card's
        evidence along as for the record; refused or offline → one clear message."""
        from kiosk.services.progress import person_progress, progress_offline

        try:
            rows = self.hub_client.person_applications(person.id_number, record_evidence(person))
        except HubError as exc:
            log.warning("progress query failed: %s", exc)
            if exc.message_zh:
                raise UserFacingError("PROGRESS_REFUSED", exc.message_zh, exc.message_en) from None
            if exc.status == 403:
                raise UserFacingError("PROGRESS_REFUSED", "无法核验您的卡片，请到窗口查询办理进度",
                                      "Your card could not be verified; please ask at a counter") from None
            raise progress_offline() from None
        except Exception as exc:
            log.warning("progress query failed: %s", type(exc).__name__)
            raise progress_offline() from None
        return person_progress(rows, skip_services=[f.code for f in self.forms.forms if f.instant],
                               titles={f.code: f.title for f in self.forms.forms})

    def print_certificate(self, person: Person, record: dict) -> Any:
        """Render the 参保证明 PDF in a private temp folder and send it to the A4 printer."""
        import tempfile

        from drivers.printer.a4 import open_a4_printer
        from kiosk.devices.certificate_pdf import render_certificate_apart
        from kiosk.services.certificate import certificate_content

        section = self.config.devices.a4printer
        if not section.enabled:
            raise UserFacingError("A4_DISABLED", "本机未配置 A4 打印机，请到窗口打印", "No A4 printer here; please ask at a counter")
        folder = Path(section.sim_folder) if section.sim_folder else self.config.data_dir / "a4-printed"
        printer = open_a4_printer(section.url, folder)
        with tempfile.TemporaryDirectory(prefix="certificate-") as private:
            content = certificate_content(person, record, self.config.kiosk.service_point)
            pdf = render_certificate_apart(Path(private) / "certificate.pdf", content, self.config.display.font_family)
            return printer.print_pdf(pdf)

    def rate(self, service_code: str, reference: str, score: int, reason: str = "") -> Any:
        """好差评: a rating is an outbox item like a submission (kind "rating"); no personal data."""
        from kiosk.services.ratings import rating_payload  # the one builder, shared with `kiosk submit --kind rating`

        payload = rating_payload(service_code, reference, score, reason)
        return submissions.submit(self.config, service_code, payload, kind="rating", store=self.outbox)

    def resolve_voucher(self, code: str) -> Person:
        try:
            resolved = self.hub_client.resolve_voucher(code)
        except Exception as exc:  # offline, 404, hostile reply: one clear message
            log.warning("voucher resolve failed: %s", type(exc).__name__)
            raise UserFacingError("VOUCHER", "医保电子凭证暂时无法识别，请刷身份证或社保卡", "The e-voucher could not be verified; please use your ID or social-security card") from None
        if not resolved:
            raise UserFacingError("VOUCHER", "医保电子凭证无效或已过期，请刷新后重试", "The e-voucher is invalid or expired; refresh it and try again")
        return person_from_voucher(resolved)


class KioskRuntime:
    """Everything the running kiosk owns. `start()` then `stop()`; safe to stop twice."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.sims = Simulators()
        self.forms = load_forms(config.resolve(config.kiosk.forms_dir))
        for error in self.forms.errors:
            log.error("form hidden: %s", error)
        self.outbox: Any = None
        self.desk: Any = None  # kiosk.services.ticket_desk: HallDesk or LocalDesk
        self.queue: Any = None  # the local QueueService when there is no hall (None with a hall)
        self.printer: Any = None
        self.hub_client: Any = None
        self.sync_worker: Any = None
        self.device_sources: dict[str, Any] = {}
        self.device_board: Any = None
        self.backend: KioskBackend | None = None

    def start(self, on_sync_status: Any = None) -> KioskBackend:
        from kiosk.services.submissions import open_outbox
        from kiosk.services.sync import HubClient, Syncer, SyncWorker
        from kiosk.services.ticket_desk import open_desk

        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.sims = start_simulators(config)
        self.outbox = open_outbox(config)
        self.desk = open_desk(config)  # [hall] url set: the hall is the queue; else the data dir's own
        self.queue = getattr(self.desk, "queue", None)
        self.hub_client = HubClient.from_config(config.hub)  # verifies the hub's certificate (hub.ca_file)
        syncer = Syncer(self.outbox, self.hub_client, config.outbox.batch_size)
        self.device_board = self._make_device_board()
        self.sync_worker = SyncWorker(syncer, config.outbox.backoff_base_s, config.outbox.backoff_cap_s,
                                      on_sync_status or (lambda status: None), random.Random(), health=self.heartbeat_health)
        self.printer = self._make_printer()
        self.device_sources = self._make_device_sources()
        self.backend = KioskBackend(config, self.forms, self.outbox, self.desk, self.printer, self.hub_client, self.sync_worker)
        self.backend.device_board = self.device_board
        return self.backend

    def diagnostics(self) -> Any:
        """What the technician screen runs: self-tests on the objects this runtime already owns."""
        from kiosk.services.audit_log import AuditLog
        from kiosk.services.diagnostics import DiagnosticsFacade, LiveDevices

        idcard = self.device_sources.get("idcard")
        live = LiveDevices(idcard, self.printer, self.outbox, self.hub_client, self.sync_worker)
        return DiagnosticsFacade(self.config, live=live, sims=self.sims, audit=AuditLog(self.config.data_dir / "audit.log"))

    def start_sync(self) -> None:
        self.sync_worker.start()

    def _make_printer(self) -> Any:
        section = self.config.devices.printer
        if not section.enabled:
            return None
        from drivers.printer.printer import TicketPrinter

        url = self.sims.urls.get("printer", section.url)
        return TicketPrinter(url, baud=section.baud, profile=section.profile, width_chars=section.width_chars)

    def _make_device_sources(self) -> dict[str, Any]:
        sources = identity_sources(self.config, self.sims)
        scanner = scanner_source(self.config, self.sims)
        if scanner is not None:
            sources["qrscan"] = scanner
        return sources  # their threads tell the device board what each event implies (kiosk.devices.threads)

    def _make_device_board(self) -> Any:
        from kiosk.services.device_board import DeviceBoard

        d = self.config.devices
        sections: dict[str, Any] = {"idcard": d.idcard, "sscard": d.sscard, "printer": d.printer, "qrscan": d.qrscan, "camera": d.camera}
        return DeviceBoard({name: "unknown" if s.enabled else "disabled" for name, s in sections.items()})

    def heartbeat_health(self) -> dict[str, Any]:
        """What the sync worker's hub heartbeat reports besides the outbox backlog (read on its thread)."""
        from kiosk import __version__

        return {"version": __version__, "devices": self.device_board.snapshot() if self.device_board else {},
                "service_point": self.config.kiosk.service_point[:64], "role": "kiosk"}

    def stop(self) -> None:
        if self.sync_worker is not None:
            self.sync_worker.stop()
        for resource in (self.printer, self.desk, self.outbox, self.hub_client):
            close = getattr(resource, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("closing %s failed", type(resource).__name__)
        self.sims.stop()
