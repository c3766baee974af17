"""A social-security card emulator that plugs into vsmartcard's vpcd (a virtual PC/SC reader).

The emulator is the card: it connects to vpcd on 127.0.0.1:35963 (pcscd must be running with
/etc/reader.conf.d/vpcd), so pyscard reads it through the real pcscd stack. Frames are a 2-byte
big-endian length plus payload; a 1-byte payload is a control code (0 power off, 1 power on,
2 reset, 4 get ATR), anything longer is a C-APDU answered with an R-APDU.

Connecting is inserting the card, closing the socket is pulling it. `CardFaults` switches
reproduce the failures seen in the field: pulled mid-read, a wrong status word, 61xx, 6Cxx, mute.
"""
from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from drivers.sscard.apdu import APP_NAME, EF05, EF06
from drivers.sscard.records import EF05_TAGS, EF06_TAGS, SsCardData, encode_fields, encode_tlv

log = logging.getLogger("drivers.sscard.emulator")

VPCD_HOST = "127.0.0.1"  # never anything but loopback
VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
DEFAULT_ATR = "3B6C00008064116501907300000081 07".replace(" ", "")


@dataclass
class CardProfile:
    data: SsCardData
    atr: bytes = bytes.fromhex(DEFAULT_ATR)
    addressing: str = "tag"  # "tag" (P1 = tag, P2 = 00), "record" (P1 = record number, P2 = 04) or "both"
    description: str = ""

    @classmethod
    def load(cls, path: str | Path) -> CardProfile:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        f = raw["card"]
        data = SsCardData(
            card_id=f["card_id"], card_type=f["card_type"], spec_version=f["spec_version"],
            issuer_org=f["issuer_org"], issue_date=date.fromisoformat(f["issue_date"]),
            expiry_date=date.fromisoformat(f["expiry_date"]), card_number=f["card_number"],
            id_number=f["id_number"], name=f["name"], sex=f["sex"], nation=f["nation"],
            birthplace=f["birthplace"], birth_date=date.fromisoformat(f["birth_date"]),
        )
        addressing = raw.get("addressing", "tag")
        if addressing not in ("tag", "record", "both"):
            raise ValueError(f"{path}: addressing must be tag, record or both")
        return cls(data=data, atr=bytes.fromhex(raw.get("atr", DEFAULT_ATR)), addressing=addressing,
                   description=raw.get("description", ""))


@dataclass
class CardFaults:
    """Mutable on purpose: a test may flip a switch while the card is inserted."""

    pulled_mid_read: int | None = None  # after this many APDUs the card vanishes (socket closed)
    wrong_sw: dict[str, int] = field(default_factory=dict)  # {"EF06": 0x6A82} — target APP/EF05/EF06/READ
    use_61xx: bool = False  # data comes back through GET RESPONSE
    use_6cxx: bool = False  # each READ RECORD is first answered 6Cxx (wrong Le), then served
    mute: bool = False  # never answers an APDU


