"""The simulated residents' card facts: what the platform simulator's population and the hub's
ID-card evidence check hold about each card (kiosk/hub/upstream/population.py, service.py).

The record and e-voucher answers themselves now come from the platform (`kiosk hub
platform-sim` in the demo and the tests). The national platform has no transaction for an ID
card's issuing authority or validity dates, so in the demo and the tests the hub checks ID-card
evidence against this register; a real deployment has no such register (ID-card evidence then
counts as none) until an identity verification service is connected.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

from kiosk.hub.upstream.codes import PROVINCES

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROVINCES = PROVINCES


def id_number_valid(id_number: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", id_number or ""):
        return False
    return _CHECK[sum(int(d) * w for d, w in zip(id_number[:17], _WEIGHTS, strict=True)) % 11] == id_number[17]


def _seed(id_number: str) -> bytes:
    return hashlib.sha256(("demo:" + id_number).encode()).digest()


# -- the card register ----------------------------------------------------------------------------
_CARDS_DIR = Path(__file__).resolve().parents[2] / "assets" / "cards"


@functools.lru_cache(maxsize=1)
def _simulator_cards() -> dict[str, dict[str, str]]:
    """The simulator cards' facts by ID number, so the demo kiosk's card reads match the register."""
    register: dict[str, dict[str, str]] = {}
    for path in sorted(_CARDS_DIR.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        idcard, sscard = data.get("fields") or {}, data.get("card") or {}
        if isinstance(idcard, dict) and idcard.get("id_number"):
            entry = register.setdefault(str(idcard["id_number"]), {})
            for key, field in (("id_issuer", "issuer"), ("id_valid_from", "valid_from"), ("id_valid_until", "valid_until")):
                if idcard.get(field):
                    entry[key] = str(idcard[field])
        if isinstance(sscard, dict) and sscard.get("id_number") and sscard.get("card_number"):
            register.setdefault(str(sscard["id_number"]), {})["sscard_number"] = str(sscard["card_number"])
    return register


def card_register(id_number: str) -> dict[str, str]:
    """The card facts the demo upstream holds for a person: the simulator cards' own, else
    deterministic ones from the ID number (an attacker with only the number cannot guess them)."""
    known = _simulator_cards().get(id_number)
    if known:
        return dict(known)
    seed = _seed("card:" + id_number)
    return {"sscard_number": "D" + "".join(str(b % 10) for b in seed[:8]),
            "id_issuer": _PROVINCES.get(id_number[:2], "") + "公安局",
            "id_valid_from": f"{2010 + seed[8] % 14}-0{1 + seed[9] % 9}-1{seed[10] % 10}",
            "id_valid_until": "长期"}


def _normal(value: str) -> str:
    return "".join(value.split()).replace("-", "").replace(".", "").upper()


def check_evidence(id_number: str, evidence: dict[str, str]) -> str:
    """`ok` when the evidence matches the register: the social-security card number, or the ID
    card's issuing authority together with its validity dates. Else `mismatch` / `no_evidence`."""
    register = card_register(id_number)
    if evidence.get("sscard_number"):
        return "ok" if _normal(evidence["sscard_number"]) == _normal(register.get("sscard_number", "")) else "mismatch"
    idcard_keys = ("id_issuer", "id_valid_from", "id_valid_until")
    if any(evidence.get(k) for k in idcard_keys):
        same = all(_normal(evidence.get(k, "")) == _normal(register.get(k, "")) and register.get(k) for k in idcard_keys)
        return "ok" if same else "mismatch"
    return "no_evidence"
