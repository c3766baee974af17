"""A simulated ID card reader on the far end of a pty or a loopback TCP socket.

The real `IdCardReader` talks to it through pyserial exactly as it talks to hardware, so every
byte of the protocol stack is exercised. `IdCardDevice` is the device logic (pure: request in,
reply frame out); `IdCardSimulator` serves it on its own thread over a transport and applies the
`Faults`, which may be flipped at any time from another thread.

Card behaviour modelled on SAM readers: `find` succeeds only while a card is present and has not
been read since it was placed; after a read the card must leave the field (`remove()`, or
`lift_and_replace()`) before it can be found again.

The pty path returned by `start_pty()` is a symlink to the current `/dev/pts/N`, like a udev
`/dev/serial/by-id/...` link: unplugging closes the pty, replugging makes a new one and moves the
link, so a reader that reopens the same path finds the "same" device again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import select
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.idcard import protocol as p
from drivers.idcard.text import build_text

log = logging.getLogger("drivers.idcard.simulator")

PHOTO_LENGTH = 1024
DEFAULT_SAM_ID = bytes.fromhex("0500 0100 B8E93201 D2029649 15CD5B07".replace(" ", ""))


@dataclass
class Faults:
    """Fault switches; mutate them at runtime (they are read on every request)."""

    bad_checksum: bool = False  # every reply's checksum byte is wrong
    silent: bool = False  # requests are swallowed, nothing is answered
    split_writes: bool = False  # replies go out byte by byte with tiny gaps
    slow_reply_s: float = 0.0  # delay before each reply
    garbage_between_frames: bool = False  # noise bytes before each reply
    remove_mid_read: bool = False  # the card leaves during `30 01`: SW3 41 and the card is gone
    unplugged: bool = False  # the link is down (pty closed / socket closed); False replugs


@dataclass(frozen=True, repr=False)
class CardProfile:
    label: str
    text: bytes
    photo: bytes = b""
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return f"CardProfile({self.label!r})"


def fake_photo(seed: str, length: int = PHOTO_LENGTH) -> bytes:
    """Deterministic stand-in for a WLT photo (real ones are only decodable by vendor libraries)."""
    out = bytearray(b"WLTSIM")
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:length])


def load_profile(path: str | os.PathLike[str]) -> CardProfile:
    """A card profile JSON: {"label", "card_type", "flag"?, "fields": {build_text keywords}}."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        fields = dict(doc.get("fields", {}))
        text = build_text(doc.get("card_type", "resident"), flag=doc.get("flag"), **fields)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a usable ID card profile ({exc})") from None
    label = str(doc.get("label") or path.stem)
    photo = fake_photo(label) if doc.get("photo", True) else b""
    return CardProfile(label=label, text=text, photo=photo)


def profile_from_fields(label: str = "custom", card_type: str = "resident", flag: str | None = None, **fields: Any) -> CardProfile:
    return CardProfile(label=label, text=build_text(card_type, flag=flag, **fields), photo=fake_photo(label))


