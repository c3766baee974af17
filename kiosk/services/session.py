"""The resident's session: who, which service, the answers so far. Cleared on idle and on exit.

UI-free. `clear()` drops every reference to personal data so nothing of one resident is left for
the next (the screens clear their widgets separately).

`visit` holds answers a resident gave that later forms of the same visit reuse instead of asking
again (fields with `prefill = "visit.<key>"`, e.g. the phone number). It lives only as long as the
visit: nothing is offered from a previous visit, so one resident's phone never reaches another.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kiosk.services.forms import FormSpec
from kiosk.services.identity import Person


@dataclass
class ResidentSession:
    elderly_age: int = 65
    person: Person | None = None
    form: FormSpec | None = None
    submission_id: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    visit: dict[str, Any] = field(default_factory=dict)  # reused within this visit only
    chosen_service: str | None = None  # the tile touched before identifying: the menu marks it
    disabled_by_choice: bool = False
    started_at: dt.datetime | None = None

    def identify(self, person: Person) -> None:
        if self.person is not None and self.person.id_number != person.id_number:
            self.clear()  # a different resident: never mix two people's data
        self.person = person
        self.started_at = self.started_at or dt.datetime.now()

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
        age = self.person.age() if self.person else None
        if age is not None and age >= self.elderly_age:
            return "elderly"
        return "disabled" if self.disabled_by_choice else None

    @property
    def is_elderly(self) -> bool:
        age = self.person.age() if self.person else None
        return age is not None and age >= self.elderly_age

    def finish_service(self) -> None:
        self.form, self.submission_id, self.answers = None, None, {}

    def clear(self) -> None:
        self.person = None
        self.disabled_by_choice = False
        self.started_at = None
        self.visit = {}
        self.chosen_service = None
        self.finish_service()
