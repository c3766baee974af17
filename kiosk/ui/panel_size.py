"""Panel sizes as people type them ("1080x1920"): Qt-free, so the CLI can check `--size`
before any window exists."""
from __future__ import annotations

import argparse


def parse_size(text: str) -> tuple[int, int]:
    """"1080x1920" → (1080, 1920); ValueError with one message in Chinese and English otherwise."""
    parts = text.strip().lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"尺寸应为 宽x高，如 1080x1920 / expected WIDTHxHEIGHT such as 1920x1080, got {text!r}")
    width, height = (int(p) for p in parts)
    if not (480 <= width <= 8192 and 480 <= height <= 8192):
        raise ValueError(f"尺寸应在 480x480 到 8192x8192 之间 / expected a size between 480x480 and 8192x8192, got {text!r}")
    return width, height


def size_argument(text: str) -> tuple[int, int]:
    """argparse `type=` for `--size`: a bad value is a one-line usage error (exit 2)."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
