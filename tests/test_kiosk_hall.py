"""The kiosk wired to the service hall (issue 17, phase 2): `[hall]` config, the resident's
application reaching the counter through the hall, the hall down (the submission still stored,
the resident sent to the counter with the 业务编号), `kiosk submit --ticket`, `kiosk queue --hall`
(the Qt counter's assertions, ported), and `kiosk run --station counter|lobby` pointing at the web."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from test_hall_support import CLERK, PASSWORD, TOKEN, application, clerk_client, clock, hall  # noqa: F401 (fixtures)

PROJECT = Path(__file__).resolve().parent.parent
YOUNG = "assets/cards/idcard/young_parent.json"
CHRONIC = {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"}
TICKET_KEYS = {"ticket_id", "number", "band", "service", "service_name", "priority", "priority_reason", "issued_at",
               "state", "print_state", "counter", "people_ahead", "estimated_wait_min", "id", "submission_id",
               "service_point"}


@pytest.fixture(autouse=True)
def _no_hall_from_the_environment(monkeypatch):
    for name in ("KIOSK_HALL_URL", "KIOSK_HALL_TOKEN", "KIOSK_HALL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def closed_port_url() -> str:
    """A loopback address nobody listens on: the hall is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- config ----------------------------------------------------------------------------------------
def test_hall_section_defaults_to_no_hall_and_the_environment_overrides(data_dir) -> None:
    from kiosk.config import load_config

    plain = load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(data_dir)})
    assert (plain.hall.url, plain.hall.token, plain.hall.timeout_s) == ("", "", 5.0)  # the local queue
    env = {"KIOSK_DATA_DIR": str(data_dir), "KIOSK_HALL_URL": "https://hall.local:8780", "KIOSK_HALL_TOKEN": "t0k"}
    overridden = load_config(PROJECT / "config.toml", environ=env)
    assert (overridden.hall.url, overridden.hall.token) == ("https://hall.local:8780", "t0k")


@pytest.mark.parametrize(("section", "environ", "where", "expected"), [
    ('[hall]\nurl = "ftp://hall"\ntoken = "x"\n', {}, "hall.url", "expected an http:// or https:// URL with a host"),
    ('[hall]\nurl = "http://hall:99999"\ntoken = "x"\n', {}, "hall.url", "expected an http:// or https:// URL"),
    ('[hall]\nurl = "http://hall:8780"\n', {}, "hall.token", "must not be empty when hall.url is set"),
    ('[hall]\nurl = "http://hall:8780"\ntoken = "two words"\n', {}, "hall.token", "printable ASCII without spaces"),
    ('[hall]\ntimeout_s = 0\n', {}, "hall.timeout_s", "expected more than 0"),
    ('[hall]\nport = 1\n', {}, "hall.port", "unknown key"),
    ("", {"KIOSK_HALL_URL": "hall.local"}, "KIOSK_HALL_URL", "expected an http:// or https:// URL with a host"),
    ("", {"KIOSK_HALL_URL": "http://h:1", "KIOSK_HALL_TOKEN": "a b"}, "KIOSK_HALL_TOKEN", "printable ASCII"),
])
def test_bad_hall_settings_name_the_key_like_the_hub_section(tmp_path, data_dir, section, environ, where, expected) -> None:
    from kiosk.config import load_config
    from kiosk.errors import ConfigError

    text = (PROJECT / "config.toml").read_text(encoding="utf-8")
    start = text.index("[hall]")
    end = text.index("\n[", start + 1)
    config = tmp_path / "config.toml"
    config.write_text(text[:start] + section + text[end + 1:], encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config, environ={"KIOSK_DATA_DIR": str(data_dir), **environ})
    message = str(raised.value)
    assert where in message and expected in message, message


