"""`kiosk run`: the touchscreen app on the configured devices."""
from __future__ import annotations

import argparse

from kiosk.config import Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("run", parents=[common], help="the touchscreen app (default)")
    parser.add_argument("--verbose", action="store_true", help="debug logging to stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.ui.shell import KioskShell

    shell = KioskShell(config)
    shell.show()
    try:
        return shell.app.exec()
    finally:
        shell.close()
