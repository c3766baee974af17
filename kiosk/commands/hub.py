"""`kiosk hub`: the central intake service"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("hub", parents=[common], help="the central intake service (issue #6)")
    parser.set_defaults(handler=not_built(6, "hub"))
