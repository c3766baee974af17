"""`kiosk run`: the touchscreen app"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("run", parents=[common], help="the touchscreen app (issue #2)")
    parser.set_defaults(handler=not_built(2, "run"))
