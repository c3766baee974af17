"""IdCardReader against the simulator through a real pty (and loopback TCP), with every fault."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import serial
from waiting import Counter, wait_until

from drivers.diagnostics import CheckStatus
from drivers.idcard import protocol as p
from drivers.idcard.reader import (
    CardPlaced, CardRead, CardReadFailed, CardRemoved, IdCardReader, PortUnavailable, ReaderConnected,
    ReaderDisconnected,
)
from drivers.idcard.simulator import Faults, IdCardSimulator, load_profile, profile_from_fields, start_simulated_reader

CARDS = Path(__file__).resolve().parent.parent / "assets" / "cards" / "idcard"
CLEAR_ID = "110105195003070019"
CLEAR_NAME = "张三"


class Events:
    """Collects events from the device thread; tests wait for the next one of a type."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._cond = threading.Condition()
        self._seen = 0

    def __call__(self, event: object) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type, timeout: float = 5.0) -> object:
        """The first event of `kind` after the last one returned by wait_for."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(self._seen, len(self.items)):
                    if isinstance(self.items[i], kind):
                        self._seen = i + 1
                        return self.items[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [type(e).__name__ for e in self.items]
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; events: {names}")
                self._cond.wait(left)

    def of(self, kind: type) -> list[object]:
        with self._cond:
            return [e for e in self.items if isinstance(e, kind)]


@pytest.fixture
def sim():
    simulator = IdCardSimulator(load_profile(CARDS / "resident.json"), Faults())
    yield simulator
    simulator.stop()


@pytest.fixture
def opens(monkeypatch) -> Counter:
    """Counts the reader's attempts to open its port (pyserial's serial_for_url)."""
    counter = Counter(serial.serial_for_url)
    monkeypatch.setattr(serial, "serial_for_url", counter)
    return counter


def finds(sim: IdCardSimulator, since: float = 0.0) -> list[float]:
    """When the simulated reader was asked "card there?" (its recorded requests), after `since`."""
    return [t for t, cmd, para in list(sim.device.requests) if (cmd, para) == p.FIND_CARD and t > since]


def wait_polls(sim: IdCardSimulator, count: int, timeout: float = 10.0) -> None:
    """Wait until the reader has polled the simulator `count` more times (instead of a pause)."""
    since = time.monotonic()
    wait_until(lambda: len(finds(sim, since)) >= count, timeout, what=f"{count} polls")


def fast_reader(url: str, **kw) -> IdCardReader:
    params = dict(poll_interval_s=0.05, reply_timeout_s=0.3, read_timeout_s=1.5, backoff_initial_s=0.05, backoff_cap_s=0.4)
    params.update(kw)
    return IdCardReader(url, **params)


class Running:
    """`run` on its own thread, as the app's device thread does; always stopped and joined."""

    def __init__(self, reader: IdCardReader) -> None:
        self.reader, self.events, self.stop = reader, Events(), threading.Event()
        self.thread = threading.Thread(target=reader.run, args=(self.stop, self.events), daemon=True)

    def __enter__(self) -> "Running":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "device thread did not stop"


def _assert_resident(event: CardRead) -> None:
    assert event.read.text.id_number == CLEAR_ID and event.read.text.name == CLEAR_NAME
    assert len(event.read.photo_wlt) == 1024 and event.read.photo_png is None
    assert event.reply_received_at <= event.read.parsed_at <= time.monotonic()


# --- direct calls -----------------------------------------------------------------------------


def test_read_card_over_pty_then_no_card_until_lifted(sim):
    url = sim.start_pty()
    with fast_reader(url) as reader:
        read = reader.read_card()
        assert read.text.id_number == CLEAR_ID and read.text.valid_until == "长期"
        with pytest.raises(p.NoCard):
            reader.read_card()
        sim.lift_and_replace()
        assert reader.read_card().text.name == CLEAR_NAME


def test_no_card_on_the_reader(sim):
    sim.remove()
    with fast_reader(sim.start_pty()) as reader:
        with pytest.raises(p.NoCard) as info:
            reader.read_card()
        assert info.value.message_zh.startswith("未检测到身份证")


