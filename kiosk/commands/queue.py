"""`kiosk queue`: the counter side — call the next ticket, recall, skip, done.

With a hall (`--hall URL`, or `[hall] url` / KIOSK_HALL_URL) the hall is the queue: the command
logs in as a clerk (`--user`, the password from `--password-stdin` or KIOSK_HALL_PASSWORD, never
from the command line) and acts through the hall's API; `done` is 办结 (finish, outcome done) of
the ticket now at the counter. Without a hall it acts on the data dir's local queue, as a
single-machine service point does. The JSON keys are the same either way (extended only:
"hall", and with a hall the ticket's "id", "submission_id" and "has_application" — never the
application itself, which holds personal data and is shown on the counter page).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from kiosk.config import Config
from kiosk.errors import ConfigError, UsageError
from kiosk.services.queue import QueueService, announcement_text, call_announcement

ACTIONS = ("call", "recall", "skip", "done")
MAX_COUNTER = 999
PASSWORD_ENV = "KIOSK_HALL_PASSWORD"


def counter_number(text: str) -> int:
    """argparse type: a counter (window) number 1..999; anything else is a usage error."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a counter number, got {text!r}") from None
    if not 1 <= number <= MAX_COUNTER:
        raise argparse.ArgumentTypeError(f"expected a counter number from 1 to {MAX_COUNTER}, got {text}")
    return number


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("queue", parents=[common], help="counter side: call, recall, skip, done")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--counter", type=counter_number, required=True, metavar="N", help="counter (window) number")
    parser.add_argument("--service", metavar="CODE", help="call: only tickets for this service")
    parser.add_argument("--hall", metavar="URL", help="the hall to act on (default: [hall] url; none = the local queue)")
    parser.add_argument("--user", metavar="NAME", help="hall: the clerk's login (kiosk hall add-user)")
    parser.add_argument("--password-stdin", action="store_true",
                        help=f"hall: read the password from the first line of stdin (else ${PASSWORD_ENV})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    hall_url = args.hall or config.hall.url
    if hall_url:
        return _run_at_hall(args, config, hall_url)
    if args.user or args.password_stdin:
        raise UsageError("NO_HALL", "没有配置服务大厅，--user 无用", "--user/--password-stdin need a hall: pass --hall URL or set [hall] url")
    if args.service is not None:  # an unknown code would quietly never call anyone
        from kiosk.commands.ticket import find_service, known_service_codes

        if find_service(config, args.service) is None:
            codes = ", ".join(known_service_codes(config)) or "none"
            raise UsageError("UNKNOWN_SERVICE", f"没有业务代码 {args.service}", f"--service {args.service!r} is not a service; known: {codes}")
    with QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age) as queue:
        if args.action == "call":
            ticket = queue.call_next(args.counter, args.service)
        else:
            ticket = getattr(queue, args.action)(args.counter)
        waiting = len(queue.waiting(args.service))
    result = {
        "action": args.action,
        "counter": args.counter,
        "ticket": ticket.to_json() if ticket else None,
        "announcement": announcement_text(ticket, args.counter) if ticket and args.action in ("call", "recall") else None,
        "waiting": waiting,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return os.environ.get(PASSWORD_ENV, "")


def _run_at_hall(args: argparse.Namespace, config: Config, url: str) -> int:
    from kiosk.config import _url_problem
    from kiosk.services.hall_client import HallClerk, HallError

    if args.hall and (problem := _url_problem(args.hall)):
        raise ConfigError("command line", "--hall", problem)
    if not args.user:
        raise UsageError("HALL_LOGIN", "需要 --user 登录服务大厅", f"--user NAME is needed to act at the hall {url}")
    password = _password(args)
    if not password:
        raise UsageError("HALL_LOGIN", "需要密码", f"no password: use --password-stdin or set {PASSWORD_ENV}")
    try:
        with HallClerk(url, config.hall.timeout_s, ca_file=config.hall.ca_file or None) as clerk:
            clerk.login(args.user, password)
            ticket = _act(clerk, args)
            waiting = _waiting(clerk.lobby(), config, args.service)
    except HallError as exc:
        print(f"kiosk queue: {exc}", file=sys.stderr)
        if exc.status in (401, 403, 422):  # wrong login, no such counter or service: fix the command
            return 2
        return 1
    result = {
        "action": args.action,
        "counter": args.counter,
        "ticket": _cli_ticket(ticket),
        "announcement": call_announcement(ticket["number"], args.counter) if ticket and args.action in ("call", "recall") else None,
        "waiting": waiting,
        "hall": url,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _act(clerk: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    if args.action == "call":
        return clerk.call(args.counter, args.service)
    return getattr(clerk, args.action)(args.counter)


def _cli_ticket(ticket: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ticket as the local command prints it, plus the hall's id and link; the application
    (personal data) stays on the counter page, where its viewing is audited."""
    if ticket is None:
        return None
    shown = {k: v for k, v in ticket.items() if k != "application"}
    shown["has_application"] = ticket.get("application") is not None
    return shown


def _waiting(lobby: dict[str, Any], config: Config, service: str | None) -> int:
    """People waiting (in the service's band with --service): the hall counts per band."""
    raw = lobby.get("waiting")
    waiting: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if service:
        from kiosk.services.forms import load_forms

        form = load_forms(config.resolve(config.kiosk.forms_dir)).by_code(service)
        return int(waiting.get(form.band, 0)) if form else 0
    return sum(int(n) for n in waiting.values() if isinstance(n, int))
