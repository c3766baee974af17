"""The `kiosk` command: a contract that users' scripts rely on (see docs/architecture.md).

Each subcommand lives in `kiosk/commands/<name>.py` and exposes
`add_parser(subparsers, common)` which registers itself with `set_defaults(handler=run)`,
where `run(args, config) -> int`. Output: JSON on stdout, errors on stderr, non-zero exit.

Whatever goes wrong, stderr gets one line that names it: usage and config errors exit 2,
runtime failures (a file that cannot be written, a device that fails) exit 1, and an
unexpected exception exits 1 with a pointer to the log file that holds its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
import typing

from kiosk import __version__
from kiosk.errors import UserFacingError, exit_code_of

# (module under kiosk.commands, summary). Order is the order `kiosk --help` shows.
COMMAND_MODULES = (
    "run", "demo", "diag", "read_id", "read_sscard", "ocr", "ticket", "queue",
    "submit", "outbox", "sync", "hub", "hall", "enrol", "update", "update_selfcheck",
)
CONFIG_HELP = "config file (default: the project's config.toml)"
# Services that run until stopped keep logging to stderr (journald reads it); a one-shot command's
# stderr is its one line, and its log records go to the log file only.
LONG_RUNNING = ("kiosk run", "kiosk demo", "kiosk hub serve", "kiosk hall serve")

log = logging.getLogger("kiosk.cli")


class KioskArgumentParser(argparse.ArgumentParser):
    """A usage error is one line on stderr (what is wrong, where help is), exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS below the top level: a subparser's unset --config must not overwrite a
    # `kiosk --config X sub …` given before the subcommand (argparse copies sub-defaults up).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
    parser = KioskArgumentParser(
        prog="kiosk",
        description="医保自助 Kiosk — self-service terminal for medical-insurance service points",
    )
    parser.add_argument("--config", metavar="PATH", default=None, help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"kiosk.commands.{name}").add_parser(subparsers, common)
    accept_config_everywhere(parser)
    return parser


def accept_config_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every nested parser (`outbox status`, `queue call`, `hub serve` …) a `--config`, so
    it may come after the sub-subcommand too, as the README promises. argparse has no public
    walk over subparsers; `_actions` and `_option_string_actions` are stable since 3.2."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in {id(p): p for p in action.choices.values()}.values():
            if "--config" not in child._option_string_actions:
                child.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
            accept_config_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    prog = " ".join(p for p in ("kiosk", args.command, getattr(args, "action", None)) if isinstance(p, str))
    try:
        from kiosk.config import load_config
        from kiosk.logs import setup_logging

        config = load_config(args.config)
        setup_logging(config, verbose=getattr(args, "verbose", False))
        if not getattr(args, "verbose", False) and prog not in LONG_RUNNING and not (prog == "kiosk sync" and not args.once):
            _quiet_stderr_logging()
        return int(args.handler(args, config) or 0)
    except UserFacingError as exc:
        _say(prog, exc.message("en"))
        return exit_code_of(exc)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a path, a disk, a device: the person can act on what the OS said
        _log_traceback(prog)
        _say(prog, describe_os_error(exc))
        return 1
    except Exception as exc:  # a defect: the traceback goes to the log file only
        where = _log_traceback(prog)
        _say(prog, f"internal error ({type(exc).__name__}); details in {where}")
        return 1


def _quiet_stderr_logging() -> None:
    """Only when a log file takes the records: a warning (or a logged traceback) must not add
    lines to a one-shot command's stderr, but must not vanish either."""
    root = logging.getLogger()
    if any(isinstance(h, logging.FileHandler) for h in root.handlers):
        for handler in root.handlers:
            if type(handler) is logging.StreamHandler:  # kiosk.logs' stderr handler, not a test's capture
                handler.setLevel(logging.CRITICAL + 1)


def describe_os_error(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{what}: {' → '.join(paths)}" if paths else what


def _say(prog: str, message: str) -> None:
    print(f"{prog}: {' '.join(str(message).split())}", file=sys.stderr)


def _log_traceback(prog: str) -> str:
    """Write the current exception's traceback to the log file(s) only — never to stderr —
    and return where it went. Before logging is set up (or with no writable log folder) it goes
    to a private file in the temp folder instead."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s failed", (prog,), sys.exc_info())
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    for handler in files:
        handler.handle(record)
    if files:
        return files[0].baseFilename
    try:
        from kiosk.privacy import MaskingLogFilter

        fd, name = tempfile.mkstemp(prefix=time.strftime("kiosk-error-%Y%m%d-%H%M%S-"), suffix=".log")  # 0600
        os.close(fd)
        handler = logging.FileHandler(name, encoding="utf-8")
        handler.addFilter(MaskingLogFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.handle(record)
        handler.close()
        return name
    except Exception:  # nowhere to write: say so rather than crash while reporting a crash
        return "no log file (none writable)"


def not_built(issue: int, name: str) -> typing.Callable[[argparse.Namespace, object], int]:
    """Handler for a subcommand whose issue has not landed yet: say so instead of pretending."""

    def handler(args: argparse.Namespace, config: object) -> int:
        print(f"kiosk {name}: not built yet (comes with issue #{issue})", file=sys.stderr)
        return 3

    return handler
