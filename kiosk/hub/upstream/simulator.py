"""A simulator of the provincial 医保信息平台: the same HTTP + JSON messages as the real one,
so the hub's client runs unchanged against it (`kiosk hub platform-sim`, `kiosk demo`, tests).

Endpoints: `POST /fsi/api/callService` (the envelope; 1101 and 5301) and
`POST /ec/api/localQrCodeQuery` (电子凭证 `ec.query`). A request is checked the way a gateway
would: signature headers (when keys are set), every envelope field present and within its
length, a well-formed msgid that was never seen before (a repeat is refused with infcode -1).
E-voucher codes of the form `YBPZ-DEMO-<ID number>` decode to that person with a fresh
ecToken, which 1101 then accepts with `mdtrt_cert_type = 01` for ten minutes.

`Faults` can be flipped at any time (tests flip them in-process; the command takes flags):
`delay_s` (answer late: the client's timeout), `infcode` + `err_msg` (refuse every transaction),
`malformed` (a reply that is not an envelope), `http_status` (the gateway fails), each limited to
some endpoints (`only`) and to the next `times` requests if set. Replies carry the header
`x-platform-simulator: 1`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kiosk.hub.upstream import signing
from kiosk.hub.upstream.client import SIMULATOR_HEADER, UpstreamSettings
from kiosk.hub.upstream.envelope import REQUEST_FIELDS, Institution, build_reply, msgid_valid
from kiosk.hub.upstream.population import Population, SimPerson

log = logging.getLogger(__name__)
TRANSACTION_PATH, EC_PATH = "/fsi/api/callService", "/ec/api/localQrCodeQuery"
VOUCHER_PREFIX = "YBPZ-DEMO-"
TOKEN_LIFETIME_S = 600
ENDPOINTS = ("1101", "5301", "ec.query")
SIM_ADMDVS = "110000"


@dataclass
class Faults:
    delay_s: float = 0.0
    infcode: int | None = None
    err_msg: str = "系统繁忙，请稍后再试"
    malformed: bool = False
    http_status: int | None = None
    only: frozenset[str] | None = None  # {"1101", "5301", "ec.query"}; None = every endpoint
    times: int | None = None  # fault the next N matching requests, then behave; None = until cleared

    def clear(self) -> None:
        """Back to no faults at all (every field at its default)."""
        for name, value in vars(Faults()).items():
            setattr(self, name, value)


@dataclass
class PlatformSimulator:
    population: Population = field(default_factory=Population)
    keys: dict[str, str] = field(default_factory=dict)  # access key → secret; empty = no signature required
    faults: Faults = field(default_factory=Faults)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (infno or ec.query, msgid) as received
    _seen: set[str] = field(default_factory=set)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _asked: dict[str, SimPerson] = field(default_factory=dict)  # psn_no → person, for 5301
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- faults ---------------------------------------------------------------------------------
    def _fault_for(self, endpoint: str) -> Faults | None:
        with self._lock:
            f = self.faults
            active = f.delay_s > 0 or f.infcode is not None or f.malformed or f.http_status is not None
            if not active or (f.only is not None and endpoint not in f.only):
                return None
            if f.times is not None:
                if f.times <= 0:
                    return None
                f.times -= 1
            return Faults(f.delay_s, f.infcode, f.err_msg, f.malformed, f.http_status)

    async def _apply(self, fault: Faults | None) -> Response | None:
        if fault is None:
            return None
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.http_status is not None:
            return Response(b"gateway error", fault.http_status, media_type="text/plain", headers={SIMULATOR_HEADER: "1"})
        if fault.malformed:
            return Response(b'<html><body>502 Bad Gateway</body></html>{"infcode":', 200, media_type="application/json",
                            headers={SIMULATOR_HEADER: "1"})
        return None

    def _signed(self, request: Request, body: bytes) -> str | None:
        if not self.keys:
            return None
        return signing.verify(dict(request.headers), body, self.keys)

    # -- the envelope ---------------------------------------------------------------------------
    async def transaction(self, request: Request) -> Response:
        received = dt.datetime.now()
        body = await request.body()
        if problem := self._signed(request, body):
            return JSONResponse({"code": 401, "message": problem}, 401, headers={SIMULATOR_HEADER: "1"})
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            message = None
        infno = str(message.get("infno", "")) if isinstance(message, dict) else ""
        fault = self._fault_for(infno)
        if (early := await self._apply(fault)) is not None:
            return early
        msgid = str(message.get("msgid", "")) if isinstance(message, dict) else ""
        with self._lock:
            self.calls.append((infno, msgid))
            serial = next(self._serial)
            repeated = msgid in self._seen
            self._seen.add(msgid)
        problem = self._envelope_problem(message, repeated)
        if problem:
            return self._reply(msgid, -1, err_msg=problem, serial=serial, received=received)
        if fault is not None and fault.infcode is not None:
            return self._reply(msgid, fault.infcode, err_msg=fault.err_msg, serial=serial, received=received)
        data = message["input"].get("data") if isinstance(message["input"].get("data"), dict) else {}
        if infno == "1101":
            infcode, output, err = self._person_info(data)
        elif infno == "5301":
            infcode, output, err = self._chronic_filings(data)
        else:
            infcode, output, err = -1, None, f"交易{infno}未开放"
        return self._reply(msgid, infcode, output, err, serial, received)

    @staticmethod
    def _envelope_problem(message: Any, repeated: bool) -> str:
        if not isinstance(message, dict):
            return "报文格式错误"
        for name, limit in REQUEST_FIELDS.items():
            value = message.get(name)
            if not isinstance(value, str):
                return f"缺少字段{name}"
            if len(value) > limit:
                return f"字段{name}超长"
        if not isinstance(message.get("input"), dict):
            return "缺少交易输入input"
        if not msgid_valid(message["msgid"], message["fixmedins_code"]):
            return "发送方报文ID格式错误"
        if repeated:
            return "发送方报文ID重复"
        return ""

    def _reply(self, msgid: str, infcode: int, output: Any = None, err_msg: str = "", serial: int = 0,
               received: dt.datetime | None = None) -> Response:
        body = build_reply(msgid, infcode, output, err_msg, SIM_ADMDVS, serial, received)
        return JSONResponse(body, headers={SIMULATOR_HEADER: "1"})

    def _person_info(self, data: dict[str, Any]) -> tuple[int, Any, str]:
        cert_type, cert_no, certno = (str(data.get(k, "") or "") for k in ("mdtrt_cert_type", "mdtrt_cert_no", "certno"))
        person: SimPerson | None
        if cert_type == "01":
            with self._lock:
                holder, expires = self._tokens.get(cert_no, ("", 0.0))
            if not holder or expires < time.monotonic():
                return -1, None, "电子凭证令牌无效或已过期"
            person = self.population.find(holder)
        elif cert_type == "02":
            person = self.population.find(cert_no)
        elif cert_type == "03":
            person = self.population.find(certno) if certno else self.population.find_card(cert_no)
            if person is not None and person.sscard_number != cert_no:
                return -1, None, "社会保障卡卡号与人员信息不符"
            if person is not None and not person.card_valid:
                return -1, None, "社会保障卡已失效"
        else:
            return -1, None, "就诊凭证类型错误"
        if person is None:
            return -1, None, "未查询到人员参保信息"
        if certno and certno.upper() != person.certno:
            return -1, None, "证件号码与就诊凭证不符"
        with self._lock:
            self._asked[person.psn_no] = person
        return 0, self._person_output(person), ""

    def _person_output(self, p: SimPerson) -> dict[str, Any]:
        today = self.population.today
        try:
            born = dt.date.fromisoformat(p.brdy)
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        except ValueError:
            age = None
        return {
            "baseinfo": {"psn_no": p.psn_no, "psn_cert_type": "01", "certno": p.certno, "psn_name": p.name,
                         "gend": p.gend, "naty": p.naty, "brdy": p.brdy, "age": age},
            "insuinfo": [{"balc": float(i.balc), "insutype": i.insutype, "psn_type": i.psn_type, "psn_insu_stas": i.stas,
                          "psn_insu_date": i.since, "paus_insu_date": i.paused, "cvlserv_flag": "0",
                          "insuplc_admdvs": i.admdvs or p.certno[:6], "emp_name": i.emp_name} for i in p.insured],
            "idetinfo": [],
        }

    def _chronic_filings(self, data: dict[str, Any]) -> tuple[int, Any, str]:
        psn_no = str(data.get("psn_no", "") or "")
        with self._lock:
            person = self._asked.get(psn_no)
        if person is None:
            return -1, None, "未查询到人员信息"
        return 0, {"feedetail": [{"opsp_dise_code": c, "opsp_dise_name": n, "begndate": b, "enddate": e}
                                 for c, n, b, e in person.diseases]}, ""

    # -- 电子凭证 -----------------------------------------------------------------------------------
    async def ec_query(self, request: Request) -> Response:
        body = await request.body()
        if problem := self._signed(request, body):
            return JSONResponse({"code": 401, "message": problem}, 401, headers={SIMULATOR_HEADER: "1"})
        fault = self._fault_for("ec.query")
        if (early := await self._apply(fault)) is not None:
            return early
        with self._lock:
            self.calls.append(("ec.query", ""))
        if fault is not None and fault.infcode is not None:
            return JSONResponse({"code": fault.infcode, "message": fault.err_msg, "data": None}, headers={SIMULATOR_HEADER: "1"})
        try:
            message = json.loads(body)
            code = str(message["data"]["ecQrCode"]).strip().upper()
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            return JSONResponse({"code": -1, "message": "请求报文格式错误", "data": None}, headers={SIMULATOR_HEADER: "1"})
        person = self.population.find(code[len(VOUCHER_PREFIX):]) if code.startswith(VOUCHER_PREFIX) else None
        if person is None:
            return JSONResponse({"code": -1, "message": "电子凭证二维码无效或已过期", "data": None}, headers={SIMULATOR_HEADER: "1"})
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = (person.certno, time.monotonic() + TOKEN_LIFETIME_S)
        data = {"idNo": person.certno, "idType": "01", "userName": person.name, "ecToken": token,
                "insuOrg": person.insured[0].admdvs or person.certno[:6], "ecIndexNo": secrets.token_hex(8),
                "gender": person.gend, "birthday": person.brdy, "nationality": "CHN"}
        return JSONResponse({"code": 0, "message": "成功", "data": data}, headers={SIMULATOR_HEADER: "1"})

    def app(self) -> Starlette:
        return Starlette(routes=[Route(TRANSACTION_PATH, self.transaction, methods=["POST"]),
                                 Route(EC_PATH, self.ec_query, methods=["POST"])])


@dataclass
class PlatformSimHandle:
    url: str
    sim: PlatformSimulator
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def faults(self) -> Faults:
        return self.sim.faults

    @property
    def transaction_url(self) -> str:
        return self.url + TRANSACTION_PATH

    @property
    def ec_url(self) -> str:
        return self.url + EC_PATH

    def settings(self, fixmedins_code: str = "H11010500001", timeout_s: float = 4.0, retries: int = 1) -> UpstreamSettings:
        institution = Institution(fixmedins_code=fixmedins_code, fixmedins_name="示范镇医保服务站", mdtrtarea_admvs="110105",
                                  signtype="HMACSHA256" if self.sim.keys else "")
        return UpstreamSettings(self.transaction_url, self.ec_url, institution, timeout_s=timeout_s, retries=retries,
                                retry_pause_s=0.05)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> PlatformSimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_platform_sim(host: str = "127.0.0.1", port: int = 0, seed: int = 0, keys: dict[str, str] | None = None,
                       log_level: str = "warning") -> PlatformSimHandle:
    """The simulator on a background thread; returns once it accepts connections."""
    from kiosk.hub.server import _bind, _server

    sim = PlatformSimulator(Population(seed), dict(keys or {}))
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    server = _server(sim.app(), log_level)
    server.config.timeout_graceful_shutdown = 1  # a request held by `delay_s` must not hold up stop()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"platform-sim:{actual}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("platform simulator did not start")
        time.sleep(0.01)
    url_host = f"[{host}]" if ":" in host else host
    return PlatformSimHandle(f"http://{url_host}:{actual}", sim, server, thread)


def serve_platform_sim(host: str, port: int, seed: int, keys: dict[str, str], faults: Faults,
                       on_ready: Any = None) -> None:
    """Foreground until SIGINT/SIGTERM (`kiosk hub platform-sim`)."""
    from kiosk.hub.server import _bind, _server

    sim = PlatformSimulator(Population(seed), dict(keys), faults)
    sock = _bind(host, port)
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{sock.getsockname()[1]}"
    if on_ready:
        on_ready({"listening": url, "transaction_url": url + TRANSACTION_PATH, "ec_url": url + EC_PATH})
    server = _server(sim.app(), "warning")
    server.config.timeout_graceful_shutdown = 1
    server.run(sockets=[sock])


def write_sim_keys(path: str | Path) -> dict[str, str]:
    """A fresh key pair for a simulator and the hub that talks to it (0600 file)."""
    access, secret = "sim-" + secrets.token_hex(8), secrets.token_urlsafe(24)
    signing.write_keys(path, access, secret)
    return {access: secret}
