"""The resident's session: who, which service, the answers so far. Cleared on idle and on exit.

UI-free. `clear()` drops every reference to personal data so nothing of one resident is left for
the next (the screens clear their widgets separately).

`visit` holds answers a resident gave that later forms of the same visit reuse instead of asking
again (fields with `prefill = "visit.<key>"`, e.g. the phone number). It lives only as long as the
visit: nothing is offered from a previous visit, so one resident's phone never reaches another.

帮办代办 (issue 19): with the 代办 switch on, the first person identified is the helper (a grid
worker, village cadre or relative, with their own card); `person` is then the resident they act
for — the applicant every form is about — identified by card or by typed ID number and name
(`resident_check` says how far that was verified). `proxy` is complete once the relation and the
helper's confirmation of the resident's authorisation (委托, with its time) are recorded. Both
persons are cleared with the session.

Priority: the age rule looks at the person standing at the kiosk (the helper when acting for
someone: it is the helper who waits in the hall); a self-declared reason (残疾人/孕妇/军人/其他,
config [priority]) is the choice of that person too.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kiosk.services.forms import FormSpec
from kiosk.services.identity import Person

RELATIONS = ("spouse", "child", "relative", "grid_worker", "village_cadre", "other")
RESIDENT_CHECKS = ("card", "hub", "unverified")  # read from a card; typed and matched at the hub; typed, offline


@dataclass(frozen=True)
class ProxyAuthority:
    """Who acts for the resident, how they are related, and when they confirmed the 委托."""
    helper: Person
    relation: str
    authorised_at: dt.datetime
    resident_check: str


@dataclass
class ResidentSession:
    elderly_age: int = 65
    person: Person | None = None  # the applicant (the resident acted for, in 代办)
    form: FormSpec | None = None
    submission_id: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    visit: dict[str, Any] = field(default_factory=dict)  # reused within this visit only
    chosen_service: str | None = None  # the tile touched before identifying: the menu marks it
    declared_priority: str | None = None  # 残疾人/孕妇/军人/其他, self-declared on identify
    proxy_mode: bool = False  # the 代办 switch
    helper: Person | None = None  # 代办: the person at the kiosk acting for `person`
    resident_check: str = "card"
    proxy: ProxyAuthority | None = None
    started_at: dt.datetime | None = None

    def identify(self, person: Person) -> None:
        if self.person is not None and self.person.id_number != person.id_number:
            self.clear()  # a different resident: never mix two people's data
        self.person = person
        self.started_at = self.started_at or dt.datetime.now()

    # -- 帮办代办 -----------------------------------------------------------------------------
    def start_proxy(self) -> None:
        """The person identified so far is the helper; the resident comes next."""
        if self.person is None:
            return
        self.helper, self.person, self.proxy, self.resident_check = self.person, None, None, "card"
        self.proxy_mode = True

    def identify_resident(self, person: Person, check: str) -> None:
        if check not in RESIDENT_CHECKS:
            raise ValueError(f"unknown resident check {check!r}")
        self.person, self.resident_check, self.proxy = person, check, None
        self.visit = {}  # answers given for another resident are never reused for this one

    def authorise(self, relation: str, now: dt.datetime | None = None) -> ProxyAuthority:
        if self.helper is None or self.person is None:
            raise ValueError("both the helper and the resident must be identified first")
        if relation not in RELATIONS:
            raise ValueError(f"unknown relation {relation!r}")
        self.proxy = ProxyAuthority(self.helper, relation, (now or dt.datetime.now()).replace(microsecond=0),
                                    self.resident_check)
        return self.proxy

    @property
    def acting_for_someone(self) -> bool:
        return self.proxy is not None

    @property
    def present(self) -> Person | None:
        """The person standing at the kiosk."""
        return self.helper if self.helper is not None else self.person

    # -- the service ------------------------------------------------------------------------
    def choose(self, form: FormSpec, submission_id: str | None) -> None:
        """`submission_id` is made when the form starts (the idempotency key); a ticket-only
        service has none: nothing is submitted."""
        self.form = form
        self.submission_id = submission_id
        self.answers = {}

    def remember(self, given: dict[str, Any]) -> None:
        """Answers the rest of this visit reuses (see `kiosk.services.forms.visit_answers`)."""
        self.visit.update(given)

    @property
    def priority_reason(self) -> str | None:
        if self.is_elderly:
            return "elderly"
        return self.declared_priority

    @property
    def is_elderly(self) -> bool:
        present = self.present
        age = present.age() if present else None
        return age is not None and age >= self.elderly_age

    def finish_service(self) -> None:
        self.form, self.submission_id, self.answers = None, None, {}

    def clear(self) -> None:
        self.person = None
        self.helper = None
        self.proxy = None
        self.proxy_mode = False
        self.resident_check = "card"
        self.declared_priority = None
        self.started_at = None
        self.visit = {}
        self.chosen_service = None
        self.finish_service()
