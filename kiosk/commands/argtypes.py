"""argparse types for numbers on the command line: out of range, NaN and infinity are usage
errors (one line, exit 2) rather than a silent no-op, a misleading timeout or an overflow."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_between(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"expected {what} from {low} to {high}, got {text}")
        return number
    return parse


def seconds_or_days(low: float, high: float, unit: str, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite number of `unit` in [low, high] ((low, high] with `low_open`)."""
    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, got {text!r}") from None
        too_low = number <= low if low_open else number < low
        if not math.isfinite(number) or too_low or number > high:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, {bound} and at most {high:g}, got {text}")
        return number
    return parse
