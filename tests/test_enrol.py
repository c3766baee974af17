"""Enrolment (issue 21): a one-time code from the hub → a per-kiosk token (and a pinned TLS
certificate) on the machine → sync works; codes are single use and expire; revoke pauses the
kiosk's sync with 配置错误 and keeps its pending items; re-enrolling resumes it."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub_fixtures import KIOSK, cipher, store  # noqa: F401
from kiosk.config import HUB_PIN_FILE, HUB_TOKEN_FILE, load_config
from kiosk.hub import enrolment
from kiosk.hub.server import start_hub_in_thread
from kiosk.services.sync import HubClient, Syncer


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    """What a technician makes with `openssl req -x509 … -addext subjectAltName=IP:…`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "hub.crt", tmp_path / "hub.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_hub(tmp_path):
    cert, key = _self_signed(tmp_path)
    with start_hub_in_thread(str(tmp_path / "hub" / "hub.sqlite3"), {}, tls_cert=cert, tls_key=key, platform=None) as h:
        h.cert = cert
        yield h


def _kiosk(data: Path, hub_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KIOSK_DATA_DIR": str(data), "KIOSK_HUB_URL": hub_url}
    env.pop("KIOSK_HUB_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60, env=env)


def _enrol(data: Path, hub_url: str, code: str, *extra: str) -> subprocess.CompletedProcess:
    return _kiosk(data, hub_url, "enrol", "--hub", hub_url, "--code", code, "--kiosk-id", KIOSK, *extra)


def _syncer(data: Path, hub_url: str, outbox) -> Syncer:
    config = load_config(environ={"KIOSK_DATA_DIR": str(data), "KIOSK_HUB_URL": hub_url})
    return Syncer(outbox, HubClient.from_config(config.hub, timeout_s=5))


def test_code_enrol_then_a_submission_syncs_over_the_pinned_certificate(tls_hub, tmp_path, store):  # noqa: F811
    data = tmp_path / "data"
    code = enrolment.issue_code(tls_hub.store, KIOSK).code
    done = _enrol(data, tls_hub.url, code.lower().replace("-", " "))  # typed loosely: case, spaces
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["round_trip"] == "ok" and out["verified_by"] == "pin" and out["config_hub_url_matches"]
    assert out["tls_fingerprint_sha256"] == enrolment.certificate_fingerprint(tls_hub.cert)
    for name in (HUB_TOKEN_FILE, HUB_PIN_FILE):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    token = (data / HUB_TOKEN_FILE).read_text().strip()
    assert token not in done.stdout + done.stderr  # the secret is written, never printed
    config = load_config(environ={"KIOSK_DATA_DIR": str(data), "KIOSK_HUB_URL": tls_hub.url})
    assert config.hub.token == token and config.hub.ca_file == str(data / HUB_PIN_FILE)

    sid = store.enqueue(store.new_submission_id(), "enrol", KIOSK, {"name": "王伟"}).id
    report = _syncer(data, tls_hub.url, store).drain()
    assert report.acked == 1 and not report.error
    assert tls_hub.store.get(sid, KIOSK) is not None
    # the hub stores only hashes: neither the code nor the token is in its database
    raw = (tmp_path / "hub" / "hub.sqlite3").read_bytes()
    assert token.encode() not in raw and code.encode() not in raw


def test_used_expired_wrong_and_superseded_codes_are_refused(tls_hub, tmp_path):
    data = tmp_path / "data"
    used = enrolment.issue_code(tls_hub.store, KIOSK).code
    assert _enrol(data, tls_hub.url, used).returncode == 0
    again = _enrol(tmp_path / "other", tls_hub.url, used)
    assert again.returncode == 1 and "code_used" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    expired = enrolment.issue_code(tls_hub.store, KIOSK, now=time.time() - 25 * 3600).code
    late = _enrol(tmp_path / "other", tls_hub.url, expired)
    assert late.returncode == 1 and "code_expired" in late.stderr
    wrong = _enrol(tmp_path / "other", tls_hub.url, "AAAA-BBBB-CCCC-DDDD")
    assert wrong.returncode == 1 and "unknown_code" in wrong.stderr and "Traceback" not in wrong.stderr
    first = enrolment.issue_code(tls_hub.store, KIOSK).code
    enrolment.issue_code(tls_hub.store, KIOSK)  # a newer code replaces the unused older one
    with pytest.raises(enrolment.EnrolmentRefused, match="unknown_code"):
        enrolment.redeem(tls_hub.store, KIOSK, first)
    other_kiosks = enrolment.issue_code(tls_hub.store, "KIOSK-OTHER").code  # a code is for its kiosk only
    with pytest.raises(enrolment.EnrolmentRefused, match="unknown_code"):
        enrolment.redeem(tls_hub.store, KIOSK, other_kiosks)
    assert not (tmp_path / "other" / HUB_TOKEN_FILE).exists()  # nothing written on a refusal


def test_failed_codes_count_as_failed_logins(tmp_path):
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {}, platform=None, auth_failures_per_minute=3) as h:
        answers = [httpx.post(h.url + "/v1/enrol", json={"kiosk_id": KIOSK, "code": f"WRONG-{n}"}).status_code
                   for n in range(4)]
        assert answers == [401, 401, 401, 429]
        good = enrolment.issue_code(h.store, KIOSK).code  # even a right code waits out the brake
        assert httpx.post(h.url + "/v1/enrol", json={"kiosk_id": KIOSK, "code": good}).status_code == 429
        assert httpx.post(h.url + "/v1/enrol", content=b"{not json").status_code in (400, 429)


def test_revoke_pauses_sync_with_config_error_keeps_pending_and_re_enrol_resumes(tls_hub, tmp_path, store):  # noqa: F811
    data = tmp_path / "data"
    assert _enrol(data, tls_hub.url, enrolment.issue_code(tls_hub.store, KIOSK).code).returncode == 0
    revoked = _kiosk(data, tls_hub.url, "hub", "revoke-token", KIOSK, "--db", str(tmp_path / "hub" / "hub.sqlite3"))
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout) == {"kiosk_id": KIOSK, "tokens_revoked": 1, "codes_revoked": 0}

    ids = [store.enqueue(store.new_submission_id(), "enrol", KIOSK, {"n": n}).id for n in range(3)]
    report = _syncer(data, tls_hub.url, store).drain()
    assert report.config_error and report.acked == 0  # shown as 配置错误 on the status strip
    assert store.sync_paused() and {e.id for e in store.list("pending")} == set(ids)
    assert all(tls_hub.store.get(i, KIOSK) is None for i in ids)

    issued = _kiosk(data, tls_hub.url, "hub", "enrol-code", KIOSK, "--db", str(tmp_path / "hub" / "hub.sqlite3"))
    assert issued.returncode == 0, issued.stderr
    code = json.loads(issued.stdout)["code"]
    again = _enrol(data, tls_hub.url, code)
    assert again.returncode == 0, again.stderr
    report = _syncer(data, tls_hub.url, store).drain()
    assert report.acked == 3 and not report.error and store.sync_paused() is None
    assert all(tls_hub.store.get(i, KIOSK) is not None for i in ids)


