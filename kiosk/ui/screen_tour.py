"""Puts a bare MainWindow through every screen state with sample data (audit test, docs shots).

No backend, no devices: just what each screen can show, so the accessibility audit and the
screenshot gallery cover every screen in both modes and both languages.
"""
from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Iterator

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.devices.ticket_preview import TicketPicture
from kiosk.services.forms import FormCatalog, prefill
from kiosk.services.identity import Person
from kiosk.ui.i18n import language
from kiosk.ui.main_window import MainWindow
from kiosk.ui.screens.done import DoneView

KEYBOARD_WAIT_S = 5.0

# The panels a kiosk is installed on: landscape full HD, portrait full HD, and 5:4.
PANEL_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1080, 1920), (1280, 1024))

SAMPLE_PERSON = Person(name="张三", id_number="11010519491231002X", source="idcard", sex="男", nation="汉",
                       birth_date=dt.date(1949, 12, 31), address="北京市东城区示例街道1号")


@functools.cache
def sample_ticket_picture(service: str = "门诊慢特病认定", number: str = "C012", ahead: int = 3, wait: int = 30,
                          priority: bool = True) -> TicketPicture:
    """The preview the printer simulator renders for a ticket (the done screen shows it)."""
    from kiosk.devices.ticket_preview import sample_ticket_picture as render

    return render("示范镇医保服务站", service, number, ahead, wait, dt.datetime(2026, 1, 5, 9, 30), priority, "3f2a9c1e")


def tour(window: MainWindow, catalog: FormCatalog) -> Iterator[str]:
    """Yield a state name after putting the window in that state."""
    w = window

    def settle() -> None:
        for _ in range(3):  # a layout change posts the next one (tiles paged, titles fitted): let them land
            QApplication.processEvents()
        # the pinyin keyboard makes its keys over a few event-loop turns (issue 20): a shot or an
        # audit of a typing page waits for them, as a resident sees them
        deadline = time.monotonic() + KEYBOARD_WAIT_S
        while time.monotonic() < deadline and any(
                k.isVisible() and not getattr(k, "available", True)
                for k in w.findChildren(QWidget) if type(k).__name__ == "TouchKeyboard"):
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    w.show_screen(w.home)
    settle()
    yield "home"
    w.identify.set_priority_reasons(["disabled", "pregnant", "military", "other"])  # every reason config allows
    w.identify.reset()
    w.show_screen(w.identify)
    settle()
    yield "identify-waiting"
    w.identify.set_card_optional(True)
    settle()
    yield "identify-card-optional"
    w.identify.reset()
    w.identify.show_state("identify.failed", "error", reason="读卡超时" if language() == "zh_CN" else "timeout")
    settle()
    yield "identify-failed"
    w.set_person_greeting(SAMPLE_PERSON.masked_name())
    w.identify.show_person(SAMPLE_PERSON, True)
    settle()
    yield "identify-person"
    yield from _assisted_states(w, settle)
    w.home.show_person(SAMPLE_PERSON.masked_name(), True)
    w.home.mark_chosen("chronic_disease")
    w.show_screen(w.home)
    settle()
    yield "home-menu"
    w.home.reset()
    # 办事指南 (issue 19): a form's guide, and information services (steps and QR codes)
    for code, state in (("chronic_disease", "guide"), ("out_of_town", "guide-out_of_town"),
                        ("voucher_help", "guide-voucher_help"), ("contribution", "guide-contribution"),
                        ("critical_illness", "guide-critical_illness")):
        form = catalog.by_code(code)
        if form is None:
            continue
        w.guide.show_guide(form)
        w.show_screen(w.guide)
        settle()
        yield state
    shown_types: set[str] = set()
    for form in catalog.forms:
        answers = prefill(form, SAMPLE_PERSON)
        w.form.load(form, answers)
        w.form.retranslate()
        w.show_screen(w.form)
        for index, page in enumerate(w.form.steps):
            kind = page[0].type if len(page) == 1 else f"page-{form.code}"  # a grouped page: its own state
            if kind in shown_types:
                continue
            shown_types.add(kind)
            w.form.index = index
            w.form._show_step()
            settle()
            yield f"form-{kind}"
    chronic = catalog.by_code("chronic_disease")
    assert chronic is not None  # a form the tour relies on
    w.review.show_review(chronic, SAMPLE_PERSON, {"disease": "hypertension", "hospitals": ["h_township", "h_county_tcm"], "phone": "13812345678"},
                     {"phone"})  # the phone as when given earlier in the visit
    w.show_screen(w.review)
    settle()
    yield "review"
    from kiosk.services.session import ProxyAuthority

    w.review.show_review(chronic, SAMPLE_PERSON, {"disease": "hypertension", "hospitals": ["h_township"], "phone": "13812345678"},
                         proxy=ProxyAuthority(SAMPLE_HELPER, "child", dt.datetime(2026, 12, 2, 9, 30), "unverified"),
                         priority="disabled")  # 代办 (issue 19)
    settle()
    yield "review-proxy"
    w.done.update_view(DoneView(reference="3f2a9c1e-0000", saved=True, number="C012", people_ahead=3, wait_min=30, priority=True,
                                another=True))
    w.show_screen(w.done)
    w.done.show_preview(sample_ticket_picture())
    settle()
    yield "done"
    w.done.update_view(DoneView(reference="3f2a9c1e-0000", saved=True, number="C012", people_ahead=3, wait_min=30,
                                priority=True, print_error="打印机缺纸" if language() == "zh_CN" else "out of paper"))
    settle()
    yield "done-print-failed"
    w.done.show_preview(None)
    w.done.update_view(DoneView(reference="3f2a9c1e-0000", saved=True, instant=True, record={
        "enrolled": True, "insurance_type": "城乡居民基本医疗保险", "region": "示范县",
        "paid_until": "2026-12", "annual_contribution_yuan": "380"}))
    settle()
    yield "done-record"
    w.done.update_view(DoneView(ticket_only=True, number="D007", people_ahead=2, wait_min=10, another=True))
    w.done.show_preview(sample_ticket_picture("取号咨询", "D007", 2, 10, False))
    settle()
    yield "done-ticket-only"
    w.done.show_preview(None)
    from kiosk.services.progress import person_progress

    titles = {f.code: f.title for f in catalog.forms}
    w.done.update_view(DoneView(progress_only=True, another=True, progress=person_progress([
        {"id": "5c1e7a20-0000", "service": "sporadic_reimburse", "created_at": "2026-11-03T10:00:00+08:00",
         "state": "returned", "note": "缺少发票原件、费用清单" if language() == "zh_CN" else "Original invoice and cost list missing",
         "counter": {"outcome": "returned", "note": ""}},
        {"id": "9a7b3d10-0000", "service": "chronic_disease", "created_at": "2026-10-21T09:30:00+08:00", "state": "done",
         "note": ""},
    ], titles=titles)))
    settle()
    yield "done-progress"
    w.done.show_preview(None)
    w.error.show_error("OUTBOX", "保存失败，请到窗口办理", "Could not save; please go to a counter")
    w.show_screen(w.error)
    settle()
    yield "error"
    w.show_screen(w.home)
    w.idle_overlay.show_countdown(20)
    settle()
    yield "idle-warning"
    w.idle_overlay.hide()
    w.set_person_greeting("")


