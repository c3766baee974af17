"""`kiosk outbox`: outbox status, list, retry, purge"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("outbox", parents=[common], help="outbox status, list, retry, purge (issue #6)")
    parser.set_defaults(handler=not_built(6, "outbox"))
