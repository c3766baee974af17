"""办理进度查询, the service side: what the back office decided about a submission, in words for
the resident and what to do next.

The hub answers `GET /v1/applications/{id}/state` for the kiosk's own submissions
(`HubClient.application_state`) and `POST /v1/persons/applications` for everything a card holder
filed at any kiosk (`HubClient.person_applications`; `person_progress` turns the reply into rows
for the done screen's progress list). States are set in the bureau's console; the hall's counter
outcome comes along when a hall reported one. Blocking calls: from a lane, never the GUI thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from kiosk.errors import UserFacingError
from kiosk.services.forms import Text

STATE_TEXTS: dict[str, tuple[Text, Text]] = {
    "submitted": (Text("已提交，等待受理", "Submitted, waiting to be accepted"),
                  Text("无需操作，受理后可再次查询", "Nothing to do; check again later")),
    "accepted": (Text("已受理", "Accepted"), Text("正在排队办理，请耐心等待", "It is in line to be processed")),
    "processing": (Text("办理中", "Being processed"), Text("正在办理，请耐心等待", "Please wait while it is processed")),
    "done": (Text("已办结", "Completed"), Text("业务已办结", "Your application is complete")),
    "returned": (Text("退回补正", "Returned for correction"),
                 Text("请按说明补齐材料后到窗口办理", "Bring the missing materials named below to a counter")),
    "refused": (Text("不予受理", "Not accepted"),
                Text("原因见说明，如有疑问请到窗口咨询", "See the reason below; ask at a counter if unclear")),
}
UNKNOWN = (Text("状态未知", "Unknown state"), Text("请到窗口咨询", "Please ask at a counter"))
COUNTER_TEXTS: dict[str, Text] = {  # kiosk.services.queue.OUTCOMES, as the hall reported them
    "done": Text("窗口已办结", "Completed at the counter"),
    "returned": Text("窗口退回补正", "Returned at the counter for correction"),
    "transferred": Text("已转其他窗口办理", "Passed to another counter"),
}


@dataclass(frozen=True)
class Progress:
    submission_id: str
    state: str
    label: Text
    next_step: Text
    note: str = ""
    updated_at: str | None = None
    service: str = ""
    submitted_on: str = ""  # YYYY-MM-DD as the kiosk stamped it
    counter: Text | None = None  # the hall's outcome, with its note
    counter_note: str = ""
    title: Text | None = None  # the service's name from the form catalog

    @property
    def reference(self) -> str:
        """The 业务编号 printed on the done screen and the ticket (first 8 of the id)."""
        return self.submission_id[:8].upper()


def progress_of(reply: dict[str, Any]) -> Progress:
    """The hub's state reply → what the resident reads (pure; unknown states never crash)."""
    state = str(reply.get("state", ""))
    label, next_step = STATE_TEXTS.get(state, UNKNOWN)
    note = reply.get("note")
    updated = reply.get("updated_at")
    return Progress(str(reply.get("id", "")), state, label, next_step, note if isinstance(note, str) else "",
                    updated if isinstance(updated, str) else None)


def person_progress(applications: Iterable[dict[str, Any]], skip_services: Iterable[str] = (),
                    titles: dict[str, Text] | None = None) -> list[Progress]:
    """`HubClient.person_applications`' rows → the progress list (pure). `skip_services`: the
    instant ones (a record query has no progress to follow); `titles`: service code → its name."""
    skip = set(skip_services)
    found = []
    for row in applications:
        service = str(row.get("service", ""))
        if service in skip:
            continue
        base = progress_of(row)
        counter = row.get("counter") if isinstance(row.get("counter"), dict) else None
        outcome = COUNTER_TEXTS.get(str(counter.get("outcome", ""))) if counter else None
        note = str(counter.get("note") or "") if counter else ""
        created = row.get("created_at")
        found.append(Progress(base.submission_id, base.state, base.label, base.next_step, base.note, base.updated_at,
                              service, created[:10] if isinstance(created, str) else "", outcome, note,
                              (titles or {}).get(service)))
    return found


def progress_offline() -> UserFacingError:
    return UserFacingError("PROGRESS_OFFLINE", "网络暂时中断，无法查询办理进度，请稍后再试或到窗口查询",
                           "The network is down; progress cannot be checked now. Try later or ask at a counter")


def application_progress(client: Any, submission_ids: Iterable[str]) -> list[Progress]:
    """The state of each submission the hub knows (ids it has not received yet are left out).
    Offline or a failing hub: one clear message for the screen."""
    from kiosk.services.sync import HubError, HubNotFound

    found = []
    for submission_id in submission_ids:
        try:
            found.append(progress_of({"id": submission_id, **client.application_state(submission_id)}))
        except HubNotFound:
            continue
        except HubError:
            raise progress_offline() from None
    return found
