"""`kiosk queue`: counter side: call, recall, skip, done"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("queue", parents=[common], help="counter side: call, recall, skip, done (issue #5)")
    parser.set_defaults(handler=not_built(5, "queue"))
