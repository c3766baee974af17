"""Issue 19's parts of the flow, beside `KioskController`: 帮办代办, self-declared priority, 预约签到.

- Priority: the identify screen's choice goes to `ResidentSession.declared_priority`; the ticket
  and the payload get it through `session.priority_reason` (the age rule first).
- 代办: with the switch on, 继续 after the helper's own card leads to the proxy screen; the
  resident comes by card (read there) or typed ID number + name (checked by the hub on the hub
  lane; offline → `unverified`), then the relation and the 委托 confirmation; then the journey
  goes on as after identify, with `session.person` = the resident. The helper's card placed
  again mid-journey changes nothing.
- 预约签到: the check-in screen's code (typed, or scanned while it is on screen) goes to the hall on
  the outbox lane (the lane of every hall call); the ticket is shown and printed like 取号.

No I/O here: everything blocking runs on a lane; results for an earlier visit are dropped
(`for_this_visit`).
"""
from __future__ import annotations

import uuid
from typing import Any

from kiosk.errors import UserFacingError
from kiosk.services.forms import id_number_is_valid
from kiosk.services.identity import Person
from kiosk.services.submissions import with_visit_context
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.done import DoneView

register_strings({"proxy.greeting": ("{name}（代办）", "{name} (acting for)")})


class AssistedFlow:
    def __init__(self, controller: Any, priority_reasons: list[str] | tuple[str, ...]) -> None:
        self.c = controller
        self.session = controller.session
        w = self.w = controller.window
        self._checkin_request: tuple[str, str] | None = None  # (code, request id): a re-tap reuses it
        w.identify.set_priority_reasons(list(priority_reasons))
        w.identify.priority_chosen.connect(self.on_priority_chosen)
        w.identify.proxy_toggled.connect(self.on_proxy_toggled)
        w.identify.checkin_clicked.connect(self.open_checkin)
        w.home.checkin_clicked.connect(self.open_checkin)
        w.identify.back_clicked.connect(self.on_identify_back)
        w.proxy.back_clicked.connect(self.on_proxy_back)
        w.proxy.typed.connect(self.on_typed)
        w.proxy.confirmed.connect(self.on_confirmed)
        w.checkin.back_clicked.connect(controller.go_home)
        w.checkin.submitted.connect(self.on_checkin_code)

    # -- priority -------------------------------------------------------------------------------
    def on_priority_chosen(self, reason: str | None) -> None:
        self.session.declared_priority = reason
        if self.session.person is not None:
            self.w.identify.priority_badge.setVisible(self.session.priority_reason is not None)

    # -- 代办 --------------------------------------------------------------------------------------
    def on_proxy_toggled(self, on: bool) -> None:
        if self.session.helper is None:
            self.session.proxy_mode = on

    def on_identify_back(self) -> None:
        """Leaving identify before the resident was named ends 代办: a service chosen next from the
        menu must not start with the helper as the applicant under a switch left on."""
        if self.session.helper is None:
            self.w.identify.proxy_button.setChecked(False)
            self.session.proxy_mode = False

    def divert_to_proxy(self) -> bool:
        """继续 on identify with the 代办 switch on: the person read is the helper; the resident next."""
        s = self.session
        if not s.proxy_mode or s.person is None or s.helper is not None:
            return False
        s.start_proxy()
        self.w.proxy.start(s.helper)
        self.c.show(self.w.proxy)
        return True

    def takes_person(self, person: Person) -> bool:
        """A card read while 代办 is under way: True when handled here."""
        s, current = self.session, self.w.current
        if current is self.w.proxy and s.helper is not None:
            if person.id_number == s.helper.id_number:
                self.w.proxy.show_problem(tr("proxy.card_again"))
            elif person.source != "voucher" and not id_number_is_valid(person.id_number):
                self.w.proxy.show_problem(tr("identify.invalid_id"))
            elif person.source == "sscard" and person.card_expired():
                self.w.proxy.show_problem(tr("identify.expired"))
            else:
                s.identify_resident(person, "card")
                self.w.proxy.show_resident(person, "card")
            self.c.speak(self.w.proxy.spoken_prompt())
            return True
        # the helper's own card again mid-journey (or on home between services): nothing changes
        return s.helper is not None and person.id_number == s.helper.id_number

    def on_typed(self, id_number: str, name: str) -> None:
        self.w.proxy.checking()
        self.c.lanes.run("hub", lambda: self.c.backend.check_typed_resident(id_number, name),
                         self.c.for_this_visit(self.on_typed_checked), self.c.for_this_visit(self.on_typed_refused))

    def on_typed_checked(self, result: tuple[Person, str]) -> None:
        person, check = result
        s = self.session
        if s.helper is None or self.w.current is not self.w.proxy:
            return
        if person.id_number == s.helper.id_number:
            self.w.proxy.show_problem(tr("proxy.card_again"))
            return
        s.identify_resident(person, check)
        self.w.proxy.show_resident(person, check)
        self.c.speak(self.w.proxy.spoken_prompt())

    def on_typed_refused(self, error: BaseException) -> None:
        message = error.message(language()) if isinstance(error, UserFacingError) else tr("error.generic")
        self.w.proxy.show_problem(message)
        self.c.speak(message)

    def on_confirmed(self, relation: str) -> None:
        s = self.session
        if s.helper is None or s.person is None:
            return
        s.authorise(relation)
        name = tr("proxy.greeting", name=s.person.masked_name())
        self.w.set_person_greeting(name)
        self.w.home.show_person(name, s.priority_reason is not None)
        self.c.continue_identified()

    def on_proxy_back(self) -> None:
        """Back to identify: the helper is the one identified again (代办 can be switched off)."""
        s = self.session
        if s.helper is not None:
            s.person, s.helper, s.proxy = s.helper, None, None
        self.w.proxy.reset()
        self.c.show(self.w.identify)

    # -- what the submission and the review carry --------------------------------------------------
    def payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        s = self.session
        return with_visit_context(payload, s.priority_reason, s.declared_priority, s.proxy)

    def review_context(self) -> dict[str, Any]:
        return {"proxy": self.session.proxy, "priority": self.session.priority_reason}

    # -- 预约签到 ----------------------------------------------------------------------------------
    def open_checkin(self) -> None:
        self.c.pending_form = None
        self.w.checkin.reset()
        self.c.show(self.w.checkin)

    def takes_scan(self, code: str) -> bool:
        """A QR scanned while the check-in screen is up is the appointment code, not a voucher."""
        if self.w.current is not self.w.checkin:
            return False
        self.w.checkin.enter(code)
        return True

    def on_checkin_code(self, code: str) -> None:
        if self._checkin_request is None or self._checkin_request[0] != code:
            self._checkin_request = (code, str(uuid.uuid4()))
        request_id = self._checkin_request[1]
        self.w.checkin.working()
        self.c.lanes.run("outbox", lambda: self.c.backend.check_in(code, request_id),
                         self.c.for_this_visit(self.on_checked_in), self.c.for_this_visit(self.on_checkin_refused))

    def on_checked_in(self, issued: Any) -> None:
        self._checkin_request = None
        c = self.c
        c.done_view = DoneView(ticket_only=True, another=self.session.person is not None)
        self.w.done.update_view(c.done_view)
        self.w.done.show_preview(None)
        c.show(self.w.done)
        c.journey_step.emit("checked_in")
        c.on_ticket_issued(issued)

    def on_checkin_refused(self, error: BaseException) -> None:
        message = error.message(language()) if isinstance(error, UserFacingError) else tr("error.generic")
        self.w.checkin.show_problem(message)
        self.c.speak(message)
