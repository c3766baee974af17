"""`kiosk enrol --hub URL --code CODE [--kiosk-id ID]`: give this machine its hub token.

Trades the one-time code from `kiosk hub enrol-code` for a per-kiosk token (POST /v1/enrol), pins
the hub's certificate on first use when no `[hub] ca_file` is configured (the configured CA wins),
checks the round trip with an authenticated call using exactly what sync will use, and only then
writes `<data dir>/keys/hub.token` and `keys/hub-cert.pem` (0600) — read by the config loader.
Prints JSON. Pending submissions are never touched: they wait in the outbox for the new token.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Any

from kiosk.config import HUB_PIN_FILE, HUB_TOKEN_FILE, Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("enrol", parents=[common], help="fetch this kiosk's hub token with a one-time code")
    parser.add_argument("--hub", required=True, metavar="URL", help="the hub, e.g. https://hub.example:8765")
    parser.add_argument("--code", required=True, help="from `kiosk hub enrol-code KIOSK_ID` on the hub")
    parser.add_argument("--kiosk-id", metavar="ID", help="default: kiosk.id from the config")
    parser.add_argument("--replace-pin", action="store_true",
                        help="accept a hub certificate that differs from the pinned one (it was renewed)")
    parser.set_defaults(handler=run)


def _fail(message: str, code: int) -> int:
    print(f"kiosk enrol: {message}", file=sys.stderr)
    return code


def _write_private(path: Path, data: bytes) -> None:
    """0600 from creation (never briefly readable), replaced atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _peer_certificate(response: Any) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return ssl_object.getpeercert(True) if ssl_object is not None else None


def _fetch(url: str, kiosk_id: str, code: str, ca_file: str, timeout_s: float) -> tuple[dict[str, Any], bytes | None]:
    """POST /v1/enrol; the certificate the hub showed on this very connection (https only)."""
    import httpx

    if ca_file:
        verify: Any = ssl.create_default_context(cafile=ca_file)
    else:  # first use: nothing to check against yet; what is seen here is pinned (and compared below)
        verify = ssl.create_default_context()
        verify.check_hostname = False
        verify.verify_mode = ssl.CERT_NONE
    with httpx.Client(timeout=timeout_s, verify=verify, headers={"User-Agent": "yibao-kiosk"}) as client:
        response = client.post(url.rstrip("/") + "/v1/enrol", json={"kiosk_id": kiosk_id, "code": code})
        seen = _peer_certificate(response)
        try:
            body = response.json()
        except ValueError:
            body = None
    if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("token"), str):
        error = body.get("error") if isinstance(body, dict) else None
        raise _Refused(response.status_code, str(error or f"HTTP {response.status_code}"))
    return body, seen


