"""`kiosk ticket` through the service hall (issue 17): the same desk as the resident screen — the
number comes from the hall when `[hall] url` is set; with the hall down nothing is issued and
stderr says to go to the enquiries counter (as the kiosk screen does); a wrong token is a setting
to fix (exit 2). The JSON keeps the local command's keys; `kiosk queue --hall` calls that number."""
from __future__ import annotations

import json
import socket

import pytest

from drivers.printer.simulator import parse_escpos, split_tickets
from test_hall_support import CLERK, PASSWORD, TOKEN, clock, hall  # noqa: F401 (fixtures)

LOCAL_KEYS = {"ticket_id", "number", "band", "service", "service_name", "priority", "priority_reason", "issued_at",
              "state", "print_state", "counter", "people_ahead", "estimated_wait_min", "printed", "out"}


@pytest.fixture(autouse=True)
def _no_hall_from_the_environment(monkeypatch):
    for name in ("KIOSK_HALL_URL", "KIOSK_HALL_TOKEN", "KIOSK_HALL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    from kiosk.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _at(monkeypatch, url: str, token: str = TOKEN) -> None:
    monkeypatch.setenv("KIOSK_HALL_URL", url)
    monkeypatch.setenv("KIOSK_HALL_TOKEN", token)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_ticket_comes_from_the_hall_and_the_clerk_calls_it(hall, data_dir, monkeypatch, capsys, tmp_path) -> None:
    _at(monkeypatch, hall.url)
    out = tmp_path / "ticket.bin"
    code, stdout, err = _main(capsys, "ticket", "--service", "enrol", "--priority", "--out", str(out))
    assert code == 0, err
    ticket = json.loads(stdout)
    assert LOCAL_KEYS <= ticket.keys() and ticket["hall"] == hall.url  # the local keys, extended
    assert (ticket["number"], ticket["priority_reason"], ticket["printed"]) == ("A001", "elderly", True)
    assert ticket["id"] == ticket["ticket_id"] and ticket["submission_id"] is None
    assert hall.service.queue.get(ticket["id"]).number == "A001"  # issued at the hall
    assert not (data_dir / "queue.sqlite3").exists()  # the kiosk keeps no queue of its own
    (printed,) = split_tickets(parse_escpos(out.read_bytes()))
    assert "A001" in printed.lines and printed.qr_payloads == [ticket["id"]] and printed.cut
    assert any("长者优先" in line for line in printed.lines)

    monkeypatch.setenv("KIOSK_HALL_PASSWORD", PASSWORD)
    code, stdout, err = _main(capsys, "queue", "call", "--counter", "3", "--user", CLERK)
    assert code == 0, err
    called = json.loads(stdout)
    assert called["hall"] == hall.url and called["ticket"]["id"] == ticket["id"] and called["ticket"]["number"] == "A001"


def test_hall_down_issues_nothing_and_sends_to_the_counter(data_dir, monkeypatch, capsys, tmp_path) -> None:
    _at(monkeypatch, closed_port_url())
    out = tmp_path / "ticket.bin"
    code, stdout, err = _main(capsys, "ticket", "--service", "enrol", "--out", str(out))
    assert code == 1 and not stdout and err.count("\n") == 1
    assert "unreachable" in err and "enquiries counter" in err and "咨询窗口" in err and TOKEN not in err
    assert not out.exists() and not (data_dir / "queue.sqlite3").exists()  # no local number made up


def test_a_token_the_hall_refuses_is_a_setting_to_fix(hall, data_dir, monkeypatch, capsys) -> None:
    _at(monkeypatch, hall.url, "a-token-the-hall-does-not-know")
    code, stdout, err = _main(capsys, "ticket", "--service", "enrol", "--out", "/dev/null")
    assert code == 2 and not stdout and err.count("\n") == 1
    assert "401" in err and "hall.token" in err and "a-token-the-hall-does-not-know" not in err
    assert not hall.service.queue.today()


def test_band_cannot_be_chosen_at_the_hall(hall, data_dir, monkeypatch, capsys) -> None:
    _at(monkeypatch, hall.url)
    code, stdout, err = _main(capsys, "ticket", "--service", "enrol", "--band", "D", "--out", "/dev/null")
    assert code == 2 and not stdout and "--band" in err and "own band A" in err
    assert not hall.service.queue.today()
    code, stdout, _ = _main(capsys, "ticket", "--service", "enrol", "--band", "A", "--out", "/dev/null")
    assert code == 0 and json.loads(stdout)["number"] == "A001"  # its own band is fine


def test_without_a_hall_the_local_queue_as_before(data_dir, capsys, tmp_path) -> None:
    code, stdout, err = _main(capsys, "ticket", "--service", "enrol", "--out", str(tmp_path / "t.bin"))
    assert code == 0, err
    ticket = json.loads(stdout)
    assert LOCAL_KEYS <= ticket.keys() and "hall" not in ticket and ticket["number"] == "A001"
    assert (data_dir / "queue.sqlite3").exists()
