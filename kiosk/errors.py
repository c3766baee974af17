"""Error types: what is safe to show a resident versus what is only logged.

A `UserFacingError` carries a stable code and a message in both languages; anything else that
reaches the UI is logged with its traceback and shown as a generic, friendly message.
"""
from __future__ import annotations

from drivers.errors import UserFacingError

__all__ = ["UserFacingError", "ConfigError", "UsageError", "RuntimeFailure", "exit_code_of"]


class ConfigError(UserFacingError):
    """The configuration file is unusable; the message names file, key and what is expected."""

    def __init__(self, path: str, key: str, expected: str) -> None:
        text = f"{path}: {key}: {expected}" if key else f"{path}: {expected}"
        super().__init__("CONFIG", f"配置错误 {text}", f"config error {text}")
        self.path = path
        self.key = key
        self.expected = expected


class UsageError(UserFacingError):
    """The command line asks for something impossible (unknown code, unusable path): exit 2."""

    exit_code = 2


class RuntimeFailure(UserFacingError):
    """The request was fine but could not be carried out now (disk, device, network): exit 1."""

    exit_code = 1


def exit_code_of(exc: UserFacingError) -> int:
    """2 for usage/config errors (the default for any UserFacingError), 1 for runtime failures."""
    return int(getattr(exc, "exit_code", 2))
