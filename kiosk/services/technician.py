"""Technician mode: the PIN (scrypt hash in `technician.pin_hash`), the lockout after repeated
wrong PINs, and the hidden gesture (five taps within 3 s on the header title) that opens the PIN
pad. Pure logic with an injectable clock; the screen lives in `kiosk/ui/screens/technician.py`.

Set the PIN on a kiosk:  `.venv/bin/python -m kiosk.services.technician`  (asks twice, prints the
line to paste under `[technician]` in config.toml). An empty `pin_hash` disables technician mode.
"""
from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import os
import time
from collections.abc import Callable

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PIN, MAX_PIN = 4, 12


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_pin_format(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit() and MIN_PIN <= len(pin) <= MAX_PIN):
        raise ValueError(f"the technician PIN must be {MIN_PIN} to {MAX_PIN} digits")


def hash_pin(pin: str, *, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$<salt b64>$<hash b64>$n$r$p` — the format `technician.pin_hash` takes."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${_b64(salt)}${_b64(digest)}${n}${r}${p}"


def verify_pin(pin: str, pin_hash: str) -> bool:
    """Constant-time comparison; a malformed hash never matches (and never raises)."""
    parts = pin_hash.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        salt, expected = base64.b64decode(parts[1], validate=True), base64.b64decode(parts[2], validate=True)
        n, r, p = int(parts[3]), int(parts[4]), int(parts[5])
        if n < 2 or n & (n - 1) or n > 2**20 or not (1 <= r <= 32) or not (1 <= p <= 16):
            return False
        digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


def is_valid_pin_hash(pin_hash: str) -> bool:
    parts = pin_hash.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(parts[1:])


def pin_hash_for_config(pin: str) -> str:
    """The value for `technician.pin_hash` in config.toml (validates the PIN: 4–12 digits)."""
    _check_pin_format(pin)
    return hash_pin(pin)


class TechnicianGate:
    """Counts wrong PINs; after `max_failures` in a row the pad is locked for `lockout_s`.
    While locked every attempt is refused without checking the PIN (no oracle)."""

    def __init__(self, pin_hash: str, clock: Callable[[], float] = time.monotonic, max_failures: int = 5,
                 lockout_s: float = 300.0) -> None:
        self.pin_hash = pin_hash
        self.clock = clock
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.failures = 0
        self._locked_until = 0.0

    @property
    def enabled(self) -> bool:
        return is_valid_pin_hash(self.pin_hash)

    @property
    def is_locked(self) -> bool:
        return self.clock() < self._locked_until

    @property
    def lockout_remaining_s(self) -> float:
        return max(0.0, self._locked_until - self.clock())

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_failures - self.failures)

    def try_pin(self, pin: str) -> bool:
        if not self.enabled or self.is_locked:
            return False
        if verify_pin(pin, self.pin_hash):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= self.max_failures:
            self._locked_until = self.clock() + self.lockout_s
            self.failures = 0
        return False


class TapSequenceDetector:
    """The hidden gesture: `tap(t)` is True on the `count`-th tap within `window_s` seconds.
    No resident meets it by accident; it is not a resident feature (DESIGN: no gestures)."""

    def __init__(self, count: int = 5, window_s: float = 3.0) -> None:
        self.count, self.window_s = count, window_s
        self._taps: collections.deque[float] = collections.deque()

    def tap(self, t: float) -> bool:
        while self._taps and t - self._taps[0] > self.window_s:
            self._taps.popleft()
        self._taps.append(t)
        if len(self._taps) >= self.count:
            self._taps.clear()
            return True
        return False

    def reset(self) -> None:
        self._taps.clear()


def _main() -> int:
    import getpass

    pin = getpass.getpass("technician PIN (4-12 digits): ")
    if pin != getpass.getpass("again: "):
        print("the two PINs differ; nothing changed")
        return 1
    try:
        value = pin_hash_for_config(pin)
    except ValueError as exc:
        print(exc)
        return 1
    print("[technician]")
    print(f'pin_hash = "{value}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
