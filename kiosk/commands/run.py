"""`kiosk run`: the touchscreen app on the configured devices.

`--station` picks which window this machine shows: the resident kiosk (default), the clerk's
OCR scan station, a counter's calling screen, or the lobby display.
"""
from __future__ import annotations

import argparse

from kiosk.commands.queue import counter_number
from kiosk.config import Config

STATIONS = ("resident", "clerk", "counter", "lobby")


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("run", parents=[common], help="the touchscreen app (default)")
    parser.add_argument("--station", choices=STATIONS, default="resident",
                        help="resident kiosk (default), clerk OCR station, counter, or lobby display")
    parser.add_argument("--counter", type=counter_number, default=1, metavar="N", help="counter number for --station counter")
    parser.add_argument("--verbose", action="store_true", help="debug logging to stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    station = getattr(args, "station", "resident")
    if station == "clerk":
        from kiosk.ui.clerk_app import run_clerk_station

        return run_clerk_station(config)
    if station == "counter":
        from kiosk.ui.counter_app import run_counter_station

        return run_counter_station(config, args.counter)
    if station == "lobby":
        from kiosk.ui.counter_app import run_lobby_display

        return run_lobby_display(config)
    from kiosk.ui.shell import KioskShell

    shell = KioskShell(config)
    try:
        return shell.exec()
    finally:
        shell.close()
