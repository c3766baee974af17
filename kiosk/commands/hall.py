"""`kiosk hall`: the service-hall service on the LAN (serve), its staff accounts (add-user) and
预约 (add-appointment: prints the code the resident checks in with at the kiosk).
Every bad input is one line on stderr: exit 2 usage/config, 1 runtime."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.config import Config

DEFAULT_PORT = 8780


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("hall", parents=[common], help="the service-hall service: queue, web counter, lobby, rating pad")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run the hall in the foreground")
    serve.add_argument("--db", metavar="PATH", help="hall database (default: <data_dir>/hall.sqlite3)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; other addresses need TLS (or --insecure)")
    serve.add_argument("--port", type=int, help=f"default: the port of [hall] url, else {DEFAULT_PORT}")
    serve.add_argument("--tokens", metavar="FILE", help="lines 'KIOSK_ID TOKEN' of the kiosks that may issue tickets "
                       "(default: this machine's kiosk.id with [hall] token, else with hub.token)")
    serve.add_argument("--key-file", metavar="FILE", help="hall key (default: keys/hall.key beside the database)")
    serve.add_argument("--retention-days", type=float, metavar="DAYS",
                       help="purge applications this long after they arrived (default: privacy.retention_days)")
    serve.add_argument("--no-sync", action="store_true", help="do not send reports to the hub (they wait in the hall's outbox)")
    serve.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain) to serve HTTPS")
    serve.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    serve.add_argument("--insecure", action="store_true",
                       help="allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)")
    add = actions.add_parser("add-user", help="create a clerk or manager (or set a new password); password from stdin")
    add.add_argument("name")
    add.add_argument("--db", metavar="PATH")
    add.add_argument("--key-file", metavar="FILE")
    add.add_argument("--role", choices=("clerk", "manager"), required=True)
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from the first line of stdin (never from the command line)")
    book = actions.add_parser("add-appointment", help="book a 预约: prints JSON with the 8-digit check-in code")
    book.add_argument("--service", required=True, metavar="CODE", help="the form's code, e.g. chronic_disease")
    book.add_argument("--day", metavar="YYYY-MM-DD", help="default: today")
    book.add_argument("--from", dest="window_from", metavar="HH:MM", help="the booked window's start (optional)")
    book.add_argument("--until", dest="window_until", metavar="HH:MM", help="the booked window's end (optional)")
    book.add_argument("--priority", default="appointment", metavar="REASON",
                      help="the queue priority it checks in with (default: appointment)")
    book.add_argument("--db", metavar="PATH")
    parser.set_defaults(handler=run)


def _fail(message: str, code: int) -> int:
    print(f"kiosk hall: {message}", file=sys.stderr)
    return code


def _db_path(args: argparse.Namespace, config: Config) -> Path:
    return Path(args.db) if args.db else config.data_dir / "hall.sqlite3"


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.hall.store import HallStoreError

    db_path = _db_path(args, config)
    if db_path.is_dir():
        return _fail(f"--db {db_path} is a folder; expected a database file", 2)
    try:
        if args.action == "add-user":
            return _add_user(args, db_path)
        if args.action == "add-appointment":
            return _add_appointment(args, config, db_path)
        return _serve(args, config, db_path)
    except HallStoreError as exc:
        return _fail(str(exc), 2)


def _add_user(args: argparse.Namespace, db_path: Path) -> int:
    from kiosk.hall.auth import MIN_PASSWORD, hash_password
    from kiosk.hall.store import HallStore

    name = args.name
    if not name.strip() or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        return _fail("user name must be 1-64 printable characters without spaces", 2)
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        return _fail(f"password on stdin must be at least {MIN_PASSWORD} characters", 2)
    store = HallStore(db_path, args.key_file)
    try:
        new = store.put_staff(name, args.role, hash_password(password))
    finally:
        store.close()
    print(json.dumps({"user": name, "role": args.role, "created": new, "db": str(db_path)}, ensure_ascii=False))
    return 0


def _add_appointment(args: argparse.Namespace, config: Config, db_path: Path) -> int:
    import datetime as dt

    from kiosk.services.forms import load_forms
    from kiosk.services.queue import QueueService

    form = load_forms(config.resolve(config.kiosk.forms_dir)).by_code(args.service)
    if form is None:
        return _fail(f"no service {args.service!r} in {config.kiosk.forms_dir}", 2)
    queue = QueueService(db_path, config.queue, config.kiosk.elderly_age)
    try:
        booked = queue.add_appointment(form.code, form.title.zh_CN or form.code, form.band,
                                       args.day or dt.date.today().isoformat(), args.window_from, args.window_until,
                                       args.priority, created_by="cli")
    except ValueError as exc:
        return _fail(f"appointment not booked: {exc}", 2)
    finally:
        queue.close()
    print(json.dumps(booked.to_json(), ensure_ascii=False))
    return 0


def _tokens(args: argparse.Namespace, config: Config) -> dict[str, str]:
    """A hall on the kiosk machine serves that kiosk with the token its [hall] section sends."""
    from kiosk.hub.server import read_tokens_file

    if args.tokens:
        return read_tokens_file(args.tokens)
    token = config.hall.token or config.hub.token
    return {token: config.kiosk.id} if token else {}


def default_port(config: Config) -> int:
    """The port the kiosk's [hall] url names (when it names one), so both ends agree by default."""
    from urllib.parse import urlsplit

    return (urlsplit(config.hall.url).port if config.hall.url else None) or DEFAULT_PORT


def _serve(args: argparse.Namespace, config: Config, db_path: Path) -> int:
    from kiosk.commands.hub import DEMO_TOKEN
    from kiosk.hall.server import open_hall, serve
    from kiosk.hub.server import check_tls_files, exposure_problem
    from kiosk.services.outbox import OutboxError

    if args.port is None:
        args.port = default_port(config)
    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port}: expected a port number from 1 to 65535", 2)
    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together", 2)
    if args.retention_days is not None and not 0 < args.retention_days <= 3650:
        return _fail(f"--retention-days {args.retention_days}: expected more than 0 and at most 3650", 2)
    problem = exposure_problem(args.host, bool(args.tls_cert), args.insecure)
    if problem:
        return _fail(problem, 2)
    if args.tls_cert and (problem := check_tls_files(args.tls_cert, args.tls_key)):
        return _fail(problem, 2)
    try:
        tokens = _tokens(args, config)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read tokens: {exc}", 2)
    if not tokens:
        return _fail("no kiosk tokens: pass --tokens FILE (lines 'KIOSK_ID TOKEN') or set hub.token", 2)
    if DEMO_TOKEN in tokens:
        return _fail(f"{DEMO_TOKEN} is the public demo token (only `kiosk demo` uses it); give each kiosk a secret token", 2)
    try:
        parts = open_hall(db_path, config, args.key_file, retention_days=args.retention_days, sync=not args.no_sync)
    except OutboxError as exc:
        return _fail(exc.message("en"), 1)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"kiosk hall: listening on {args.host}: reachable from the network", file=sys.stderr)
    try:
        serve(parts, tokens, args.host, args.port, args.tls_cert, args.tls_key,
              on_ready=lambda url: print(json.dumps({
                  "listening": url, "db": str(db_path), "tls": bool(args.tls_cert), "kiosks": sorted(set(tokens.values())),
                  "pages": {"counter": f"{url}/counter/1", "lobby": f"{url}/lobby", "rate": f"{url}/rate/1"}},
                  ensure_ascii=False), flush=True))
    except OSError as exc:
        return _fail(f"cannot start on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0
