"""`kiosk diag`: self-test of devices, outbox and hub"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("diag", parents=[common], help="self-test of devices, outbox and hub (issue #9)")
    parser.set_defaults(handler=not_built(9, "diag"))
