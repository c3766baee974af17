"""Staff passwords (argon2id via argon2-cffi) and session rules for the hall's browser pages."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


SESSION_COOKIE = "hall_session"
LOGIN_CSRF_COOKIE = "hall_login_csrf"
CSRF_HEADER = "x-csrf-token"
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


@dataclass(frozen=True)
class SessionRules:
    idle_s: float = 30 * 60.0  # a counter left alone this long logs out
    max_s: float = 10 * 3600.0  # one working day at most
    secure_cookie: bool = False  # set under TLS: the cookie never travels in clear


class StaffAccounts(Protocol):
    """What a login needs of a store: the hall's HallStore and the console's ConsoleStore."""

    def staff(self, name: str) -> tuple[str, str] | None: ...
    def set_password_hash(self, name: str, password_hash: str) -> None: ...


class CsrfHolder(Protocol):
    """A signed-in session (hall or console) as far as the CSRF check goes."""

    @property
    def csrf(self) -> str: ...


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_login(store: StaffAccounts, name: str, password: str) -> str | None:
    """The person's role when name and password match, else None. Rehashes an outdated hash."""
    found = store.staff(name)
    stored = found[1] if found else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if found is None:
        return None
    if _hasher.check_needs_rehash(stored):
        store.set_password_hash(name, _hasher.hash(password))
    return found[0]


def csrf_ok(session: CsrfHolder, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), str(presented).encode())
