"""The resident ID card reader's SAM serial protocol: frames as bytes, status words as exceptions.

Pure functions over bytes, no I/O. A frame is `AA AA AA 96 69`, a 2-byte big-endian length that
counts everything after itself (body + checksum), the body, and a checksum that is the XOR of every
byte from the first length byte to the byte before the checksum. A request body is CMD PARA [data];
a reply body is SW1 SW2 SW3 [data].

Error messages here never carry card data: they are shown to residents and written to logs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

from drivers.errors import DriverError

PREAMBLE = bytes.fromhex("AAAAAA9669")

# Largest frame body we accept. `30 10` (text + photo + fingerprints) is ~2.3 KB; anything claiming
# more is a corrupted length field, and waiting for it would stall the link for no reason.
MAX_LENGTH = 4096
MIN_REPLY_LENGTH = 4  # SW1 SW2 SW3 + checksum
MIN_REQUEST_LENGTH = 3  # CMD PARA + checksum

# Commands (CMD, PARA)
RESET_SAM = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
READ_NEWEST_ADDRESS = (0x30, 0x03)
READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)
SET_BAUD = 0x60

# SW3 values that mean success
SW3_OK = 0x90
SW3_FOUND = 0x9F


# --- errors -----------------------------------------------------------------------------------


class IdCardProtocolError(DriverError):
    """Base of every ID-card reader error (the `DriverError` shape). `code` is stable;
    `message_zh`/`message_en` are safe to show a resident; `detail` is for technicians (English,
    never card data); `sw3` is the reader's status byte when it gave one."""

    code = "IDCARD_ERROR"
    message_zh = "身份证读卡器出错"
    message_en = "ID card reader error"

    def __init__(self, detail: str = "", sw3: int | None = None) -> None:
        super().__init__(detail)
        self.sw3 = sw3


class FrameError(IdCardProtocolError):
    """A received frame was damaged on the wire; the decoder has resynchronised."""

    code = "IDCARD_FRAME"
    message_zh = "读卡器通信数据错误，请重试"
    message_en = "Corrupted data from the ID card reader; please try again"


class FrameChecksumError(FrameError):
    code = "IDCARD_FRAME_CHECKSUM"


class FrameLengthError(FrameError):
    code = "IDCARD_FRAME_LENGTH"


class ReplyTimeout(IdCardProtocolError):
    code = "IDCARD_TIMEOUT"
    message_zh = "读卡器无响应"
    message_en = "The ID card reader did not answer"


class SlowReply(ReplyTimeout):
    """The reader did answer, but after the reply timeout (a wrong baud rate setting on a USB
    adapter, an overloaded hub, a failing SAM): not the same fault as silence, so not the same
    message."""

    code = "IDCARD_SLOW"
    message_zh = "身份证读卡器响应太慢，请联系工作人员"
    message_en = "The ID card reader answered too slowly; call staff"


class StatusError(IdCardProtocolError):
    """The reader answered with an SW3 that is not success for the command."""

    code = "IDCARD_STATUS"


class NoCard(StatusError):
    code = "IDCARD_NO_CARD"
    message_zh = "未检测到身份证，请将身份证放在感应区"
    message_en = "No ID card found; place the card on the reader"


class SelectFailed(StatusError):
    code = "IDCARD_SELECT_FAILED"
    message_zh = "身份证选卡失败，请重新放置身份证"
    message_en = "Could not select the ID card; place it again"


class ReadFailed(StatusError):
    code = "IDCARD_READ_FAILED"
    message_zh = "读卡失败，请将身份证平放在感应区，不要移动"
    message_en = "Reading the ID card failed; keep the card still on the reader"


class NoContent(StatusError):
    code = "IDCARD_NO_CONTENT"
    message_zh = "身份证中没有该项内容"
    message_en = "The card has no content for this request"


class DeviceChecksumError(StatusError):
    """The reader says our request had a bad checksum (SW3 10)."""

    code = "IDCARD_DEVICE_CHECKSUM"
    message_zh = "读卡器通信校验错误，请重试"
    message_en = "The reader rejected a request checksum; please try again"


class DeviceLengthError(StatusError):
    code = "IDCARD_DEVICE_LENGTH"
    message_zh = "读卡器通信长度错误，请重试"
    message_en = "The reader rejected a request length; please try again"


class BadCommand(StatusError):
    code = "IDCARD_BAD_COMMAND"
    message_zh = "读卡器不支持该命令"
    message_en = "The reader does not support this command"


class NotPermitted(StatusError):
    code = "IDCARD_NOT_PERMITTED"
    message_zh = "读卡器拒绝了该操作"
    message_en = "The reader does not permit this operation"


