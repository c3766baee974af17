"""The result type every driver's `self_test()` returns, shared by `kiosk diag` and the UI.

A failed check names the driver error code behind it (`CheckResult.code`, e.g. `PRINTER_PAPER_OUT`),
so the diagnostics choose their advice by code, never by the English detail."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum


class CheckStatus(str, Enum):
    OK = "ok"
    DEGRADED = "degraded"
    MISSING = "missing"
    ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    name: str  # stable, e.g. "idcard.port"
    status: CheckStatus
    detail: str = ""  # English, technician-facing; never personal data
    detail_zh: str = ""
    elapsed_ms: float = 0.0
    data: dict = field(default_factory=dict)
    code: str = ""  # the driver error's stable code when the check failed with one (advice keys on it)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "detail_zh": self.detail_zh or self.detail,
            "elapsed_ms": round(self.elapsed_ms, 1),
            **({"data": self.data} if self.data else {}),
            **({"code": self.code} if self.code else {}),
        }


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.ms` — elapsed milliseconds for a check."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self._start) * 1000.0
