"""The 办事指南 step of the journey (issue 19), kept out of the controller.

Choosing a service that has questions (kind "form") shows its guide first — before the card, so a
resident who lacks a paper learns it before anything else — and 开始填写 carries on exactly as
choosing the tile did before (identify if needed, then the form). 跳过指南 does the same and shows
no more guides in this visit (the screen forgets it at sign-out). An information service (kind
"info") is only its guide; its 取号 goes the ticket-only way (card optional, for priority).
A card placed while the guide is on screen identifies the resident for that service.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from kiosk.services.forms import FormSpec
from kiosk.services.signage import Signage


class GuideFlow:
    def __init__(self, controller: Any) -> None:
        self.c = controller
        self._through: FormSpec | None = None  # the service 开始填写 lets past the guide once
        guide = controller.window.guide
        guide.start_clicked.connect(self.on_start)
        guide.skip_clicked.connect(self.on_skip)
        guide.back_clicked.connect(controller.go_home)
        guide.ticket_clicked.connect(self.on_ticket)
        config = getattr(controller.backend, "config", None)
        if getattr(config, "signage", None) is not None:
            controller.window.set_signage(Signage.from_config(config))

    @property
    def screen(self) -> Any:
        return self.c.window.guide

    def intercept(self, form: FormSpec) -> bool:
        """True when the guide is shown instead of going on with `form`."""
        if self._through is form:
            self._through = None
            return False
        if form.info or (form.kind == "form" and not self.screen.skip_all):
            self.screen.show_guide(form)
            self.c.show(self.screen)
            return True
        return False

    def on_start(self) -> None:
        form = self.screen.form
        if form is None or form.info:
            return
        self._through = form
        self.c.on_service_chosen(form)

    def on_skip(self) -> None:
        self.screen.skip_all = True
        self.on_start()

    def on_ticket(self) -> None:
        """取号 from an information service: a number for help at the counter, nothing submitted."""
        form = self.screen.form
        if form is None or not form.info or not form.ticket:
            return
        self.c.on_service_chosen(dataclasses.replace(form, kind="ticket_only", instant=False))

    def card_placed(self) -> bool:
        """A card read while the guide is on screen, before anyone is identified: the resident is
        identified for this service (the identify screen follows, then the form)."""
        if self.c.window.current is not self.screen or self.c.session.person is not None:
            return False
        form = self.screen.form
        if form is not None:
            self.c.window.identify.reset()
            self.c.window.identify.set_card_optional(form.info)
            self.c.session.chosen_service = form.code
            self.c.pending_form = dataclasses.replace(form, kind="ticket_only", instant=False) if form.info else form
        return True
