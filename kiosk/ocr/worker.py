"""`ReceiptReader.read` in a child process, so the clerk station's GUI never waits for the GIL.

A thread was not enough (issue 20): onnxruntime's session set-up, C-extension module
initialisation and parts of RapidOCR's pre/post-processing hold the GIL for 20–90 ms at a time
while the engine loads and reads, and the GUI thread's next turn waits for it. In a child process
the engine loads and runs on its own interpreter; the station's lane only writes the frame and
waits (GIL released) for the reply.

`OcrProcess` starts the child (`python -m kiosk.ocr.worker`), which builds its `ReceiptReader`
and warms the engine at once, before the first receipt is captured. Requests and replies are
length-prefixed pickles over the child's stdin and a private copy of its stdout (the child points
its own stdout at stderr, so a library that prints cannot corrupt a reply). Only our own child's
replies are unpickled. A child that dies, hangs past `reply_timeout_s` or answers garbage is an
`OcrEngineError` for that reading — the clerk captures again — and the next reading starts a new
child. The child ends when its stdin closes, which is also what happens when the station dies.
"""
from __future__ import annotations

import argparse
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from kiosk.config import PROJECT_ROOT
from kiosk.ocr.engines import OcrEngineError
from kiosk.services.child_python import child_env, module_command

log = logging.getLogger(__name__)

HEADER = struct.Struct(">Q")
MAX_MESSAGE_BYTES = 256 * 2**20  # a frame or a result is a few MB; more is a broken stream
REPLY_TIMEOUT_S = 120.0  # a cold engine on a slow machine plus up to three readings
WORKER_NICENESS = 10


class WorkerGone(Exception):
    """The child's stream ended or broke."""


def frame_message(obj: Any) -> bytes:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def message_length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise WorkerGone(f"message of {length} bytes")
    return length


def _read_exactly(stream: BinaryIO, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_message(stream: BinaryIO) -> Any:
    """The next message on a blocking stream; None at a clean end of stream."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    body = _read_exactly(stream, message_length(header))
    if body is None:
        raise WorkerGone("stream ended inside a message")
    return pickle.loads(body)


def _read_fd_exactly(fd: int, count: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError("no reply from the OCR process")
        chunk = os.read(fd, min(count - len(data), 1 << 20))
        if not chunk:
            raise WorkerGone("the OCR process ended")
        data += chunk
    return bytes(data)


class OcrProcess:
    """`read(image, name)` like `ReceiptReader.read`, answered by a child process. Used from one
    thread at a time (the station's OCR lane); `close` may come from another."""

    def __init__(self, engine_name: str, claimed_path: Path | None = None,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.engine_name = engine_name
        self.claimed_path = claimed_path
        self.reply_timeout_s = reply_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child (it loads and warms the engine at once); nothing if it runs."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            command = module_command("kiosk.ocr.worker", "--engine", self.engine_name)
            if self.claimed_path is not None:
                command += ["--claimed", str(self.claimed_path)]
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(),
                                          cwd=PROJECT_ROOT)

    def read(self, image: Any, name: str = "") -> Any:
        """The `ReceiptResult` for `image`; `OcrEngineError` when the child could not answer."""
        self.start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(frame_message((image, name)))
            proc.stdin.flush()
            deadline = time.monotonic() + self.reply_timeout_s
            fd = proc.stdout.fileno()
            body = _read_fd_exactly(fd, message_length(_read_fd_exactly(fd, HEADER.size, deadline)), deadline)
            return pickle.loads(body)
        except (OSError, TimeoutError, WorkerGone, pickle.UnpicklingError, EOFError, struct.error) as exc:
            log.warning("OCR process %s failed (%s: %s); a new one starts with the next reading",
                        proc.pid, type(exc).__name__, exc)
            self._stop(proc)
            raise OcrEngineError("识别程序意外中止，请重新拍摄", "The OCR process stopped; please capture again",
                                 code="OCR_PROCESS") from None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._stop(proc)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if proc.poll() is None:  # it holds nothing to save: readings are pure and the register is only read
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve(engine_name: str, claimed_path: str | None, requests: BinaryIO, replies: BinaryIO) -> int:
    """The child's loop: one reply per request, until the requests end."""
    from kiosk.ocr.checks import SqliteClaimedReceipts
    from kiosk.ocr.pipeline import ReceiptReader

    claimed = SqliteClaimedReceipts(claimed_path) if claimed_path else None
    reader = ReceiptReader(engine_name, claimed=claimed)
    try:
        reader.warm_up()
    except OcrEngineError as exc:  # each reading then carries this error, as in-process
        log.warning("OCR engine not ready: %s", exc.message("en"))
    while True:
        request = read_message(requests)
        if request is None:
            return 0
        image, name = request
        replies.write(frame_message(reader.read(image, name)))
        replies.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OCR worker for the clerk station (started by OcrProcess)")
    parser.add_argument("--engine", required=True)
    parser.add_argument("--claimed", default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the station, which closes our stdin
    # Below the station's GUI: loading and reading use every core (onnxruntime's threads), and the
    # window's next frame must still get one at once. The clerk waits on the reading either way.
    os.nice(WORKER_NICENESS)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="ocr-worker %(levelname)s %(message)s")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into a reply
    try:
        return serve(args.engine, args.claimed, sys.stdin.buffer, replies)
    except (BrokenPipeError, WorkerGone):
        return 0  # the station went away


if __name__ == "__main__":
    sys.exit(main())
