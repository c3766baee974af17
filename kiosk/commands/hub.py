"""`kiosk hub`: the central intake service (serve) and its kiosk tokens (add-token)."""
from __future__ import annotations

import argparse
import json
import secrets
import sys

from kiosk.config import Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("hub", parents=[common], help="the central intake service")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="run the hub in the foreground")
    serve.add_argument("--db", help="postgresql://… or a SQLite path (default: hub.db or <data_dir>/hub.sqlite3)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1; exposing the hub is a deliberate choice")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--tokens", metavar="FILE", help="lines 'KIOSK_ID TOKEN' (default: hub.tokens_file, else hub.token for kiosk.id)")
    add = actions.add_parser("add-token", help="store a kiosk token (hashed) in the hub database; prints it")
    add.add_argument("kiosk_id")
    add.add_argument("--token", help="default: a new random token")
    add.add_argument("--db")
    parser.set_defaults(handler=run)


def _db_url(args: argparse.Namespace, config: Config) -> str:
    return args.db or config.hub.db or str(config.data_dir / "hub.sqlite3")


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.hub.server import read_tokens_file, serve
    from kiosk.hub.store import open_hub_store

    db_url = _db_url(args, config)
    if args.action == "add-token":
        token = args.token or secrets.token_urlsafe(24)
        store = open_hub_store(db_url)
        try:
            store.add_token(args.kiosk_id, token)
        finally:
            store.close()
        print(json.dumps({"kiosk_id": args.kiosk_id, "token": token}))
        return 0
    tokens_file = args.tokens or config.hub.tokens_file
    try:
        tokens = read_tokens_file(tokens_file) if tokens_file else {config.hub.token: config.kiosk.id}
    except (OSError, ValueError) as exc:
        print(f"kiosk hub: cannot read tokens: {exc}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"kiosk hub: listening on {args.host}: reachable from the network", file=sys.stderr)
    safe_db = db_url.split("@")[-1] if "://" in db_url else db_url  # no password in the output
    try:
        serve(db_url, args.host, args.port, tokens, on_ready=lambda url: print(
            json.dumps({"listening": url, "db": safe_db, "kiosks": sorted(set(tokens.values()))}), flush=True))
    except OSError as exc:
        print(f"kiosk hub: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
