"""The platform's common message envelope (《医疗保障信息平台定点医药机构接口规范》): pure
building and parsing, plus the msgid sequence.

Request: `infno` (4), `msgid` (30 = fixmedins_code 12 + yyyyMMddHHmmss 14 + sequence 4),
`mdtrtarea_admvs` (6, 就医地医保区划 — spelled without the underscore in the published field
list), `insuplc_admdvs` (6, 参保地; empty until 1101 tells it), `recer_sys_code` (10), `dev_no`
(100), `dev_safe_info` (2000), `cainfo` (1024), `signtype` (10), `infver` (6), `opter_type` (3:
1 经办人, 2 自助终端, 3 移动终端), `opter` (30), `opter_name` (50), `inf_time` (19,
yyyy-MM-dd HH:mm:ss), `fixmedins_code` (12), `fixmedins_name` (50), `sign_no` (30), `input`.
Response: `infcode` (0 success, anything else a refusal), `inf_refmsgid` (30), `refmsg_time`
and `respond_time` (17, yyyyMMddHHmmssSSS), `err_msg` (200), `output`.

msgid uniqueness: a process *claims* a whole second under an exclusive file lock and persists
it (fsync) before issuing its first msgid in that second; a claim is always later than any second
claimed before (by this or another process, before or after a restart, whatever the clock
says). Within a claimed second a process numbers 0000–9999; the 10 001st call claims the next
second. So two messages never share a msgid, even with several hub workers on one institution
code or a clock that steps back.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

# field → maximum length, in the order the specification lists them
REQUEST_FIELDS: dict[str, int] = {
    "infno": 4, "msgid": 30, "mdtrtarea_admvs": 6, "insuplc_admdvs": 6, "recer_sys_code": 10, "dev_no": 100,
    "dev_safe_info": 2000, "cainfo": 1024, "signtype": 10, "infver": 6, "opter_type": 3, "opter": 30,
    "opter_name": 50, "inf_time": 19, "fixmedins_code": 12, "fixmedins_name": 50, "sign_no": 30,
}
RESPONSE_FIELDS: dict[str, int] = {"infcode": 4, "inf_refmsgid": 30, "refmsg_time": 17, "respond_time": 17, "err_msg": 200}
MSGID_TIME_FORMAT = "%Y%m%d%H%M%S"
INF_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class EnvelopeError(ValueError):
    """A request that would break the specification (a field too long, a bad msgid)."""


class MalformedReply(ValueError):
    """The platform's reply is not an envelope we can trust (not JSON, missing fields, wrong types)."""


@dataclass(frozen=True)
class Institution:
    """Who is asking: the 定点医药机构 and its operator (from `[upstream]`)."""
    fixmedins_code: str
    fixmedins_name: str
    mdtrtarea_admvs: str
    recer_sys_code: str = "YBKIOSK"
    infver: str = "V1.0"
    opter_type: str = "2"  # 自助终端
    opter: str = "KIOSK-HUB"
    opter_name: str = "医保自助终端"
    dev_no: str = ""
    signtype: str = ""


@dataclass(frozen=True)
class Reply:
    infcode: int
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str
    output: Any

    @property
    def ok(self) -> bool:
        return self.infcode == 0

    def __repr__(self) -> str:  # the output holds personal data
        return f"Reply(infcode={self.infcode}, inf_refmsgid={self.inf_refmsgid!r}, output=<{type(self.output).__name__}>)"


def build_request(institution: Institution, infno: str, msgid: str, input_: dict[str, Any],
                  insuplc_admdvs: str = "", now: dt.datetime | None = None, sign_no: str = "", cainfo: str = "") -> dict[str, Any]:
    """The envelope as the platform wants it: every field present (empty strings, not nulls),
    lengths checked here so a bad configuration fails before anything leaves the hub."""
    now = now or dt.datetime.now()
    message = {
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": institution.mdtrtarea_admvs, "insuplc_admdvs": insuplc_admdvs,
        "recer_sys_code": institution.recer_sys_code, "dev_no": institution.dev_no, "dev_safe_info": "", "cainfo": cainfo,
        "signtype": institution.signtype, "infver": institution.infver, "opter_type": institution.opter_type,
        "opter": institution.opter, "opter_name": institution.opter_name, "inf_time": now.strftime(INF_TIME_FORMAT),
        "fixmedins_code": institution.fixmedins_code, "fixmedins_name": institution.fixmedins_name, "sign_no": sign_no,
        "input": input_,
    }
    check_request(message)
    return message