def _system_trusts(url: str, timeout_s: float) -> bool:
    """A certificate the system's CAs vouch for (a public one, renewed every few months) is not
    pinned: the pin would break at the next renewal, and the CAs already say who the hub is."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/v1/health", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


_REFUSALS = {
    "unknown_code": "the hub does not know this code for this kiosk id (check both; a newer code replaces older ones)",
    "code_used": "this code was already used: run `kiosk hub enrol-code KIOSK_ID` on the hub for a new one",
    "code_expired": "this code has expired (24 h): run `kiosk hub enrol-code KIOSK_ID` on the hub for a new one",
    "too_many_failed_logins": "too many failed attempts from this address: wait a minute and try again",
}


def run(args: argparse.Namespace, config: Config) -> int:
    import httpx

    from kiosk.config import _url_problem
    from kiosk.errors import ConfigError
    from kiosk.services.sync import HubClient, HubError, HubNotFound

    url = args.hub.strip()
    if problem := _url_problem(url):
        return _fail(f"--hub: {problem}", 2)
    kiosk_id = args.kiosk_id or config.kiosk.id
    if not kiosk_id or len(kiosk_id) > 64 or any(c.isspace() or not c.isprintable() for c in kiosk_id):
        return _fail("--kiosk-id must be 1 to 64 printable characters without spaces", 2)
    code = args.code.strip()
    if not code or len(code) > 64 or not code.isascii() or not code.isprintable():
        return _fail("--code: expected the code printed by `kiosk hub enrol-code` (e.g. ABCD-EFGH-JKLM-NPQR)", 2)
    https = url.lower().startswith("https://")
    ca_file = config.hub.ca_file if config.hub.ca_file and Path(config.hub.ca_file) != config.data_dir / HUB_PIN_FILE else ""
    try:
        body, seen = _fetch(url, kiosk_id, code, ca_file, config.hub.timeout_s)
    except _Refused as exc:
        return _fail(f"the hub refused the enrolment ({exc.error}): {_REFUSALS.get(exc.error, 'see the hub log')}", 1)
    except (ssl.SSLError, OSError) as exc:
        return _fail(f"cannot use hub.ca_file {ca_file}: {getattr(exc, 'reason', None) or exc}", 2)
    except httpx.HTTPError as exc:
        return _fail(f"cannot reach the hub at {url}: {type(exc).__name__}: {exc}", 1)

    fingerprint = hashlib.sha256(seen).hexdigest() if seen else None
    claimed = body.get("tls_fingerprint_sha256")
    if https and claimed and fingerprint != claimed:
        return _fail(f"the certificate this machine saw (sha256 {fingerprint}) is not the one the hub serves "
                     f"(sha256 {claimed}): something between them intercepts TLS; nothing was written", 1)
    pin_path = config.data_dir / HUB_PIN_FILE
    system = https and not ca_file and _system_trusts(url, config.hub.timeout_s)
    pin_pem = ssl.DER_cert_to_PEM_cert(seen).encode("ascii") if (https and seen and not ca_file and not system) else None
    if pin_pem is not None and pin_path.is_file() and not args.replace_pin:
        try:
            old = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pin_path.read_text(encoding="ascii"))).hexdigest()
        except (OSError, ValueError, UnicodeDecodeError):
            old = None
        if old != fingerprint:
            return _fail(f"the hub's certificate (sha256 {fingerprint}) differs from the one pinned in {pin_path} "
                         f"(sha256 {old}); if the hub's certificate was renewed, run again with --replace-pin", 1)

    # the round trip, with what sync will use: this token, and the pin (or the configured CA)
    token = body["token"]
    trial_pin = pin_path.with_name(pin_path.name + ".new")
    try:
        if pin_pem is not None:
            _write_private(trial_pin, pin_pem)
        client = HubClient(url, token, config.hub.timeout_s,
                           ca_file=ca_file or (str(trial_pin) if pin_pem is not None else None))
        try:
            client.get_submission("00000000-0000-0000-0000-000000000000")
        except HubNotFound:
            pass  # authenticated: an unknown id is a 404, a refused token a 401
        finally:
            client.close()
        _write_private(config.data_dir / HUB_TOKEN_FILE, (token + "\n").encode("ascii"))
        if pin_pem is not None:
            os.replace(trial_pin, pin_path)
    except HubError as exc:
        hint = (" (the pinned certificate must be self-signed and name the host in --hub; a certificate from a "
                "private CA: set [hub] ca_file to that CA and run again)") if "certificate" in str(exc).lower() else ""
        return _fail(f"the hub gave a token but the authenticated check failed: {exc}{hint}; nothing was written", 1)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(f"cannot write to {config.data_dir / 'keys'}: {exc.strerror or exc}", 1)
    finally:
        try:
            trial_pin.unlink()
        except FileNotFoundError:
            pass
    print(json.dumps({
        "kiosk_id": kiosk_id, "hub": url, "token_file": str(config.data_dir / HUB_TOKEN_FILE),
        "pin_file": str(pin_path) if pin_pem is not None else None, "tls_fingerprint_sha256": fingerprint,
        "verified_by": "ca_file" if ca_file else ("pin" if pin_pem is not None else ("system_cas" if system else None)),
        "round_trip": "ok",
        "config_hub_url_matches": config.hub.url.rstrip("/") == url.rstrip("/"),
    }, ensure_ascii=False))
    if config.hub.url.rstrip("/") != url.rstrip("/"):
        print(f"kiosk enrol: note: [hub] url in {config.source} is {config.hub.url}; set it to {url}", file=sys.stderr)
    return 0
