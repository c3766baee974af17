"""ESC/POS parser (pure) and a simulated ticket printer on a pty or a loopback TCP socket.

The simulator sits at the transport seam: the real `TicketPrinter` talks to it through a real
pty (as with a serial printer) or raw TCP (as with port 9100), so the driver code path is the
one real hardware uses. It answers DLE EOT status queries and has fault switches: offline,
paper near end, paper out (also "runs out after N lines" to fail mid-ticket) and silent.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import socket
import threading
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 1 << 20  # a declared length above this is garbage, not a command
# What a simulator keeps of what it printed (tests look at the last few): a simulated kiosk left
# running (a showroom, the memory benchmark's journeys) must not grow by a ticket per resident.
KEEP_TICKETS = 50
KEEP_BYTES = 64 * 1024


@dataclass(frozen=True)
class TextLine:
    text: str
    bold: bool = False
    width: int = 1  # character magnification (1 normal, 2 double)
    height: int = 1
    align: str = "left"  # left | center | right


@dataclass(frozen=True)
class QrCode:
    payload: str
    module_dots: int = 3


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class Cut:
    partial: bool = False


@dataclass(frozen=True)
class StatusQuery:
    n: int  # DLE EOT n


Element = TextLine | QrCode | Feed | Cut | StatusQuery


@dataclass
class ParsedTicket:
    elements: list = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [e.text for e in self.elements if isinstance(e, TextLine)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def qr_payloads(self) -> list[str]:
        return [e.payload for e in self.elements if isinstance(e, QrCode)]

    @property
    def cut(self) -> bool:
        return any(isinstance(e, Cut) for e in self.elements)


class _Incomplete(Exception):
    """The buffer ends inside a command: wait for more bytes."""


class EscPosParser:
    """Incremental ESC/POS parser: `feed(bytes)` returns the elements completed so far.

    Unknown commands are skipped (the command byte and its selector); garbage never raises.
    Feeding a stream in any chunking yields the same elements as feeding it whole.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._line = bytearray()
        self._line_style: tuple | None = None
        self._qr_store = b""
        self._qr_module = 3
        self.reset_style()
        self.chinese = False

    def reset_style(self) -> None:
        self.bold = False
        self.width = 1
        self.height = 1
        self.align = "left"

    def feed(self, data: bytes) -> list:
        self._buf += data
        out: list = []
        buf, i, n = self._buf, 0, len(self._buf)
        while i < n:
            b = buf[i]
            try:
                if b == 0x0A:
                    out.append(self._end_line())
                    i += 1
                elif b in (0x1B, 0x1D, 0x1C, 0x10):
                    i = self._command(buf, i, out)
                elif b == 0x09:
                    self._add_text(b"    ")
                    i += 1
                elif b == 0x0C:
                    if self._line:
                        out.append(self._end_line())
                    i += 1
                elif b < 0x20:
                    i += 1  # CR and other controls: nothing visible
                else:
                    start = i
                    while i < n and buf[i] >= 0x20:
                        i += 1
                    self._add_text(bytes(buf[start:i]))
            except _Incomplete:
                break
        del self._buf[:i]
        return out

    def flush(self) -> list:
        """End of stream: emit a pending text line; an unfinished command is dropped."""
        self._buf.clear()
        return [self._end_line()] if self._line else []

    # -- internals --------------------------------------------------------------------
    def _add_text(self, data: bytes) -> None:
        if not self._line:
            self._line_style = (self.bold, self.width, self.height, self.align)
        self._line += data

    def _end_line(self) -> TextLine:
        style = self._line_style or (self.bold, self.width, self.height, self.align)
        text = bytes(self._line).decode("gb18030" if self.chinese else "cp437", errors="replace")
        self._line.clear()
        self._line_style = None
        bold, width, height, align = style
        return TextLine(text, bold, width, height, align)

    def _command(self, buf: bytearray, i: int, out: list) -> int:
        n = len(buf)
        if i + 1 >= n:
            raise _Incomplete
        lead, c = buf[i], buf[i + 1]

        def arg(k: int) -> int:  # k-th argument byte after lead+selector
            if i + 1 + k >= n:
                raise _Incomplete
            return buf[i + 1 + k]

        if lead == 0x10:  # DLE
            if c == 0x04:
                out.append(StatusQuery(arg(1)))
                return i + 3
            if c == 0x05:
                arg(1)
                return i + 3
            if c == 0x14:
                arg(3)
                return i + 5
            return i + 2
        if lead == 0x1B:  # ESC
            if c == ord("@"):
                self.reset_style()
                self.chinese = False
                return i + 2
            if c == ord("E") or c == ord("G"):
                self.bold = bool(arg(1) & 1)
                return i + 3
            if c == ord("a"):
                self.align = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}.get(arg(1), "left")
                return i + 3
            if c == ord("!"):
                m = arg(1)
                self.bold = bool(m & 0x08)
                self.height = 2 if m & 0x10 else 1
                self.width = 2 if m & 0x20 else 1
                return i + 3
            if c == ord("d"):
                out.append(Feed(arg(1)))
                return i + 3
            if c == ord("2"):
                return i + 2
            if c in b"-3JMRtV{ Ure":
                arg(1)
                return i + 3
            if c == ord("c"):
                arg(2)
                return i + 4
            if c in b"$\\":
                arg(2)
                return i + 4
            if c == ord("p"):
                arg(3)
                return i + 5
            if c in b"im":
                out.append(Cut(partial=True))
                return i + 2
            if c == ord("*"):
                m, nl, nh = arg(1), arg(2), arg(3)
                length = (nl + 256 * nh) * (3 if m in (32, 33) else 1)
                return self._skip(buf, i, 5 + length)
            return i + 2
        if lead == 0x1D:  # GS
            if c == ord("!"):
                m = arg(1)
                self.width = min(8, (m >> 4) + 1)
                self.height = min(8, (m & 0x0F) + 1)
                return i + 3
            if c == ord("V"):
                m = arg(1)
                if m in (65, 66, 97, 98, 103, 104):
                    arg(2)
                    out.append(Cut(partial=m in (66, 98, 104)))
                    return i + 4
                out.append(Cut(partial=m in (1, 49)))
                return i + 3
            if c == ord("("):
                fn, pl, ph = arg(1), arg(2), arg(3)
                length = pl + 256 * ph
                end = self._skip(buf, i, 5 + length)
                if fn == ord("k"):
                    self._qr(bytes(buf[i + 5 : end]), out)
                return end
            if c == ord("k"):
                m = arg(1)
                if m <= 6:  # NUL-terminated barcode data
                    j = buf.find(b"\x00", i + 3)
                    if j < 0:
                        if n - i > MAX_COMMAND_BYTES:
                            return i + 2
                        raise _Incomplete
                    return j + 1
                return self._skip(buf, i, 4 + arg(2))
            if c == ord("v"):
                xl, xh, yl, yh = arg(3), arg(4), arg(5), arg(6)
                return self._skip(buf, i, 8 + (xl + 256 * xh) * (yl + 256 * yh))
            if c == ord("*"):
                x, y = arg(1), arg(2)
                return self._skip(buf, i, 4 + x * y * 8)
            if c in b"LWP$\\":
                arg(2)
                return i + 4
            if c in b"BHIfhwarb/:":
                if c != ord(":"):
                    arg(1)
                    return i + 3
                return i + 2
            return i + 2
        # FS
        if c == ord("&"):
            self.chinese = True
            return i + 2
        if c == ord("."):
            self.chinese = False
            return i + 2
        if c == ord("!"):
            m = arg(1)
            self.width = 2 if m & 0x04 else 1
            self.height = 2 if m & 0x08 else 1
            return i + 3
        if c in b"-WCr":
            arg(1)
            return i + 3
        if c in b"Sp":
            arg(2)
            return i + 4
        return i + 2

    @staticmethod
    def _skip(buf: bytearray, i: int, length: int) -> int:
        if length > MAX_COMMAND_BYTES:
            return i + 2  # an absurd declared length: treat as garbage, resync
        if i + length > len(buf):
            raise _Incomplete
        return i + length

    def _qr(self, body: bytes, out: list) -> None:
        if len(body) < 2 or body[0] != 0x31:
            return
        fn = body[1]
        if fn == 0x43 and len(body) >= 3:
            self._qr_module = body[2]
        elif fn == 0x50:
            self._qr_store = body[3:]
        elif fn == 0x51:
            out.append(QrCode(self._qr_store.decode("utf-8", errors="replace"), self._qr_module))


