"""Every service in forms/ through the UI (clicks), its 办事指南 first, plus what comes after a
submission: the record query and its certificate, 好差评 ratings, the 10-minute undo, and adding a
service. The ticket carries the guide's checklist, read back from the printer simulator's bytes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.services.forms import load_forms
from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent
CATALOG = load_forms(PROJECT / "forms")
FORMS = [f for f in CATALOG.forms if f.kind == "form"]  # 取号咨询: tests/test_journey_lengths.py; 办理进度查询: tests/test_progress_query.py
INFO = [f for f in CATALOG.forms if f.kind == "info"]  # 医保电子凭证激活, 参保缴费, 大病保险: the guide is the service


def ticket_checklist(ticket) -> list[str]:
    """The checklist as printed: the lines after 请带齐以下材料： (a wrapped item continues indented)."""
    from drivers.printer.ticket import CHECK_BOX, CHECKLIST_TITLE

    lines = ticket.lines
    items: list[str] = []
    for line in lines[lines.index(CHECKLIST_TITLE) + 1:]:
        if line.startswith(CHECK_BOX):
            items.append(line[len(CHECK_BOX):])
        elif line.startswith("  ") and items:
            items[-1] += line.strip()
        else:
            break
    return items


def sample_answer(spec):
    return {
        "choice": lambda: spec.options[0].value,
        "multichoice": lambda: [o.value for o in spec.options[: min(2, spec.max_choices)]],
        "phone": lambda: "13812345678", "amount": lambda: "128.50", "integer": lambda: "2",
        "consent": lambda: True, "text": lambda: "测试", "date": lambda: None, "id_number": lambda: "320682199506120038",
    }[spec.type]()


@pytest.fixture
def shell_factory(kiosk_shell):
    def make(forms_dir: Path | None = None):
        return kiosk_shell(kiosk={"forms_dir": str(forms_dir or PROJECT / "forms")})

    return make


def identify(shell, profile: str = "assets/cards/idcard/young_parent.json") -> Journey:
    from drivers.idcard.simulator import load_profile

    j = Journey(shell.window, log=lambda _: None)
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / profile))
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("home")
    return j


@pytest.mark.no_qt_log  # forms with free text show the pinyin keyboard (see test_touch_keyboard.py)
@pytest.mark.parametrize("form", FORMS, ids=[f.code for f in FORMS])
def test_every_service_is_filled_and_submitted_through_the_ui(shell_factory, form) -> None:
    shell, hub = shell_factory()
    j = identify(shell)
    j.choose_service(form.code, start=False)
    j.on_screen("guide")  # 一次性告知 first: everything to bring, who, the time limit, the result
    shown = shell.window.guide.text()
    assert all(m.zh_CN in shown for m in form.guide.materials) and form.guide.time_limit("zh_CN") in shown
    assert "{" not in shown  # placeholders filled from config [signage]
    click(j.find("guide_start"))
    j.on_screen("form")
    answers = {spec.name: sample_answer(spec) for spec in form.fields}
    j.fill_form(answers)
    j.on_screen("review")
    submission_id = shell.controller.session.submission_id
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.saved, 10, "the submission to be saved")
    if not form.instant:
        wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
        assert shell.controller.done_view.number.startswith(form.band)
        printer = shell.runtime.sims.printer
        assert printer.wait_for_tickets(1)
        ticket = printer.tickets[-1]  # parsed back from the ESC/POS bytes the printer received
        assert ticket_checklist(ticket) == [m.zh_CN for m in form.guide.materials]
        assert "咨询投诉电话：12393" in ticket.lines and "医保服务 贴心为民" in ticket.lines
    entry = shell.runtime.outbox.get(submission_id)
    assert entry.service == form.code and entry.kind == "submission"
    for spec in form.fields:
        if spec.type not in ("date", "id_number") and not spec.readonly:
            assert entry.payload["answers"][spec.name] == answers[spec.name], spec.name
    wait_until(lambda: hub.store.payload(submission_id) is not None, 20, "the hub copy")


def test_record_query_shows_the_hub_record_and_prints_a_certificate(shell_factory) -> None:
    shell, hub = shell_factory()
    j = identify(shell)
    j.choose_service("record_query")
    j.on_screen("form")
    j.fill_form({"purpose": "certificate"})
    click(j.find("review_submit"))
    done = shell.window.done
    wait_until(lambda: shell.controller.done_view.certificate == "printed", 20, "the certificate")
    assert done.record_labels["enrolled"][1].text() in ("正常参保", "未参保")
    assert done.record_labels["region"][1].text()
    # the ID card's issuer and validity dates went along as evidence and matched the register
    assert [a["outcome"] for a in hub.store.lookups()] == ["ok"]
    assert done.print_certificate.isVisible() and not done.print_certificate.isEnabled()  # printed: no second copy
    shell.controller.on_print_certificate()  # even a tap that slipped through prints nothing more
    printed = sorted((shell.config.data_dir / "a4-printed").glob("*.pdf"))
    assert len(printed) == 1 and printed[0].read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        png = printed[0].with_suffix("")
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(printed[0]), str(png)], check=True)
        assert Path(str(png) + "-1.png").stat().st_size > 5000


def test_record_query_offline_says_so(shell_factory) -> None:
    shell, hub = shell_factory()
    j = identify(shell)
    hub.stop()
    j.choose_service("record_query")
    j.on_screen("form")
    j.fill_form({"purpose": "query"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.record_error, 30, "the offline message")
    assert "网络" in shell.window.done.record_heading.text()


def test_rating_goes_to_the_outbox_without_personal_data(shell_factory) -> None:
    shell, _hub = shell_factory()
    j = identify(shell)
    j.choose_service("transfer")
    j.on_screen("form")
    j.fill_form({"direction": "in", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.saved, 10, "saved")
    click(j.find("rate_5"))
    wait_until(lambda: [e for e in shell.runtime.outbox.list() if e.kind == "rating"], 10, "the rating")
    rating = next(e for e in shell.runtime.outbox.list() if e.kind == "rating")
    payload = shell.runtime.outbox.get(rating.id).payload
    assert payload["score"] == 5 and payload["service"] == "transfer"
    assert "320682199506120038" not in str(payload)


def test_undo_withdraws_a_pending_submission(shell_factory) -> None:
    shell, hub = shell_factory()
    hub.stop()  # offline: the submission stays in the outbox, so it can still be withdrawn
    j = identify(shell)
    j.choose_service("transfer")
    j.on_screen("form")
    j.fill_form({"direction": "out", "phone": "13812345678"})
    submission_id = shell.controller.session.submission_id
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.saved and not shell.controller.done_view.printing, 15, "saved")
    click(j.find("done_undo"))
    wait_until(lambda: shell.controller.done_view.undone, 10, "the undo")
    assert shell.runtime.outbox.get(submission_id).state == "withdrawn"


def test_adding_a_service_is_adding_a_file(shell_factory, tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(PROJECT / "forms", forms)
    (forms / "dental.toml").write_text(
        'code = "dental"\nband = "C"\nicon = "牙"\norder = 1\n'
        'title = { zh_CN = "口腔门诊备案", en = "Dental filing" }\n'
        '[[fields]]\nname = "phone"\ntype = "phone"\nlabel = { zh_CN = "联系电话", en = "Phone" }\n'
        '[guide]\nwho = { zh_CN = "参保人", en = "Insured residents" }\n'
        'materials = [{ zh_CN = "身份证", en = "ID card" }]\ndays = 3\n'
        'result = { zh_CN = "窗口告知", en = "At the counter" }\n', encoding="utf-8")
    shell, _hub = shell_factory(forms)
    tile = Journey(shell.window).find("tile_dental")
    assert tile.isVisible() and "口腔门诊备案" in tile.title.text()


def test_a_service_without_a_guide_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "bare.toml").write_text('code = "bare"\ntitle = "x"\n', encoding="utf-8")
    catalog = load_forms(tmp_path)
    assert catalog.forms == [] and len(catalog.errors) == 1
    assert "bare.toml" in str(catalog.errors[0]) and "[guide]" in str(catalog.errors[0]) and "办事指南" in str(catalog.errors[0])


@pytest.mark.parametrize("form", INFO, ids=[f.code for f in INFO])
def test_information_services_show_steps_and_qr_codes_and_issue_a_ticket_for_help(shell_factory, form) -> None:
    """No hollow tile: the guide is the service (steps, QR codes from config), nothing is
    submitted and nothing says 业务已办结; 取号 gives a number for help with the checklist."""
    shell, _hub = shell_factory()
    outbox_before = len(shell.runtime.outbox.list())
    j = identify(shell)
    j.choose_service(form.code)
    j.on_screen("guide")
    guide = shell.window.guide
    shown = guide.text()
    assert all(step.zh_CN.split("{")[0] in shown for step in form.guide.steps) and "{" not in shown
    assert "业务已办结" not in shown and not guide.start.isVisible()
    signage = shell.config.signage
    for ref in form.guide.qr:  # each QR code is the config's URL, drawn into the guide
        assert ref.key in signage.qr and f"qr-{ref.key}" in guide.browser.toHtml()
    if form.code == "contribution":
        assert f"{signage.contribution_year} 年度" in shown and f"每人 {signage.contribution_yuan} 元" in shown
    click(j.find("guide_ticket"))
    j.on_screen("done")
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    assert shell.controller.done_view.number.startswith(form.band)
    assert "业务已办结" not in shell.window.done.result.text()
    printer = shell.runtime.sims.printer
    assert printer.wait_for_tickets(1)
    assert ticket_checklist(printer.tickets[-1]) == [m.zh_CN for m in form.guide.materials]
    assert len(shell.runtime.outbox.list()) == outbox_before  # information only: nothing submitted


def test_an_information_service_without_a_card_still_gives_a_number(shell_factory) -> None:
    shell, _hub = shell_factory()
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("voucher_help")
    j.on_screen("guide")
    click(j.find("guide_ticket"))
    j.on_screen("identify")  # the card is optional (it gives priority)
    click(j.find("identify_skip"))
    j.on_screen("done")
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    assert shell.controller.done_view.number.startswith("D")


def test_skip_guides_starts_at_once_and_shows_no_more_guides_this_visit(shell_factory) -> None:
    shell, _hub = shell_factory()
    j = identify(shell)
    j.choose_service("transfer", start=False)
    j.on_screen("guide")
    click(j.find("guide_skip"))
    j.on_screen("form")
    click(j.find("form_previous"))
    j.on_screen("home")
    j.choose_service("enrol", start=False)
    j.on_screen("form")  # no guide again in this visit
    shell.controller.sign_out()
    assert not shell.window.guide.skip_all  # the next resident sees the guides


def test_the_pledge_of_long_term_residence_is_recorded_in_the_payload(shell_factory) -> None:
    shell, _hub = shell_factory()
    j = identify(shell)
    j.choose_service("out_of_town")
    j.on_screen("form")
    form = shell.window.form
    while form.steps[form.index][0].name != "pledge":
        j.answer_current(form.steps[form.index][0].options[0].value if form.steps[form.index][0].options else None)
    assert "个人承诺书" in form.question.text() and "承诺" in form.help.text()
    click(j.find("form_next"))  # not ticked: refused, the step stays
    assert form.steps[form.index][0].name == "pledge" and form.error.text()
    j.answer_current(True)
    j.fill_form({"phone": "13812345678"})
    j.on_screen("review")
    submission_id = shell.controller.session.submission_id
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.saved, 10, "saved")
    assert shell.runtime.outbox.get(submission_id).payload["answers"]["pledge"] is True


def test_the_guide_is_spoken_in_voice_mode(kiosk_shell) -> None:
    shell = kiosk_shell(hub=False)[0]
    said = shell.voice.speaker.said  # offscreen: a recording speaker stands in for espeak-ng
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("chronic_disease", start=False)
    j.on_screen("guide")
    wait_until(lambda: any("办事指南：门诊慢特病认定" in text for text, _ in said), 5, "the spoken guide")
    spoken = next(text for text, _ in said if "办事指南" in text)
    form = CATALOG.by_code("chronic_disease")
    assert all(m.zh_CN in spoken for m in form.guide.materials) and "15 个工作日内办结" in spoken
    assert "请点开始填写" in spoken and "☐" not in spoken
