"""Issue 16's shorter journeys, played through the UI with real taps on a fixed 1920×1080 panel:
every screen the resident sees (each form page counts) and every touch is counted.

门诊慢特病认定 with an ID card and record query + certificate fit in seven screens — six, plus
the one-screen 办事指南 (一次性告知, issue 19) that tells the resident every material before the
card and the questions, one touch on its 开始填写 — and a ticket without a form in three; the phone number is asked once per visit and never carried into the next visit;
the card placed first leads to the service menu with the person kept.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.ui.journey import Journey, click, play_chronic_disease, play_record_certificate, play_ticket_only, wait_until
from kiosk.ui.panel import fix_to_panel
from kiosk.ui.screen_tour import PANEL_SIZES

PROJECT = Path(__file__).resolve().parent.parent
ELDERLY = "assets/cards/idcard/resident.json"  # 76 years old: 长辈版 and the green channel
YOUNG = "assets/cards/idcard/young_parent.json"
CHRONIC = {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"}


@pytest.fixture
def kiosk(kiosk_shell, request):
    from drivers.idcard.simulator import load_profile

    shell, hub = kiosk_shell()
    fix_to_panel(shell.window, getattr(request, "param", (1920, 1080)))
    shell.place = lambda path=ELDERLY: (lambda: shell.runtime.sims.idcard.insert(load_profile(PROJECT / path)))
    return shell, hub


def journey(shell) -> Journey:
    j = Journey(shell.window, log=lambda _: None)
    j.on_screen("home")
    j.start_counting()
    return j


def ticket_printed(shell):
    return lambda: bool(shell.controller.done_view.number) and not shell.controller.done_view.printing


@pytest.mark.parametrize("kiosk", PANEL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}", indirect=True)
def test_chronic_disease_with_an_id_card_fits_in_seven_screens(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    play_chronic_disease(j, shell.place(), CHRONIC, ticket_printed(shell))
    # the 办事指南 is the one screen added by issue 19 (everything to bring, before the card)
    assert j.views == ["home", "guide", "identify", "form:1", "form:2", "review", "done"]
    # tile, 开始填写, 继续, one disease, two hospitals, 下一步, 11 phone digits, 下一步, 提交
    assert j.touches == 20
    assert shell.window.metrics.elderly  # the grouped page was played in 长辈版
    entry = shell.runtime.outbox.get(shell.controller.session.submission_id)
    assert entry.payload["answers"] == CHRONIC
    assert shell.controller.done_view.number.startswith("C") and shell.controller.done_view.priority


def test_the_phone_is_asked_once_per_visit_and_not_in_the_next(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    play_chronic_disease(j, shell.place(), CHRONIC, ticket_printed(shell))
    click(j.find("done_another"))  # 办理其他业务: same visit, same person
    j.on_screen("home")
    assert shell.controller.session.person is not None
    j.start_counting()
    j.choose_service("enrol")
    j.on_screen("form")
    j.fill_form({"insurance_type": "resident"})  # no phone page: given earlier in this visit
    j.on_screen("review")
    assert j.views == ["home", "guide", "form:1", "review"]
    assert not [key for key in j.window.form.findChildren(object) if key.objectName().startswith("key_phone")]
    shown = " ".join(label.text() for label in shell.window.review.sheet.findChildren(type(shell.window.review.heading)))
    assert "139****5678（本次办理时已填写）" in shown  # told why it was not asked
    click(j.find("review_submit"))
    wait_until(ticket_printed(shell), 15, "the second ticket")
    entry = shell.runtime.outbox.get(shell.controller.session.submission_id)
    assert entry.service == "enrol" and entry.payload["answers"]["phone"] == CHRONIC["phone"]

    # 修改 from the review asks every field again, the phone included.
    click(j.find("done_another"))
    j.choose_service("transfer")
    j.fill_form({"direction": "in"})
    j.on_screen("review")
    click(j.find("review_edit"))
    j.on_screen("form")
    assert [page[0].name for page in shell.window.form.steps] == ["direction", "phone"]
    assert shell.window.form.answers()["phone"] == CHRONIC["phone"]

    # The next visit starts with nothing: the phone is asked again.
    click(j.find("form_previous"))  # back to the menu
    j.on_screen("home")
    shell.controller.sign_out()
    assert shell.controller.session.visit == {}
    shell.runtime.sims.idcard.remove()
    j.start_counting()
    j.choose_service("transfer")
    j.on_screen("identify")
    shell.place(YOUNG)()
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    form = shell.window.form
    while form.steps[form.index][0].name != "phone":
        j.answer_current(form.steps[form.index][0].options[0].value)
    assert form.answers().get("phone") in ("", None)  # asked, not filled from the last visit


def test_record_query_and_certificate_card_first_fits_in_seven_screens(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    play_record_certificate(j, shell.place(YOUNG), lambda: shell.controller.done_view.certificate == "printed")
    # card first: 继续 goes straight to the service menu with the person kept (no second identify);
    # the 办事指南 is the one screen issue 19 adds
    assert j.views == ["home", "identify", "home", "guide", "form:1", "review", "done"]
    assert j.touches == 6  # 继续, tile, 开始填写, 打印参保证明, 下一步, 提交
    assert shell.window.home.hint.text().startswith(shell.controller.session.person.masked_name())


def test_the_menu_marks_the_service_chosen_before_the_card(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    j.choose_service("transfer")
    j.on_screen("identify")
    click(j.find("identify_back"))  # changed their mind before placing the card
    j.on_screen("home")
    tile = j.find("tile_transfer")
    assert tile.property("chosen") and "刚才选择" in tile.kind.text()
    shell.place(YOUNG)()
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("home")
    assert j.find("tile_transfer").property("chosen")
    assert not j.find("tile_enrol").property("chosen")
    shell.controller.sign_out()
    assert not j.find("tile_transfer").property("chosen")  # the next resident starts clean


def test_ticket_only_without_a_card_issues_a_band_d_number(kiosk) -> None:
    shell, _hub = kiosk
    outbox_before = len(shell.runtime.outbox.list())
    j = journey(shell)
    play_ticket_only(j, ticket_printed(shell))
    assert j.views == ["home", "identify", "done"]
    assert j.touches == 2  # 取号咨询, 不刷卡直接取号
    view = shell.controller.done_view
    assert view.number.startswith("D") and not view.priority and not view.print_error
    assert shell.window.done.result.text().endswith("取号成功")
    assert not shell.window.done.undo.isVisible() and not shell.window.done.rating_buttons[5].isVisible()
    assert shell.runtime.sims.printer.wait_for_tickets(1)
    assert view.number in shell.runtime.sims.printer.tickets[-1].text
    assert len(shell.runtime.outbox.list()) == outbox_before  # nothing submitted: no form


def test_ticket_only_with_a_card_gets_priority(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    play_ticket_only(j, ticket_printed(shell), shell.place())
    assert j.views == ["home", "identify", "done"]
    assert j.touches == 2  # 取号咨询, 继续
    assert shell.controller.done_view.number.startswith("D") and shell.controller.done_view.priority


def test_ticket_only_for_an_identified_resident_is_one_touch(kiosk) -> None:
    shell, _hub = kiosk
    j = journey(shell)
    shell.place(YOUNG)()
    j.on_screen("identify")
    j.wait_for_person()
    j.tap(j.find("identify_continue"))
    j.on_screen("home")
    j.start_counting()
    play_ticket_only(j, ticket_printed(shell))
    assert j.views == ["home", "done"] and j.touches == 1


# -- the form data behind the shorter journeys (kiosk/services/forms.py) ---------------------------

GUIDE = ('\n[guide]\nwho = "everyone"\nmaterials = ["ID card"]\ndays = 0\nresult = "here"\n')


def _form(tmp_path: Path, body: str):
    from kiosk.services.forms import load_form

    path = tmp_path / "x.toml"
    path.write_text('code = "xx"\ntitle = "x"\n' + body + GUIDE, encoding="utf-8")
    return load_form(path)


@pytest.mark.parametrize(("body", "message"), [
    ('kind = "ticket"\n', "kind: expected one of form, ticket_only, progress, info"),
    ('kind = "ticket_only"\n[[fields]]\nname = "a"\n', "a ticket-only service has no fields"),
    ('kind = "ticket_only"\ninstant = true\n', "a ticket-only service has no fields and is not instant"),
    ('[[fields]]\nname = "a"\npage = "p"\n[[fields]]\nname = "b"\n[[fields]]\nname = "c"\npage = "p"\n', "page 'p' must be consecutive"),
    ('[[fields]]\nname = "a"\npage = "Page 1"\n', "fields[0].page: expected a lowercase identifier"),
    ('[[fields]]\nname = "a"\nprefill = "last_visit.phone"\n', "expected card.<field> or visit.<field>"),
])
def test_form_loader_refuses_bad_journey_keys(tmp_path: Path, body: str, message: str) -> None:
    from kiosk.services.forms import FormError

    with pytest.raises(FormError) as refused:
        _form(tmp_path, body)
    assert message in str(refused.value)


def test_visit_prefill_reuses_only_a_valid_answer_of_this_visit(tmp_path: Path) -> None:
    from kiosk.services.forms import prefill, visit_answers

    form = _form(tmp_path, '[[fields]]\nname = "phone"\ntype = "phone"\nprefill = "visit.phone"\n')
    assert visit_answers(form, {"phone": "13912345678"}) == {"phone": "13912345678"}
    assert visit_answers(form, {"phone": "123"}) == {}  # never reuse what would fail its check
    assert prefill(form, None, {"phone": "13912345678"}) == {"phone": "13912345678"}
    assert prefill(form, None) == {} and prefill(form, None, {}) == {}


def test_shipped_forms_ask_the_phone_once_per_visit_and_group_chronic_disease() -> None:
    from kiosk.services.forms import load_forms

    catalog = load_forms(PROJECT / "forms")
    phones = [f for form in catalog.forms for f in form.fields if f.type == "phone"]
    assert phones and all(f.prefill == "visit.phone" for f in phones)
    chronic = catalog.by_code("chronic_disease")
    assert [f.page for f in chronic.fields] == ["choices", "choices", ""]
    consult = catalog.by_code("consult")
    assert consult.ticket_only and consult.band == "D" and not consult.fields


def test_kiosk_submit_refuses_a_ticket_only_service(tmp_path: Path) -> None:
    import os
    import subprocess

    # a process of its own: stderr holds only what this command wrote
    done = subprocess.run([str(PROJECT / ".venv/bin/python"), "-m", "kiosk", "submit", "--service", "consult", "--data", "{}"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")})
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and done.stdout == ""
    assert len(err) == 1 and "ticket-only" in err[0] and "kiosk ticket --service consult" in err[0]
