"""Where the kiosk gets queue numbers: one desk per kiosk, chosen by `[hall] url`.

- `HallDesk` (url set): the service hall is the queue. Numbers, calling order, people ahead and
  the application beside the ticket all live at the hall; the kiosk keeps nothing of the queue.
  When the hall cannot be reached the desk raises `HallUnavailable`: the submission is already
  stored (the outbox comes first), and the resident goes to the counter with the 业务编号. No
  local number is made up — the counters would never call it.
- `LocalDesk` (no url): the kiosk's own `QueueService` in the data dir, as a single-machine
  service point works.

Both answer `issue` with a `DeskTicket` whose `json` is what `kiosk submit --ticket` prints: the
keys of `Ticket.to_json` plus people_ahead, estimated_wait_min, id, submission_id, service_point.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.config import Config
from kiosk.errors import UserFacingError
from kiosk.services.forms import FormSpec

log = logging.getLogger(__name__)


class HallUnavailable(UserFacingError):
    """No number from the hall; the submission (if any) is stored. Safe to show."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__("HALL_UNAVAILABLE", "暂时无法取号，请凭业务编号到窗口办理",
                         "No number could be issued; please go to a counter with your reference")
        self.detail = detail  # for the log and the CLI: names the hall and the failure, never data
        self.status = status  # the hall's HTTP status when it answered (401: a wrong hall.token), else None

    @property
    def refused(self) -> bool:
        """The hall answered and said no (a wrong token, a service it does not know): a setting to fix,
        not a hall that is down."""
        return self.status is not None and self.status < 500 and self.status not in (408, 429)


# 预约签到 refused: one clear message per reason, zh and en (issue 19).
CHECK_IN_MESSAGES = {
    "unknown": ("预约码不正确，请核对后重新输入", "This appointment code is not known; please check it and try again"),
    "not_yet": ("还没到您的预约时间，请在预约时段前一小时内签到", "It is not yet time for your appointment; check in within an hour before it"),
    "expired": ("预约已过期，请重新预约或直接取号", "This appointment has expired; please book again or take a number"),
    "used": ("此预约码已签到，请勿重复签到；如丢失号票请到服务台", "This appointment is already checked in; if you lost the ticket, ask at the desk"),
    "too_many": ("输入错误次数过多，请稍后再试或到服务台签到", "Too many wrong codes; please try later or check in at the desk"),
}


class CheckInRefused(UserFacingError):
    def __init__(self, reason: str) -> None:
        zh, en = CHECK_IN_MESSAGES[reason]
        super().__init__("CHECK_IN_" + reason.upper(), zh, en)
        self.reason = reason


class CheckInUnavailable(UserFacingError):
    """The hall cannot be reached: nothing was claimed; the resident checks in at the desk."""

    def __init__(self, detail: str) -> None:
        super().__init__("CHECK_IN_UNAVAILABLE", "暂时无法连接服务大厅，请到服务台出示预约码签到",
                         "The service hall cannot be reached; please show your appointment code at the desk")
        self.detail = detail


@dataclass(frozen=True)
class DeskTicket:
    ticket_id: str
    number: str
    people_ahead: int
    wait_min: int
    priority_reason: str | None
    issued_at: datetime
    service_name: str
    json: dict[str, Any]


class LocalDesk:
    """The data dir's queue (kiosk/services/queue.py)."""

    is_hall = False

    def __init__(self, config: Config, queue: Any = None) -> None:
        from kiosk.services.queue import QueueService

        self.config = config
        self.queue = queue or QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)

    def issue(self, form: FormSpec, priority_reason: str | None, submission_id: str | None = None,
              application: dict[str, Any] | None = None) -> DeskTicket:
        ticket = self.queue.issue(form.code, form.title.zh_CN or form.code, form.band, priority_reason, submission_id=submission_id)
        ahead, wait = self.queue.people_ahead(ticket), self.queue.estimated_wait_min(ticket)
        data = {**ticket.to_json(), "people_ahead": ahead, "estimated_wait_min": wait, "id": ticket.ticket_id,
                "submission_id": ticket.submission_id, "service_point": self.config.kiosk.service_point}
        return DeskTicket(ticket.ticket_id, ticket.number, ahead, wait, ticket.priority_reason, ticket.issued_at,
                          ticket.service_name, data)

    def check_in(self, code: str, request_id: str) -> DeskTicket:
        """预约签到 on the local queue (appointments booked with `kiosk hall add-appointment --db
        <data_dir>/queue.sqlite3`)."""
        from kiosk.services.queue import AppointmentRefused

        try:
            _, ticket = self.queue.check_in(code, request_id)
        except AppointmentRefused as exc:
            raise CheckInRefused(exc.reason) from None
        ahead, wait = self.queue.people_ahead(ticket), self.queue.estimated_wait_min(ticket)
        data = {**ticket.to_json(), "people_ahead": ahead, "estimated_wait_min": wait, "id": ticket.ticket_id,
                "submission_id": None, "service_point": self.config.kiosk.service_point}
        return DeskTicket(ticket.ticket_id, ticket.number, ahead, wait, ticket.priority_reason, ticket.issued_at,
                          ticket.service_name, data)

    def mark_printed(self, ticket_id: str) -> None:
        self.queue.mark_printed(ticket_id)

    def mark_print_failed(self, ticket_id: str, reason: str) -> None:
        self.queue.mark_print_failed(ticket_id, reason)

    def withdraw(self, ticket_id: str) -> bool:
        return self.queue.withdraw(ticket_id)

    def close(self) -> None:
        self.queue.close()


