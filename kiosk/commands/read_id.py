"""`kiosk read-id`: read one resident ID card (SAM over serial)"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("read-id", parents=[common], help="read one resident ID card (SAM over serial) (issue #3)")
    parser.set_defaults(handler=not_built(3, "read-id"))
