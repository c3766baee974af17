"""Every service in forms/ through the UI (clicks), plus what comes after a submission:
the record query and its certificate, 好差评 ratings, the 10-minute undo, and adding a service."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.services.forms import load_forms
from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent
FORMS = [f for f in load_forms(PROJECT / "forms").forms if f.kind == "form"]  # 取号咨询: tests/test_journey_lengths.py; 办理进度查询: tests/test_progress_query.py


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
    j.choose_service(form.code)
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
    j.choose_service("voucher_help")
    j.on_screen("form")
    j.fill_form({"problem": "activate", "phone": ""})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.saved, 10, "saved")
    click(j.find("rate_5"))
    wait_until(lambda: [e for e in shell.runtime.outbox.list() if e.kind == "rating"], 10, "the rating")
    rating = next(e for e in shell.runtime.outbox.list() if e.kind == "rating")
    payload = shell.runtime.outbox.get(rating.id).payload
    assert payload["score"] == 5 and payload["service"] == "voucher_help"
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
    (forms / "special_drug.toml").write_text(
        'code = "special_drug"\nband = "C"\nicon = "药"\n'
        'title = { zh_CN = "特药备案", en = "Special drug filing" }\n'
        '[[fields]]\nname = "phone"\ntype = "phone"\nlabel = { zh_CN = "联系电话", en = "Phone" }\n', encoding="utf-8")
    shell, _hub = shell_factory(forms)
    tile = Journey(shell.window).find("tile_special_drug")
    assert tile.isVisible() and "特药备案" in tile.title.text()
