"""`kiosk read-id`: read one resident ID card (SAM over serial) and print it, masked by default.

Runs the same `IdCardReader.run` loop the app runs on its device thread, and stops at the first
card read. `--port sim://` (the default config) starts the simulator with the configured profile.
Exit 0 with one JSON object (or a short summary) on stdout — only for a card that is a valid
person (the driver checks name and number). Exit 1 with one line on stderr when the port cannot
be used, the reader is unplugged or answers too slowly, the card data is not a valid ID card, or
no card is read in time.
"""
from __future__ import annotations

import argparse
import json
import logging
import queue
import sys
import threading
import time

from kiosk.commands.argtypes import seconds_or_days
from kiosk.config import SIMULATED, Config
from kiosk.privacy import CARD_FIELD_KINDS, MaskPolicy, mask_fields


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("read-id", parents=[common], help="read one resident ID card (SAM over serial)")
    parser.add_argument("--port", metavar="URL", help="serial device, pyserial URL (socket://host:port) or sim:// (default: devices.idcard.port)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--unmasked", action="store_true", help="print the ID number, name, address and dates in clear")
    parser.add_argument("--timeout", metavar="S", type=seconds_or_days(0, 86400, "seconds", low_open=True), default=30.0, help="seconds to wait for a card (default 30)")
    parser.set_defaults(handler=run)


def card_json(fields: dict[str, str], config: Config, unmasked: bool) -> dict[str, str]:
    """`IdCardText.to_dict()` → CLI/JSON output, masked by kiosk.privacy unless `unmasked`
    (the birth date and card dates then show their year only: see kiosk/privacy.py)."""
    return dict(fields) if unmasked else mask_fields(fields, MaskPolicy.from_config(config), kinds=CARD_FIELD_KINDS)


def run(args: argparse.Namespace, config: Config) -> int:
    from drivers.idcard.protocol import InvalidCardData
    from drivers.idcard.reader import CardRead, CardReadFailed, IdCardReader, ReaderConnected, ReaderDisconnected

    section = config.devices.idcard
    port = args.port or section.port
    simulator = None
    if port == SIMULATED:
        from drivers.idcard.simulator import start_simulated_reader

        try:
            port, simulator = start_simulated_reader(config.resolve(section.sim_profile))
        except (OSError, ValueError) as exc:
            return _fail(f"cannot start the ID card simulator: {exc}")
    if not getattr(args, "verbose", False):
        # The one line this command prints says what the reader's own warnings would (twice).
        logging.getLogger("drivers.idcard").setLevel(logging.ERROR)
    reader = IdCardReader(port, baud=section.baud, poll_interval_s=section.poll_interval_ms / 1000.0, backoff_cap_s=1.0)
    events: queue.Queue[object] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop, events.put), name="idcard", daemon=True)
    thread.start()
    deadline = time.monotonic() + max(0.0, args.timeout)
    connected = False
    last_error = ""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if not connected:
                    return _fail(f"no ID card reader answering at {port}")
                return _fail(f"no ID card read within {args.timeout:g} s" + (f" (last error: {last_error})" if last_error else ""))
            try:
                event = events.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(event, ReaderConnected):
                connected = True
            elif isinstance(event, ReaderDisconnected):
                return _fail(_disconnect_message(event, connected))
            elif isinstance(event, CardReadFailed):
                if isinstance(event.error, InvalidCardData):  # the card said what it is: no retry helps
                    return _fail(f"{event.error.message_en} ({event.error.detail})")
                last_error = event.error.message_en
            elif isinstance(event, CardRead):
                output = card_json(event.read.text.to_dict(), config, args.unmasked)
                print(json.dumps(output, ensure_ascii=False) if args.json else _summary(output))
                return 0
    finally:
        stop.set()
        thread.join(timeout=5)
        if simulator is not None:
            simulator.stop()


def _disconnect_message(event: object, connected: bool) -> str:
    cause, reason = getattr(event, "cause", ""), getattr(event, "reason", "")
    if cause == "slow":
        return "ID card reader answered too slowly (replies came after the reply timeout); check the cable, baud rate and USB hub"
    if connected:
        return f"ID card reader disconnected ({reason})"
    return f"cannot use the ID card reader: {reason}"


def _summary(card: dict[str, str]) -> str:
    kinds = {"resident": "居民身份证", "hk_mo_tw": "港澳台居民居住证", "foreign": "外国人永久居留身份证"}
    lines = [
        f"{kinds.get(card['card_type'], card['card_type'])}",
        f"姓名 {card['name']}  性别 {card['sex']}" + (f"  民族 {card['nation']}" if card["nation"] else ""),
        f"出生 {card['birth_date']}",
        f"号码 {card['id_number']}",
    ]
    if card["address"]:
        lines.append(f"住址 {card['address']}")
    lines.append(f"有效期 {card['valid_from']} 至 {card['valid_until']}" + (f"  签发 {card['issuer']}" if card["issuer"] else ""))
    return "\n".join(lines)


def _fail(message: str) -> int:
    print(f"kiosk read-id: {message}", file=sys.stderr)
    return 1
