"""Errors that are safe to show a resident, and the one shape every driver error takes.

`UserFacingError` (re-exported by `kiosk.errors`) carries a stable code and zh/en messages; it
lives here, below both layers, so drivers can raise it without importing the app.

`DriverError` is the shape of every driver family (idcard, sscard, printer, camera, qrscan): one
subclass per fault, whose class attributes are the stable machine `code` (e.g. `PRINTER_PAPER_OUT`,
`IDCARD_SAM`, `SSCARD_PCSC_DOWN`) and the resident's `message_zh` / `message_en`; the instance
adds `detail` (English, for technicians and logs, never card data). Callers choose what to do by
`code` — the diagnostics' advice, the UI's message — never by reading the English text.
"""
from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is safe and useful to show on screen."""

    def __init__(self, code: str, message_zh: str, message_en: str = "") -> None:
        super().__init__(f"[{code}] {message_en or message_zh}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en or message_zh

    def message(self, language: str = "zh_CN") -> str:
        return self.message_zh if language.startswith("zh") else self.message_en


class DriverError(UserFacingError):
    """Base of every driver error. Subclasses set `code`, `message_zh`, `message_en`.

    `detail` says what happened for a technician (a port name, a status word); it is in `str()`
    and `technical` but never in `message()`. A message may be made more specific for one
    instance (`message_zh=` / `message_en=`), the code never changes."""

    code = "DRIVER_ERROR"
    message_zh = "设备出错，请联系工作人员"
    message_en = "Device error; please call staff"

    def __init__(self, detail: str = "", *, message_zh: str = "", message_en: str = "") -> None:
        cls = type(self)
        super().__init__(cls.code, message_zh or cls.message_zh, message_en or cls.message_en)
        self.detail = detail
        if detail:
            self.args = (f"[{self.code}] {self.message_en} ({detail})",)

    @property
    def technical(self) -> str:
        """English message plus detail: for a technician's screen, `kiosk diag` and logs."""
        return f"{self.message_en} ({self.detail})" if self.detail else self.message_en


def error_codes(base: type[DriverError]) -> dict[str, type[DriverError]]:
    """Every code of a family (its subclasses, the base included) → the class that carries it."""
    found: dict[str, type[DriverError]] = {}
    todo: list[type[DriverError]] = [base]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


__all__ = ["DriverError", "UserFacingError", "error_codes"]