def check_request(message: dict[str, Any]) -> None:
    for name, limit in REQUEST_FIELDS.items():
        value = message.get(name)
        if not isinstance(value, str):
            raise EnvelopeError(f"{name}: expected text")
        if len(value) > limit:
            raise EnvelopeError(f"{name}: {len(value)} characters, at most {limit}")
    if not (len(message["infno"]) == 4 and message["infno"].isdigit()):
        raise EnvelopeError("infno: expected 4 digits")
    if not msgid_valid(message["msgid"], message["fixmedins_code"]):
        raise EnvelopeError("msgid: expected fixmedins_code (12) + yyyyMMddHHmmss + 4-digit sequence")
    for name in ("mdtrtarea_admvs", "insuplc_admdvs"):
        if message[name] and not (len(message[name]) == 6 and message[name].isdigit()):
            raise EnvelopeError(f"{name}: expected a 6-digit division code")
    if not isinstance(message.get("input"), dict):
        raise EnvelopeError("input: expected an object")


def msgid_valid(msgid: str, fixmedins_code: str) -> bool:
    if len(msgid) != 30 or len(fixmedins_code) != 12 or not msgid.startswith(fixmedins_code) or not msgid[12:].isdigit():
        return False
    try:
        dt.datetime.strptime(msgid[12:26], MSGID_TIME_FORMAT)
    except ValueError:
        return False
    return True


def parse_reply(body: bytes | str) -> Reply:
    """Parse a reply; anything that is not a proper envelope is `MalformedReply` (never a KeyError)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedReply("reply is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedReply("reply is not an object")
    raw = data.get("infcode")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise MalformedReply("infcode missing")
    try:
        infcode = int(str(raw).strip())
    except ValueError:
        raise MalformedReply("infcode is not a number") from None
    texts = {}
    for name in ("inf_refmsgid", "refmsg_time", "respond_time", "err_msg"):
        value = data.get(name)
        if value is None:
            value = ""
        if not isinstance(value, (str, int)):
            raise MalformedReply(f"{name} is not text")
        texts[name] = str(value)
    output = data.get("output")
    if infcode == 0 and not isinstance(output, (dict, list)):
        raise MalformedReply("a successful reply without output")
    return Reply(infcode, texts["inf_refmsgid"], texts["refmsg_time"], texts["respond_time"], texts["err_msg"][:200], output)


def build_reply(request_msgid: str, infcode: int, output: Any = None, err_msg: str = "", admdvs: str = "000000",
                serial: int = 0, received: dt.datetime | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The platform side (the simulator): inf_refmsgid = receiver's division (6) + time (14) +
    serial (10); refmsg_time/respond_time to the millisecond."""
    now = now or dt.datetime.now()
    received = received or now
    del request_msgid  # the platform does not echo it; kept in the signature for callers' clarity
    return {
        "infcode": infcode, "inf_refmsgid": f"{admdvs[:6]:0>6}{now:%Y%m%d%H%M%S}{serial % 10**10:010d}",
        "refmsg_time": received.strftime("%Y%m%d%H%M%S%f")[:17], "respond_time": now.strftime("%Y%m%d%H%M%S%f")[:17],
        "err_msg": err_msg[:200], "output": output if output is not None else {},
    }


@dataclass
class MsgIdSequence:
    """msgids for one institution code; `state_file` holds the last claimed second (see module doc)."""
    fixmedins_code: str
    state_file: Path
    clock: Callable[[], float] = time.time
    _second: int = field(default=-1, init=False)
    _next: int = field(default=10_000, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.fixmedins_code) != 12:
            raise EnvelopeError(f"fixmedins_code: expected 12 characters, got {len(self.fixmedins_code)}")
        self.state_file = Path(self.state_file)

    def next(self) -> str:
        with self._lock:
            if self._next > 9999 or int(self.clock()) > self._second:
                self._second, self._next = self._claim(int(self.clock())), 0
            n = self._next
            self._next += 1
            stamp = time.strftime(MSGID_TIME_FORMAT, time.localtime(self._second))
            return f"{self.fixmedins_code}{stamp}{n:04d}"

    def _claim(self, now: int) -> int:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 64).decode("ascii", "replace").strip()
            last = int(text) if text.isdigit() else -1
            claimed = max(now, last + 1, self._second + 1)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{claimed}\n".encode())
            os.fsync(fd)
            return claimed
        finally:
            os.close(fd)  # closing releases the lock