def test_a_different_certificate_is_refused_against_the_pin(tmp_path):
    data = tmp_path / "data"
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    db = str(tmp_path / "hub" / "hub.sqlite3")
    cert, key = _self_signed(first)
    with start_hub_in_thread(db, {}, tls_cert=cert, tls_key=key, platform=None) as h:
        assert _enrol(data, h.url, enrolment.issue_code(h.store, KIOSK).code).returncode == 0
    cert, key = _self_signed(second)
    with start_hub_in_thread(db, {}, tls_cert=cert, tls_key=key, platform=None) as h:
        refused = _enrol(data, h.url, enrolment.issue_code(h.store, KIOSK).code)
        assert refused.returncode == 1 and "--replace-pin" in refused.stderr
        accepted = _enrol(data, h.url, enrolment.issue_code(h.store, KIOSK).code, "--replace-pin")
        assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize("args, needle", [
    (["enrol", "--hub", "ftp://x", "--code", "A"], "--hub"),
    (["enrol", "--hub", "https://127.0.0.1:1", "--code", "A B\x01"], "--code"),
    (["enrol", "--hub", "http://127.0.0.1:1", "--code", "ABCD"], "cannot reach the hub"),
    (["hub", "enrol-code", "has space"], "kiosk id"),
    (["hub", "revoke-token", ""], "kiosk id"),
])
def test_bad_input_is_one_line(tmp_path, args, needle):
    done = _kiosk(tmp_path / "data", "http://127.0.0.1:1", *args, *(["--db", str(tmp_path / "h.db")] if args[0] == "hub" else []))
    assert done.returncode in (1, 2) and needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
