"""`kiosk read-sscard`: wait for one social-security card (PC/SC), read it, print JSON.

Masked by default through kiosk.privacy (ID number, name, card number, card id; birth, issue and
expiry dates show their year only — the same rules as `read-id`); `--unmasked` prints the card
as read. Exit 1 with a message on stderr when pcscd is down, no
reader matches, the card fails, or nothing is inserted before `--timeout`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from kiosk.commands.argtypes import seconds_or_days
from kiosk.config import Config
from kiosk.privacy import CARD_FIELD_KINDS, MaskPolicy, mask_fields


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("read-sscard", parents=[common], help="read one social-security card (PC/SC)")
    parser.add_argument("--reader", metavar="NAME", help="substring of the PC/SC reader name (default: devices.sscard.reader)")
    parser.add_argument("--json", action="store_true", help="JSON output (the default; kept for scripts)")
    parser.add_argument("--unmasked", action="store_true", help="print personal data in clear")
    parser.add_argument("--timeout", metavar="S", type=seconds_or_days(0, 86400, "seconds", low_open=True), default=30.0, help="seconds to wait for a card (default 30)")
    parser.add_argument("--simulate", action="store_true",
                        help="insert devices.sscard.sim_profile into vpcd first (needs pcscd + vsmartcard-vpcd)")
    parser.set_defaults(handler=run)


def masked(card: dict[str, str], config: Config) -> dict[str, str]:
    return mask_fields(card, MaskPolicy.from_config(config), kinds=CARD_FIELD_KINDS)


def run(args: argparse.Namespace, config: Config) -> int:
    from drivers.sscard.errors import NoCard, NoReader, ReadTimeout, SsCardError
    from drivers.sscard.reader import establish_context, list_readers, pick_reader, read_reader, release_context

    reader_filter = args.reader if args.reader is not None else config.devices.sscard.reader
    emulator = None
    context = None
    deadline = time.monotonic() + max(0.0, args.timeout)
    try:
        if args.simulate:
            from drivers.sscard.emulator import start_simulated_card

            try:
                emulator = start_simulated_card(config.resolve(config.devices.sscard.sim_profile))
            except OSError as exc:
                raise NoReader(f"vpcd not reachable on 127.0.0.1:35963: {exc}") from None
        context = establish_context()
        reader = pick_reader(list_readers(context), reader_filter)
        if reader is None:
            raise NoReader(f"no reader matching {reader_filter!r}" if reader_filter else "no PC/SC reader")
        card = None
        while card is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadTimeout(f"no card in {reader!r} within {args.timeout:g} s")
            if _card_present(context, reader, min(remaining, 0.5)):
                try:
                    card = read_reader(reader, max(remaining, 1.0))
                except NoCard:  # pulled between status and connect: keep waiting
                    continue
    except SsCardError as exc:
        print(f"kiosk read-sscard: {exc.technical}", file=sys.stderr)  # the resident's text + the status word
        return 1
    finally:
        release_context(context)
        if emulator is not None:
            emulator.stop()
    result = card.to_dict()
    print(json.dumps(result if args.unmasked else masked(result, config), ensure_ascii=False))
    return 0


def _card_present(context: int, reader: str, wait_s: float) -> bool:
    from smartcard import scard

    from drivers.sscard.errors import PcscUnavailableError

    hr, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    if hr != scard.SCARD_S_SUCCESS:
        raise PcscUnavailableError(scard.SCardGetErrorMessage(hr))
    state = states[0][1]
    if state & scard.SCARD_STATE_PRESENT:
        return True
    hr, states = scard.SCardGetStatusChange(context, int(wait_s * 1000), [(reader, state & ~scard.SCARD_STATE_CHANGED)])
    if hr not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
        raise PcscUnavailableError(scard.SCardGetErrorMessage(hr))
    return hr == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT)