SAMPLE_HELPER = Person(name="李明", id_number="320682199506120038", source="idcard", sex="男", nation="汉",
                       birth_date=dt.date(1995, 6, 12))


def _assisted_states(w: MainWindow, settle) -> Iterator[str]:
    """Issue 19: identify with 代办 and a priority chosen, the proxy screen's pages, 预约签到."""
    w.identify.reset()
    w.identify.proxy_button.setChecked(True)
    w.identify.priority_buttons["pregnant"].setChecked(True)
    settle()
    yield "identify-proxy"
    w.identify.reset()
    proxy = w.proxy
    proxy.start(SAMPLE_HELPER)
    w.show_screen(proxy)
    settle()
    yield "proxy-way"
    proxy._go("id")
    proxy.id_editor.set_value("1101051950030700")
    settle()
    yield "proxy-id"
    proxy.show_state("proxy.id_invalid", "error")
    settle()
    yield "proxy-id-invalid"
    proxy._go("name")
    settle()
    yield "proxy-name"
    proxy.show_resident(SAMPLE_PERSON, "unverified")
    proxy.relation.set_value("grid_worker")
    proxy.consent.setChecked(True)
    settle()
    yield "proxy-auth"
    proxy.reset()
    w.checkin.reset()
    w.show_screen(w.checkin)
    settle()
    yield "checkin"
    w.checkin.code.set_value("20261202")
    w.checkin.show_problem("此预约码已签到，请勿重复签到；如丢失号票请到服务台" if language() == "zh_CN"
                           else "This appointment is already checked in; if you lost the ticket, ask at the desk")
    settle()
    yield "checkin-refused"
    w.checkin.reset()


def all_modes() -> Iterator[tuple[bool, str]]:
    for elderly in (False, True):
        for lang in ("zh_CN", "en"):
            yield elderly, lang
