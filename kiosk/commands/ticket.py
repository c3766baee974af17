"""`kiosk ticket`: issue one queue ticket and print it (or write its exact ESC/POS bytes)."""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from kiosk.config import SIMULATED, Config
from kiosk.errors import UserFacingError
from kiosk.services.queue import PRIORITY_REASONS, QueueService

DEFAULT_BAND = "D"


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("ticket", parents=[common], help="issue and print a queue ticket")
    parser.add_argument("--service", required=True, metavar="CODE", help="service code (the `code` of a form in forms/)")
    parser.add_argument("--priority", nargs="?", const="elderly", choices=PRIORITY_REASONS, metavar="REASON",
                        help="green channel; REASON is elderly (default), disabled or appointment")
    parser.add_argument("--band", metavar="LETTER", help=f"number band when the service has no form (default {DEFAULT_BAND})")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write the ticket's exact ESC/POS bytes to FILE instead of printing")
    target.add_argument("--printer", metavar="URL", help="printer URL (default: devices.printer.url from the config)")
    parser.add_argument("--preview", metavar="PNG", help="also save a PNG preview of the ticket")
    parser.set_defaults(handler=run)


def find_service(config: Config, code: str) -> tuple[str, str] | None:
    """(name, band) of the form whose top-level `code` is CODE, or None when no form has it."""
    forms_dir = config.resolve(config.kiosk.forms_dir)
    for path in sorted(forms_dir.glob("*.toml")) if forms_dir.is_dir() else []:
        try:
            form = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # a broken form is the forms owner's error; it must not stop ticketing
        if form.get("code") == code:
            title = form.get("title")
            name = title.get("zh_CN") if isinstance(title, dict) else None
            return str(name or code), str(form.get("band") or DEFAULT_BAND)
    return None


def run(args: argparse.Namespace, config: Config) -> int:
    from drivers.printer.ticket import encode_ticket

    found = find_service(config, args.service)
    name, band = found if found else (args.service, DEFAULT_BAND)
    if args.band:
        band = args.band
    if band not in config.queue.band_names:
        raise UserFacingError("QUEUE_BAND", f"未配置的号段 {band}", f"unknown queue band {band!r}; configured: "
                              f"{', '.join(sorted(config.queue.band_names))}")
    queue = QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
    try:
        ticket = queue.issue(args.service, name, band, args.priority)
        content = queue.ticket_content(ticket, config.kiosk.service_point)
        data = encode_ticket(content, config.devices.printer.width_chars)
        result = {**ticket.to_json(), "people_ahead": content.people_ahead,
                  "estimated_wait_min": content.estimated_wait_min}
        if args.out:
            Path(args.out).write_bytes(data)
            printed, outcome = True, None
            result["out"] = str(args.out)
        else:
            outcome = _print(config, args.printer, content)
            printed = outcome.ok
            result["print"] = outcome.to_json()
        if printed:
            queue.mark_printed(ticket.ticket_id)
        else:
            queue.mark_print_failed(ticket.ticket_id, outcome.error_code)
        if args.preview:
            from drivers.printer.preview import save_preview

            save_preview(data, args.preview, config.devices.printer.width_chars)
            result["preview"] = str(args.preview)
        result["printed"] = printed
        result["print_state"] = "printed" if printed else "failed"
    finally:
        queue.close()
    print(json.dumps(result, ensure_ascii=False))
    if not printed:
        print(f"kiosk ticket: {ticket.number} issued but not printed: {outcome.message_en}", file=sys.stderr)
        return 1
    return 0


def _print(config: Config, url: str | None, content):
    from drivers.printer.printer import TicketPrinter

    section = config.devices.printer
    url = url or section.url
    simulator = None
    if url == SIMULATED:
        from drivers.printer.simulator import start_simulated_printer

        url, simulator = start_simulated_printer()
    try:
        with TicketPrinter(url, section.baud, section.profile, section.width_chars) as printer:
            return printer.print_ticket(content)
    finally:
        if simulator is not None:
            simulator.stop()
