"""`kiosk hub`: the central intake service (serve), its kiosk tokens (add-token; enrol-code and
revoke-token, kiosk/hub/enrolment.py) and its payload key ring (rotate-key). Every bad input is one line on stderr: exit 2 usage/config, 1 runtime."""
from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import Config

if TYPE_CHECKING:
    from kiosk.hub.store import HubStore

DEMO_TOKEN = "demo-token-0001"  # public (it is in the repository): only `kiosk demo` may use it


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("hub", parents=[common], help="the central intake service")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run the hub in the foreground")
    serve.add_argument("--db", help="postgresql://… or a SQLite path (default: hub.db or <data_dir>/hub.sqlite3)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; other addresses need TLS (or --insecure)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--tokens", metavar="FILE", help="lines 'KIOSK_ID TOKEN' (default: hub.tokens_file, else hub.token for kiosk.id)")
    serve.add_argument("--key-file", metavar="FILE", help="payload key ring (default: hub.key_file, else <data_dir>/keys/hub.key)")
    serve.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain) to serve HTTPS")
    serve.add_argument("--tls-key", metavar="FILE", help="PEM private key for --tls-cert")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes sharing the port (PostgreSQL only; SQLite serves from one process)")
    serve.add_argument("--pool-size", type=int, default=None, metavar="N",
                       help="PostgreSQL connections per worker (default 8)")
    serve.add_argument("--insecure", action="store_true",
                       help="allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)")
    add = actions.add_parser("add-token", help="store a kiosk token (hashed) in the hub database; prints it")
    add.add_argument("kiosk_id")
    add.add_argument("--token", help="default: a new random token")
    add.add_argument("--db")
    add.add_argument("--key-file", metavar="FILE")
    user = actions.add_parser("add-user", help="create or update a console staff account (password from stdin)")
    user.add_argument("name")
    user.add_argument("--role", required=True, choices=("admin", "bureau", "station"))
    user.add_argument("--station", metavar="ID", help="the service point a station user sees (required for --role station)")
    user.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin (never argv)")
    user.add_argument("--db")
    user.add_argument("--key-file", metavar="FILE")
    kiosk = actions.add_parser("add-kiosk", help="map a kiosk (or hall) id to its service point (station)")
    kiosk.add_argument("kiosk_id")
    kiosk.add_argument("--station", metavar="ID", required=True)
    kiosk.add_argument("--db")
    kiosk.add_argument("--key-file", metavar="FILE")
    code = actions.add_parser("enrol-code", help="print a one-time enrolment code for a kiosk (24 h; `kiosk enrol` on the machine)")
    code.add_argument("kiosk_id")
    code.add_argument("--station", metavar="ID", help="also map the kiosk to its service point (as add-kiosk)")
    code.add_argument("--db")
    code.add_argument("--key-file", metavar="FILE")
    revoke = actions.add_parser("revoke-token", help="revoke a kiosk's stored tokens and unused codes (its pending data stays on it)")
    revoke.add_argument("kiosk_id")
    revoke.add_argument("--db")
    revoke.add_argument("--key-file", metavar="FILE")
    rotate = actions.add_parser("rotate-key", help="append a new current payload key (older keys stay)")
    rotate.add_argument("--key-file", metavar="FILE")
    sim = actions.add_parser("platform-sim", help="a simulator of the provincial 医保信息平台 (demo, tests, training)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8790)
    sim.add_argument("--seed", type=int, default=0, help="changes the generated residents (card holders stay fixed)")
    sim.add_argument("--keys-out", metavar="FILE", help="write a fresh access key + secret (0600) and require signed requests")
    sim.add_argument("--delay", type=float, default=0.0, metavar="S", help="fault: answer every request S seconds late")
    sim.add_argument("--infcode", type=int, metavar="N", help="fault: refuse every transaction with this infcode")
    sim.add_argument("--malformed", action="store_true", help="fault: replies that are not an envelope")
    sim.add_argument("--http-status", type=int, metavar="N", help="fault: the gateway answers HTTP N")
    sim.add_argument("--only", action="append", metavar="INFNO", help="faults only for 1101, 5301 or ec.query (repeatable)")
    parser.set_defaults(handler=run)


def _db_url(args: argparse.Namespace, config: Config) -> str:
    return getattr(args, "db", None) or config.hub.db or str(config.data_dir / "hub.sqlite3")


def _key_file(args: argparse.Namespace, config: Config) -> Path:
    return Path(args.key_file or config.hub.key_file or config.data_dir / "keys" / "hub.key")


def _fail(message: str, code: int) -> int:
    print(f"kiosk hub: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.hub.keys import HubKeyError, HubKeyring
    from kiosk.hub.store import HubStoreError, open_hub_store, safe_db_url

    if args.action == "platform-sim":
        return _platform_sim(args)
    key_file = _key_file(args, config)
    if args.action == "rotate-key":
        try:
            keyring = HubKeyring.rotate(key_file)
        except FileNotFoundError:
            return _fail(f"no hub key file at {key_file} (it is created when the hub first starts)", 2)
        except (HubKeyError, OSError) as exc:
            return _fail(str(exc), 2)
        print(json.dumps({"key_file": str(key_file), "current_key": keyring.current_id, "keys": len(keyring.keys)}))
        return 0

    db_url = _db_url(args, config)
    if args.action in ("add-user", "add-kiosk"):
        return _console_account(args, db_url, key_file)
    if args.action in ("enrol-code", "revoke-token"):
        return _enrolment(args, db_url, key_file)
    if args.action == "add-token":
        if not args.kiosk_id.strip() or any(c.isspace() or not c.isprintable() for c in args.kiosk_id):
            return _fail("kiosk id must be printable text without spaces", 2)
        token = args.token or secrets.token_urlsafe(24)
        if token == DEMO_TOKEN:
            return _fail(f"{DEMO_TOKEN} is the public demo token; give each kiosk a secret one", 2)
        try:
            store = open_hub_store(db_url, key_file)
        except HubKeyError as exc:
            return _fail(str(exc), 2)
        except HubStoreError as exc:
            return _fail(str(exc), 1)
        try:
            store.add_token(args.kiosk_id, token)
        except Exception as exc:  # e.g. a read-only database
            return _fail(f"cannot store the token in {safe_db_url(db_url)}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)
        finally:
            store.close()
        print(json.dumps({"kiosk_id": args.kiosk_id, "token": token}))
        return 0
    return _serve(args, config, db_url, key_file)


def _printable_id(value: str) -> bool:
    return bool(value.strip()) and len(value) <= 64 and not any(c.isspace() or not c.isprintable() for c in value)


def _enrolment(args: argparse.Namespace, db_url: str, key_file: Path) -> int:
    """enrol-code (a one-time code, stored hashed) and revoke-token (kiosk/hub/enrolment.py)."""
    import time

    from kiosk.hub import enrolment
    from kiosk.hub.keys import HubKeyError
    from kiosk.hub.store import HubStoreError, open_hub_store, safe_db_url

    if not _printable_id(args.kiosk_id):
        return _fail("kiosk id must be printable text without spaces (at most 64 characters)", 2)
    station = getattr(args, "station", None)
    if station is not None and not _printable_id(station):
        return _fail("--station must be printable text without spaces (at most 64 characters)", 2)
    try:
        store = open_hub_store(db_url, key_file)
    except HubKeyError as exc:
        return _fail(str(exc), 2)
    except HubStoreError as exc:
        return _fail(str(exc), 1)
    try:
        if args.action == "revoke-token":
            out: dict = {"kiosk_id": args.kiosk_id, **enrolment.revoke(store, args.kiosk_id)}
        else:
            issued = enrolment.issue_code(store, args.kiosk_id)
            if station is not None:
                from kiosk.hub.console.store import ConsoleStore

                ConsoleStore(store).set_station(args.kiosk_id, station)
            out = {"kiosk_id": args.kiosk_id, "code": issued.code, "station": station,
                   "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued.expires_at))}
    except Exception as exc:  # e.g. a read-only database
        return _fail(f"cannot write to {safe_db_url(db_url)}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)
    finally:
        store.close()
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _console_account(args: argparse.Namespace, db_url: str, key_file: Path) -> int:
    """add-user (argon2id hash; the password only ever from stdin) and add-kiosk (kiosk → station)."""
    from kiosk.hall.auth import hash_password
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.keys import HubKeyError
    from kiosk.hub.store import HubStoreError, open_hub_store, safe_db_url

    station = args.station
    if station is not None and not _printable_id(station):
        return _fail("--station must be printable text without spaces (at most 64 characters)", 2)
    password_hash = None
    if args.action == "add-user":
        if not _printable_id(args.name):
            return _fail("user name must be printable text without spaces (at most 64 characters)", 2)
        if (args.role == "station") != (station is not None):
            return _fail("--station ID is required for --role station, and only for it", 2)
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            password_hash = hash_password(password)
        except ValueError as exc:
            return _fail(str(exc), 2)
    elif not _printable_id(args.kiosk_id):
        return _fail("kiosk id must be printable text without spaces", 2)
    try:
        store = open_hub_store(db_url, key_file)
    except HubKeyError as exc:
        return _fail(str(exc), 2)
    except HubStoreError as exc:
        return _fail(str(exc), 1)
    try:
        console = ConsoleStore(store)
        if args.action == "add-user":
            new = console.put_staff(args.name, args.role, station, password_hash or "")
            print(json.dumps({"user": args.name, "role": args.role, "station": station, "created": new}, ensure_ascii=False))
        else:
            console.set_station(args.kiosk_id, station)
            print(json.dumps({"kiosk_id": args.kiosk_id, "station": station}, ensure_ascii=False))
    except Exception as exc:  # e.g. a read-only database
        return _fail(f"cannot write to {safe_db_url(db_url)}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)
    finally:
        store.close()
    return 0


def _pending_codes(store: HubStore) -> int:
    """Unused enrolment codes: a hub waiting for its first kiosk to enrol may start without tokens."""
    try:
        with store.transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM enrolment_codes WHERE used_at IS NULL")
            return int(cur.fetchone()[0])
    except Exception:
        return 0


def _serve(args: argparse.Namespace, config: Config, db_url: str, key_file: Path) -> int:
    from kiosk.hub.keys import HubKeyError
    from kiosk.hub.server import check_tls_files, exposure_problem, read_tokens_file, serve
    from kiosk.hub.store import HubStoreError, open_hub_store, safe_db_url
    from kiosk.hub.upstream.setup import UpstreamConfigError, platform_from_config

    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port}: expected a port number from 1 to 65535", 2)
    if not 1 <= args.workers <= 64:
        return _fail(f"--workers {args.workers}: expected 1 to 64 worker processes", 2)
    postgres = db_url.startswith(("postgresql://", "postgres://"))
    if args.workers > 1 and not postgres:
        return _fail(f"--workers {args.workers} needs a PostgreSQL database (--db postgresql://…): a SQLite hub "
                     "serves from one process (one writer at a time); run it without --workers", 2)
    if args.pool_size is not None and not 1 <= args.pool_size <= 200:
        return _fail(f"--pool-size {args.pool_size}: expected 1 to 200 connections", 2)
    try:
        platform = platform_from_config(config)
    except UpstreamConfigError as exc:
        return _fail(f"{config.source}: {exc}", 2)
    from kiosk.hub.notify.setup import NotifyConfigError, notify_from_config

    try:
        notify = notify_from_config(config)  # [hub.sms]: SMS notices of 办结 / 退回补正
    except NotifyConfigError as exc:
        return _fail(f"{config.source}: {exc}", 2)
    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together", 2)
    problem = exposure_problem(args.host, bool(args.tls_cert), args.insecure)
    if problem:
        return _fail(problem, 2)
    if args.tls_cert and (problem := check_tls_files(args.tls_cert, args.tls_key)):
        return _fail(problem, 2)
    tokens_file = args.tokens or config.hub.tokens_file
    try:
        tokens = read_tokens_file(tokens_file) if tokens_file else (
            {config.hub.token: config.kiosk.id} if config.hub.token and config.hub.token != DEMO_TOKEN else {})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read tokens: {exc}", 2)
    if DEMO_TOKEN in tokens:
        return _fail(f"{DEMO_TOKEN} is the public demo token (only `kiosk demo` uses it); give each kiosk a secret token", 2)
    from kiosk.hub.pool import DEFAULT_POOL_SIZE, open_store

    pool_size = args.pool_size or DEFAULT_POOL_SIZE
    try:  # opening migrates the schema (once, here, before any worker starts)
        store = open_store(db_url, key_file, pool_size) if args.workers == 1 else open_hub_store(db_url, key_file)
    except HubKeyError as exc:
        return _fail(str(exc), 2)
    except HubStoreError as exc:
        return _fail(str(exc), 1)
    try:
        stored_tokens = store.token_count()
    except Exception as exc:
        store.close()
        return _fail(f"cannot read kiosk tokens from {safe_db_url(db_url)}: {type(exc).__name__}", 1)
    if not tokens and not stored_tokens and not _pending_codes(store):
        store.close()
        return _fail("no kiosk tokens configured: pass --tokens FILE (lines 'KIOSK_ID TOKEN'), set hub.tokens_file, "
                     "or run `kiosk hub enrol-code KIOSK_ID` (or `kiosk hub add-token KIOSK_ID`)", 2)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"kiosk hub: listening on {args.host}: reachable from the network", file=sys.stderr)
    def ready(url: str) -> None:
        print(json.dumps({
            "listening": url, "db": safe_db_url(db_url), "key_file": str(key_file), "tls": bool(args.tls_cert),
            "kiosks": sorted(set(tokens.values())), "stored_tokens": stored_tokens,
            "platform": config.upstream.url or None, "workers": args.workers}), flush=True)

    if args.workers > 1:
        if notify is not None:
            notify.sender.close()  # each worker makes its own (no HTTP client crosses a fork)
        return _serve_workers(args, config, db_url, key_file, tokens, store, pool_size, ready)
    from kiosk.hub.console.routes import ConsoleOptions

    try:
        serve(db_url, args.host, args.port, tokens, store=store, tls_cert=args.tls_cert, tls_key=args.tls_key,
              platform=platform, on_ready=ready, console=ConsoleOptions(notify=notify))
    except OSError as exc:
        return _fail(f"cannot start on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0


def _serve_workers(args: argparse.Namespace, config: Config, db_url: str, key_file: Path, tokens: dict[str, str],
                   store: HubStore, pool_size: int, ready: Callable[[str], None]) -> int:
    """N processes on one port; each opens its own pooled store and platform client after the fork."""
    from kiosk.hub.app import create_app
    from kiosk.hub.pool import open_store
    from kiosk.hub.server import serve_workers
    from kiosk.hub.upstream.setup import platform_from_config

    store.close()  # never share a connection across a fork

    def build() -> tuple[Any, Callable[[], None]]:
        from kiosk.hub.console.routes import ConsoleOptions
        from kiosk.hub.notify.setup import notify_from_config

        worker_store = open_store(db_url, key_file, pool_size)
        platform = platform_from_config(config)
        app = create_app(worker_store, tokens, platform=platform, console=ConsoleOptions(notify=notify_from_config(config)))

        def close() -> None:
            notifier = getattr(app.state, "notifier", None)
            if notifier is not None:
                notifier.stop()
            worker_store.close()
            if platform is not None and hasattr(platform, "close"):
                platform.close()
        return app, close

    try:
        return serve_workers(args.workers, build, args.host, args.port, args.tls_cert, args.tls_key,
                             on_ready=ready)
    except OSError as exc:
        return _fail(f"cannot start on {args.host}:{args.port}: {exc.strerror or exc}", 1)


def _platform_sim(args: argparse.Namespace) -> int:
    from kiosk.hub.server import LOOPBACK_HOSTS
    from kiosk.hub.upstream.simulator import ENDPOINTS, Faults, serve_platform_sim, write_sim_keys

    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port}: expected a port number from 1 to 65535", 2)
    if args.delay < 0 or args.delay > 3600:
        return _fail(f"--delay {args.delay}: expected 0 to 3600 seconds", 2)
    if args.http_status is not None and not 400 <= args.http_status <= 599:
        return _fail(f"--http-status {args.http_status}: expected an HTTP error status from 400 to 599", 2)
    if args.infcode == 0:
        return _fail("--infcode 0 is success; give the failing infcode (e.g. -1)", 2)
    unknown = sorted(set(args.only or ()) - set(ENDPOINTS))
    if unknown:
        return _fail(f"--only {unknown[0]}: expected one of {', '.join(ENDPOINTS)}", 2)
    keys = {}
    if args.keys_out:
        try:
            keys = write_sim_keys(args.keys_out)
        except OSError as exc:
            return _fail(f"--keys-out {args.keys_out}: {exc.strerror or exc}", 2)
    if args.host not in LOOPBACK_HOSTS:
        print(f"kiosk hub: platform simulator listening on {args.host}: reachable from the network", file=sys.stderr)
    faults = Faults(delay_s=args.delay, infcode=args.infcode, malformed=args.malformed, http_status=args.http_status,
                    only=frozenset(args.only) if args.only else None)
    try:
        serve_platform_sim(args.host, args.port, args.seed, keys, faults, on_ready=lambda info: print(json.dumps(
            {**info, "seed": args.seed, "signed": bool(keys), "keys_file": args.keys_out}), flush=True))
    except OSError as exc:
        return _fail(f"cannot start the platform simulator on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0
