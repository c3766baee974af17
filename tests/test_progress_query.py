"""办理进度查询 (issue 18 phase 2): the hub finds a person's applications by a keyed hash of the
ID number (never the number itself), only with card evidence, audited; the back office's state
and the hall's counter outcome come with each; the kiosk's screen shows them."""
from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from kiosk.hall.auth import hash_password
from kiosk.hub import demo
from kiosk.hub.console.store import ConsoleStore
from kiosk.hub.server import start_hub_in_thread
from kiosk.services.progress import person_progress
from kiosk.services.sync import HubClient, HubError

TOKENS = {"tok-east-1": "EAST-1", "tok-west-1": "WEST-1", "tok-hall": "EAST-HALL"}
PASSWORD = "correct-horse-1"
RESIDENT = "110101199003078515"
OTHER = "110105195306150024"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def hub(tmp_path: Path):
    handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), TOKENS)
    console = ConsoleStore(handle.store)
    console.put_staff("bureau", "bureau", None, hash_password(PASSWORD))
    yield handle
    handle.stop()


def application(service: str, id_number: str, name: str = "张三丰") -> dict:
    return {"id": str(uuid.uuid4()), "service": service, "kind": "submission",
            "created_at": dt.datetime(2026, 11, 3, 10, tzinfo=CST).isoformat(),
            "payload": {"service": service, "applicant": {"name": name, "id_number": id_number, "source": "sscard"},
                        "answers": {"phone": "13800138000"}}}


def post_items(hub, token: str, items: list[dict]) -> None:
    r = httpx.post(hub.url + "/v1/submissions", json={"items": items}, headers={"Authorization": f"Bearer {token}"})
    assert all(x["result"] == "accepted" for x in r.json()["results"]), r.text


def set_state(hub, submission_id: str, state: str, note: str) -> None:
    with httpx.Client(base_url=hub.url) as staff:
        assert staff.post("/console/login", json={"user": "bureau", "password": PASSWORD}).status_code == 200
        r = staff.post(f"/api/applications/{submission_id}/state", json={"state": state, "note": note})
        assert r.status_code == 200, r.text


def evidence(id_number: str) -> dict[str, str]:
    return {"sscard_number": demo.card_register(id_number)["sscard_number"]}


def hall_outcome(submission_id: str, outcome: str, note: str) -> dict:
    return {"id": str(uuid.uuid4()), "service": "hall_ticket", "kind": "submission",
            "created_at": dt.datetime(2026, 11, 3, 11, tzinfo=CST).isoformat(),
            "payload": {"event": "ticket_finished", "ticket_id": "t1", "number": "C001", "band": "C",
                        "service": "sporadic_reimburse", "submission_id": submission_id, "counter": 3,
                        "outcome": outcome, "note": note, "finished_at": "2026-11-03T11:20:00+08:00",
                        "waiting_s": 60.0, "handling_s": 300.0}}


def test_a_person_sees_their_applications_at_every_kiosk_with_state_and_counter_outcome(hub, tmp_path):
    mine_east = application("sporadic_reimburse", RESIDENT)
    mine_west = application("chronic_disease", RESIDENT)
    theirs = application("enrol", OTHER, name="李四")
    post_items(hub, "tok-east-1", [mine_east, theirs])
    post_items(hub, "tok-west-1", [mine_west])
    post_items(hub, "tok-hall", [hall_outcome(mine_east["id"], "returned", "请补交发票原件")])
    set_state(hub, mine_west["id"], "returned", "缺少诊断证明")
    set_state(hub, mine_east["id"], "done", "")
    client = HubClient(hub.url, "tok-east-1", 5)
    try:
        found = {a["id"]: a for a in client.person_applications(RESIDENT, evidence(RESIDENT))}
        assert set(found) == {mine_east["id"], mine_west["id"]}  # never another person's; any kiosk's
        assert (found[mine_west["id"]]["state"], found[mine_west["id"]]["note"]) == ("returned", "缺少诊断证明")
        assert found[mine_east["id"]]["state"] == "done"
        assert found[mine_east["id"]]["counter"]["outcome"] == "returned"
        assert found[mine_east["id"]]["counter"]["note"] == "请补交发票原件"
        assert "applicant" not in str(found) and RESIDENT not in str(found)
        with pytest.raises(HubError, match="403"):  # a typed-in number without the card's evidence
            client.person_applications(RESIDENT, {"sscard_number": "A99999999"})
        assert [a["id"] for a in client.person_applications(OTHER, evidence(OTHER))] == [theirs["id"]]
    finally:
        client.close()
    outcomes = [a["outcome"] for a in hub.store.lookups("EAST-1")]
    assert outcomes == ["progress_ok", "progress_mismatch", "progress_ok"]
    assert all(RESIDENT not in a["id_masked"] for a in hub.store.lookups())
    # the index holds a keyed hash: neither the number nor its plain SHA-256 is in the database
    import hashlib

    raw = b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite3*"))
    assert RESIDENT.encode() not in raw and hashlib.sha256(RESIDENT.encode()).hexdigest().encode() not in raw


def test_rows_stored_before_the_index_are_backfilled_once(tmp_path):
    db = tmp_path / "hub.sqlite3"
    item = application("enrol", RESIDENT)
    with start_hub_in_thread(str(db), TOKENS) as h:
        post_items(h, "tok-east-1", [item])
    conn = sqlite3.connect(db)  # as a database from before the column was filled
    conn.execute("UPDATE submissions SET person_mac = NULL")
    conn.execute("DELETE FROM hub_meta WHERE name = 'person_index_backfilled'")
    conn.commit()
    conn.close()
    with start_hub_in_thread(str(db), TOKENS) as h:
        assert [a["id"] for a in h.store.person_applications(RESIDENT)] == [item["id"]]