def test_read_over_tcp(sim):
    url = sim.start_tcp()
    assert url.startswith("socket://127.0.0.1:")
    with fast_reader(url) as reader:
        assert reader.read_card().text.id_number == CLEAR_ID


def test_self_test_reports_port_and_sam(sim):
    reader = fast_reader(sim.start_pty())
    results = reader.self_test()
    assert [(r.name, r.status) for r in results] == [
        ("idcard.port", CheckStatus.OK), ("idcard.sam_status", CheckStatus.OK), ("idcard.sam_id", CheckStatus.OK)]
    assert results[2].data["sam_id"].count("-") == 3
    assert not reader.is_open


def test_self_test_on_missing_port(tmp_path):
    results = fast_reader(str(tmp_path / "no-such-tty")).self_test()
    assert [(r.name, r.status) for r in results] == [("idcard.port", CheckStatus.MISSING)]


def test_self_test_on_silent_device(sim):
    sim.faults.silent = True
    results = fast_reader(sim.start_pty()).self_test()
    assert results[1].name == "idcard.sam_status" and results[1].status is CheckStatus.ERROR


def test_open_bad_port_raises_typed_error(tmp_path):
    with pytest.raises(PortUnavailable) as info:
        fast_reader(str(tmp_path / "nope")).open()
    assert info.value.code == "IDCARD_PORT"


def test_photo_decoder_plugin_and_a_failing_one(sim):
    class Decoder:
        def decode(self, wlt: bytes) -> bytes:
            assert wlt.startswith(b"WLTSIM")
            return b"\x89PNG fake"

    class Broken:
        def decode(self, wlt: bytes) -> bytes:
            raise RuntimeError("vendor library crashed")

    url = sim.start_pty()
    with fast_reader(url, photo_decoder=Decoder()) as reader:
        assert reader.read_card().photo_png == b"\x89PNG fake"
    sim.lift_and_replace()
    with fast_reader(url, photo_decoder=Broken()) as reader:
        read = reader.read_card()
        assert read.photo_png is None and read.text.id_number == CLEAR_ID


# --- the polling loop -------------------------------------------------------------------------


def test_run_reads_once_per_placement(sim):
    with Running(fast_reader(sim.start_pty())) as run:
        assert run.events.wait_for(ReaderConnected).port == sim.url
        run.events.wait_for(CardPlaced)
        _assert_resident(run.events.wait_for(CardRead))
        run.events.wait_for(CardRemoved)  # the card no longer answers find: it left the field
        wait_polls(sim, 4)  # several polls with the card still "read"
        assert len(run.events.of(CardRead)) == 1 and sim.device.reads == 1
        sim.lift_and_replace()
        run.events.wait_for(CardPlaced)
        _assert_resident(run.events.wait_for(CardRead))
        assert sim.device.reads == 2


def test_polls_no_faster_than_the_interval(sim):
    sim.remove()
    with Running(fast_reader(sim.start_pty(), poll_interval_s=0.2)) as run:
        run.events.wait_for(ReaderConnected)
        wait_polls(sim, 5)
    polls = finds(sim)
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    assert len(polls) >= 5 and min(gaps) >= 0.19


@pytest.mark.parametrize("fault, value", [("split_writes", True), ("slow_reply_s", 0.15), ("garbage_between_frames", True)])
def test_reads_through_line_faults(sim, fault, value):
    setattr(sim.faults, fault, value)
    with Running(fast_reader(sim.start_pty(), reply_timeout_s=0.5)) as run:
        _assert_resident(run.events.wait_for(CardRead, timeout=8))
        assert not run.events.of(CardReadFailed)


def test_bad_checksums_are_survived_and_reading_resumes(sim):
    sim.faults.bad_checksum = True
    with Running(fast_reader(sim.start_pty())) as run:
        run.events.wait_for(ReaderConnected)
        wait_polls(sim, 5)  # polls whose replies arrive damaged
        assert not run.events.of(CardRead) and run.thread.is_alive()
        sim.faults.bad_checksum = False
        _assert_resident(run.events.wait_for(CardRead))


