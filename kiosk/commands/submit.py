"""`kiosk submit`: enqueue a submission exactly as the UI does"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("submit", parents=[common], help="enqueue a submission exactly as the UI does (issue #6)")
    parser.set_defaults(handler=not_built(6, "submit"))
