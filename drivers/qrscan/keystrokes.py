"""HID-keyboard QR scanners type the code fast and press Enter. This tells them from a person.

Pure logic (no Qt): the app's event filter feeds key presses with their timestamps.
"""
from __future__ import annotations


class KeystrokeBurstDetector:
    """`feed(char, t)` for printable keys, `enter(t)` for Enter → the code, or None.

    A code is ≥ `min_len` characters whose inter-key gaps are all < `max_gap_s`, ended by an Enter
    that also comes within `max_gap_s`. A slower key starts a new burst, so a person typing in a
    field is never mistaken for a scanner.
    """

    def __init__(self, min_len: int = 8, max_gap_s: float = 0.050) -> None:
        self.min_len = min_len
        self.max_gap_s = max_gap_s
        self._chars: list[str] = []
        self._last: float | None = None

    def reset(self) -> None:
        self._chars.clear()
        self._last = None

    def feed(self, char: str, timestamp_s: float) -> None:
        if len(char) != 1 or not char.isprintable():
            self.reset()
            return
        if self._last is None or timestamp_s - self._last >= self.max_gap_s or timestamp_s < self._last:
            self._chars = []
        self._chars.append(char)
        self._last = timestamp_s

    def enter(self, timestamp_s: float) -> str | None:
        fast = self._last is not None and 0 <= timestamp_s - self._last < self.max_gap_s
        code = "".join(self._chars) if fast and len(self._chars) >= self.min_len else None
        self.reset()
        return code

    @property
    def in_burst(self) -> bool:
        """True while a fast burst is under way (the filter may hold keys back from the focused field)."""
        return len(self._chars) >= 2
