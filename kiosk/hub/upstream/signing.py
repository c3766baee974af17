"""Signing the platform's requests: a pluggable step between building the body and sending it.

Provincial gateways put their own authentication in HTTP headers in front of the national
envelope. `Signer.headers(body)` returns the headers for one request body; `NoSigner` adds
none. `HmacSha256Signer` is the documented implementation:

    x-ca-key        the access key (identifies the institution at the gateway)
    x-ca-timestamp  milliseconds since the epoch
    x-ca-nonce      16 random bytes, hex
    x-ca-signature  base64(HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + sha256hex(body)))

The signature covers the exact bytes sent, so the body must be serialised once and sent as is.
`verify()` is the gateway's side (the simulator uses it): wrong key, bad signature, or a
timestamp more than `max_skew_s` away is refused. Keys live in a file readable only by the
hub's user (0600), never in config.toml: `access_key = "…"` and `secret_key = "…"` (TOML).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import time
import tomllib
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

HEADER_KEY, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE = "x-ca-key", "x-ca-timestamp", "x-ca-nonce", "x-ca-signature"


class SigningKeyError(Exception):
    """The key file is missing, readable by others, or malformed (a configuration error)."""


class Signer(Protocol):
    name: str

    def headers(self, body: bytes) -> dict[str, str]: ...


class NoSigner:
    name = "none"

    def headers(self, body: bytes) -> dict[str, str]:
        return {}


@dataclass(repr=False)
class HmacSha256Signer:
    access_key: str
    secret_key: str = field(repr=False)
    clock: Callable[[], float] = time.time
    name: str = "hmac-sha256"

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"HmacSha256Signer(access_key={self.access_key!r})"

    def headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self.clock() * 1000))
        nonce = secrets.token_hex(16)
        return {HEADER_KEY: self.access_key, HEADER_TIME: timestamp, HEADER_NONCE: nonce,
                HEADER_SIGNATURE: signature(self.secret_key, timestamp, nonce, body)}


def signature(secret_key: str, timestamp: str, nonce: str, body: bytes) -> str:
    text = f"{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}".encode()
    return base64.b64encode(hmac.new(secret_key.encode(), text, hashlib.sha256).digest()).decode()


def verify(headers: dict[str, str], body: bytes, keys: dict[str, str], max_skew_s: float = 300.0,
           now: float | None = None) -> str | None:
    """None when the request is signed by a known key; else why not (for the gateway's refusal)."""
    lower = {k.lower(): v for k, v in headers.items()}
    key, timestamp, nonce, given = (lower.get(h, "") for h in (HEADER_KEY, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE))
    if not (key and timestamp and nonce and given):
        return "unsigned request"
    secret = keys.get(key)
    if secret is None:
        return "unknown access key"
    if not timestamp.isdigit() or abs((now if now is not None else time.time()) - int(timestamp) / 1000) > max_skew_s:
        return "timestamp outside the allowed window"
    if not hmac.compare_digest(signature(secret, timestamp, nonce, body), given):
        return "bad signature"
    return None


def load_keys(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(access_key, secret_key) from a TOML file that only its owner may read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SigningKeyError(f"upstream key file {path}: not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SigningKeyError(f"upstream key file {path}: cannot read it ({type(exc).__name__})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"upstream key file {path}: readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    access, secret = raw.get("access_key"), raw.get("secret_key")
    if not (isinstance(access, str) and access and isinstance(secret, str) and secret):
        raise SigningKeyError(f"upstream key file {path}: expected access_key and secret_key")
    return access, secret


def write_keys(path: str | os.PathLike[str], access_key: str, secret_key: str) -> Path:
    """Create a key file 0600 from the start (tests, `platform-sim --keys-out`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'access_key = "{access_key}"\nsecret_key = "{secret_key}"\n')
    os.chmod(path, 0o600)
    return path
