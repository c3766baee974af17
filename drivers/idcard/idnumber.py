"""Citizen identity numbers (GB 11643-1999): the ISO 7064 MOD 11-2 check character.

Area codes are not checked on purpose: residence permits use 810000/820000/830000 and new
foreigner permanent residence cards start with 9, and the list of areas changes every year.
"""
from __future__ import annotations

import re

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]")


def check_char(first17: str) -> str:
    """The check character for 17 digits; `ValueError` if they are not 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected 17 digits")
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_number_is_valid(s: str) -> bool:
    """True for an 18-character ID number whose check character matches (a lower-case x is
    accepted, as people type it)."""
    if not isinstance(s, str):
        return False
    s = s.strip().upper()
    if not _SHAPE.fullmatch(s):
        return False
    return check_char(s[:17]) == s[17]