# -- the kiosk's UI through the hall --------------------------------------------------------------
def _kiosk_at(kiosk_shell, url: str):
    from drivers.idcard.simulator import load_profile

    shell, hub = kiosk_shell(hall={"url": url, "token": TOKEN})
    place = lambda: shell.runtime.sims.idcard.insert(load_profile(PROJECT / YOUNG))  # noqa: E731
    return shell, hub, place


def test_an_application_typed_at_the_kiosk_is_beside_its_number_at_the_counter(kiosk_shell, hall) -> None:
    from kiosk.ui.journey import Journey, play_chronic_disease

    shell, hub, place = _kiosk_at(kiosk_shell, hall.url)
    assert shell.runtime.queue is None  # with a hall the kiosk keeps no queue of its own
    view = lambda: shell.controller.done_view  # noqa: E731
    play_chronic_disease(Journey(shell.window, log=lambda _: None), place, CHRONIC,
                         lambda: bool(view().number) and not view().printing)
    submission_id = view().reference
    assert shell.runtime.outbox.get(submission_id).service == "chronic_disease"  # the hub copy goes as before
    assert hall.service.queue.by_submission(submission_id).number == view().number  # the number came from the hall

    with closing(clerk_client(hall.url)) as clerk:
        called = clerk.post("/api/counters/1/call").json()["ticket"]
    assert (called["number"], called["submission_id"]) == (view().number, submission_id)
    app = called["application"]
    assert app["applicant"]["name"] == shell.controller.session.person.name
    answers = {row["name"]: row["value"] for row in app["answers"]}
    assert answers["disease"] == "糖尿病" and answers["phone"] == CHRONIC["phone"]
    assert "✔" in shell.window.done.result.text() and shell.window.done.number.text() == view().number


def test_withdrawing_at_the_kiosk_takes_the_number_out_of_the_halls_queue(kiosk_shell, hall) -> None:
    from kiosk.ui.journey import Journey, click, play_chronic_disease, wait_until

    shell, hub, place = _kiosk_at(kiosk_shell, hall.url)
    hub.stop()  # the WAN is down: the submission stays in the outbox, so it can still be withdrawn
    view = lambda: shell.controller.done_view  # noqa: E731
    j = Journey(shell.window, log=lambda _: None)
    play_chronic_disease(j, place, CHRONIC, lambda: bool(view().number) and not view().printing)
    ticket = hall.service.queue.by_submission(view().reference)
    assert ticket.state == "waiting" and httpx.get(f"{hall.url}/api/lobby").json()["waiting"]["C"] == 1
    click(j.find("done_undo"))
    wait_until(lambda: view().undone, 10, "the withdrawal")
    assert hall.service.queue.get(ticket.ticket_id).state == "done"  # nobody is called for withdrawn business
    assert httpx.get(f"{hall.url}/api/lobby").json()["waiting"]["C"] == 0
    with closing(clerk_client(hall.url)) as clerk:
        assert clerk.post("/api/counters/1/call").json() == {"ticket": None}
    with httpx.Client(base_url=hall.url) as anonymous:  # only a kiosk may withdraw
        assert anonymous.post(f"/api/tickets/{ticket.ticket_id}/withdraw").status_code == 401


