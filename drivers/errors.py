"""`UserFacingError`: an error safe to show a resident, with a stable code and zh/en messages.

It lives here, below both layers, so drivers can raise it without importing the app
(`kiosk.errors` re-exports it).
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
