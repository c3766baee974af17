"""kiosk/ocr/worker: the clerk station's OCR engine in a child process — replies framed and
checked, a dead or silent child is one clear error for that reading, and the next reading
starts a new child."""
from __future__ import annotations

import io
import os
import signal

import numpy as np
import pytest

from kiosk.ocr.engines import OcrEngineError
from kiosk.ocr.synth import make_receipt
from kiosk.ocr.worker import HEADER, MAX_MESSAGE_BYTES, OcrProcess, WorkerGone, frame_message, read_message


def test_messages_round_trip_and_a_stream_ends_cleanly_only_between_messages() -> None:
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    stream = io.BytesIO(frame_message((image, "capture-1")) + frame_message("second"))
    got, name = read_message(stream)
    assert name == "capture-1" and np.array_equal(got, image)
    assert read_message(stream) == "second"
    assert read_message(stream) is None  # end of stream between messages: the station closed us
    cut = frame_message("cut short")[:-3]
    with pytest.raises(WorkerGone):
        read_message(io.BytesIO(cut))


def test_an_absurd_length_is_a_broken_stream_not_an_allocation() -> None:
    with pytest.raises(WorkerGone):
        read_message(io.BytesIO(HEADER.pack(MAX_MESSAGE_BYTES + 1) + b"x"))


@pytest.mark.slow
def test_the_child_reads_a_receipt_and_a_killed_child_is_replaced(tmp_path) -> None:
    receipt = make_receipt(3101)
    reader = OcrProcess("rapidocr", claimed_path=tmp_path / "claimed.sqlite3")
    try:
        reader.start()
        first_pid = reader.pid
        result = reader.read(receipt.image, "capture-1")
        assert result.error is None and result.file == "capture-1"
        assert result.fields["bill_number"] == receipt.fields["bill_number"]
        assert result.image is not None and result.boxes  # the picture and boxes travel back
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)  # the engine's process dies (out of memory, a native crash)
        with pytest.raises(OcrEngineError) as failed:
            reader.read(receipt.image, "capture-2")
        assert failed.value.code == "OCR_PROCESS" and "重新拍摄" in failed.value.message("zh")
        again = reader.read(receipt.image, "capture-3")  # the next reading starts a new child
        assert again.fields["total"] == receipt.fields["total"] and reader.pid != first_pid
    finally:
        reader.close()
    assert reader.pid is None


def test_a_child_that_does_not_answer_in_time_is_stopped(tmp_path) -> None:
    reader = OcrProcess("rapidocr", reply_timeout_s=0.05)  # the engine is still loading: no reply yet
    try:
        reader.start()
        proc = reader._proc
        with pytest.raises(OcrEngineError) as failed:
            reader.read(np.zeros((64, 64, 3), dtype=np.uint8), "capture-1")
        assert failed.value.code == "OCR_PROCESS"
        assert proc is not None and proc.poll() is not None  # not left running behind the station
    finally:
        reader.close()


def test_closing_ends_the_child(tmp_path) -> None:
    reader = OcrProcess("rapidocr")
    reader.start()
    proc = reader._proc
    reader.close()
    assert proc is not None and proc.returncode is not None