class SsCardApplet:
    """The card's command logic, pure bytes in / bytes out (no socket): unit-testable."""

    def __init__(self, profile: CardProfile, faults: CardFaults | None = None) -> None:
        self.profile = profile
        self.faults = faults or CardFaults()
        fields = encode_fields(profile.data)
        self.files = {
            EF05: [(t, fields[t]) for t in EF05_TAGS if t in fields],
            EF06: [(t, fields[t]) for t in EF06_TAGS if t in fields],
        }
        self.reset()

    def reset(self) -> None:
        self.app_selected = False
        self.current_ef: int | None = None
        self.pending = b""
        self.retry_for: bytes | None = None

    def _fault_sw(self, target: str) -> bytes | None:
        sw = self.faults.wrong_sw.get(target)
        return None if sw is None else sw.to_bytes(2, "big")

    def _answer(self, data: bytes, le: int | None) -> bytes:
        if self.faults.use_61xx and data:
            self.pending = data
            return bytes([0x61, min(len(data), 0xFF)])
        if le not in (None, 0) and le != len(data):
            return bytes([0x6C, len(data)])
        return data + b"\x90\x00"

    def process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        le = body[0] if len(body) == 1 else None
        if cla != 0x00:
            return b"\x6E\x00"
        if ins == 0xA4:
            if len(body) < 1 or len(body) < 1 + body[0]:
                return b"\x67\x00"
            name = bytes(body[1:1 + body[0]])
            self.pending = b""
            if p1 == 0x04:
                if name != APP_NAME:
                    return b"\x6A\x82"
                fault = self._fault_sw("APP")
                if fault:
                    return fault
                self.app_selected, self.current_ef = True, None
                return b"\x90\x00"
            if p1 == 0x02 and len(name) == 2:
                fid = int.from_bytes(name, "big")
                if not self.app_selected or fid not in self.files:
                    return b"\x6A\x82"
                fault = self._fault_sw(f"EF{fid & 0xFF:02X}")
                if fault:
                    return fault
                self.current_ef = fid
                return b"\x90\x00"
            return b"\x6A\x86"
        if ins == 0xB2:
            if self.current_ef is None:
                return b"\x69\x86"
            fault = self._fault_sw("READ")
            if fault:
                return fault
            records = self.files[self.current_ef]
            style = "tag" if p2 == 0x00 else "record" if p2 == 0x04 else None
            if style is None or self.profile.addressing not in (style, "both"):
                return b"\x6A\x86"
            if style == "tag":
                match = [(t, v) for t, v in records if t == p1]
            else:
                match = [records[p1 - 1]] if 1 <= p1 <= len(records) else []
            if not match:
                return b"\x6A\x83"
            data = encode_tlv(*match[0])
            if self.faults.use_6cxx and self.retry_for != apdu[:4]:
                self.retry_for = bytes(apdu[:4])
                return bytes([0x6C, len(data)])
            self.retry_for = None
            return self._answer(data, le)
        if ins == 0xC0:
            if not self.pending:
                return b"\x69\x85"
            n = le or 256
            chunk, self.pending = self.pending[:n], self.pending[n:]
            if self.pending:
                return chunk + bytes([0x61, min(len(self.pending), 0xFF)])
            return chunk + b"\x90\x00"
        return b"\x6D\x00"


class CardEmulator:
    """Handle for one emulated card on one vpcd slot: `insert()`, `remove()`, `stop()`."""

    def __init__(self, profile: CardProfile, faults: CardFaults | None = None,
                 host: str = VPCD_HOST, port: int = VPCD_PORT) -> None:
        self.applet = SsCardApplet(profile, faults)
        self.host, self.port = host, port
        self.apdu_count = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def faults(self) -> CardFaults:
        return self.applet.faults

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def insert(self, timeout_s: float = 5.0) -> CardEmulator:
        """Connect to vpcd (retrying while pcscd starts); the reader then sees a card."""
        with self._lock:
            if self.inserted:
                return self
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    sock = socket.create_connection((self.host, self.port), timeout=1.0)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            sock.settimeout(None)
            self._sock = sock
            self.apdu_count = 0
            self.applet.reset()
            self._thread = threading.Thread(target=self._serve, args=(sock,), name="sscard-emulator", daemon=True)
            self._thread.start()
            return self

    def remove(self) -> None:
        """Pull the card: close the socket; vpcd reports the card absent."""
        with self._lock:
            sock, thread = self._sock, self._thread
            self._sock = None
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
            self._thread = None

    def stop(self) -> None:
        self.remove()

    def __enter__(self) -> CardEmulator:
        return self.insert()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _vanish(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = _recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                payload = _recv_exact(sock, length)
                if payload is None:
                    return
                if length == 1:
                    code = payload[0]
                    if code == GET_ATR:
                        _send_frame(sock, self.applet.profile.atr)
                    elif code in (POWER_OFF, POWER_ON, RESET):
                        self.applet.reset()
                    continue
                faults = self.applet.faults
                if faults.pulled_mid_read is not None and self.apdu_count >= faults.pulled_mid_read:
                    log.debug("emulated card pulled after %d APDUs", self.apdu_count)
                    self._vanish(sock)
                    return
                self.apdu_count += 1
                if faults.mute:
                    continue
                _send_frame(sock, self.applet.process(payload))
        except OSError:
            return


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


def start_emulator(profile: CardProfile | str | Path, faults: CardFaults | None = None,
                   port: int = VPCD_PORT, insert: bool = True) -> CardEmulator:
    """Create an emulator for a profile (object or JSON path) and, by default, insert the card."""
    if not isinstance(profile, CardProfile):
        profile = CardProfile.load(profile)
    emulator = CardEmulator(profile, faults, port=port)
    return emulator.insert() if insert else emulator


def start_simulated_card(profile_path: str | Path, port: int = VPCD_PORT) -> CardEmulator:
    """For `sim://` runs of the app: pcscd with vpcd must already be running."""
    return start_emulator(profile_path, port=port)
