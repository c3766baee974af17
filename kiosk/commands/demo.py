"""`kiosk demo`: everything simulated plus a local hub"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("demo", parents=[common], help="everything simulated plus a local hub (issue #2)")
    parser.set_defaults(handler=not_built(2, "demo"))
