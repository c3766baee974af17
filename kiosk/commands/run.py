"""`kiosk run`: the touchscreen app on the configured devices.

`--station` picks which window this machine shows: the resident kiosk (default) or the clerk's
OCR scan station. The counter and the lobby are web pages of the service hall now (`kiosk hall
serve`: /counter/N and /lobby, in any browser); `--station counter|lobby` stays a choice so an
old script gets one line saying where they went (exit 2), not an argparse error.
"""
from __future__ import annotations

import argparse

import sys

from kiosk.commands.queue import counter_number
from kiosk.config import Config

STATIONS = ("resident", "clerk", "counter", "lobby")


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("run", parents=[common], help="the touchscreen app (default)")
    parser.add_argument("--station", choices=STATIONS, default="resident",
                        help="resident kiosk (default) or clerk OCR station; counter and lobby are the hall's web pages")
    parser.add_argument("--counter", type=counter_number, default=1, metavar="N", help="counter number for --station counter")
    parser.add_argument("--verbose", action="store_true", help="debug logging to stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    station = getattr(args, "station", "resident")
    if station == "clerk":
        from kiosk.stations.clerk import run_clerk_station

        return run_clerk_station(config)
    if station in ("counter", "lobby"):
        return moved_to_hall(station, args.counter, config)
    from kiosk.stations.resident import KioskShell

    shell = KioskShell(config)
    try:
        return shell.exec()
    finally:
        shell.close()


def moved_to_hall(station: str, counter: int, config: Config) -> int:
    from kiosk.commands.hall import DEFAULT_PORT

    hall = config.hall.url.rstrip("/") or f"http://127.0.0.1:{DEFAULT_PORT}"
    page = f"{hall}/counter/{counter}" if station == "counter" else f"{hall}/lobby"
    where = "" if config.hall.url else " (`kiosk hall serve`; set [hall] url)"
    print(f"kiosk run: the {station} is a web page of the service hall now: open {page} in a browser{where}"
          f" / 窗口和大厅屏已改为服务大厅网页：请用浏览器打开 {page}", file=sys.stderr)
    return 2
