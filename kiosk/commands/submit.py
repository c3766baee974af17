"""`kiosk submit`: enqueue a submission exactly as the UI does (kiosk.services.submissions.submit)."""
from __future__ import annotations

import argparse
import json
import sys

from kiosk.config import Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("submit", parents=[common], help="enqueue a submission exactly as the UI does")
    parser.add_argument("--service", required=True, metavar="CODE", help="service code, e.g. enrol")
    parser.add_argument("--data", required=True, metavar="JSON", help="the submission body as a JSON object ('-' reads stdin)")
    parser.add_argument("--id", dest="submission_id", metavar="UUID", help="idempotency key (default: a new UUID)")
    parser.add_argument("--kind", choices=("submission", "rating"), default="submission")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.services.outbox import OutboxError
    from kiosk.services.submissions import submit

    text = sys.stdin.read() if args.data == "-" else args.data
    try:
        data = json.loads(text)
    except ValueError as exc:
        print(f"kiosk submit: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("kiosk submit: --data must be a JSON object", file=sys.stderr)
        return 2
    try:
        entry = submit(config, args.service, data, submission_id=args.submission_id, kind=args.kind)
    except (ValueError, TypeError) as exc:
        print(f"kiosk submit: {exc}", file=sys.stderr)
        return 2
    except OutboxError as exc:
        print(f"kiosk submit: {exc.message('en')}", file=sys.stderr)
        return 1
    print(json.dumps({"id": entry.id, "state": entry.state, "service": entry.service, "seq": entry.seq}))
    return 0