class UnknownDeviceError(StatusError):
    code = "IDCARD_UNKNOWN_ERROR"
    message_zh = "读卡器内部错误，请重试"
    message_en = "The reader reported an unknown error; please try again"


class AuthenticationError(StatusError):
    code = "IDCARD_AUTH"
    message_zh = "身份证认证失败，请重新放置身份证"
    message_en = "Card authentication failed; place the card again"


class UnknownCardType(StatusError):
    code = "IDCARD_UNKNOWN_CARD"
    message_zh = "无法识别的卡片，请放置居民身份证"
    message_en = "Unrecognised card; place a resident ID card"


class RandomNumberFailed(StatusError):
    code = "IDCARD_RANDOM"
    message_zh = "身份证认证失败，请重新放置身份证"
    message_en = "Card authentication failed (random number); place the card again"


class SamError(StatusError):
    code = "IDCARD_SAM"
    message_zh = "读卡器安全模块故障，请联系工作人员"
    message_en = "The reader's security module (SAM) failed; call staff"


class SamSelfTestFailed(SamError):
    code = "IDCARD_SAM_SELF_TEST"


class SamNotAuthorised(SamError):
    code = "IDCARD_SAM_NOT_AUTHORISED"
    message_zh = "读卡器安全模块未授权，请联系工作人员"
    message_en = "The reader's security module (SAM) is not authorised; call staff"


class UnexpectedStatus(StatusError):
    code = "IDCARD_UNEXPECTED_STATUS"


class BadCardData(IdCardProtocolError):
    """A success reply whose data does not have the documented shape."""

    code = "IDCARD_BAD_DATA"
    message_zh = "读卡数据不完整，请重新放置身份证"
    message_en = "Incomplete card data; place the card again"


class InvalidCardData(BadCardData):
    """The reply had the right shape but its text is not a valid person (no name, an ID number
    failing its check character, an unknown card type): never reported as a successful read."""

    code = "IDCARD_INVALID_DATA"
    message_zh = "证件信息无法识别，请重新放置证件；仍不行请到人工窗口办理"
    message_en = "The card data is not a valid ID card; place the card again, or go to the counter"


# One table maps SW3 to exceptions, instead of ifs scattered over the reader.
SW3_ERRORS: dict[int, type[StatusError]] = {
    0x80: NoCard,
    0x81: SelectFailed,
    0x41: ReadFailed,
    0x91: NoContent,
    0x10: DeviceChecksumError,
    0x11: DeviceLengthError,
    0x21: BadCommand,
    0x23: NotPermitted,
    0x24: UnknownDeviceError,
    0x31: AuthenticationError,
    0x32: AuthenticationError,
    0x33: AuthenticationError,
    0x40: UnknownCardType,
    0x47: RandomNumberFailed,
    0x60: SamSelfTestFailed,
    0x66: SamNotAuthorised,
}


# --- frames -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes = field(default=b"", repr=False)  # may hold card data: never in a repr

    def __repr__(self) -> str:
        return f"Reply(sw1=0x{self.sw1:02X}, sw2=0x{self.sw2:02X}, sw3=0x{self.sw3:02X}, len={len(self.data)})"


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes = b""


def checksum(data: bytes) -> int:
    """XOR of `data`, which runs from the first length byte to the byte before the checksum."""
    return reduce(lambda acc, b: acc ^ b, data, 0)


def _frame(body: bytes) -> bytes:
    length = len(body) + 1
    if length > 0xFFFF:
        raise ValueError("frame body too long")
    head = length.to_bytes(2, "big") + body
    return PREAMBLE + head + bytes([checksum(head)])


def build_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    """`build_request(0x20, 0x01)` → `AA AA AA 96 69 00 03 20 01 22`."""
    return _frame(bytes([cmd & 0xFF, para & 0xFF]) + bytes(data))


def build_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return _frame(bytes([sw1 & 0xFF, sw2 & 0xFF, sw3 & 0xFF]) + bytes(data))


def check_reply(reply: Reply, ok: int | tuple[int, ...] = SW3_OK) -> Reply:
    """Return `reply` if its SW3 is one of `ok`, else raise the matching `StatusError`."""
    allowed = (ok,) if isinstance(ok, int) else ok
    if reply.sw3 in allowed:
        return reply
    error = SW3_ERRORS.get(reply.sw3, UnexpectedStatus)
    raise error(f"SW3=0x{reply.sw3:02X}", sw3=reply.sw3)


