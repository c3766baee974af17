"""`kiosk ticket`: issue and print a queue ticket"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("ticket", parents=[common], help="issue and print a queue ticket (issue #5)")
    parser.set_defaults(handler=not_built(5, "ticket"))
