"""The kiosk's flow: connects screens to the backend and device events. No I/O here.

Every blocking call (outbox disk write, queue database, printer, hub) goes to a `TaskLanes` lane
and its result comes back as a queued call on the GUI thread. Device events arrive through a
`DeviceChannel` signal. The resident's data lives in `ResidentSession` and is cleared on idle.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from kiosk.errors import UserFacingError
from kiosk.services.heap import return_free_memory
from kiosk.services.forms import FormSpec, build_payload, id_number_is_valid, prefill, visit_answers
from kiosk.services.identity import Person
from kiosk.services.session import ResidentSession
from kiosk.services.technician import TapSequenceDetector
from kiosk.devices.events import CardPresented, DeviceStateChanged, PersonRead, ReadFailed, VoucherScanned
from kiosk.devices.tasks import TaskLanes, user_error
from kiosk.devices.threads import DeviceChannel
from kiosk.services.sync import SyncStatus
from kiosk.ui.i18n import STRINGS, language, tr
from kiosk.ui.main_window import MainWindow
from kiosk.ui.screens.done import DoneView

log = logging.getLogger(__name__)
PRINTER_POLL_MS = 20_000

# The outbox could not store a submission: nothing was promised, the resident is sent to a counter.
STORE_FAILURES = frozenset({"OUTBOX_FULL", "OUTBOX_BUSY", "OUTBOX_IO", "OUTBOX_KEY", "OUTBOX_CORRUPT"})


class KioskController(QObject):
    journey_step = Signal(str)  # screen name, for the demo script and tests

    def __init__(self, window: MainWindow, backend: Any, lanes: TaskLanes, channel: DeviceChannel,
                 elderly_age: int, idle_watcher: Any = None, voice: Any = None) -> None:
        super().__init__()
        self.window, self.backend, self.lanes = window, backend, lanes
        self.session = ResidentSession(elderly_age=elderly_age)
        # bumped at sign-out and when another service starts from the done screen: late results
        # of a previous visit (or of the service before) are dropped
        self.visit = 0
        self.pending_form: FormSpec | None = None
        self.done_view = DoneView()
        self.last_ticket: Any = None
        self.last_identify_latency_ms: float | None = None
        self.idle = idle_watcher
        self.voice = voice
        channel.event.connect(self.on_device_event, Qt.ConnectionType.QueuedConnection)
        w = window
        w.home.set_elderly_age(elderly_age)
        w.home.service_chosen.connect(self.on_service_chosen)
        w.identify.continue_clicked.connect(self.on_identified_continue)
        w.identify.back_clicked.connect(self.go_home)
        w.identify.skip_clicked.connect(self.on_identify_skipped)
        w.form.completed.connect(self.on_form_completed)
        w.form.back_clicked.connect(self.on_form_back)
        w.form.step_prompt.connect(self.speak)
        w.review.edit_clicked.connect(self.on_review_edit)
        w.review.submit_clicked.connect(self.on_submit)
        w.done.home_clicked.connect(self.sign_out)
        w.done.another_clicked.connect(self.on_another_service)
        w.done.reprint_clicked.connect(self.on_reprint)
        w.done.undo_clicked.connect(self.on_undo)
        w.done.certificate_clicked.connect(self.on_print_certificate)
        w.done.rated.connect(self.on_rated)
        w.error.home_clicked.connect(self.sign_out)
        w.elderly_toggled.connect(w.set_elderly)
        w.language_toggled.connect(w.set_language)
        w.sign_out_clicked.connect(self.sign_out)
        w.mute_toggled.connect(self.on_mute_toggled)
        if voice is not None:
            w.set_muted(voice.muted)
        self.technician_taps = TapSequenceDetector()
        self.technician_screen: Any = None
        self.diagnostics_factory: Any = None  # set by the shell when technician mode is configured
        w.title_tapped.connect(self.on_title_tapped)
        if idle_watcher is not None:
            idle_watcher.warn.connect(w.idle_overlay.show_countdown)
            idle_watcher.resumed.connect(w.idle_overlay.hide)
            idle_watcher.expired.connect(self.on_idle_expired)
            w.idle_overlay.continue_clicked.connect(idle_watcher.touch)
        from kiosk.ui.assisted import AssistedFlow  # 代办, declared priority, 预约签到 (issue 19)

        priority = getattr(getattr(backend, "config", None), "priority", None)
        self.assisted = AssistedFlow(self, priority.reasons if priority is not None else ("disabled", "pregnant", "military"))
        from kiosk.ui.guide_flow import GuideFlow  # 办事指南 before a service (issue 19)

        self.guides = GuideFlow(self)
        self.show(w.home)
        self.refresh_printer_state()
        # The strip shows the printer's last known state: from every print and from this poll
        # (paper put back between residents clears "✖ 打印机 故障" without a print).
        self._printer_poll = QTimer(self)
        self._printer_poll.timeout.connect(self.refresh_printer_state)
        self._printer_poll.start(PRINTER_POLL_MS)

    def refresh_printer_state(self) -> None:
        self.lanes.run("printer", self.backend.printer_state, lambda state: self.window.status.set_device("printer", state))

    # -- navigation -------------------------------------------------------------------------
    def speak(self, text: str) -> None:
        """A prompt for the step on screen; a newer prompt replaces any not yet spoken. Prompts
        never contain a name or ID number."""
        if self.voice is not None and text:
            self.voice.say(text, interrupt=True, language=language())

    def on_mute_toggled(self, muted: bool) -> None:
        if self.voice is not None:
            self.voice.mute(muted)

    def show(self, screen: Any) -> None:
        self.window.show_screen(screen)
        self.speak(screen.spoken_prompt())
        if self.idle is not None:
            self.idle.arm(screen is not self.window.home or self.session.person is not None)
        self.journey_step.emit(screen.name)

    def go_home(self) -> None:
        self.pending_form = None
        self.session.finish_service()
        self.window.form.reset()
        self.window.review.reset()
        self.show_menu()

    def show_menu(self) -> None:
        """Home, which is the service menu once a card is read: the person stays, and the service
        touched before identifying is marked."""
        self.window.home.mark_chosen(self.session.chosen_service)
        self.show(self.window.home)

    def for_this_visit(self, callback: Any) -> Any:
        """Wrap a lane callback so a result arriving after sign-out never reaches the next
        resident's screen."""
        visit = self.visit
        return lambda value: callback(value) if visit == self.visit else None

    def on_another_service(self) -> None:
        """办理其他业务: the same resident, back to the menu; what this visit gave (the phone) stays."""
        if self.session.person is None or not self.done_view.settled:
            return
        self.visit += 1  # late results of the service just done never reach the next one's screens
        self.done_view = DoneView()
        self.last_ticket = None
        self.window.done.reset()
        self.session.chosen_service = None
        self.go_home()

    def sign_out(self) -> None:
        """End of a resident's visit: drop every trace of them from memory and screens."""
        self.visit += 1
        self.session.clear()
        self.pending_form = None
        self.done_view = DoneView()
        self.last_ticket = None
        for screen in self.window.screens:
            screen.reset()
        self.window.set_person_greeting("")
        self.window.idle_overlay.hide()
        self.window.reset_mode()  # the next visit starts in the site's default mode
        self.refresh_printer_state()
        self.show(self.window.home)
        # Once the visit's widgets are deleted (deleteLater, next turns): their pages back to the system.
        QTimer.singleShot(1000, return_free_memory)

    # -- technician mode (hidden gesture: five taps on the title within 3 s, then the PIN) -----
    def on_title_tapped(self) -> None:
        if self.diagnostics_factory is None or not self.technician_taps.tap(time.monotonic()):
            return
        if self.technician_screen is None:
            from kiosk.ui.screens.technician import TechnicianScreen

            self.technician_screen = TechnicianScreen(
                self.window.metrics, lambda work, done, failed: self.lanes.run("hub", work, done, failed),
                self.diagnostics_factory())
            self.technician_screen.exit_clicked.connect(self.sign_out)
            self.window.add_screen(self.technician_screen)
        self.session.clear()  # a resident's session never continues into technician mode
        self.show(self.technician_screen)

    def on_idle_expired(self) -> None:
        log.info("idle timeout: session cleared")
        self.sign_out()

    # -- identify ---------------------------------------------------------------------------
    def on_service_chosen(self, form: FormSpec) -> None:
        self.session.chosen_service = form.code
        if self.guides.intercept(form):
            return  # its 办事指南 first; 开始填写 comes back here (kiosk/ui/guide_flow.py)
        if self.session.person is None:
            self.pending_form = form
            self.window.identify.reset()
            self.window.identify.set_card_optional(form.ticket_only)
            self.show(self.window.identify)
        elif form.ticket_only:
            self.issue_ticket_only(form)
        elif form.progress:
            self.show_progress(form)
        else:
            self.start_form(form)

    def on_device_event(self, device: str, event: object) -> None:
        """Typed app events from `kiosk.devices` (the only translation from driver events), and the
        sync worker's status."""
        match event:
            case SyncStatus():
                self.window.status.set_sync(event.online, event.pending)
                if event.config_error:  # sync paused: the hub refuses this kiosk (token, identity, key)
                    self.window.status.network.setText("⚠ " + tr("status.config_error"))
            case DeviceStateChanged():
                self.window.status.set_device(event.device, event.state)
            case CardPresented():
                self.window.status.set_device(event.device, "ok")
                if self.window.current is self.window.identify:
                    self.window.identify.show_state("identify.reading")
            case PersonRead():
                self.window.status.set_device(event.device, "ok")
                self.accept_person(event.person)
                if event.reply_received_at is not None:
                    # last reply byte → person on screen (bench/bench_identify.py reads this)
                    self.last_identify_latency_ms = (time.monotonic() - event.reply_received_at) * 1000
            case ReadFailed():
                if self.window.current in (self.window.identify, self.window.home):
                    self.show_card_problem("identify.failed", reason=self.error_text(event.error))
            case VoucherScanned():
                code = event.code
                if self.assisted.takes_scan(code):
                    return  # on the 预约签到 screen a scanned code is the appointment's
                self.lanes.run("hub", lambda: self.backend.resolve_voucher(code),
                               self.for_this_visit(self.accept_person), self.for_this_visit(self.on_voucher_failed))

    def error_text(self, error: BaseException) -> str:
        """The one error → message mapping (`kiosk.devices.tasks.user_error`) in the screen's
        language: a Python exception's text never reaches a resident."""
        return user_error(error).message(language())

    def on_voucher_failed(self, error: BaseException) -> None:
        if self.window.current is self.window.identify:
            self.window.identify.show_state("identify.failed", "error", reason=self.error_text(error))

    def accept_person(self, person: Person) -> None:
        if self.assisted.takes_person(person):
            return  # 代办: the resident on the proxy screen, or the helper's own card again
        current = self.window.current
        on_guide = self.guides.card_placed()  # a card while reading a 办事指南: identify for that service
        if current not in (self.window.home, self.window.identify) and not on_guide:
            if self.session.person is not None and person.id_number == self.session.person.id_number:
                return  # the same resident's card again: nothing changes mid-form
            log.info("a different card mid-journey: the previous session is closed first")
            self.sign_out()
        if person.source != "voucher" and not id_number_is_valid(person.id_number):
            self.show_card_problem("identify.invalid_id")
            return
        if person.card_expired() and person.source == "sscard":
            self.show_card_problem("identify.expired")
            return
        self.session.identify(person)
        self.window.set_person_greeting(person.masked_name())
        self.window.identify.show_person(person, self.session.priority_reason is not None)
        self.window.home.show_person(person.masked_name(), self.session.priority_reason is not None)
        if self.idle is not None:
            self.idle.arm(True)
        if self.window.current is self.window.home or on_guide:
            self.show(self.window.identify)
        if self.session.is_elderly:
            # 长辈版 automatically for elderly residents; they can switch it off. Once identify is on
            # show: only the screen on show is restyled now (home, left behind, when next shown).
            self.window.set_elderly(True)

    def show_card_problem(self, key: str, **values: str) -> None:
        """A card that could not be used says why on the identify screen — also when it was placed
        first, on home, where nothing would show it."""
        self.window.identify.show_state(key, "error", **values)
        if self.window.current is self.window.home:
            self.show(self.window.identify)
        self.speak(self.window.identify.state.text())

    def on_identified_continue(self) -> None:
        if self.assisted.divert_to_proxy():
            return  # 代办: the resident is identified next, then the journey goes on
        self.continue_identified()

    def continue_identified(self) -> None:
        if self.pending_form is not None:
            form, self.pending_form = self.pending_form, None
            if form.ticket_only:
                self.issue_ticket_only(form)
            elif form.progress:
                self.show_progress(form)
            else:
                self.start_form(form)
        else:
            self.show_menu()  # card first: straight to the service menu, the person kept

    def on_identify_skipped(self) -> None:
        """不刷卡，直接取号: only offered for a ticket-only service."""
        form = self.pending_form
        if form is not None and form.ticket_only and self.session.person is None:
            self.pending_form = None
            self.issue_ticket_only(form)

    # -- ticket only (取号咨询): a number for the form's band, no questions, nothing submitted ------
    def issue_ticket_only(self, form: FormSpec) -> None:
        self.session.choose(form, None)
        self.done_view = DoneView(ticket_only=True, another=self.session.person is not None)
        self.window.done.update_view(self.done_view)
        self.window.done.show_preview(None)
        self.show(self.window.done)
        priority = self.session.priority_reason
        self.lanes.run("outbox", lambda: self.backend.issue_ticket(form, priority),
                       self.for_this_visit(self.on_ticket_issued), self.for_this_visit(self.on_ticket_failed))

    # -- 办理进度查询: the person's applications and their states; nothing is submitted ----------
    def show_progress(self, form: FormSpec) -> None:
        person = self.session.person
        if person is None:
            return
        self.session.choose(form, None)
        self.done_view = DoneView(progress_only=True, progress_loading=True, another=True)
        self.window.done.update_view(self.done_view)
        self.window.done.show_preview(None)
        self.show(self.window.done)

        def arrived(rows: list) -> None:
            self.done_view.progress, self.done_view.progress_loading = rows, False
            self.window.done.update_view(self.done_view)
            self.journey_step.emit("progress_shown")

        def failed(error: BaseException) -> None:
            self.done_view.progress_loading = False
            self.done_view.progress_error = self.error_text(error)
            self.window.done.update_view(self.done_view)
            self.speak(self.done_view.progress_error)

        self.lanes.run("hub", lambda: self.backend.person_progress(person), self.for_this_visit(arrived), self.for_this_visit(failed))

    # -- form, review, submit ---------------------------------------------------------------
    def start_form(self, form: FormSpec) -> None:
        self.session.choose(form, self.backend.new_submission_id())
        self.window.form.load(form, prefill(form, self.session.person, self.session.visit))
        self.window.form.retranslate()
        self.show(self.window.form)

    def on_form_back(self) -> None:
        self.go_home()

    def on_form_completed(self, answers: dict) -> None:
        form = self.session.form
        if form is None:  # the visit ended (sign-out) before the form's last answer arrived
            return
        self.session.answers = answers
        self.session.remember(visit_answers(form, answers))  # the phone: asked once per visit
        self.window.review.show_review(form, self.session.person, answers, set(self.window.form.skipped),
                                       **self.assisted.review_context())
        self.show(self.window.review)

    def on_review_edit(self) -> None:
        form = self.session.form
        if form is not None and self.window.form.skipped:
            # 修改 asks everything again, the phone given earlier in the visit included
            self.window.form.load(form, prefill(form, self.session.person, self.session.visit), self.session.answers, ask_all=True)
            self.window.form.retranslate()
        self.show(self.window.form)

    def on_submit(self) -> None:
        form, person, submission_id = self.session.form, self.session.person, self.session.submission_id
        if form is None or submission_id is None:
            return
        self.window.review.submit.setEnabled(False)  # one tap, one submission
        payload = self.assisted.payload(build_payload(form, person, self.session.answers))  # + priority, 代办
        self.done_view = DoneView(reference=submission_id, instant=form.instant, another=person is not None)
        self.window.done.update_view(self.done_view)
        self.show(self.window.done)
        priority = self.session.priority_reason
        self.window.done.show_preview(None)
        self.lanes.run("outbox", lambda: self.backend.submit(form, payload, submission_id),
                       self.for_this_visit(lambda entry: self.on_submitted(form, priority, submission_id, payload)),
                       self.for_this_visit(self.on_failure))

    def on_submitted(self, form: FormSpec, priority: str | None, submission_id: str | None = None,
                     payload: dict | None = None) -> None:
        self.done_view.saved = True
        self.done_view.offline = self.window.status.online is False
        self.window.done.update_view(self.done_view)
        self.journey_step.emit("submitted")
        if form.code == "record_query":
            self.query_record(print_after=self.session.answers.get("purpose") == "certificate")
        if form.instant:
            return
        # only now, with the submission stored: the ticket is linked to it (at a hall, the
        # application goes along for the counter)
        self.lanes.run("outbox", lambda: self.backend.issue_ticket(form, priority, submission_id, payload),
                       self.for_this_visit(self.on_ticket_issued),
                       self.for_this_visit(lambda error: self.on_ticket_failed(error, (form, priority, submission_id, payload))))

    def on_ticket_issued(self, ticket: Any) -> None:
        self.last_ticket = ticket
        self.done_view.number = ticket.number
        self.done_view.people_ahead = ticket.people_ahead
        self.done_view.wait_min = ticket.wait_min
        self.done_view.priority = ticket.priority_reason is not None
        self.speak(tr("done.your_number") + " " + ticket.number + "，" + tr("done.people_ahead", n=ticket.people_ahead))
        self.print_ticket()

    def print_ticket(self) -> None:
        self.done_view.printing, self.done_view.print_error = True, ""
        self.window.done.update_view(self.done_view)
        ticket = self.last_ticket
        self.lanes.run("printer", lambda: self.backend.print_ticket(ticket), self.for_this_visit(self.on_printed))

    def on_printed(self, result: Any) -> None:
        self.done_view.printing = False
        self.done_view.print_error = "" if result.ok else (result.message_zh if language() == "zh_CN" else result.message_en)
        self.window.done.update_view(self.done_view)
        self.window.done.show_preview(result.preview)
        if result.printer_state != "unknown":
            self.window.status.set_device("printer", result.printer_state)
        elif result.ok:
            self.window.status.set_device("printer", "ok")  # a silent printer that just printed works
        self.journey_step.emit("printed" if result.ok else "print_failed")

    # -- record query and certificate (instant services) ---------------------------------------
    def query_record(self, print_after: bool) -> None:
        person = self.session.person
        if person is None:
            return
        self.done_view.record_loading = True
        self.window.done.update_view(self.done_view)

        def arrived(record: dict) -> None:
            self.done_view.record, self.done_view.record_loading = record, False
            self.window.done.update_view(self.done_view)
            if print_after:
                self.on_print_certificate()

        def failed(error: BaseException) -> None:
            self.done_view.record_loading = False
            self.done_view.record_error = self.error_text(error)
            self.window.done.update_view(self.done_view)

        self.lanes.run("hub", lambda: self.backend.person_record(person), self.for_this_visit(arrived), self.for_this_visit(failed))

    def on_print_certificate(self) -> None:
        person, record = self.session.person, self.done_view.record
        if person is None or record is None or self.done_view.certificate in ("printing", "printed"):
            return  # one certificate per tap: a second tap while printing or after must not print twice
        self.done_view.certificate = "printing"
        self.window.done.update_view(self.done_view)

        def printed(_job: Any) -> None:
            self.done_view.certificate = "printed"
            self.window.done.update_view(self.done_view)
            self.refresh_printer_state()
            self.journey_step.emit("certificate_printed")

        def failed(error: BaseException) -> None:
            self.done_view.certificate = ""
            self.done_view.notice = self.error_text(error)
            self.window.done.update_view(self.done_view)

        self.lanes.run("printer", lambda: self.backend.print_certificate(person, record),
                       self.for_this_visit(printed), self.for_this_visit(failed))

    def on_rated(self, score: int) -> None:
        code = self.session.form.code if self.session.form else "unknown"
        reference = self.done_view.reference
        self.done_view.rated = True
        self.window.done.update_view(self.done_view)
        # A rating that cannot be stored is not worth interrupting the resident for; it is logged.
        self.lanes.run("outbox", lambda: self.backend.rate(code, reference, score))

    def on_reprint(self) -> None:
        if self.last_ticket is not None:
            self.print_ticket()

    def on_undo(self) -> None:
        reference = self.done_view.reference
        ticket_id = self.last_ticket.ticket.ticket_id if self.last_ticket is not None and self.last_ticket.ticket else None
        self.lanes.run("outbox", lambda: self.backend.undo(reference, ticket_id),
                       self.for_this_visit(self.on_undone), self.for_this_visit(self.on_undo_refused))

    def on_undo_refused(self, error: BaseException) -> None:
        """Already with the hub (or gone): say so on the done screen; the number stays."""
        self.done_view.notice = self.error_text(error)
        self.window.done.update_view(self.done_view)

    def on_ticket_failed(self, error: BaseException, slip_for: tuple | None = None) -> None:
        """The submission is saved; only the number could not be issued: say so, don't start over.
        With a stored submission (`slip_for`: form, priority, id, payload) a slip with its 业务编号
        prints — 请到窗口出示此凭条 — so the clerk finds the application by it."""
        log.error("issuing a ticket failed: %s", type(error).__name__)
        if self.done_view.ticket_only:
            self.done_view.notice = tr("done.ticket_only_failed")
        else:  # e.g. the hall is down: the counter finds the stored application by its 业务编号
            self.done_view.notice = tr("done.no_ticket", ref=self.done_view.reference[:8].upper())
        if slip_for is not None:
            self.done_view.slip = self.done_view.printing = True  # not settled until the slip is out (or failed)
        self.window.done.update_view(self.done_view)
        self.speak(self.done_view.notice)
        if slip_for is not None:
            form, priority, submission_id, payload = slip_for

            def not_made(exc: BaseException) -> None:
                log.error("reference slip not made: %s", type(exc).__name__)
                self.done_view.printing = False
                self.window.done.update_view(self.done_view)

            self.lanes.run("printer", lambda: self.backend.reference_slip(form, priority, submission_id, payload),
                           self.for_this_visit(self.on_slip_ready), self.for_this_visit(not_made))

    def on_slip_ready(self, slip: Any) -> None:
        self.last_ticket = slip  # 重新打印 reprints the slip
        self.print_ticket()

    def on_undone(self, _result: Any) -> None:
        self.done_view.undone = True
        self.window.done.update_view(self.done_view)

    def on_failure(self, error: BaseException) -> None:
        if isinstance(error, UserFacingError) and error.code in STORE_FAILURES:
            # not stored (disk full, database locked, key missing): the resident goes to the counter;
            # the technician's detail (paths, what to fix) is in the log and in `kiosk diag`
            log.error("submission not stored: %s", error.message_en)
            self.window.error.show_error(error.code, STRINGS["error.cannot_store"][0], STRINGS["error.cannot_store"][1])
            self.speak(tr("error.cannot_store"))
        else:  # safe to show as it is, or generic with the logged reference (kiosk.devices.tasks.user_error)
            shown = user_error(error)
            self.window.error.show_error(shown.code, shown.message_zh, shown.message_en)
            self.speak(shown.message(language()))
        self.show(self.window.error)