def test_with_the_hall_down_the_submission_is_stored_and_the_resident_goes_to_the_counter(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey, play_chronic_disease

    shell, hub, place = _kiosk_at(kiosk_shell, closed_port_url())
    view = lambda: shell.controller.done_view  # noqa: E731
    play_chronic_disease(Journey(shell.window, log=lambda _: None), place, CHRONIC, lambda: view().settled)
    submission_id, reference = view().reference, view().reference[:8].upper()
    entry = shell.runtime.outbox.get(submission_id)
    assert entry is not None and entry.payload["answers"]["disease"] == "diabetes"  # never a lost application
    assert view().saved and not view().number  # no made-up number the counters would never call
    done = shell.window.done
    assert done.result.text() == "✔ 提交成功"
    assert reference in done.message.text() and "到窗口办理" in done.message.text(), done.message.text()
    assert reference in done.reference.text()  # and shown as the 业务编号 above
    from kiosk.ui.i18n import STRINGS

    assert "{ref}" in STRINGS["done.no_ticket"][1] and "counter" in STRINGS["done.no_ticket"][1]  # en too


def test_a_retried_ticket_for_the_same_submission_is_the_same_ticket(hall) -> None:
    from kiosk.services.hall_client import HallClient, HallError

    submission_id = str(uuid.uuid4())
    with HallClient(hall.url, TOKEN) as client:
        first = client.issue_ticket("chronic_disease", False, submission_id, application())
        again = client.issue_ticket("chronic_disease", False, submission_id, application())
    assert TICKET_KEYS <= first.keys() and again["id"] == first["id"] and again["number"] == first["number"]
    with HallClient(hall.url, "wrong-token") as client, pytest.raises(HallError) as refused:
        client.issue_ticket("chronic_disease", False, str(uuid.uuid4()))
    assert refused.value.status == 401 and not refused.value.unreachable and "wrong-token" not in str(refused.value)
    with HallClient(closed_port_url(), TOKEN) as client, pytest.raises(HallError) as down:
        client.issue_ticket("enrol", False, None)
    assert down.value.unreachable and TOKEN not in str(down.value)


# -- kiosk submit --ticket -------------------------------------------------------------------------
ENROL = {"name": "张三", "id_number": "320682199506120038", "insurance_type": "resident", "phone": "13812345678"}


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    from kiosk.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_ticket_prints_the_hall_ticket_linked_to_the_submission(hall, data_dir, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KIOSK_HALL_URL", hall.url)
    monkeypatch.setenv("KIOSK_HALL_TOKEN", TOKEN)
    submission_id = str(uuid.uuid4())
    argv = ("submit", "--service", "enrol", "--data", json.dumps(ENROL), "--id", submission_id, "--ticket", "--priority")
    code, out, err = _main(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    ticket = result["ticket"]
    assert result["id"] == submission_id and result["state"] == "pending"
    assert TICKET_KEYS <= ticket.keys() and ticket["submission_id"] == submission_id
    assert (ticket["number"], ticket["priority_reason"]) == ("A001", "elderly")
    code, out, _ = _main(capsys, *argv)  # the same submission again: the same ticket, not a second place in line
    assert code == 0 and json.loads(out)["ticket"]["id"] == ticket["id"]
    assert len(hall.service.queue.today()) == 1
    with closing(clerk_client(hall.url)) as clerk:
        called = clerk.post("/api/counters/2/call").json()["ticket"]
    assert called["id"] == ticket["id"]
    answers = {row["name"]: row["value"] for row in called["application"]["answers"]}
    assert answers["name"] == "张三" and answers["insurance_type"] == "城乡居民医保"  # the option's label


def test_submit_ticket_with_the_hall_down_keeps_the_submission_and_names_the_reference(data_dir, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KIOSK_HALL_URL", closed_port_url())
    monkeypatch.setenv("KIOSK_HALL_TOKEN", TOKEN)
    code, out, err = _main(capsys, "submit", "--service", "enrol", "--data", json.dumps(ENROL), "--ticket")
    result = json.loads(out)
    reference = result["id"][:8].upper()
    assert code == 1 and result["ticket"] is None and result["reference"] == reference
    assert err.count("\n") == 1 and "stored" in err and reference in err and TOKEN not in err
    from kiosk.services.submissions import open_outbox
    from kiosk.config import load_config

    outbox = open_outbox(load_config(PROJECT / "config.toml"))
    try:
        assert outbox.get(result["id"]).payload["answers"]["name"] == "张三"
    finally:
        outbox.close()


def test_submit_ticket_without_a_hall_uses_the_local_queue(data_dir, capsys) -> None:
    code, out, err = _main(capsys, "submit", "--service", "enrol", "--data", json.dumps(ENROL), "--ticket")
    assert code == 0, err
    result = json.loads(out)
    assert result["ticket"]["number"] == "A001" and result["ticket"]["submission_id"] == result["id"]
    code, out, _ = _main(capsys, "queue", "call", "--counter", "1")
    assert json.loads(out)["ticket"]["number"] == "A001"
    code, _, err = _main(capsys, "submit", "--service", "enrol", "--data", "{}", "--kind", "rating", "--ticket")
    assert code == 2 and "--ticket" in err and err.count("\n") == 1


# -- kiosk queue at the hall (the Qt counter station's assertions, ported) ---------------------------
def _queue(env: dict, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess:
    extra = ["--user", CLERK, "--password-stdin"] if password is not None else []
    return subprocess.run([sys.executable, "-m", "kiosk", "queue", *args, *extra], cwd=PROJECT, env=env,
                          input=(password or "") + "\n", capture_output=True, text=True, timeout=60)


@pytest.fixture
def queue_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_HALL")}
    return {**env, "KIOSK_DATA_DIR": str(tmp_path / "cli-data"), "PYTHONPATH": str(PROJECT)}


def _issue(url: str, service: str, priority: bool = False) -> str:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as k:
        return k.post("/api/tickets", json={"service": service, "priority": priority, "submission_id": None}).json()["number"]


def test_queue_call_recall_skip_done_at_the_hall(hall, queue_env) -> None:
    for service, priority in (("enrol", False), ("enrol", False), ("enrol", True), ("sporadic_reimburse", False)):
        _issue(hall.url, service, priority)  # A001 A002 A003(green channel) B001
    h = ("--counter", "2", "--hall", hall.url)
    called = _queue(queue_env, "call", *h)
    assert called.returncode == 0, called.stderr
    first = json.loads(called.stdout)
    assert {"action", "counter", "ticket", "announcement", "waiting"} <= first.keys()  # the local command's keys
    assert first["ticket"]["number"] == "A003" and first["ticket"]["priority"] is True  # ratio [1, 2]: priority first
    assert first["announcement"] == "请 A003 号到 2 号窗口办理" and first["waiting"] == 3
    assert "application" not in first["ticket"] and first["ticket"]["has_application"] is False
    second = json.loads(_queue(queue_env, "call", *h).stdout)  # 叫号 again: A003 done, then FIFO
    assert second["ticket"]["number"] == "A001" and hall.service.queue.get(first["ticket"]["id"]).state == "done"
    lobby = httpx.get(f"{hall.url}/api/lobby").json()
    assert lobby["calling"] == [{"number": "A001", "counter": 2}] and lobby["waiting"]["A"] == 1

    recalled = json.loads(_queue(queue_env, "recall", *h).stdout)
    assert recalled["ticket"]["number"] == "A001" and recalled["announcement"] == "请 A001 号到 2 号窗口办理"
    skipped = json.loads(_queue(queue_env, "skip", *h).stdout)
    assert skipped["ticket"]["state"] == "skipped" and skipped["announcement"] is None
    assert json.loads(_queue(queue_env, "recall", *h).stdout)["ticket"] is None  # nothing at the counter now
    by_service = json.loads(_queue(queue_env, "call", *h, "--service", "sporadic_reimburse").stdout)
    assert by_service["ticket"]["number"] == "B001"  # only that service
    done = json.loads(_queue(queue_env, "done", *h).stdout)
    assert done["ticket"]["number"] == "B001" and done["ticket"]["state"] == "done"
    assert hall.service.queue.get(done["ticket"]["id"]).outcome == "done"
    assert json.loads(_queue(queue_env, "done", *h).stdout)["ticket"] is None


def test_queue_at_the_hall_refuses_bad_logins_and_says_when_the_hall_is_down(hall, queue_env) -> None:
    no_user = _queue(queue_env, "call", "--counter", "1", "--hall", hall.url, password=None)
    assert no_user.returncode == 2 and "--user" in no_user.stderr and no_user.stderr.count("\n") == 1
    wrong = _queue(queue_env, "call", "--counter", "1", "--hall", hall.url, password="not the password")
    assert wrong.returncode == 2 and "401" in wrong.stderr and "not the password" not in wrong.stderr
    down = _queue(queue_env, "call", "--counter", "1", "--hall", closed_port_url())
    assert down.returncode == 1 and "unreachable" in down.stderr and down.stderr.count("\n") == 1
    bad = _queue(queue_env, "call", "--counter", "1", "--hall", "hall.local")
    assert bad.returncode == 2 and "--hall" in bad.stderr and "Traceback" not in bad.stderr
    env = {**queue_env, "KIOSK_HALL_URL": hall.url, "KIOSK_HALL_TOKEN": TOKEN, "KIOSK_HALL_PASSWORD": PASSWORD}
    _issue(hall.url, "enrol")
    configured = subprocess.run([sys.executable, "-m", "kiosk", "queue", "call", "--counter", "4", "--user", CLERK],
                                cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert configured.returncode == 0, configured.stderr  # the hall from the config, the password from the environment
    assert json.loads(configured.stdout)["ticket"]["counter"] == 4


# -- the Qt stations are gone ----------------------------------------------------------------------
@pytest.mark.parametrize(("station", "page"), [("counter", "/counter/3"), ("lobby", "/lobby")])
def test_run_counter_or_lobby_station_points_to_the_hall_page(data_dir, monkeypatch, capsys, station, page) -> None:
    monkeypatch.setenv("KIOSK_HALL_URL", "http://hall.local:8780")
    monkeypatch.setenv("KIOSK_HALL_TOKEN", TOKEN)
    code, out, err = _main(capsys, "run", "--station", station, "--counter", "3")
    assert code == 2 and not out and err.count("\n") == 1 and f"http://hall.local:8780{page}" in err, err
    assert not (PROJECT / "kiosk" / "ui" / "counter_app.py").exists()


def test_hall_serve_defaults_follow_the_kiosks_hall_section(config) -> None:
    import argparse
    import dataclasses

    from kiosk.commands.hall import DEFAULT_PORT, _tokens, default_port

    assert default_port(config) == DEFAULT_PORT
    assert _tokens(argparse.Namespace(tokens=None), config) == {config.hub.token: config.kiosk.id}
    at_hall = dataclasses.replace(config, hall=dataclasses.replace(config.hall, url="https://hall.local:8443", token="k-tok"))
    assert default_port(at_hall) == 8443  # serve where the kiosk looks
    assert _tokens(argparse.Namespace(tokens=None), at_hall) == {"k-tok": config.kiosk.id}  # the token it sends


def test_demo_starts_a_hall_the_kiosk_uses_and_its_clerk_can_log_in(config) -> None:
    from kiosk.commands.demo import DEMO_CLERK, start_local_hall
    from kiosk.services.forms import load_forms
    from kiosk.services.ticket_desk import HallDesk, open_desk

    hall_handle, kiosk_config, password = start_local_hall(config)
    try:
        assert kiosk_config.hall.url == hall_handle.url and kiosk_config.hall.url.startswith("http://127.0.0.1:")
        assert kiosk_config.hall.token and kiosk_config.hall.token != config.hub.token  # a fresh token per run
        desk = open_desk(kiosk_config)
        try:
            assert isinstance(desk, HallDesk)
            ticket = desk.issue(load_forms(PROJECT / "forms").by_code("consult"), None)
        finally:
            desk.close()
        assert ticket.number == "D001" and ticket.json["service_point"] == config.kiosk.service_point
        with closing(clerk_client(hall_handle.url, DEMO_CLERK, password)) as clerk:
            assert clerk.post("/api/counters/1/call").json()["ticket"]["number"] == "D001"
    finally:
        hall_handle.stop()