class HallDesk:
    """The hall over HTTP (kiosk/services/hall_client.py). The application goes with the ticket:
    the clerk sees it when the number is called."""

    is_hall = True

    def __init__(self, config: Config, client: Any = None) -> None:
        from kiosk.services.hall_client import HallClient

        self.config = config
        self.client = client or HallClient.from_config(config.hall)

    def issue(self, form: FormSpec, priority_reason: str | None, submission_id: str | None = None,
              application: dict[str, Any] | None = None) -> DeskTicket:
        from kiosk.services.hall_client import HallError

        try:
            data = self.client.issue_ticket(form.code, priority_reason or False, submission_id, application)
            ticket = DeskTicket(data["id"], data["number"], _count(data.get("people_ahead")),
                                _count(data.get("estimated_wait_min")), data.get("priority_reason"),
                                _when(data.get("issued_at")), str(data.get("service_name") or form.title.zh_CN), data)
        except HallError as exc:
            log.warning("hall ticket not issued for %s: %s", form.code, exc)
            raise HallUnavailable(str(exc), exc.status) from None
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("hall ticket reply unusable: %s", type(exc).__name__)
            raise HallUnavailable("hall ticket reply unusable") from None
        return ticket

    def check_in(self, code: str, request_id: str) -> DeskTicket:
        from kiosk.services.hall_client import HallError

        try:
            data = self.client.check_in(code, request_id)
            return DeskTicket(data["id"], data["number"], _count(data.get("people_ahead")),
                              _count(data.get("estimated_wait_min")), data.get("priority_reason"),
                              _when(data.get("issued_at")), str(data.get("service_name") or ""), data)
        except HallError as exc:
            reason = exc.code.removeprefix("appointment_") if exc.code.startswith("appointment_") else ""
            if reason in CHECK_IN_MESSAGES:
                raise CheckInRefused(reason) from None
            if exc.code == "too_many_failures":
                raise CheckInRefused("too_many") from None
            log.warning("hall check-in failed: %s", exc)
            raise CheckInUnavailable(str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("hall check-in reply unusable: %s", type(exc).__name__)
            raise CheckInUnavailable("hall check-in reply unusable") from None

    # The print state is the kiosk's concern (reprint on its own screen); the hall has no use for it.
    def mark_printed(self, ticket_id: str) -> None:
        pass

    def mark_print_failed(self, ticket_id: str, reason: str) -> None:
        log.info("hall ticket %s not printed: %s", ticket_id[:8], reason)

    def withdraw(self, ticket_id: str) -> bool:
        """The submission is withdrawn already (outbox, hub); a hall that cannot be reached now
        only leaves the number in line (logged) — the clerk finds the reference withdrawn."""
        from kiosk.services.hall_client import HallError

        try:
            return self.client.withdraw(ticket_id)
        except HallError as exc:
            log.warning("hall ticket %s not withdrawn: %s", ticket_id[:8], exc)
            return False

    def close(self) -> None:
        self.client.close()


TICKET_FOOTER = "请留意叫号，过号请到服务台"


def ticket_content(config: Config, ticket: DeskTicket, footer: str = TICKET_FOOTER) -> Any:
    """The printable ticket (drivers.printer.ticket.TicketContent) for a desk's ticket, at the hall
    or local alike: `kiosk ticket` prints this; the service's checklist and signage are added by
    the caller."""
    from drivers.printer.ticket import TicketContent

    from kiosk.services.queue import PRIORITY_LABELS_ZH

    return TicketContent(
        service_point=config.kiosk.service_point, service_name=ticket.service_name, number=ticket.number,
        people_ahead=ticket.people_ahead, estimated_wait_min=ticket.wait_min, issued_at=ticket.issued_at,
        priority=ticket.priority_reason is not None, ticket_id=ticket.ticket_id,
        counter_hint=PRIORITY_LABELS_ZH.get(ticket.priority_reason or "", ""), footer=footer,
    )


def open_desk(config: Config) -> LocalDesk | HallDesk:
    return HallDesk(config) if config.hall.url else LocalDesk(config)


def _count(value: Any) -> int:
    return max(0, int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _when(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else datetime.now()
    except ValueError:
        return datetime.now()
