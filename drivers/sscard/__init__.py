"""Social-security card (社保卡) over PC/SC: APDUs, record parsing, reader thread, vpcd emulator."""
from drivers.sscard.errors import (
    CardMute,
    CardRemovedError,
    FileNotFound,
    MalformedRecord,
    NoCard,
    NoReader,
    PcscUnavailableError,
    PyscardMissing,
    ReadTimeout,
    RecordNotFound,
    SecurityNotSatisfied,
    SsCardError,
    UnexpectedStatus,
    WrongLength,
    WrongParameters,
)
from drivers.sscard.reader import (
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
    PcscUnavailable,
    ReaderAttached,
    ReaderDetached,
    SsCardEvent,
    SsCardMonitor,
    read_reader,
    read_sscard,
    self_test,
)
from drivers.sscard.records import SsCardData

__all__ = [
    "CardInserted", "CardMute", "CardRead", "CardReadFailed", "CardRemoved", "CardRemovedError",
    "FileNotFound", "MalformedRecord", "NoCard", "NoReader", "PcscUnavailable", "PcscUnavailableError",
    "PyscardMissing", "ReadTimeout", "ReaderAttached", "ReaderDetached", "RecordNotFound", "SecurityNotSatisfied",
    "SsCardData", "SsCardError", "SsCardEvent", "SsCardMonitor", "UnexpectedStatus", "WrongLength",
    "WrongParameters", "read_reader", "read_sscard", "self_test",
]