def test_bad_checksum_during_read_is_a_typed_failure_then_a_retry(sim):
    reader = fast_reader(sim.start_pty())
    seen: list[object] = []

    def on_event(event: object) -> None:
        seen.append(event)
        if isinstance(event, CardPlaced):
            sim.faults.bad_checksum = True  # corrupt the select/read replies
        if isinstance(event, CardReadFailed):
            sim.faults.bad_checksum = False

    run = Running(reader)
    run.events = Events()
    run.thread = threading.Thread(target=reader.run, args=(run.stop, lambda e: (on_event(e), run.events(e))), daemon=True)
    with run:
        failed = run.events.wait_for(CardReadFailed)
        assert isinstance(failed.error, p.FrameChecksumError)
        _assert_resident(run.events.wait_for(CardRead))


def test_silent_reader_disconnects_then_recovers(sim, opens):
    with Running(fast_reader(sim.start_pty())) as run:
        run.events.wait_for(CardRead)
        sim.faults.silent = True
        assert "no reply" in run.events.wait_for(ReaderDisconnected).reason
        sim.lift_and_replace()
        opens.wait(opens.calls + 1)  # it tries again while the reader is still silent
        sim.faults.silent = False
        run.events.wait_for(ReaderConnected)
        _assert_resident(run.events.wait_for(CardRead))


def test_card_removed_mid_read(sim):
    with Running(fast_reader(sim.start_pty())) as run:
        run.events.wait_for(CardRead)
        run.events.wait_for(CardRemoved)
        sim.faults.remove_mid_read = True
        sim.lift_and_replace()
        failed = run.events.wait_for(CardReadFailed)
        assert isinstance(failed.error, p.ReadFailed) and failed.error.code == "IDCARD_READ_FAILED"
        run.events.wait_for(CardRemoved)
        sim.faults.remove_mid_read = False
        sim.insert()
        _assert_resident(run.events.wait_for(CardRead))


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_unplug_and_replug(sim, transport, opens):
    url = sim.start_pty() if transport == "pty" else sim.start_tcp()
    with Running(fast_reader(url)) as run:
        run.events.wait_for(ReaderConnected)
        run.events.wait_for(CardRead)
        sim.unplug()
        gone = run.events.wait_for(ReaderDisconnected)
        assert gone.port == url and gone.reason
        opens.wait(opens.calls + 3)  # several reconnect attempts fail quietly
        assert len(run.events.of(ReaderDisconnected)) == 1
        sim.lift_and_replace()
        sim.replug()
        run.events.wait_for(ReaderConnected)
        _assert_resident(run.events.wait_for(CardRead))


def test_missing_port_reports_once_and_connects_when_it_appears(tmp_path, opens):
    sim = IdCardSimulator(load_profile(CARDS / "resident.json"), Faults(unplugged=True))
    try:
        url = sim.start_pty()
        with Running(fast_reader(url)) as run:
            run.events.wait_for(ReaderDisconnected)
            opens.wait(opens.calls + 3)  # retried quietly
            assert len(run.events.of(ReaderDisconnected)) == 1
            sim.replug()
            run.events.wait_for(ReaderConnected)
            run.events.wait_for(CardRead)
    finally:
        sim.stop()


def test_stop_is_prompt_even_while_backing_off(tmp_path):
    reader = fast_reader(str(tmp_path / "absent"), backoff_initial_s=5.0, backoff_cap_s=5.0)
    with Running(reader) as run:
        run.events.wait_for(ReaderDisconnected)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0


def test_other_threads_go_through_submit(sim):
    reader = fast_reader(sim.start_pty())
    with Running(reader) as run:
        run.events.wait_for(ReaderConnected)
        with pytest.raises(RuntimeError, match="submit"):
            reader.transact(*p.SAM_STATUS)
        results = reader.submit(reader.self_test).result(timeout=5)
        assert all(r.status is CheckStatus.OK for r in results)
        assert reader.is_open  # self_test did not close the running connection