class IdCardDevice:
    """The reader's behaviour: `handle(request) → reply frame` (None when it stays silent)."""

    def __init__(self, profile: CardProfile | None = None, faults: Faults | None = None, sam_id: bytes = DEFAULT_SAM_ID) -> None:
        self.faults = faults if faults is not None else Faults()
        self.sam_id = sam_id
        self._lock = threading.Lock()
        self.profile = profile
        self.present = profile is not None
        self.read_since_placed = False
        self._found = False
        self._selected = False
        self.requests: list[tuple[float, int, int]] = []  # (monotonic, cmd, para), for tests
        self.reads = 0

    def insert(self, profile: CardProfile | None = None) -> None:
        with self._lock:
            if profile is not None:
                self.profile = profile
            if self.profile is None:
                raise ValueError("no card profile to insert")
            self.present, self.read_since_placed = True, False
            self._found = self._selected = False

    def remove(self) -> None:
        with self._lock:
            self.present = self.read_since_placed = self._found = self._selected = False

    def lift_and_replace(self) -> None:
        """The resident lifts the card and puts it back: it can be found and read again."""
        self.remove()
        self.insert()

    def handle_frame(self, item: p.Request | p.FrameError) -> bytes:
        if isinstance(item, p.FrameChecksumError):
            return p.build_reply(0x10)
        if isinstance(item, p.FrameError):
            return p.build_reply(0x11)
        return self.handle(item)

    def handle(self, req: p.Request) -> bytes:
        key = (req.cmd, req.para)
        with self._lock:
            self.requests.append((time.monotonic(), req.cmd, req.para))
            del self.requests[:-1000]
            if key in (p.RESET_SAM, p.SAM_STATUS):
                return p.build_reply(p.SW3_OK)
            if key == p.SAM_ID:
                return p.build_reply(p.SW3_OK, self.sam_id)
            if key == p.FIND_CARD:
                self._found = self.present and not self.read_since_placed
                self._selected = False
                return p.build_reply(p.SW3_FOUND, bytes(4)) if self._found else p.build_reply(0x80)
            if key == p.SELECT_CARD:
                self._selected = self._found and self.present and not self.read_since_placed
                return p.build_reply(p.SW3_OK, bytes(8)) if self._selected else p.build_reply(0x81)
            if key in (p.READ_TEXT_PHOTO, p.READ_TEXT_PHOTO_FINGERPRINT):
                return self._read(with_fingerprint=key == p.READ_TEXT_PHOTO_FINGERPRINT)
            if key == p.READ_NEWEST_ADDRESS:
                return p.build_reply(0x91) if self._selected and self.present else p.build_reply(0x41)
            if req.cmd == p.SET_BAUD:
                return p.build_reply(p.SW3_OK)
            return p.build_reply(0x21)

    def _read(self, with_fingerprint: bool) -> bytes:
        if self.faults.remove_mid_read and self.present:
            self.present = self._found = self._selected = False
            return p.build_reply(0x41)
        if not (self.present and self._selected and self.profile is not None):
            return p.build_reply(0x41)
        self.read_since_placed, self._found, self._selected = True, False, False
        self.reads += 1
        card = self.profile
        fingerprint = card.fingerprint if with_fingerprint else None
        return p.build_reply(p.SW3_OK, p.build_card_data(card.text, card.photo, fingerprint))


