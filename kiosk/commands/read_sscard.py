"""`kiosk read-sscard`: read one social-security card (PC/SC)"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("read-sscard", parents=[common], help="read one social-security card (PC/SC) (issue #4)")
    parser.set_defaults(handler=not_built(4, "read-sscard"))
