"""`kiosk queue`: the counter side — call the next ticket, recall, skip, done."""
from __future__ import annotations

import argparse
import json

from kiosk.config import Config
from kiosk.services.queue import QueueService, announcement_text

ACTIONS = ("call", "recall", "skip", "done")
MAX_COUNTER = 999


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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
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