class _FrameScanner:
    """Finds preamble-delimited, checksum-valid frame bodies in a byte stream.

    Resynchronisation rule: anything before a preamble is dropped; a frame with an impossible
    length or a bad checksum is reported and scanning restarts one byte after its preamble, so a
    real frame hidden behind a corrupted one is still found. The buffer never exceeds one maximal
    frame, so memory and time per byte are bounded.
    """

    def __init__(self, min_length: int) -> None:
        self._min_length = min_length
        self._buf = bytearray()
        self.discarded_bytes = 0

    def reset(self) -> None:
        self._buf.clear()

    def __len__(self) -> int:
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[bytes | FrameError]:
        self._buf += chunk
        out: list[bytes | FrameError] = []
        buf = self._buf
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                keep = _partial_preamble_suffix(buf)
                self.discarded_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if start:
                self.discarded_bytes += start
                del buf[:start]
            if len(buf) < 7:
                return out
            length = int.from_bytes(buf[5:7], "big")
            if not self._min_length <= length <= MAX_LENGTH:
                out.append(FrameLengthError(f"length field {length}"))
                self.discarded_bytes += 1
                del buf[:1]
                continue
            end = 7 + length
            if len(buf) < end:
                return out
            if checksum(buf[5 : end - 1]) != buf[end - 1]:
                out.append(FrameChecksumError(f"frame of length {length}"))
                self.discarded_bytes += 1
                del buf[:1]
                continue
            out.append(bytes(buf[7 : end - 1]))
            del buf[:end]


def _partial_preamble_suffix(buf: bytearray) -> int:
    """Length of the longest tail of `buf` that could be the start of a preamble."""
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0


class FrameDecoder:
    """Reply decoder fed arbitrary chunks: `feed(chunk)` → list of `Reply` or `FrameError`.

    Bad frames come back as `FrameError` values (not raised) so one corrupted frame never loses
    the good ones around it. Never raises on any input.
    """

    def __init__(self) -> None:
        self._scanner = _FrameScanner(MIN_REPLY_LENGTH)

    @property
    def discarded_bytes(self) -> int:
        return self._scanner.discarded_bytes

    @property
    def buffered(self) -> int:
        return len(self._scanner)

    def reset(self) -> None:
        self._scanner.reset()

    def feed(self, chunk: bytes) -> list[Reply | FrameError]:
        return [
            item if isinstance(item, FrameError) else Reply(item[0], item[1], item[2], item[3:])
            for item in self._scanner.feed(chunk)
        ]


class RequestDecoder:
    """The device side (simulator): `feed(chunk)` → list of `Request` or `FrameError`."""

    def __init__(self) -> None:
        self._scanner = _FrameScanner(MIN_REQUEST_LENGTH)

    def reset(self) -> None:
        self._scanner.reset()

    def feed(self, chunk: bytes) -> list[Request | FrameError]:
        return [
            item if isinstance(item, FrameError) else Request(item[0], item[1], item[2:])
            for item in self._scanner.feed(chunk)
        ]


# --- payloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardData:
    """The data of a `30 01` / `30 10` reply, split into its parts."""

    text: bytes = field(repr=False)
    photo: bytes = field(repr=False)
    fingerprint: bytes = field(default=b"", repr=False)


def parse_card_data(data: bytes, with_fingerprint: bool = False) -> CardData:
    """`30 01` data: text length (2, BE), photo length (2, BE), text, photo. `30 10` adds a
    fingerprint length after the photo length and the fingerprint after the photo."""
    header = 6 if with_fingerprint else 4
    if len(data) < header:
        raise BadCardData(f"card data of {len(data)} bytes")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    fp_len = int.from_bytes(data[4:6], "big") if with_fingerprint else 0
    if header + text_len + photo_len + fp_len > len(data) or text_len == 0:
        raise BadCardData(f"lengths {text_len}/{photo_len}/{fp_len} for {len(data)} bytes")
    text = data[header : header + text_len]
    photo = data[header + text_len : header + text_len + photo_len]
    fingerprint = data[header + text_len + photo_len : header + text_len + photo_len + fp_len]
    return CardData(bytes(text), bytes(photo), bytes(fingerprint))


def build_card_data(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    head = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
    if fingerprint is None:
        return head + text + photo
    return head + len(fingerprint).to_bytes(2, "big") + text + photo + fingerprint


def format_sam_id(data: bytes) -> str:
    """SAM ID reply data (16 bytes, little-endian fields) → the printed form `05.01-20101112-...`."""
    if len(data) < 16:
        return data.hex().upper()
    a = int.from_bytes(data[0:2], "little")
    b = int.from_bytes(data[2:4], "little")
    c = int.from_bytes(data[4:8], "little")
    d = int.from_bytes(data[8:12], "little")
    e = int.from_bytes(data[12:16], "little")
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"
