"""`kiosk ocr`: receipt images to fields and checks"""
from __future__ import annotations

import argparse

from kiosk.cli import not_built


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("ocr", parents=[common], help="receipt images to fields and checks (issue #8)")
    parser.set_defaults(handler=not_built(8, "ocr"))
