"""Lookup grants: proof, for a later record or progress lookup, that this kiosk resolved the
resident's 医保电子凭证 a moment ago (only the holder's phone shows that code).

A grant is `<expiry>.<mac>`: an HMAC under a key derived from the hub's key ring over the kiosk
id, the ID number and the expiry. Stateless, bound to one kiosk and one person, short-lived;
rotating the hub key simply ends the grants in flight (the resident scans again).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from kiosk.hub.keys import HubKeyring

GRANT_TTL_S = 15 * 60  # a visit at the kiosk
_DOMAIN = b"kiosk-hub lookup grant v1"


class LookupGrants:
    def __init__(self, keyring: HubKeyring, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(keyring.keys[keyring.current_id], _DOMAIN, hashlib.sha256).digest()
        self._clock = clock

    def _mac(self, kiosk_id: str, id_number: str, expires: int) -> str:
        message = f"{kiosk_id}\x1f{id_number.upper()}\x1f{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, kiosk_id: str, id_number: str) -> str:
        expires = int(self._clock()) + GRANT_TTL_S
        return f"{expires}.{self._mac(kiosk_id, id_number, expires)}"

    def valid(self, kiosk_id: str, id_number: str, grant: str) -> bool:
        expiry_text, _, mac = grant.partition(".")
        if not expiry_text.isdigit() or len(expiry_text) > 12 or int(expiry_text) < self._clock():
            return False
        return hmac.compare_digest(mac, self._mac(kiosk_id, id_number, int(expiry_text)))

    def screen(self, kiosk_id: str, id_number: str, evidence: dict[str, str]) -> dict[str, str]:
        """Evidence with a voucher grant replaced by its verdict ("ok" / "bad"), for the platform
        service that decides the lookup (it never sees the grant itself)."""
        grant = evidence.get("voucher_grant")
        if not grant:
            return evidence
        return {**evidence, "voucher_grant": "ok" if self.valid(kiosk_id, id_number, grant) else "bad"}
