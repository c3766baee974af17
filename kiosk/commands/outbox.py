"""`kiosk outbox`: status, list, retry, purge, undo of the local outbox."""
from __future__ import annotations

import argparse
import json
import sys

from kiosk.commands.argtypes import int_between, seconds_or_days
from kiosk.config import Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("outbox", parents=[common], help="outbox status, list, retry, purge")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("status", help="counts per state and the age of the oldest pending item")
    listing = actions.add_parser("list", help="rows, newest first (no personal data unless --reveal)")
    listing.add_argument("--state", choices=("pending", "sending", "acked", "quarantined", "withdrawn"))
    listing.add_argument("--limit", type=int_between(1, 1_000_000, "a row count"), default=50)
    listing.add_argument("--reveal", action="store_true", help="decrypt and show payloads (technician use; audited in the log)")
    retry = actions.add_parser("retry", help="put quarantined rows back in line")
    retry.add_argument("ids", nargs="*", metavar="ID", help="default: every quarantined row")
    purge = actions.add_parser("purge", help="delete synced rows older than the retention period")
    purge.add_argument("--older-than-days", type=seconds_or_days(0, 36500, "days"), help="default: privacy.retention_days")
    undo = actions.add_parser("undo", help="withdraw a submission that has not been sent yet")
    undo.add_argument("id", metavar="ID")
    undo.add_argument("--within-s", type=seconds_or_days(0, 86400, "seconds"), default=600)
    actions.add_parser("acknowledge", help="a technician has seen the set-aside (malformed) databases: diag stops warning")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    import logging

    from kiosk.services.outbox import OutboxError
    from kiosk.services.submissions import open_outbox

    with open_outbox(config, create_key=args.action not in ("status", "list")) as store:
        faults = store.faults()
        standing: list[str] = []  # until fixed or acknowledged, every outbox command says so
        if faults["recovered_from"] and args.action != "acknowledge":
            standing.append(f"the database was malformed and was set aside as {faults['recovered_from']} "
                            f"({faults['rows_salvaged']} rows salvaged, {faults['rows_lost']} unreadable); "
                            "after checking, run `kiosk outbox acknowledge`")
        if store.key_error:
            standing.append(store.key_error.message_en)
        try:
            if args.action == "status":
                out = {**store.status().to_json(), **faults}
            elif args.action == "acknowledge":
                out = {"acknowledged": store.acknowledge_recoveries()}
            elif args.action == "list":
                if args.reveal:
                    logging.getLogger("kiosk.audit").warning("outbox list --reveal: payloads decrypted for display")
                out = {"items": [e.to_json(reveal=args.reveal) for e in store.list(args.state, args.limit, reveal=args.reveal)]}
            elif args.action == "retry":
                out = {"retried": store.retry_quarantined(args.ids or None)}
            elif args.action == "purge":
                days = config.privacy.retention_days if args.older_than_days is None else args.older_than_days
                out = {"purged": store.purge_acked(days), "older_than_days": days}
            else:
                out = store.undo(args.id, args.within_s).to_json()
        except OutboxError as exc:
            # a refusal is one line: the reason, then any standing fault it is not already
            error = exc.message("en")
            print("kiosk outbox: " + "; also: ".join([error, *(s for s in standing if s != error)]), file=sys.stderr)
            return 1
    for line in standing:
        print(f"kiosk outbox: {line}", file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False))
    return 0
