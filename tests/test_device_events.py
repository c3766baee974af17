"""kiosk/devices translates driver events into the app's typed events; one card → Person mapping
that fails loudly (logged, ReadFailed) when a driver field is missing; one error → message
mapping that never shows a Python exception's text."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading

import pytest

from drivers.idcard import reader as idcard
from drivers.idcard.text import IdCardText
from drivers.qrscan import serial_scanner as qrscan
from drivers.sscard import reader as sscard
from drivers.sscard.errors import SsCardError
from drivers.sscard.records import SsCardData
from kiosk.services.device_board import DeviceBoard
from kiosk.devices.cards import CardFieldMissing, person_from_idcard, person_from_sscard
from kiosk.devices.events import (CardPresented, DeviceStateChanged, PersonRead, ReadFailed, VoucherScanned,
                                  translate)
from kiosk.devices.tasks import INTERNAL, InternalError, user_error
from kiosk.errors import UserFacingError

TEXT = IdCardText(card_type="resident", name="张三", sex="男", nation="汉", birth_date=dt.date(1949, 12, 31),
                  address="北京市东城区示例街道1号", id_number="11010519491231002X", issuer="北京市公安局东城分局",
                  valid_from=dt.date(2015, 1, 1), valid_until="长期")
SSDATA = SsCardData(card_id="110105D15600000500BF7C7A48FB4966", card_type="1", spec_version="3.00",
                    issuer_org="110100000000", issue_date=dt.date(2020, 1, 1), expiry_date=dt.date(2030, 1, 1),
                    card_number="A00000001", id_number="110105195001010012", name="王五", sex="1", nation="01",
                    birthplace="110105", birth_date=dt.date(1950, 1, 1))


def test_idcard_text_maps_to_a_person_with_evidence() -> None:
    person = person_from_idcard(TEXT)
    assert (person.name, person.id_number, person.source, person.card_valid_until) == ("张三", "11010519491231002X", "idcard", "长期")
    assert person.birth_date == dt.date(1949, 12, 31)
    assert person.extra == {"id_issuer": "北京市公安局东城分局", "id_valid_from": "2015-01-01", "id_valid_until": "长期"}


def test_foreign_card_takes_the_chinese_then_english_name() -> None:
    foreign = dataclasses.replace(TEXT, card_type="foreign", name="", chinese_name="", english_name="SMITH JOHN")
    assert person_from_idcard(foreign).name == "SMITH JOHN"


def test_sscard_data_maps_to_a_person() -> None:
    person = person_from_sscard(SSDATA)
    assert (person.name, person.id_number, person.source, person.card_valid_until) == ("王五", "110105195001010012", "sscard", dt.date(2030, 1, 1))
    assert person.extra == {"card_number": "A00000001"}


class _RenamedText:
    """A driver record whose name field was renamed: the mapping must not give an empty name."""

    def __init__(self) -> None:
        for f in dataclasses.fields(IdCardText):
            setattr(self, "full_name" if f.name == "name" else f.name, getattr(TEXT, f.name))


def test_a_missing_driver_field_is_a_loud_error_not_an_empty_name(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(CardFieldMissing) as raised:
        person_from_idcard(_RenamedText())
    assert raised.value.field_name == "name" and "name" in str(raised.value)
    read = idcard.IdCardRead(text=_RenamedText())  # type: ignore[arg-type]  (the point: a wrong record)
    with caplog.at_level(logging.ERROR, logger="kiosk.devices.events"):
        event = translate("idcard", idcard.CardRead(read, reply_received_at=1.0))
    assert isinstance(event, ReadFailed) and event.error.code == "CARD_FIELDS"
    assert "请重新放卡" in event.error.message("zh_CN") and "place it again" in event.error.message("en")
    assert "no field 'name'" in caplog.text
    assert "张三" not in caplog.text and "11010519491231002X" not in caplog.text  # never the card's data


def test_driver_events_become_typed_app_events() -> None:
    read = translate("idcard", idcard.CardRead(idcard.IdCardRead(text=TEXT), reply_received_at=12.5))
    assert isinstance(read, PersonRead) and read.person.name == "张三" and read.reply_received_at == 12.5
    assert "张三" not in repr(read)
    ss = translate("sscard", sscard.CardRead(SSDATA))
    assert isinstance(ss, PersonRead) and ss.person.source == "sscard" and ss.reply_received_at is None
    assert translate("idcard", idcard.CardPlaced()) == CardPresented("idcard")
    assert translate("sscard", sscard.CardInserted("3B00")) == CardPresented("sscard")
    assert translate("idcard", idcard.ReaderConnected("/dev/x")) == DeviceStateChanged("idcard", "ok")
    assert translate("idcard", idcard.ReaderDisconnected("/dev/x", "gone")) == DeviceStateChanged("idcard", "missing")
    assert translate("sscard", sscard.ReaderAttached("r")) == DeviceStateChanged("sscard", "ok")
    assert translate("sscard", sscard.ReaderDetached("r")) == DeviceStateChanged("sscard", "missing")
    assert translate("sscard", sscard.PcscUnavailable("no pcscd")) == DeviceStateChanged("sscard", "error")
    assert translate("qrscan", qrscan.ScannerConnected("/dev/y")) == DeviceStateChanged("qrscan", "ok")
    assert translate("qrscan", qrscan.ScannerDisconnected("/dev/y")) == DeviceStateChanged("qrscan", "missing")
    assert translate("qrscan", qrscan.VoucherScanned("YBPZ-1")) == VoucherScanned("qrscan", "YBPZ-1")
    error = SsCardError()
    assert translate("sscard", sscard.CardReadFailed(error)) == ReadFailed("sscard", error)
    assert translate("idcard", idcard.CardRemoved()) is None
    assert translate("qrscan", qrscan.GarbageRejected("binary", 3)) is None


def test_a_crashed_device_thread_is_an_error_state(qtbot) -> None:
    from kiosk.devices.threads import DeviceChannel, DeviceThread

    class Broken:
        def run(self, stop: threading.Event, on_event) -> None:
            on_event(idcard.ReaderConnected("/dev/x"))
            raise RuntimeError("driver bug")

    channel = DeviceChannel()
    seen: list[object] = []
    channel.event.connect(lambda device, event: seen.append(event))
    board = DeviceBoard({"idcard": "unknown"})
    thread = DeviceThread("idcard", Broken(), channel, board.set)
    thread.start()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    thread.stop()
    assert seen == [DeviceStateChanged("idcard", "ok"), DeviceStateChanged("idcard", "error")]
    assert board.snapshot() == {"idcard": "error"}  # the heartbeat says so too


def test_device_board_follows_the_typed_events(qtbot) -> None:
    from kiosk.devices.threads import DeviceChannel, DeviceThread

    class Reader:
        def run(self, stop: threading.Event, on_event) -> None:
            on_event(idcard.ReaderDisconnected("/dev/x", "unplugged"))
            states.append(board.snapshot()["idcard"])
            on_event(idcard.CardPlaced())  # a reader that sees a card works
            states.append(board.snapshot()["idcard"])
            on_event(idcard.CardRemoved())  # says nothing of the reader's state
            states.append(board.snapshot()["idcard"])

    states: list[str] = []
    board = DeviceBoard({"idcard": "unknown"})
    thread = DeviceThread("idcard", Reader(), DeviceChannel(), board.set)
    thread.start()
    qtbot.waitUntil(lambda: len(states) == 3, timeout=5000)
    thread.stop()
    assert states == ["missing", "ok", "ok"]


def test_user_error_never_shows_exception_text(caplog: pytest.LogCaptureFixture) -> None:
    safe = UserFacingError("X", "中文", "English")
    assert user_error(safe) is safe
    try:
        raise KeyError("110105195001010012 secret internals")
    except KeyError as exc:
        with caplog.at_level(logging.ERROR, logger="kiosk.devices.tasks"):
            shown = user_error(exc)
    assert isinstance(shown, InternalError) and shown.code == INTERNAL
    assert len(shown.reference) == 6
    for language in ("zh_CN", "en"):
        text = shown.message(language)
        assert shown.reference in text and "secret" not in text and "KeyError" not in text
    assert shown.reference in caplog.text and "Traceback" in caplog.text  # the details are in the log
