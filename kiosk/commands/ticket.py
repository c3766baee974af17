"""`kiosk ticket`: issue one queue ticket and print it (or write its exact ESC/POS bytes).

The number comes from the same desk as the resident screen's (kiosk/services/ticket_desk.py): the
service hall when `[hall] url` is set (KIOSK_HALL_URL), else the data dir's local queue. With the
hall down nothing is issued — no local number the counters would never call — and stderr says so
(exit 1), as the kiosk screen sends the resident to the enquiries counter. The JSON is the local
command's keys plus the desk's "id", "submission_id", "service_point" and, at a hall, "hall".
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.config import SIMULATED, Config
from kiosk.errors import UsageError
from kiosk.services.queue import PRIORITY_REASONS


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

    from kiosk.services.forms import load_forms
    from kiosk.services.ticket_desk import HallDesk, HallUnavailable, LocalDesk, open_desk, ticket_content

    form = load_forms(config.resolve(config.kiosk.forms_dir)).by_code(args.service)
    if form is None:
        codes = ", ".join(known_service_codes(config)) or "none"
        raise UsageError("UNKNOWN_SERVICE", f"没有业务代码 {args.service}", f"{args.service!r} is not a service; known: {codes}")
    hall_url = config.hall.url
    if args.band and hall_url and args.band != form.band:  # the hall numbers every service in its own band
        raise UsageError("HALL_BAND", f"服务大厅按业务自身号段 {form.band} 取号，不能指定 --band",
                         f"--band: the hall {hall_url} numbers {args.service} in its own band {form.band}")
    if args.band:
        form = dataclasses.replace(form, band=args.band)
    if not hall_url and form.band not in config.queue.band_names:
        raise UsageError("QUEUE_BAND", f"未配置的号段 {form.band}", f"unknown queue band {form.band!r}; configured: "
                         f"{', '.join(sorted(config.queue.band_names))}")
    # Paths first: a number is only issued when its ticket can go where it was asked to.
    for path, flag in ((args.out, "--out"), (args.preview, "--preview")):
        if path:
            check_writable_file(path, flag)
    # The resident screen's desk: the hall when [hall] url is set, else the data dir's queue.
    desk: LocalDesk | HallDesk = open_desk(config)
    problems: list[str] = []
    try:
        try:
            ticket = desk.issue(form, args.priority)
        except HallUnavailable as exc:  # as the kiosk's 取号 does: no local number the counters would never call
            return _no_hall_number(exc)
        content = _with_guide(ticket_content(config, ticket), config, args.service)
        data = encode_ticket(content, config.devices.printer.width_chars)
        result: dict[str, Any] = {**ticket.json, "people_ahead": content.people_ahead,
                                  "estimated_wait_min": content.estimated_wait_min}
        if hall_url:
            result["hall"] = hall_url
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
            desk.mark_printed(ticket.ticket_id)
        else:
            desk.mark_print_failed(ticket.ticket_id, error_code or "")  # no ghost number: reprint is offered
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
        desk.close()
    print(json.dumps(result, ensure_ascii=False))
    if problems:
        print(f"kiosk ticket: {ticket.number} issued; {'; '.join(problems)}", file=sys.stderr)
        return 1
    return 0


def _no_hall_number(exc: Any) -> int:
    """The hall gave no number: one line on stderr, nothing on stdout. A hall that refused (a wrong
    hall.token, a service it does not know) is a setting to fix, exit 2; a hall that is down, exit 1
    — the resident is sent to a counter, as the kiosk screen says (done.ticket_only_failed)."""
    if exc.refused:
        print(f"kiosk ticket: no number: {exc.detail} — check hall.token / the hall's forms (`kiosk diag`)", file=sys.stderr)
        return 2
    print(f"kiosk ticket: no number: {exc.detail}; 暂时无法取号，请到咨询窗口或询问工作人员 / "
          "please ask at the enquiries counter or a member of staff", file=sys.stderr)
    return 1


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
