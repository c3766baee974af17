"""`kiosk diag` and the service hall (issue 17): reachable, token accepted, clock skew, TLS — each
failure with its HALL_* code and the advice that code picks; a hall that is down is degraded (the
submissions still store), a refused token is an error (配置错误). The hub's self-test carries a
code too, so its advice no longer depends on the text."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time

import httpx
import pytest

from drivers.diagnostics import CheckResult, CheckStatus
from kiosk.services import diagnostics as d
from test_hall_support import TOKEN, TOKENS, clock, hall, open_parts, wait_for  # noqa: F401 (fixtures)
from test_hub_security import _make_ca, _server_cert, _write_ca


@pytest.fixture(autouse=True)
def _no_hall_from_the_environment(monkeypatch):
    for name in ("KIOSK_HALL_URL", "KIOSK_HALL_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def at_hall(config, url: str, token: str = TOKEN, ca_file: str = ""):
    return dataclasses.replace(config, hall=dataclasses.replace(config.hall, url=url, token=token, ca_file=ca_file))


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_no_hall_configured_no_hall_checks(config) -> None:
    assert "hall" in d.CHECK_GROUPS
    assert d.run_checks(config, only=["hall"]) == []


def test_a_hall_that_answers_and_knows_the_token_is_ok(config, hall) -> None:
    results = d.run_checks(at_hall(config, hall.url), only=["hall"])
    checks = by_name(results)
    assert set(checks) == {"hall.reachable", "hall.token", "hall.clock"}  # no hall.tls over http
    assert all(r.status is CheckStatus.OK for r in results), [r.to_json() for r in results]
    assert checks["hall.reachable"].data["latency_ms"] >= 0 and " ms" in checks["hall.reachable"].detail
    assert abs(checks["hall.clock"].data["skew_s"]) <= 2
    assert d.overall_exit_code(results) == 0
    assert hall.service.store is not None and not hall.service.queue.today()  # the probe queued nothing


def test_a_hall_that_is_down_is_degraded_not_failed(config) -> None:
    results = d.run_checks(at_hall(config, closed_port_url()), only=["hall"])
    r = by_name(results)["hall.reachable"]
    assert r.status is CheckStatus.DEGRADED and r.code == "HALL_UNREACHABLE" and r.data["action"] == "hall.down"
    assert "kiosk hall serve" in r.detail and "still stored" in r.detail and "业务编号" in r.detail_zh
    assert d.overall_status(results) == "degraded" and d.overall_exit_code(results) == 1
    assert len(results) == 1  # nothing more to ask a hall that does not answer


def test_a_wrong_token_is_a_configuration_error(config, hall) -> None:
    results = d.run_checks(at_hall(config, hall.url, token="not-this-kiosks-token"), only=["hall"])
    r = by_name(results)["hall.token"]
    assert r.status is CheckStatus.ERROR and r.code == "HALL_AUTH" and r.data["action"] == "hall.auth"
    assert "hall.token" in r.detail and "配置错误" in r.detail_zh
    assert "not-this-kiosks-token" not in json.dumps(d.report_json(results), ensure_ascii=False)
    assert by_name(results)["hall.reachable"].status is CheckStatus.OK
    assert d.overall_exit_code(results) == 2


def test_clock_skew_beyond_a_minute_is_degraded_with_what_to_do(config, hall) -> None:
    late = lambda: time.time() - 300  # noqa: E731 — this kiosk's clock five minutes behind the hall's
    r = by_name(d.check_hall(at_hall(config, hall.url), now=late))["hall.clock"]
    assert r.status is CheckStatus.DEGRADED and r.code == "HALL_CLOCK_SKEW" and 295 <= r.data["skew_s"] <= 305
    assert "ahead of" in r.detail and "timedatectl" in r.detail and "时间" in r.detail_zh


def test_a_plain_http_hall_on_a_network_is_degraded(config) -> None:
    class Hall(httpx.BaseTransport):  # the hall's replies, for the address check only
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/health":
                return httpx.Response(200, json={"status": "ok", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            return httpx.Response(422, json={"error": "invalid"})

    r = by_name(d.check_hall(at_hall(config, "http://10.0.0.5:8780"), transport=Hall()))["hall.reachable"]
    assert r.status is CheckStatus.DEGRADED and r.code == "HALL_CLEARTEXT" and "https://" in r.detail


def _start_tls_hall(tmp_path, config, clock, cert: str, key: str):  # noqa: F811 (clock is the fixture's value)
    from kiosk.hall.app import create_app
    from kiosk.hall.server import HallHandle, _bind, _server

    parts = open_parts(tmp_path / "tls-hall" / "hall.sqlite3", config, clock)
    sock = _bind("127.0.0.1", 0)
    server = _server(create_app(parts.service, TOKENS, extra_health=parts.health), parts.service, "warning", cert, key)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive())
    return HallHandle(f"https://127.0.0.1:{sock.getsockname()[1]}", parts, server, thread)


def test_tls_verified_with_the_private_ca_and_refused_with_another(tmp_path, config, clock) -> None:  # noqa: F811
    ca_key, ca_cert = _make_ca("Test Hall CA")
    _, other_ca = _make_ca("Someone Else's CA")
    cert, key = _server_cert(ca_key, ca_cert, tmp_path)  # valid for one day
    right, wrong = _write_ca(ca_cert, tmp_path / "ca.pem"), _write_ca(other_ca, tmp_path / "other.pem")
    with _start_tls_hall(tmp_path, config, clock, cert, key) as tls_hall:
        good = by_name(d.run_checks(at_hall(config, tls_hall.url, ca_file=right), only=["hall"]))
        bad = d.run_checks(at_hall(config, tls_hall.url, ca_file=wrong), only=["hall"])
    assert good["hall.reachable"].status is CheckStatus.OK and good["hall.token"].status is CheckStatus.OK
    tls = good["hall.tls"]
    assert tls.data["protocol"].startswith("TLSv1") and tls.data["days_left"] <= 1
    assert tls.status is CheckStatus.DEGRADED and tls.code == "HALL_CERT_EXPIRING" and "renew" in tls.detail
    r = by_name(bad)["hall.reachable"]
    assert r.status is CheckStatus.ERROR and r.code == "HALL_TLS" and "hall.ca_file" in r.detail
    assert "certificate" in r.detail and d.overall_exit_code(bad) == 2


def test_cli_json_carries_the_hall_checks_and_hides_the_hall_token(config, hall, monkeypatch, capsys) -> None:
    from kiosk.cli import main

    monkeypatch.setenv("KIOSK_HALL_URL", hall.url)
    monkeypatch.setenv("KIOSK_HALL_TOKEN", "a-wrong-token-for-the-cli")
    code = main(["diag", "--json"])
    report = json.loads(capsys.readouterr().out)
    checks = {c["name"]: c for c in report["checks"]}
    assert {"checks", "status", "version"} <= report.keys() and code == 2
    assert checks["hall.token"]["code"] == "HALL_AUTH" and checks["hall.token"]["status"] == "error"
    assert checks["hall.reachable"]["status"] == "ok"
    assert "a-wrong-token-for-the-cli" not in json.dumps(report)  # config_in_effect hides it


# -- the hub's self-test code -------------------------------------------------------------------
def _hub_answering(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json={"error": "whatever"}))


@pytest.mark.parametrize("status, code, action", [
    (401, "HUB_AUTH", "hub.auth"), (403, "HUB_AUTH", "hub.auth"), (503, "HUB_UNREACHABLE", "hub.down"),
])
def test_hub_self_test_carries_a_code_and_the_advice_follows_it(config, status, code, action) -> None:
    from kiosk.services.sync import HubClient

    client = HubClient("http://127.0.0.1:9", "t", transport=_hub_answering(status))
    r = d.check_hub(config, client)[0]
    assert r.status is CheckStatus.ERROR and r.code == code and r.data["action"] == action
    assert r.data["http_status"] == status


def test_hub_advice_is_no_longer_chosen_by_the_text(config) -> None:
    class Says401ButIsDown:
        def self_test(self) -> CheckResult:
            return CheckResult("hub.reachable", CheckStatus.ERROR, "proxy said HTTP 401 once", "", 1.0, code="HUB_UNREACHABLE")

    assert d.check_hub(config, Says401ButIsDown())[0].data["action"] == "hub.down"


def test_hub_down_and_hub_tls_codes(config, tmp_path) -> None:
    from kiosk.hub.server import start_hub_in_thread
    from kiosk.services.sync import HubClient

    down = d.check_hub(config, HubClient(closed_port_url(), "t", 2))[0]
    assert down.code == "HUB_UNREACHABLE" and down.data["action"] == "hub.down"
    ca_key, ca_cert = _make_ca("Test Hub CA")
    _, other_ca = _make_ca("Other CA")
    cert, key = _server_cert(ca_key, ca_cert, tmp_path)
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"t": "K"}, tls_cert=cert, tls_key=key) as hub:
        r = d.check_hub(config, HubClient(hub.url, "t", 5, ca_file=_write_ca(other_ca, tmp_path / "o.pem")))[0]
    assert r.code == "HUB_TLS" and r.data["action"] == "hub.tls" and "hub.ca_file" in r.detail
