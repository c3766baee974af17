"""The `kiosk` command: a contract that users' scripts rely on (see docs/architecture.md).

Each subcommand lives in `kiosk/commands/<name>.py` and exposes
`add_parser(subparsers, common)` which registers itself with `set_defaults(handler=run)`,
where `run(args, config) -> int`. Output: JSON on stdout, errors on stderr, non-zero exit.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from kiosk import __version__
from kiosk.errors import UserFacingError

# (module under kiosk.commands, summary). Order is the order `kiosk --help` shows.
COMMAND_MODULES = (
    "run", "demo", "diag", "read_id", "read_sscard", "ocr", "ticket", "queue",
    "submit", "outbox", "sync", "hub",
)

log = logging.getLogger("kiosk.cli")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="config file (default: the project's config.toml)")
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="医保自助 Kiosk — self-service terminal for medical-insurance service points",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"kiosk.commands.{name}").add_parser(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or sys.argv[1:])])
    from kiosk.config import load_config
    from kiosk.logs import setup_logging

    try:
        config = load_config(args.config)
        setup_logging(config, verbose=getattr(args, "verbose", False))
        return int(args.handler(args, config) or 0)
    except UserFacingError as exc:
        print(f"kiosk {args.command}: {exc.message('en')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def not_built(issue: int, name: str) -> "callable":
    """Handler for a subcommand whose issue has not landed yet: say so instead of pretending."""

    def handler(args: argparse.Namespace, config: object) -> int:
        print(f"kiosk {name}: not built yet (comes with issue #{issue})", file=sys.stderr)
        return 3

    return handler
