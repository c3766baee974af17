"""Hall logins, sessions, CSRF, restart durability, retention, keys and the `kiosk hall` command."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from test_hall_support import (CLERK, PASSWORD, TOKENS, FakeClock, clerk_client, clock, hall,  # noqa: F401
                               issue, open_parts)

PROJECT = Path(__file__).resolve().parent.parent


def test_login_sets_a_strict_httponly_cookie_and_bad_passwords_are_refused_then_limited(hall) -> None:
    r = httpx.post(f"{hall.url}/api/login", json={"user": CLERK, "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie  # plain HTTP in tests
    assert httpx.post(f"{hall.url}/api/login", json={"user": CLERK, "password": "wrong"}).status_code == 401
    assert httpx.post(f"{hall.url}/api/login", json={"user": "nobody", "password": PASSWORD}).json()["error"] == "bad_login"
    statuses = [httpx.post(f"{hall.url}/api/login", json={"user": CLERK, "password": "wrong"}).status_code for _ in range(10)]
    assert statuses[-1] == 429  # guessing is slowed down per address


def test_secure_cookie_under_tls_rules(tmp_path, config, clock) -> None:
    from kiosk.hall.auth import SessionRules
    from kiosk.hall.server import start_hall_in_thread

    with start_hall_in_thread(open_parts(tmp_path / "h.sqlite3", config, clock), TOKENS,
                              rules=SessionRules(secure_cookie=True)) as handle:
        r = httpx.post(f"{handle.url}/api/login", json={"user": CLERK, "password": PASSWORD})
    assert "secure" in r.headers["set-cookie"].lower()


def test_clerk_posts_need_a_session_and_its_csrf_token(hall) -> None:
    assert httpx.post(f"{hall.url}/api/counters/1/call").status_code == 401
    clerk = clerk_client(hall.url)
    token = clerk.headers.pop("X-CSRF-Token")
    assert clerk.post("/api/counters/1/call").json()["error"] == "csrf"
    assert clerk.post("/api/counters/1/call", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert clerk.post("/api/counters/1/call", headers={"X-CSRF-Token": token}).status_code == 200
    # the page's form: a missing csrf field does nothing and says so
    issue(hall.url)
    r = clerk.post("/counter/1/call", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 303 and "error=csrf" in r.headers["location"]
    assert hall.service.queue.current(1) is None


def test_sessions_expire_when_idle_and_at_the_end_of_the_day(hall, clock) -> None:
    clerk = clerk_client(hall.url)
    assert clerk.get("/api/counters/1").status_code == 200
    clock.now += 29 * 60
    assert clerk.get("/api/counters/1").status_code == 200  # touched: idle time starts again
    clock.now += 31 * 60
    assert clerk.get("/api/counters/1").status_code == 401
    assert clerk.get("/counter/1", follow_redirects=False).headers["location"].startswith("/login?next=/counter/1")
    clerk = clerk_client(hall.url)
    for _ in range(21):  # busy all day: still ends after 10 hours
        clock.now += 29 * 60
        status = clerk.get("/api/counters/1").status_code
    assert status == 401


def test_login_page_form_round_trip_and_open_redirects_refused(hall) -> None:
    with httpx.Client(base_url=hall.url) as browser:
        page = browser.get("/login", params={"next": "//evil.example/x"})
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        assert 'value="/counter/1"' in page.text  # the foreign target was replaced
        r = browser.post("/login", data={"user": CLERK, "password": PASSWORD, "csrf": csrf, "next": "/counter/7"},
                         follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/counter/7"
        assert browser.get("/counter/7").status_code == 200
    with httpx.Client(base_url=hall.url) as forger:  # no login-form cookie: a cross-site post is refused
        r = forger.post("/login", data={"user": CLERK, "password": PASSWORD, "csrf": "x", "next": "/counter/1"},
                        follow_redirects=False)
        assert "error=expired" in r.headers["location"] and "hall_session" not in r.headers.get("set-cookie", "")


def test_a_restart_loses_no_ticket_and_no_application(tmp_path, config, clock) -> None:
    from kiosk.hall.server import start_hall_in_thread

    db = tmp_path / "hall.sqlite3"
    with start_hall_in_thread(open_parts(db, config, clock), TOKENS) as first:
        rated_later = issue(first.url)
        tickets = [issue(first.url) for _ in range(3)]
        clerk = clerk_client(first.url)
        clerk.post("/api/counters/5/call")
        clerk.post(f"/api/tickets/{rated_later['id']}/finish", json={"outcome": "done", "note": ""})
        clerk.post("/api/counters/1/call")
    with start_hall_in_thread(open_parts(db, config, clock), TOKENS) as second:
        lobby = httpx.get(f"{second.url}/api/lobby").json()
        assert lobby["calling"] == [{"number": tickets[0]["number"], "counter": 1}] and lobby["waiting"]["C"] == 2
        assert httpx.get(f"{second.url}/api/counters/5/rating").json()["pending"]["ticket_id"] == rated_later["id"]
        called = clerk_client(second.url).post("/api/counters/2/call").json()["ticket"]
        assert called["number"] == tickets[1]["number"]
        assert called["application"]["applicant"]["name"]
        assert issue(second.url)["number"] == "C005"  # numbers never reissued


def test_files_are_private_and_a_wrong_key_is_refused(tmp_path, config, clock) -> None:
    from kiosk.hall.store import HallStore, HallStoreError

    parts = open_parts(tmp_path / "hall.sqlite3", config, clock)
    parts.service.store.put_application("00000000-0000-4000-8000-000000000001", "enrol", "K", {"a": 1})
    parts.close()
    for path in (tmp_path / "hall.sqlite3", tmp_path / "keys" / "hall.key", tmp_path / "hall-outbox.sqlite3"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    (tmp_path / "keys" / "hall.key").write_bytes(os.urandom(32))
    with pytest.raises(HallStoreError, match="different key"):
        HallStore(tmp_path / "hall.sqlite3")
    (tmp_path / "keys" / "hall.key").unlink()
    with pytest.raises(HallStoreError, match="missing"):
        HallStore(tmp_path / "hall.sqlite3")


def test_applications_are_purged_after_the_retention(tmp_path, config, clock) -> None:
    parts = open_parts(tmp_path / "hall.sqlite3", config, clock, retention_days=1)
    try:
        store = parts.service.store
        store.put_application("00000000-0000-4000-8000-000000000001", "enrol", "K", {"a": 1})
        clock.now += 3600
        store.put_application("00000000-0000-4000-8000-000000000002", "enrol", "K", {"a": 2})
        clock.now += 86400 - 1800
        assert parts.service.purge() == 1
        assert store.application("00000000-0000-4000-8000-000000000001") is None
        assert store.application("00000000-0000-4000-8000-000000000002") == ("enrol", {"a": 2})
    finally:
        parts.close()


def _kiosk(*args: str, stdin: str = "", env_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KIOSK_DATA_DIR": str(env_dir)}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=PROJECT, env=env)


def test_add_user_and_serve_refuse_bad_input_in_one_line(tmp_path) -> None:
    db = str(tmp_path / "hall.sqlite3")
    ok = _kiosk("hall", "add-user", "clerk1", "--db", db, "--role", "clerk", "--password-stdin", stdin="long enough pw\n",
                env_dir=tmp_path)
    assert ok.returncode == 0 and '"created": true' in ok.stdout
    cases = [
        (("hall", "add-user", "clerk2", "--db", db, "--role", "clerk", "--password-stdin"), "short\n", "at least 8"),
        (("hall", "add-user", "bad name", "--db", db, "--role", "clerk", "--password-stdin"), "long enough pw\n", "without spaces"),
        (("hall", "serve", "--db", db, "--host", "0.0.0.0", "--tokens", str(tmp_path / "t")), "", "without TLS"),
        (("hall", "serve", "--db", db, "--tokens", str(tmp_path / "missing")), "", "cannot read tokens"),
        (("hall", "serve", "--db", db, "--tls-cert", "x.pem"), "", "go together"),
        (("hall", "serve", "--db", str(tmp_path)), "", "is a folder"),
    ]
    (tmp_path / "t").write_text("K1 some-secret-token\n")
    for args, stdin, message in cases:
        r = _kiosk(*args, stdin=stdin, env_dir=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_audit_is_for_managers_and_login_wants_json(hall) -> None:
    from kiosk.hall.auth import hash_password

    hall.service.store.put_staff("boss", "manager", hash_password("manager pass 1"))
    issue(hall.url)
    clerk = clerk_client(hall.url)
    clerk.post("/api/counters/1/call")
    assert clerk.get("/api/audit").status_code == 403
    rows = clerk_client(hall.url, "boss", "manager pass 1").get("/api/audit").json()["audit"]
    assert [(r["user"], r["action"], r["counter"]) for r in rows] == [(CLERK, "view_application", 1)]
    text_plain = httpx.post(f"{hall.url}/api/login", content=f'{{"user": "{CLERK}", "password": "{PASSWORD}"}}',
                            headers={"Content-Type": "text/plain"})
    assert text_plain.status_code == 415 and "set-cookie" not in text_plain.headers
