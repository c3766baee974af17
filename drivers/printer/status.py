"""Printer status from DLE EOT replies: pure parsing, one place that maps bits to meaning.

A silent printer (many USB models never answer) is "unknown", never "ok".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

QUERY_PRINTER = b"\x10\x04\x01"  # DLE EOT 1: printer status (bit 3 = offline)
QUERY_PAPER = b"\x10\x04\x04"  # DLE EOT 4: roll paper sensor

# Every DLE EOT reply has bits 1 and 4 set and bits 0 and 7 clear; anything else is noise.
_FIXED_MASK, _FIXED_VALUE = 0x93, 0x12
_OFFLINE_BIT = 0x08
_NEAR_END_BITS = 0x0C
_OUT_BITS = 0x60

Paper = Literal["ok", "near_end", "out", "unknown"]


@dataclass(frozen=True)
class PrinterStatus:
    online: bool | None  # None: the printer did not answer
    paper: Paper

    @classmethod
    def unknown(cls) -> PrinterStatus:
        return cls(online=None, paper="unknown")

    @property
    def answered(self) -> bool:
        return self.online is not None or self.paper != "unknown"

    @property
    def refuses_print(self) -> bool:
        """Known to be unable to print: offline or out of paper. Unknown does not refuse."""
        return self.online is False or self.paper == "out"

    def to_json(self) -> dict:
        return {"online": self.online, "paper": self.paper}


def _valid(reply: int | None) -> bool:
    return reply is not None and (reply & _FIXED_MASK) == _FIXED_VALUE


def parse_online(reply: int | None) -> bool | None:
    """DLE EOT 1 reply byte → online? None when missing or malformed."""
    if reply is None or not _valid(reply):
        return None
    return not (reply & _OFFLINE_BIT)


def parse_paper(reply: int | None) -> Paper:
    """DLE EOT 4 reply byte (0x12 ok, 0x1E near end, 0x72 out) → paper state."""
    if reply is None or not _valid(reply):
        return "unknown"
    if reply & _OUT_BITS:
        return "out"
    if reply & _NEAR_END_BITS:
        return "near_end"
    return "ok"


def parse_status(printer_reply: int | None, paper_reply: int | None) -> PrinterStatus:
    return PrinterStatus(online=parse_online(printer_reply), paper=parse_paper(paper_reply))
