"""`kiosk sync`: sync the outbox to the hub"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sync", parents=[common], help="sync the outbox to the hub (issue #6)")
    parser.set_defaults(handler=not_built(6, "sync"))
