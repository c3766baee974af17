"""The README's command table names every command the CLI has, nested actions included.

A technician reads the table to learn what exists (`kiosk outbox acknowledge` is what `kiosk diag`
tells them to run); a command missing from it is a promise the README does not make.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    return [p for sub in subs for name, child in sub.choices.items() for p in _command_paths(child, (*path, name))]


def _table_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("| `kiosk")]


def _named_in(row: str, path: tuple[str, ...]) -> bool:
    """`kiosk outbox status|list|…` names `outbox list`; `kiosk hub add-token …` names `hub add-token`."""
    cells = re.findall(r"`(kiosk[^`]*)`", row.split(" | ")[0].replace("\\|", "|"))
    for cell in cells:
        words = cell.split()
        if words[1:2] != [path[0]]:
            continue
        if len(path) == 1:
            return True
        if len(words) > 2 and path[1] in words[2].split("|"):
            return True
    return False


def test_every_command_is_in_the_readme_table() -> None:
    from kiosk.cli import build_parser

    rows = _table_rows()
    assert rows, "README.md has no command table"
    missing = [" ".join(p) for p in _command_paths(build_parser()) if not any(_named_in(r, p) for r in rows)]
    assert missing == [], f"commands missing from the README command table: {missing}"