class _PtyLink:
    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="idcard-sim-")
        self.path = os.path.join(self._dir, "ttyIDCARD")
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def url(self) -> str:
        return self.path

    def up(self) -> None:
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        # Holding our own slave fd keeps the pty alive while the reader reopens it, so reads on
        # the master never see EIO between the reader's close and open.
        self._master, self._slave = master, slave
        tmp = self.path + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)

    def down(self) -> None:
        # Drop the link too: the old /dev/pts/N may be handed to another process's pty.
        if os.path.lexists(self.path):
            os.unlink(self.path)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    @property
    def is_up(self) -> bool:
        return self._master is not None

    def read(self, timeout: float) -> bytes:
        master = self._master
        if master is None:  # stopped
            return b""
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(master, 4096)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # EIO: no slave open right now
            time.sleep(timeout)
            return b""

    def write(self, data: bytes) -> None:
        deadline = time.monotonic() + 1.0
        view = memoryview(data)
        while view and self._master is not None:
            try:
                n = os.write(self._master, view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # nobody is reading: a real device would drop it too
                select.select([], [self._master], [], 0.05)
            except OSError:
                return

    def close(self) -> None:
        self.down()
        shutil.rmtree(self._dir, ignore_errors=True)


class _TcpLink:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(1)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def down(self) -> None:
        for sock in (self._client, self._listener):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self._client = self._listener = None

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def read(self, timeout: float) -> bytes:
        socks = [s for s in (self._listener, self._client) if s is not None]
        ready, _, _ = select.select(socks, [], [], timeout)
        data = b""
        for sock in ready:
            if sock is self._listener:
                client, _ = sock.accept()
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._client is not None:
                    self._client.close()
                self._client = client
            elif sock is self._client:
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    sock.close()
                    self._client = None
                data += chunk
        return data

    def write(self, data: bytes) -> None:
        if self._client is None:
            return
        try:
            self._client.sendall(data)
        except OSError:
            self._client.close()
            self._client = None

    def close(self) -> None:
        self.down()


class IdCardSimulator:
    """Serve an `IdCardDevice` over a pty (`start_pty`) or loopback TCP (`start_tcp`)."""

    def __init__(self, profile: CardProfile | None = None, faults: Faults | None = None) -> None:
        self.faults = faults if faults is not None else Faults()
        self.device = IdCardDevice(profile, self.faults)
        self._link: _PtyLink | _TcpLink | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # card handling, delegated so tests read naturally
    def insert(self, profile: CardProfile | None = None) -> None:
        self.device.insert(profile)

    def remove(self) -> None:
        self.device.remove()

    def lift_and_replace(self) -> None:
        self.device.lift_and_replace()

    def unplug(self) -> None:
        self.faults.unplugged = True

    def replug(self) -> None:
        self.faults.unplugged = False

    @property
    def url(self) -> str:
        if self._link is None:
            raise RuntimeError("simulator not started")
        return self._link.url

    def start_pty(self) -> str:
        """Start serving on a new pty; return a stable path to its slave end (for serial_for_url)."""
        return self._start(_PtyLink())

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on loopback TCP; return `socket://127.0.0.1:PORT`."""
        return self._start(_TcpLink(host, port))

    def _start(self, link: _PtyLink | _TcpLink) -> str:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._link = link
        if not self.faults.unplugged:
            link.up()
        self._thread = threading.Thread(target=self._serve, name="idcard-simulator", daemon=True)
        self._thread.start()
        return link.url

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._link is not None:
            self._link.close()

    def __enter__(self) -> IdCardSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        link = self._link
        assert link is not None
        decoder = p.RequestDecoder()
        while not self._stop.is_set():
            if self.faults.unplugged:
                if link.is_up:
                    link.down()
                    decoder.reset()
                time.sleep(0.02)
                continue
            if not link.is_up:
                try:
                    link.up()
                except OSError as exc:
                    log.warning("simulator replug failed: %s", exc)
                    time.sleep(0.1)
                    continue
            try:
                chunk = link.read(0.05)
            except (OSError, ValueError):
                continue
            if not chunk:
                continue
            for item in decoder.feed(chunk):
                if self.faults.silent:
                    continue
                self._send(link, self.device.handle_frame(item))

    def _send(self, link: _PtyLink | _TcpLink, reply: bytes) -> None:
        f = self.faults
        if f.slow_reply_s > 0:
            time.sleep(f.slow_reply_s)
        if f.bad_checksum:
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        if f.garbage_between_frames:
            # Noise that includes a partial preamble, the classic resync trap.
            reply = bytes.fromhex("00 13 AA AA 37 FF AA AA AA 96") + reply
        if f.split_writes:
            for i in range(len(reply)):
                link.write(reply[i : i + 1])
                time.sleep(0.0002)
        else:
            link.write(reply)


def start_simulated_reader(profile_path: str | os.PathLike[str] | None, faults: Faults | None = None) -> tuple[str, IdCardSimulator]:
    """For `sim://`: a simulator with the profile's card on the reader; returns (port URL, sim).
    The caller owns the simulator and calls `stop()` when done."""
    profile = load_profile(profile_path) if profile_path else None
    sim = IdCardSimulator(profile, faults)
    url = sim.start_pty() if hasattr(os, "openpty") else sim.start_tcp()
    return url, sim


__all__ = [
    "CardProfile", "Faults", "IdCardDevice", "IdCardSimulator", "fake_photo", "load_profile",
    "profile_from_fields", "start_simulated_reader",
]
