"""`kiosk submit`: enqueue a submission exactly as the UI does.

`--data` is the form's answers keyed by field name, as the form screen collects them; they pass
the form engine's rules (kiosk.services.forms) and become the payload through the same builder
the screen uses, then enter the outbox through kiosk.services.submissions.submit. Anything the
screen would refuse is refused here with one line per field (zh / en) and exit 2.

`--ticket` then issues the queue ticket linked to the stored submission, as the done screen does:
at the hall when `[hall] url` is set (the application goes along for the counter), else from the
local queue; it is printed under "ticket". A hall that cannot be reached leaves the submission
stored: "ticket" is null, stderr says to go to the counter with the 业务编号, exit 1.
"""
from __future__ import annotations

import argparse
import json
import sys

from kiosk.config import Config
from kiosk.services.queue import PRIORITY_REASONS


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("submit", parents=[common], help="enqueue a submission exactly as the UI does")
    parser.add_argument("--service", required=True, metavar="CODE", help="service code (a form's `code`), e.g. enrol")
    parser.add_argument("--data", required=True, metavar="JSON",
                        help="the form's answers keyed by field name as a JSON object ('-' reads stdin); "
                             "for --kind rating: {\"reference\": ID, \"score\": 1-5, \"reason\": TEXT}")
    parser.add_argument("--id", dest="submission_id", metavar="UUID", help="idempotency key (default: a new UUID)")
    parser.add_argument("--kind", choices=("submission", "rating"), default="submission")
    parser.add_argument("--ticket", action="store_true", help="also issue the queue ticket linked to the submission "
                        "(at the hall when [hall] url is set)")
    parser.add_argument("--priority", nargs="?", const="elderly", choices=PRIORITY_REASONS, metavar="REASON",
                        help="with --ticket: green channel; REASON is elderly (default), disabled or appointment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.services.forms import AnswersInvalid, load_forms, submission_payload
    from kiosk.services.outbox import OutboxError
    from kiosk.services.ratings import rating_payload, rating_problems
    from kiosk.services.submissions import linked_ticket, reference, submit
    from kiosk.services.ticket_desk import HallUnavailable, open_desk

    catalog = load_forms(config.resolve(config.kiosk.forms_dir))
    spec = catalog.by_code(args.service)
    if spec is None:
        codes = ", ".join(sorted(f.code for f in catalog.forms)) or "none"
        print(f"kiosk submit: {args.service!r} is not a service; known: {codes}", file=sys.stderr)
        return 2
    if args.ticket and args.kind != "submission":
        print("kiosk submit: --ticket goes with a submission, not a rating", file=sys.stderr)
        return 2
    if args.priority and not args.ticket:
        print("kiosk submit: --priority goes with --ticket", file=sys.stderr)
        return 2
    if args.ticket and config.hall.ca_file:  # the hall's CA file is read before anything is stored
        from kiosk.services.hall_client import tls_verify

        tls_verify(config.hall.ca_file)
    text = sys.stdin.read() if args.data == "-" else args.data
    try:
        data = json.loads(text)
    except ValueError as exc:
        print(f"kiosk submit: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("kiosk submit: --data must be a JSON object", file=sys.stderr)
        return 2
    if args.kind == "rating":
        errors = rating_problems(data)
        payload = None if errors else rating_payload(spec.code, data["reference"], data["score"], data.get("reason", ""))
    else:
        try:
            payload, errors = submission_payload(spec, None, data), {}
        except AnswersInvalid as exc:
            payload, errors = None, exc.errors
    if errors or payload is None:  # (no payload without errors)
        for name, message in errors.items():  # one line per field, both languages
            print(f"kiosk submit: {name}: {message.zh_CN} / {message.en}", file=sys.stderr)
        return 2
    try:
        entry = submit(config, args.service, payload, submission_id=args.submission_id, kind=args.kind)
    except (ValueError, TypeError) as exc:
        print(f"kiosk submit: {exc}", file=sys.stderr)
        return 2
    except OutboxError as exc:
        print(f"kiosk submit: {exc.message('en')}", file=sys.stderr)
        return 1
    result = {"id": entry.id, "state": entry.state, "service": entry.service, "seq": entry.seq}
    if not args.ticket:
        print(json.dumps(result))
        return 0
    desk = open_desk(config)  # a bad [hall] setting would have stopped us above (validated config)
    try:  # stored first: whatever happens now, the submission is kept
        result["ticket"] = linked_ticket(config, spec, entry.id, payload, args.priority, desk).json
    except (HallUnavailable, ValueError) as exc:  # ValueError: the local queue has no band for it
        result.update(ticket=None, reference=reference(entry.id))
        print(json.dumps(result, ensure_ascii=False))
        print(f"kiosk submit: submission {entry.id} stored, but no ticket ({getattr(exc, 'detail', exc)}); "
              f"go to a counter with reference {reference(entry.id)} / 申请已保存，请凭业务编号 {reference(entry.id)} 到窗口办理",
              file=sys.stderr)
        return 1
    finally:
        desk.close()
    print(json.dumps(result, ensure_ascii=False))
    return 0