def parse_escpos(stream: bytes) -> list:
    """The whole stream → elements (pure)."""
    parser = EscPosParser()
    return parser.feed(stream) + parser.flush()


def split_tickets(elements: list) -> list[ParsedTicket]:
    """Elements → tickets, each ending at a cut; a trailing uncut part is a last ticket."""
    tickets, current = [], ParsedTicket()
    for element in elements:
        if isinstance(element, StatusQuery):
            continue
        current.elements.append(element)
        if isinstance(element, Cut):
            tickets.append(current)
            current = ParsedTicket()
    if current.elements:
        tickets.append(current)
    return tickets


# -- the simulated device ---------------------------------------------------------------
STATUS_FIXED = 0x12


class PrinterSimulator:
    """A thermal printer on the far end of a pty and/or a TCP socket, in its own thread.

    Switches (set from any thread): `offline`, `paper` ("ok" | "near_end" | "out"), `silent`,
    and `run_out_after(lines)` to run out of paper part-way through the next ticket.
    While offline or out of paper nothing prints: the ticket in progress goes to `.spoiled`.
    """

    def __init__(self) -> None:
        self.offline = False
        self.paper = "ok"
        self.silent = False
        self._lines_until_out: int | None = None
        self.received = bytearray()  # the last KEEP_BYTES..2×KEEP_BYTES bytes on the wire
        self.tickets: list[ParsedTicket] = []  # fully printed, split at cuts (the last KEEP_TICKETS)
        self.spoiled: list[ParsedTicket] = []  # cut while paper was out/offline: not delivered (likewise)
        self.cuts = 0  # tickets cut since start, printed + spoiled
        self._current = ParsedTicket()
        self._current_spoiled = False
        self._parser = EscPosParser()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pty: tuple[int, int] | None = None
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self.printed = threading.Condition(self._lock)

    # -- switches ------------------------------------------------------------------------
    def run_out_after(self, lines: int) -> None:
        """Paper runs out after `lines` more text lines have printed."""
        with self._lock:
            self._lines_until_out = lines

    def reload_paper(self) -> None:
        with self._lock:
            self.paper = "ok"
            self._lines_until_out = None

    # -- transports ----------------------------------------------------------------------
    def start_pty(self) -> str:
        import pty
        import tty

        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no newline translation: bytes pass through untouched
        os.set_blocking(master, False)
        # Keeping our own slave fd open means the master never sees EIO between clients.
        self._pty = (master, slave)
        self._ensure_thread()
        return os.ttyname(slave)

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(4)
        listener.setblocking(False)
        self._listener = listener
        self._ensure_thread()
        return f"socket://{host}:{listener.getsockname()[1]}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for sock in self._clients:
            sock.close()
        if self._listener is not None:
            self._listener.close()
        if self._pty is not None:
            for fd in self._pty:
                os.close(fd)
        self._pty, self._listener, self._clients = None, None, []

    def __enter__(self) -> PrinterSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="printer-sim", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            watched: list = list(self._clients)
            if self._pty is not None:
                watched.append(self._pty[0])
            if self._listener is not None:
                watched.append(self._listener)
            try:
                ready, _, _ = select.select(watched, [], [], 0.05)
            except (OSError, ValueError):
                continue
            for source in ready:
                if source is self._listener:
                    try:
                        client, _ = self._listener.accept()
                        client.setblocking(False)
                        self._clients.append(client)
                    except OSError:
                        pass
                elif isinstance(source, int):
                    try:
                        data = os.read(source, 4096)
                    except OSError as exc:
                        if exc.errno not in (errno.EAGAIN, errno.EIO):
                            log.debug("printer sim pty read: %s", exc)
                        continue
                    self._handle(data, lambda reply, fd=source: os.write(fd, reply))
                else:
                    try:
                        data = source.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._clients.remove(source)
                        source.close()
                        continue
                    self._handle(data, source.sendall)

    def _handle(self, data: bytes, reply) -> None:
        answers = bytearray()
        with self._lock:
            self.received += data
            if len(self.received) > 2 * KEEP_BYTES:
                del self.received[:-KEEP_BYTES]
            for element in self._parser.feed(data):
                if isinstance(element, StatusQuery):
                    if not self.silent:
                        answers.append(self._status_byte(element.n))
                        # reply in order: a query after a ticket sees that ticket's effect
                        reply(bytes(answers))
                        answers.clear()
                    continue
                self._print(element)
            self.printed.notify_all()

    def feed(self, data: bytes) -> bytes:
        """Direct entry (no transport): process bytes, return status replies. For tests."""
        replies = bytearray()
        self._handle(data, replies.extend)
        return bytes(replies)

    def _status_byte(self, n: int) -> int:
        if n == 1:
            return STATUS_FIXED | (0x08 if self.offline else 0)
        if n == 4:
            return {"ok": 0x12, "near_end": 0x1E, "out": 0x72}.get(self.paper, 0x72)
        return STATUS_FIXED

    def _print(self, element) -> None:
        if self.offline or self.paper == "out":
            self._current_spoiled = True
        elif isinstance(element, TextLine) and self._lines_until_out is not None:
            if self._lines_until_out <= 0:
                self.paper = "out"
                self._lines_until_out = None
                self._current_spoiled = True
            else:
                self._lines_until_out -= 1
        self._current.elements.append(element)
        if isinstance(element, Cut):
            kept = self.spoiled if self._current_spoiled else self.tickets
            kept.append(self._current)
            del kept[:-KEEP_TICKETS]
            self.cuts += 1
            self._current = ParsedTicket()
            self._current_spoiled = False

    def wait_for_tickets(self, count: int, timeout: float = 3.0) -> bool:
        """Block until `count` tickets (printed + spoiled) have been cut."""
        with self._lock:
            return self.printed.wait_for(lambda: self.cuts >= count, timeout)


def start_simulated_printer(transport: str = "pty") -> tuple[str, PrinterSimulator]:
    """For `devices.printer.url = "sim://"`: start a simulator, return (url for TicketPrinter, sim).

    A pty where the OS has one (the serial code path), raw TCP otherwise. Call `sim.stop()` on exit.
    """
    sim = PrinterSimulator()
    if transport == "pty" and os.name == "posix":
        try:
            return sim.start_pty(), sim
        except OSError as exc:
            log.warning("printer simulator: no pty (%s), using TCP", exc)
    return sim.start_tcp(), sim
