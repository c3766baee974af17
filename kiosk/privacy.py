"""Masking of personal data for screens, CLI output and logs (PIPL: ID numbers are sensitive).

Default mask keeps the first 6 and last 4 characters of an ID number. Logs get an extra safety
net: `MaskingLogFilter` rewrites anything that looks like an ID number or phone number.
"""
from __future__ import annotations

import logging
import re

ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{7,10})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
PHONE_LIKE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_id_number(value: str, head: int = 6, tail: int = 4) -> str:
    value = value or ""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def mask_name(value: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; Latin names keep the first letter."""
    value = (value or "").strip()
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_text(value: str, keep: int = 6) -> str:
    """Addresses and other free text: keep a short prefix (province/city), hide the rest."""
    value = value or ""
    if len(value) <= keep:
        return value[:1] + "*" * max(0, len(value) - 1)
    return value[:keep] + "*" * min(8, len(value) - keep)


def mask_phone(value: str) -> str:
    value = value or ""
    return value[:3] + "****" + value[-4:] if len(value) == 11 else "*" * len(value)


def scrub(text: str) -> str:
    """Mask ID-number-like and phone-like substrings inside arbitrary text (log safety net)."""
    text = ID_LIKE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return PHONE_LIKE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class MaskingLogFilter(logging.Filter):
    """Installed on every handler: a log record never leaves the process with a clear ID number."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
