"""`kiosk ticket`: issue one queue ticket and print it (or write its exact ESC/POS bytes)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.config import SIMULATED, Config
from kiosk.errors import UsageError
from kiosk.services.queue import PRIORITY_REASONS, QueueService


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("ticket", parents=[common], help="issue and print a queue ticket")
    parser.add_argument("--service", required=True, metavar="CODE", help="service code (the `code` of a form in forms_dir)")
    parser.add_argument("--priority", nargs="?", const="elderly", choices=PRIORITY_REASONS, metavar="REASON",
                        help="green channel; REASON is elderly (default), disabled or appointment")
    parser.add_argument("--band", metavar="LETTER", help="number band instead of the service's own (a configured queue band)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write the ticket's exact ESC/POS bytes to FILE instead of printing")
    target.add_argument("--printer", metavar="URL", help="printer URL (default: devices.printer.url from the config)")
    parser.add_argument("--preview", metavar="PNG", help="also save a PNG preview of the ticket")
    parser.set_defaults(handler=run)


def find_service(config: Config, code: str) -> tuple[str, str] | None:
    """(name, band) of the service (a form the forms engine loads) whose code is CODE, else None."""
    from kiosk.services.forms import load_forms

    form = load_forms(config.resolve(config.kiosk.forms_dir)).by_code(code)
    return (form.title.zh_CN or code, form.band) if form else None


def known_service_codes(config: Config) -> list[str]:
    from kiosk.services.forms import load_forms

    return sorted(f.code for f in load_forms(config.resolve(config.kiosk.forms_dir)).forms)


def check_writable_file(path: str, flag: str) -> None:
    """Refuse (exit 2) an output path that cannot be written, before anything is done: its
    folder must exist (nothing is created) and be writable, and the path must not be a folder."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise UsageError("BAD_PATH", f"{flag}: 文件夹 {folder} 不存在", f"{flag}: folder {folder} does not exist")
    if target.is_dir():
        raise UsageError("BAD_PATH", f"{flag}: {target} 是文件夹", f"{flag}: {target} is a folder, expected a file name")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError("BAD_PATH", f"{flag}: 无权写入 {target}", f"{flag}: no permission to write {target}")


def _with_guide(content: Any, config: Config, code: str) -> Any:
    """The service's 办事指南 materials as the ticket's checklist and the signage lines (issue 19)."""
    import dataclasses

    from kiosk.services.forms import load_forms
    from kiosk.services.signage import Signage, ticket_checklist

    signage = Signage.from_config(config)
    form = load_forms(config.resolve(config.kiosk.forms_dir)).by_code(code)
    checklist = ticket_checklist(form, signage) if form is not None else ()
    return dataclasses.replace(content, checklist=checklist, signage=signage.ticket_footer())


def run(args: argparse.Namespace, config: Config) -> int:
    from drivers.printer.ticket import encode_ticket

    found = find_service(config, args.service)
    if found is None:
        codes = ", ".join(known_service_codes(config)) or "none"
        raise UsageError("UNKNOWN_SERVICE", f"没有业务代码 {args.service}", f"{args.service!r} is not a service; known: {codes}")
    name, band = found
    if args.band:
        band = args.band
    if band not in config.queue.band_names:
        raise UsageError("QUEUE_BAND", f"未配置的号段 {band}", f"unknown queue band {band!r}; configured: "
                         f"{', '.join(sorted(config.queue.band_names))}")
    # Paths first: a number is only issued when its ticket can go where it was asked to.
    for path, flag in ((args.out, "--out"), (args.preview, "--preview")):
        if path:
            check_writable_file(path, flag)
    queue = QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
    problems: list[str] = []
    try:
        ticket = queue.issue(args.service, name, band, args.priority)
        content = _with_guide(queue.ticket_content(ticket, config.kiosk.service_point), config, args.service)
        data = encode_ticket(content, config.devices.printer.width_chars)
        result = {**ticket.to_json(), "people_ahead": content.people_ahead,
                  "estimated_wait_min": content.estimated_wait_min}
        if args.out:
            printed, error_code = _write_out(args.out, data, problems)
            result["out"] = str(args.out)
        else:
            outcome = _print(config, args.printer, content)
            printed, error_code = outcome.ok, outcome.error_code
            result["print"] = outcome.to_json()
            if not printed:
                problems.append(f"not printed: {outcome.message_en}" + (f" ({outcome.detail})" if outcome.detail else ""))
        if printed:
            queue.mark_printed(ticket.ticket_id)
        else:
            queue.mark_print_failed(ticket.ticket_id, error_code)  # no ghost number: reprint is offered
        if args.preview:
            from drivers.printer.preview import save_preview

            try:
                save_preview(data, args.preview, config.devices.printer.width_chars)
                result["preview"] = str(args.preview)
            except OSError as exc:
                problems.append(f"preview not saved to {args.preview}: {exc.strerror or exc}")
        result["printed"] = printed
        result["print_state"] = "printed" if printed else "failed"
    finally:
        queue.close()
    print(json.dumps(result, ensure_ascii=False))
    if problems:
        print(f"kiosk ticket: {ticket.number} issued; {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


def _write_out(path: str, data: bytes, problems: list[str]) -> tuple[bool, str | None]:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:  # checked before issuing; a full disk can still say no
        problems.append(f"not written to {path}: {exc.strerror or exc}")
        return False, "OUT_WRITE_FAILED"
    return True, None


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