def test_a_failing_event_handler_does_not_kill_the_device_thread(sim):
    calls: list[object] = []

    def handler(event: object) -> None:
        calls.append(event)
        raise ValueError("UI bug")

    stop = threading.Event()
    thread = threading.Thread(target=fast_reader(sim.start_pty()).run, args=(stop, handler), daemon=True)
    thread.start()
    try:
        # every event before it raised too: the thread lived on to read the card
        wait_until(lambda: any(isinstance(e, CardRead) for e in calls), 5, what="a CardRead")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_trace_log_never_contains_clear_personal_data(sim, caplog):
    caplog.set_level(logging.DEBUG)
    sim.faults.bad_checksum = False
    with Running(fast_reader(sim.start_pty())) as run:
        event = run.events.wait_for(CardRead)
        logging.getLogger("test").info("event %s %r", event, event)  # an app logging events by mistake
    text = caplog.text
    assert "tx cmd=30 para=01" in text and "sw3=90" in text  # the trace is there...
    for secret in (CLEAR_ID, CLEAR_NAME, "建国路", CLEAR_ID.encode("utf-16-le").hex()):
        assert secret not in text  # ...without personal data


def test_a_card_back_within_one_poll_is_not_read_twice(sim):
    """The rule is "find must fail between two reads": a swap faster than a poll is not seen."""
    with Running(fast_reader(sim.start_pty(), poll_interval_s=0.3)) as run:
        run.events.wait_for(CardRead)
        sim.lift_and_replace()  # before the next find, which still sees a card
        wait_polls(sim, 2)
        assert len(run.events.of(CardRead)) == 1


def test_start_simulated_reader_helper():
    url, sim = start_simulated_reader(CARDS / "hk_mo_tw.json")
    try:
        with fast_reader(url) as reader:
            text = reader.read_card().text
        assert text.card_type == "hk_mo_tw" and text.pass_number == "H01234567"
    finally:
        sim.stop()


# --- only valid persons are reads; slow is not silent; unplugged is not silent ---------------------


def test_card_problem_accepts_every_simulator_card_and_names_faults_without_data():
    from drivers.idcard.simulator import load_profile as load
    from drivers.idcard.text import card_problem, parse_text

    for path in sorted(CARDS.glob("*.json")):
        assert card_problem(parse_text(load(path).text)) is None, path.name
    bad = parse_text(profile_from_fields(name="张三", id_number="110105195003070018").text)
    assert card_problem(bad) == "ID number fails its check character"
    assert card_problem(parse_text(b"\xff" * 256)) is not None


def test_garbage_card_data_is_a_read_failure_not_a_read(sim):
    sim.insert(profile_from_fields("garbled", name="张三", id_number="11010519500307001Z"))
    with Running(fast_reader(sim.start_pty())) as run:
        failed = run.events.wait_for(CardReadFailed)
        assert isinstance(failed.error, p.InvalidCardData) and failed.error.code == "IDCARD_INVALID_DATA"
        assert "张三" not in str(failed.error) and "110105" not in str(failed.error)
        sim.insert(load_profile(CARDS / "resident.json"))  # the resident puts the right card down
        _assert_resident(run.events.wait_for(CardRead))
        assert len(run.events.of(CardRead)) == 1


def test_slow_reader_is_reported_as_slow_not_silent(sim):
    with Running(fast_reader(sim.start_pty(), late_grace_s=1.0)) as run:
        run.events.wait_for(CardRead)
        sim.faults.slow_reply_s = 0.5  # after the 0.3 s reply timeout, well within the grace period
        gone = run.events.wait_for(ReaderDisconnected)
        assert gone.cause == "slow" and "too slowly" in gone.reason
        sim.faults.slow_reply_s = 0.0
        run.events.wait_for(ReaderConnected)


def test_silent_and_unplugged_have_their_own_causes(sim):
    with Running(fast_reader(sim.start_pty())) as run:
        run.events.wait_for(CardRead)
        sim.faults.silent = True
        assert run.events.wait_for(ReaderDisconnected).cause == "silent"
        sim.faults.silent = False
        run.events.wait_for(ReaderConnected)
        sim.unplug()
        assert run.events.wait_for(ReaderDisconnected).cause == "unplugged"


def test_missing_port_cause_is_unavailable(tmp_path):
    with Running(fast_reader(str(tmp_path / "absent"))) as run:
        assert run.events.wait_for(ReaderDisconnected).cause == "unavailable"