def test_progress_words_for_each_state_and_the_counter():
    rows = person_progress([
        {"id": "a" * 36, "service": "chronic_disease", "created_at": "2026-11-03T10:00:00+08:00", "state": "returned",
         "note": "缺少诊断证明"},
        {"id": "b" * 36, "service": "enrol", "created_at": "2026-11-02T10:00:00+08:00", "state": "weird", "note": ""},
        {"id": "c" * 36, "service": "record_query", "created_at": "2026-11-02T10:00:00+08:00", "state": "submitted"},
        {"id": "d" * 36, "service": "transfer", "created_at": "2026-11-01T10:00:00+08:00", "state": "submitted",
         "note": "", "counter": {"outcome": "done", "note": ""}},
    ], skip_services={"record_query"})
    assert [p.state for p in rows] == ["returned", "weird", "submitted"]
    assert rows[0].label.zh_CN == "退回补正" and rows[0].note == "缺少诊断证明" and rows[0].reference == "AAAAAAAA"
    assert rows[1].label.zh_CN == "状态未知"
    assert rows[2].counter is not None and rows[2].counter.zh_CN.startswith("窗口已办结")


# -- the kiosk's 办理进度查询 screen (pytest-qt) ----------------------------------------------------
PROJECT = Path(__file__).resolve().parent.parent


def console_sets(hub, submission_id: str, state: str, note: str) -> None:
    """What a bureau user does in the console: log in and set the state through its JSON API."""
    ConsoleStore(hub.store).put_staff("bureau", "bureau", None, hash_password(PASSWORD))
    set_state(hub, submission_id, state, note)


def open_progress(shell, j) -> None:
    from kiosk.ui.journey import click, wait_until

    if shell.window.current is shell.window.done:
        click(j.find("done_another"))  # 办理其他业务: the same resident, the card not read again
    j.on_screen("home")
    j.choose_service("progress")
    j.on_screen("done")
    wait_until(lambda: shell.controller.done_view.settled and shell.controller.done_view.progress_only, 20,
               "the progress list")


def test_a_state_set_in_the_console_shows_on_the_kiosks_progress_screen(kiosk_shell) -> None:
    from drivers.idcard.simulator import load_profile
    from kiosk.ui.journey import Journey, click, wait_until

    shell, hub = kiosk_shell(kiosk={"forms_dir": str(PROJECT / "forms")})
    j = Journey(shell.window, log=lambda _: None)
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/young_parent.json"))
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("home")
    # the resident applies at this kiosk; it reaches the hub through the outbox
    j.choose_service("chronic_disease")
    j.on_screen("form")
    j.fill_form({"disease": "hypertension", "hospitals": ["h_township"], "phone": "13812345678"})
    j.on_screen("review")
    submission_id = shell.controller.session.submission_id
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.settled, 20, "the submission and its ticket")
    wait_until(lambda: hub.store.payload(submission_id) is not None, 20, "the hub copy")
    done = shell.window.done

    # 退回补正 with the missing materials, set in the console
    console_sets(hub, submission_id, "returned", "缺少二级以上医院诊断证明")
    open_progress(shell, j)
    rows = shell.controller.done_view.progress
    assert [p.submission_id for p in rows] == [submission_id]  # the record query (instant) is not listed
    state = done.findChild(type(done.result), "progress_state_0")
    assert state is not None and state.isVisible() and "退回补正" in state.text()
    note = done.findChild(type(done.result), "progress_note_0")
    assert note is not None and "缺少二级以上医院诊断证明" in note.text()
    title = done.findChild(type(done.result), "progress_title_0")
    assert rows[0].title is not None and title.text() == rows[0].title.zh_CN  # the service's name, not its code
    assert not done.undo.isVisible() and not any(b.isVisible() for b in done.rating_buttons.values())

    # then 办结: the next query shows it
    console_sets(hub, submission_id, "done", "")
    open_progress(shell, j)
    state = done.findChild(type(done.result), "progress_state_0")
    assert state is not None and "已办结" in state.text()
    assert done.findChild(type(done.result), "progress_note_0") is None
    assert [a["outcome"] for a in hub.store.lookups()][-2:] == ["progress_ok", "progress_ok"]  # audited, with evidence


def test_the_progress_screen_says_when_the_hub_cannot_be_reached(kiosk_shell) -> None:
    from drivers.idcard.simulator import load_profile
    from kiosk.ui.journey import Journey, click

    shell, hub = kiosk_shell(kiosk={"forms_dir": str(PROJECT / "forms")})
    j = Journey(shell.window, log=lambda _: None)
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/young_parent.json"))
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    hub.stop()
    open_progress(shell, j)
    assert "网络" in shell.window.done.progress_heading.text()
    assert shell.window.done.another.isVisible()


def test_a_progress_service_has_no_questions_and_submits_nothing(tmp_path: Path) -> None:
    from kiosk.services.forms import AnswersInvalid, FormError, load_form, load_forms, submission_payload

    spec = load_forms(PROJECT / "forms").by_code("progress")
    assert spec.progress and not spec.fields and not spec.ticket_only
    with pytest.raises(AnswersInvalid):
        submission_payload(spec, None, {})
    path = tmp_path / "bad.toml"
    path.write_text('code = "xx"\ntitle = "x"\nkind = "progress"\n[[fields]]\nname = "a"\n', encoding="utf-8")
    with pytest.raises(FormError, match="a progress query has no fields"):
        load_form(path)
