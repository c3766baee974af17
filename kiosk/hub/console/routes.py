"""The console's HTTP surface, mounted on the hub app. Contract (issue 18; extend, don't rename):

Kiosk (bearer token, in /openapi.json):
POST /v1/heartbeat      {"version", "backlog", "oldest_pending_age_s", "devices": {NAME: STATE},
                         "last_error"?, "service_point"?, "role"?: kiosk|hall} → {"ok", "time", "offline_after_s"}
GET  /v1/applications/{id}/state → {"id", "state", "note", "updated_at", "seq"} (own kiosk's;
                         "submitted" until the back office sets one)
GET  /v1/application-states?since=SEQ → {"changes": [...], "next": SEQ} (own kiosk's changes)
Staff (session cookie; POSTs need the session's CSRF token in `X-CSRF-Token`, a `csrf` form field
for the pages — or, for the JSON API, `Content-Type: application/json` from no foreign Origin,
which a browser cannot send cross-site without a CORS preflight the hub never grants):
POST /console/login     {"user", "password"} (JSON → {"user","role","station","csrf"}; form → redirect) + cookie
POST /console/logout
GET  /api/fleet         → {"kiosks": [{"kiosk_id","online","last_seen","version","backlog",
                         "oldest_pending_age_s","devices": {NAME: STATE}, "station", "silent_s", "last_error"}],
                         "offline_after_s"}
GET  /api/figures?from=YYYY-MM-DD&to=YYYY-MM-DD[&station=ID] → {"applications": {SERVICE: N},
                         "ratings": {"5".."1": N}, "consultations", "tickets", "wait_s": {"p50","p90"},
                         "handling_s": {"p50","p90"}, "instant_within_10min": FRACTION|null, ...}
GET  /api/applications?service=&state=&station=&from=&to=&limit=&offset= → {"applications": [...]} (no personal data)
GET  /api/applications/{id}[?kiosk_id=] → the application opened (audited before it is read)
POST /api/applications/{id}/state {"state": accepted|processing|done|returned|refused, "note", "kiosk_id"?}
GET  /api/audit         (admin) → {"audit": [...]}
GET  /api/figures/series?from=&to=&by=day|week|month[&station=] → {"by", "buckets": [{"bucket", "from", "to",
                         "applications": {SERVICE: N}, "total", "ratings", "bad_ratings", "tickets", "consultations"}],
                         "stations": {STATION: {BUCKET: N}}}; /api/figures also has "bad_ratings" (差评回访 within 15 days)
GET  /api/followups?station=&state=pending|open|called_back|rectified|explained&from=&to= → {"followups": [...]}
GET  /api/followups/{kiosk}/{id} → the 差评 with its reason and history (audited before it is read)
POST /api/followups/{kiosk}/{id} {"state": called_back|rectified|explained, "note"} (note required)
Pages: /console/login, /console/fleet, /console/figures[?by=week], /console/applications,
/console/applications/{kiosk}/{id}, /console/followups, /console/followups/{kiosk}/{id};
exports /console/export/{table}.csv|.xlsx (also figures-series, followups).

A station user sees only kiosks mapped to its station (`kiosk hub add-kiosk ID --station S`):
another station's data is 403 (figures/filters) or 404 (one application) — never shown.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from collections.abc import Callable
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.concurrency import run_in_threadpool

from kiosk.hall import auth
from kiosk.hall.security_headers import SecurityHeaders
from kiosk.hub.app import ApiError, text_problem
from kiosk.hub.console import export, followups as fu
from kiosk.hub.console.series import BUCKETS, figure_series
from kiosk.hub.console.store import STATE_LABELS, STATES, ConsoleStore, StaffSession
from kiosk.hub.store import HubStore

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "console_session"  # not the hall's name: hall and hub may share a host name
LOGIN_CSRF_COOKIE = "console_login_csrf"
DEVICE_LABELS = {"idcard": "身份证读卡器", "sscard": "社保卡读卡器", "printer": "凭条打印机", "qrscan": "扫码器",
                 "camera": "高拍仪", "a4printer": "A4 打印机"}
DEVICE_STATE_LABELS = {"ok": "正常", "degraded": "异常", "error": "故障", "missing": "未连接", "unknown": "未知",
                       "disabled": "未启用", "paper_low": "纸将尽", "paper_out": "缺纸", "offline": "离线"}
FAULT_STATES = frozenset({"error", "missing", "paper_out", "offline"})
WARN_STATES = frozenset({"degraded", "paper_low"})
RATING_LABELS = {"5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意"}
EXPORTS = ("fleet", "applications", "figures-services", "figures-ratings", "figures-times", "figures-series", "followups")
BUCKET_LABELS = {"day": "日", "week": "周", "month": "月"}
MAX_DAYS = 400
_NAME = r"^[a-z][a-z0-9_]{0,31}$"


@dataclass(frozen=True)
class ConsoleOptions:
    offline_after_s: float = 300.0  # a kiosk silent this long is offline (heartbeats every 60 s)
    heartbeat_s: float = 60.0  # told to kiosks in the heartbeat reply
    rules: auth.SessionRules = field(default_factory=auth.SessionRules)
    instant_services: frozenset[str] | None = None  # default: forms/*.toml with instant = true
    forms_dir: Path | None = None
    title: str = "医保自助服务 · 管理后台"
    clock: Callable[[], float] = time.time
    notify: Any = None  # kiosk.hub.notify.worker.NotifyOptions: SMS notices of 办结 / 退回补正 (None: none)


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    version: Annotated[str, StringConstraints(max_length=40)] | None = None
    backlog: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    oldest_pending_age_s: Annotated[float, Field(ge=0, le=1e10)] | None = None
    devices: Annotated[dict[Annotated[str, StringConstraints(pattern=_NAME)],
                            Annotated[str, StringConstraints(pattern=_NAME)]],
                       Field(max_length=16, json_schema_extra={"additionalProperties": False})] = {}
    last_error: Annotated[str, StringConstraints(max_length=200)] | None = None
    service_point: Annotated[str, StringConstraints(max_length=64)] | None = None
    role: Literal["kiosk", "hall"] = "kiosk"

    @field_validator("backlog", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        """JSON Schema calls 3.0 an integer; strict pydantic would not."""
        return int(value) if isinstance(value, float) and value.is_integer() else value


class HeartbeatOut(BaseModel):
    ok: bool
    time: str
    offline_after_s: float


class StateOut(BaseModel):
    id: str
    state: str
    note: str
    updated_at: str | None
    seq: int


class StateChangesOut(BaseModel):
    changes: list[StateOut]
    next: int


def _forms(options: ConsoleOptions) -> Any:
    from kiosk.services.forms import load_forms

    folder = options.forms_dir or Path(__file__).resolve().parents[3] / "forms"
    return load_forms(folder)


def _parse_day(value: str | None, name: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ApiError(422, "invalid_date", {"param": name, "expected": "YYYY-MM-DD"}) from None


def mount_console(app: FastAPI, store: HubStore, authenticate: Callable[[Request], Any],
                  read_json: Callable[[Request, int], Any], validate: Callable[[type[BaseModel], Any], Any],
                  login_failures: Any, options: ConsoleOptions | None = None) -> ConsoleStore:
    """Add the console's routes to the hub app; returns the ConsoleStore (tests use it)."""
    from kiosk.hall.app import HERE as HALL_HERE, theme_css
    from kiosk.hall.service import application_view
    from kiosk.hub.console.facts import local_day

    options = options or ConsoleOptions()
    console = ConsoleStore(store, options.clock)
    app.state.console = console
    followups = fu.Followups(store, options.clock)
    notifier = None
    forms = _forms(options)
    service_names = {f.code: f.title.zh_CN for f in forms.forms}
    instant = options.instant_services if options.instant_services is not None else \
        frozenset(f.code for f in forms.forms if f.instant)
    rules = options.rules
    if options.notify is not None:  # close the loop: 办结 / 退回补正 reach the resident by SMS
        from kiosk.hub.notify.worker import NotifyWorker

        notifier = NotifyWorker(store, options.notify, service_names, options.clock)
        console.notify_states = frozenset(options.notify.templates)
        console.on_notify = notifier.wake
        app.state.notifier = notifier
        notifier.start()
    templates = Environment(loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(HALL_HERE / "templates")]),
                            autoescape=select_autoescape(["html"]))
    templates.globals.update(DEVICE_LABELS=DEVICE_LABELS, DEVICE_STATE_LABELS=DEVICE_STATE_LABELS, FAULT_STATES=FAULT_STATES,
                             WARN_STATES=WARN_STATES, STATE_LABELS=STATE_LABELS, RATING_LABELS=RATING_LABELS,
                             service_names=service_names, STATES=STATES, FOLLOWUP_LABELS=fu.LABELS,
                             FOLLOWUP_STATES=fu.STATES, BUCKET_LABELS=BUCKET_LABELS, FOLLOWUP_DAYS=fu.FOLLOWUP_DAYS)
    templates.filters["local"] = _local_time
    theme = theme_css()
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.mount("/static", StaticFiles(directory=HALL_HERE / "static"), name="hall-static")  # hall.css, shared

    app.add_middleware(SecurityHeaders, paths=("/console", "/api/", "/static/"), cacheable=("/console/static/", "/static/"))

    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def today() -> str:
        return local_day(dt.datetime.fromtimestamp(options.clock(), dt.UTC))

    # -- sessions --------------------------------------------------------------------------------
    async def session_of(request: Request) -> StaffSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        return await run_in_threadpool(console.session, token, rules.idle_s, rules.max_s)

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")

    async def staff(request: Request, write: bool = False, csrf: str | None = None) -> StaffSession:
        session = await session_of(request)
        if session is None:
            raise ApiError(401, "login_required")
        if write:
            presented = csrf if csrf is not None else request.headers.get(auth.CSRF_HEADER)
            json_body = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
            if not (auth.csrf_ok(session, presented) or (csrf is None and json_body and same_origin(request))):
                raise ApiError(403, "csrf")
        return session

    def scope(session: StaffSession, requested: str | None) -> str | None:
        """The station a query is limited to (None = all points)."""
        if session.sees_all:
            return requested or None
        if requested and requested != session.station:
            raise ApiError(403, "other_station")
        return session.station

    def secure(request: Request) -> bool:
        """Secure cookies whenever the browser came over HTTPS (the hub's own TLS, or a proxy's
        X-Forwarded-Proto that uvicorn trusts from 127.0.0.1), or when configured."""
        return rules.secure_cookie or request.url.scheme == "https"

    def set_cookie(response: Response, token: str, request: Request) -> None:
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/")

    async def login(request: Request, name: Any, password: Any) -> tuple[str, str, StaffSession]:
        where = address(request)
        wait = login_failures.retry_after(where)
        if wait:
            raise ApiError(429, "too_many_failed_logins", {"retry_after_s": wait}, {"Retry-After": str(wait)})
        ok = isinstance(name, str) and isinstance(password, str) and 0 < len(name) <= 64 and len(password) <= 256
        role = await run_in_threadpool(auth.check_login, console, name, password) if ok else None
        if role is None:
            login_failures.record(where)
            raise ApiError(401, "bad_login")
        token, csrf = await run_in_threadpool(console.open_session, name)
        session = await run_in_threadpool(console.session, token, rules.idle_s, rules.max_s)
        if session is None:  # the session just opened is gone (its row could not be read back)
            raise ApiError(503, "storage_unavailable")
        await run_in_threadpool(console.audit, name, "login", None, None, where)
        return token, csrf, session

    # -- kiosk API -------------------------------------------------------------------------------
    @app.post("/v1/heartbeat", response_model=HeartbeatOut, tags=["kiosk"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/HeartbeatIn"}}}}},
              responses={code: {"model": _error_model()} for code in (400, 401, 413, 422, 429, 503)})
    async def heartbeat(request: Request) -> Any:
        kiosk_id = await authenticate(request)
        raw = await read_json(request, 16_000)
        beat: HeartbeatIn = validate(HeartbeatIn, raw)
        body = {k: _storable(v) if isinstance(v, str) else v for k, v in beat.model_dump(exclude_none=True).items()}
        try:
            now = await run_in_threadpool(console.heartbeat, kiosk_id, body)
        except Exception:
            raise ApiError(503, "storage_unavailable") from None
        return {"ok": True, "time": _iso(now), "offline_after_s": options.offline_after_s}

    @app.get("/v1/applications/{submission_id}/state", response_model=StateOut, tags=["kiosk"],
             responses={code: {"model": _error_model()} for code in (401, 404, 429)})
    async def kiosk_state(submission_id: str, request: Request) -> Any:
        kiosk_id = await authenticate(request)
        if len(submission_id) > 64:
            raise ApiError(404, "not_found")
        found = await run_in_threadpool(console.state_of, kiosk_id, submission_id)
        if found is None:
            exists = await run_in_threadpool(store.get, submission_id, kiosk_id)
            if exists is None or exists["kind"] != "submission":
                raise ApiError(404, "not_found")
            found = {"id": submission_id, "state": "submitted", "note": "", "updated_at": None, "seq": 0}
        return found

    @app.get("/v1/application-states", response_model=StateChangesOut, tags=["kiosk"],
             responses={code: {"model": _error_model()} for code in (401, 422, 429)})
    async def kiosk_state_changes(request: Request, since: int = Query(0, ge=0, le=2**62)) -> Any:
        kiosk_id = await authenticate(request)
        changes = await run_in_threadpool(console.state_changes, kiosk_id, since)
        return {"changes": changes, "next": max([since, *(c["seq"] for c in changes)])}

    # -- staff API -------------------------------------------------------------------------------
    @app.post("/console/login", include_in_schema=False)
    async def console_login(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return await login_form(request)
        body = await read_json(request, 4096)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid", "expected {\"user\", \"password\"}")
        token, csrf, session = await login(request, body.get("user"), body.get("password"))
        response = JSONResponse({"user": session.name, "role": session.role, "station": session.station, "csrf": csrf})
        set_cookie(response, token, request)
        return response

    async def login_form(request: Request) -> Response:
        form = await read_form(request)
        target = _safe_next(form.get("next", ""))
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, form.get("csrf", "")):
            return RedirectResponse(f"/console/login?next={quote(target)}&error=expired", status_code=303)
        try:
            token, _, _ = await login(request, form.get("user", ""), form.get("password", ""))
        except ApiError as exc:
            return RedirectResponse(f"/console/login?next={quote(target)}&error={'busy' if exc.status == 429 else 'bad'}",
                                    status_code=303)
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, token, request)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
        return response

    async def read_form(request: Request) -> dict[str, str]:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > 16_000:
                raise ApiError(413, "too_large")
        try:
            parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "malformed_form") from None
        return {k: v[0] for k, v in parsed.items()}

    @app.post("/console/logout", include_in_schema=False)
    async def console_logout(request: Request) -> Response:
        json_body = not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        form = {} if json_body else await read_form(request)
        session = await session_of(request)
        if session is not None:
            await staff(request, write=True, csrf=None if json_body else form.get("csrf", ""))
            await run_in_threadpool(console.close_session, request.cookies.get(SESSION_COOKIE, ""))
        response: Response = JSONResponse({"ok": True}) if json_body else RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def fleet_for(session: StaffSession) -> list[dict[str, Any]]:
        return await run_in_threadpool(console.fleet, scope(session, None), options.offline_after_s)

    @app.get("/api/fleet", include_in_schema=False)
    async def api_fleet(request: Request) -> Any:
        session = await staff(request)
        return {"kiosks": await fleet_for(session), "offline_after_s": options.offline_after_s}

    def figure_range(day_from: str | None, day_to: str | None) -> tuple[str, str]:
        start = _parse_day(day_from, "from") if day_from else today()
        end = _parse_day(day_to, "to") if day_to else start
        if end < start or (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days > MAX_DAYS:
            raise ApiError(422, "invalid_range", {"max_days": MAX_DAYS})
        return start, end

    async def figures_for(session: StaffSession, day_from: str | None, day_to: str | None, station: str | None) -> dict[str, Any]:
        start, end = figure_range(day_from, day_to)
        point = scope(session, station)
        figures = await run_in_threadpool(console.figures, start, end, point, instant)
        figures["bad_ratings"] = await run_in_threadpool(followups.summary, start, end, point)
        return figures

    async def series_for(session: StaffSession, q: Any) -> dict[str, Any]:
        start, end = figure_range(q.get("from"), q.get("to"))
        by = q.get("by") or "day"
        if by not in BUCKETS:
            raise ApiError(422, "invalid_bucket", {"allowed": list(BUCKETS)})
        return await run_in_threadpool(figure_series, store, start, end, scope(session, q.get("station") or None), by)

    @app.get("/api/figures/series", include_in_schema=False)
    async def api_figure_series(request: Request) -> Any:
        session = await staff(request)
        return await series_for(session, request.query_params)

    @app.get("/api/figures", include_in_schema=False)
    async def api_figures(request: Request, station: str | None = None) -> Any:
        session = await staff(request)
        q = request.query_params
        return await figures_for(session, q.get("from"), q.get("to"), station)

    def list_filters(session: StaffSession, q: Any) -> dict[str, Any]:
        state = q.get("state") or None
        if state is not None and state not in ("submitted", *STATES):
            raise ApiError(422, "invalid_state")
        return {"station": scope(session, q.get("station") or None), "service": q.get("service") or None, "state": state,
                "day_from": _parse_day(q["from"], "from") if q.get("from") else None,
                "day_to": _parse_day(q["to"], "to") if q.get("to") else None}

    def page_args(q: Any) -> tuple[int, int]:
        try:
            return max(1, min(1000, int(q.get("limit", 200)))), max(0, int(q.get("offset", 0)))
        except ValueError:
            raise ApiError(422, "invalid_paging") from None

    @app.get("/api/applications", include_in_schema=False)
    async def api_applications(request: Request) -> Any:
        session = await staff(request)
        limit, offset = page_args(request.query_params)
        rows = await run_in_threadpool(lambda: console.applications(**list_filters(session, request.query_params),
                                                                    limit=limit, offset=offset))
        return {"applications": rows}

    async def locate(session: StaffSession, submission_id: str, kiosk_id: str | None) -> str:
        """The kiosk holding this application, if this user may see it (else 404, the same as absent)."""
        if len(submission_id) > 64:
            raise ApiError(404, "not_found")
        kiosks = await run_in_threadpool(console.locate, submission_id)
        if kiosk_id is not None:
            kiosks = [k for k in kiosks if k == kiosk_id]
        if not session.sees_all:
            stations = {k: await run_in_threadpool(console.station_of, k) for k in kiosks}
            kiosks = [k for k in kiosks if stations[k] == session.station]
        if not kiosks:
            raise ApiError(404, "not_found")
        if len(kiosks) > 1:
            raise ApiError(409, "ambiguous", {"kiosk_ids": kiosks})
        return kiosks[0]

    async def open_application(session: StaffSession, kiosk_id: str, submission_id: str, request: Request) -> dict[str, Any]:
        """Audited before the payload is opened: no audit row, no personal data."""
        try:
            await run_in_threadpool(console.audit, session.name, "view_application", kiosk_id, submission_id, address(request))
        except Exception:
            raise ApiError(503, "storage_unavailable") from None
        meta = await run_in_threadpool(store.get, submission_id, kiosk_id)
        if meta is None:  # located a moment ago; gone since
            raise ApiError(404, "not_found")
        payload = await run_in_threadpool(store.payload, submission_id, kiosk_id)
        state = await run_in_threadpool(console.state_of, kiosk_id, submission_id)
        history = await run_in_threadpool(console.state_history, kiosk_id, submission_id)
        view = application_view(forms, meta["service"], payload or {}, submission_id)
        notices = await run_in_threadpool(notifier.status, kiosk_id, submission_id) if notifier is not None else []
        return {"id": submission_id, "kiosk_id": kiosk_id, "station": await run_in_threadpool(console.station_of, kiosk_id),
                "service": meta["service"], "service_name": view["service_name"], "created_at": meta["created_at"],
                "received_at": meta["received_at"], "state": state["state"] if state else "submitted",
                "note": state["note"] if state else "", "history": history, "notices": notices,
                "receipt_images": _receipt_images(payload or {}),
                "application": {k: view[k] for k in ("applicant", "answers", "materials", "receipts")}}

    @app.get("/api/applications/{submission_id}", include_in_schema=False)
    async def api_application(submission_id: str, request: Request, kiosk_id: str | None = None) -> Any:
        session = await staff(request)
        kiosk = await locate(session, submission_id, kiosk_id)
        return await open_application(session, kiosk, submission_id, request)

    async def change_state(session: StaffSession, submission_id: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
        state, note, kiosk_id = body.get("state"), body.get("note", ""), body.get("kiosk_id")
        if state not in STATES:
            raise ApiError(422, "invalid_state", {"allowed": list(STATES)})
        if not isinstance(note, str) or len(note) > 500 or text_problem(note):
            raise ApiError(422, "invalid_note", "at most 500 characters of text")
        if state in ("returned", "refused") and not note.strip():
            raise ApiError(422, "note_required", "退回补正 needs the missing materials, 不予受理 the reason")
        if kiosk_id is not None and not isinstance(kiosk_id, str):
            raise ApiError(422, "invalid_kiosk_id")
        kiosk = await locate(session, submission_id, kiosk_id)
        result = await run_in_threadpool(console.set_state, kiosk, submission_id, state, note.strip(), session.name)
        await run_in_threadpool(console.audit, session.name, "set_state", kiosk, submission_id, address(request), state)
        return result

    @app.post("/api/applications/{submission_id}/state", include_in_schema=False)
    async def api_set_state(submission_id: str, request: Request) -> Any:
        session = await staff(request, write=True)
        body = await read_json(request, 8000)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid", "expected {\"state\", \"note\"}")
        return await change_state(session, submission_id, body, request)

    @app.get("/api/audit", include_in_schema=False)
    async def api_audit(request: Request) -> Any:
        session = await staff(request)
        if session.role != "admin":
            raise ApiError(403, "admin_only")
        return {"audit": await run_in_threadpool(console.audit_rows, 500)}

    # -- pages -----------------------------------------------------------------------------------
    def page(name: str, session: StaffSession | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(service_point=options.title, session=session, **context)
        return HTMLResponse(html, status_code=status)

    async def page_session(request: Request) -> StaffSession | RedirectResponse:
        session = await session_of(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/console/login?next={quote(_safe_next(target))}", status_code=303)
        return session

    def page_error(exc: ApiError, session: StaffSession) -> HTMLResponse:
        messages = {"other_station": "您只能查看本服务点的数据", "not_found": "没有这条申请，或您无权查看",
                    "invalid_date": "日期格式应为 年-月-日", "invalid_range": "日期范围不正确（开始不能晚于结束，最长 400 天）",
                    "invalid_state": "状态不正确", "ambiguous": "业务编号对应多台终端，请从列表进入",
                    "invalid_bucket": "统计周期应为 日、周 或 月", "invalid_paging": "分页参数不正确"}
        return page("error.html", session, exc.status, message=messages.get(exc.error, "请求无效"))

    @app.get("/theme.css", include_in_schema=False)
    async def theme_stylesheet() -> Response:
        return Response(theme, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @app.get("/console", include_in_schema=False)
    async def console_index() -> RedirectResponse:
        return RedirectResponse("/console/fleet", status_code=303)

    @app.get("/console/login", include_in_schema=False)
    async def login_page(request: Request, next: str = "/console/fleet", error: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(16)
        response = page("console_login.html", None, next=_safe_next(next), csrf=token, error=error)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request),
                            path="/console/login")
        return response

    @app.get("/console/fleet", include_in_schema=False)
    async def fleet_page(request: Request) -> Response:
        session = await page_session(request)
        if isinstance(session, RedirectResponse):
            return session
        kiosks = await fleet_for(session)
        return page("fleet.html", session, kiosks=kiosks, offline_after_s=options.offline_after_s, active="fleet",
                    offline=sum(not k["online"] for k in kiosks),
                    faults=sum(any(s in FAULT_STATES for s in k["devices"].values()) for k in kiosks))

    @app.get("/console/figures", include_in_schema=False)
    async def figures_page(request: Request) -> Response:
        session = await page_session(request)
        if isinstance(session, RedirectResponse):
            return session
        q = request.query_params
        try:
            figures = await figures_for(session, q.get("from"), q.get("to"), q.get("station") or None)
            series = await series_for(session, q)
        except ApiError as exc:
            return page_error(exc, session)
        chart = {"services": [service_names.get(s, s) for s in figures["applications"]],
                 "counts": list(figures["applications"].values()),
                 "ratings": [{"name": RATING_LABELS[k], "value": v} for k, v in figures["ratings"].items()],
                 "days": [b["bucket"] for b in series["buckets"]], "daily": [b["total"] for b in series["buckets"]],
                 "bad": [b["bad_ratings"] for b in series["buckets"]],
                 "stations": [{"name": k, "data": list(v.values())} for k, v in series["stations"].items()]
                 if figures["station"] is None else []}
        stations = await run_in_threadpool(console.stations) if session.sees_all else [session.station]
        return page("figures.html", session, f=figures, series=series, chart_json=json.dumps(chart, ensure_ascii=False),
                    stations=stations, active="figures", query=request.url.query)

    async def list_page(request: Request, template: str, active: str,
                        read_filters: Callable[[StaffSession, Any], dict[str, Any]],
                        fetch: Callable[..., Any]) -> Response:
        """A filtered, paged list (applications, follow-ups): the station choice a user may make,
        the rows from a worker thread, one error page for a bad filter."""
        session = await page_session(request)
        if isinstance(session, RedirectResponse):
            return session
        try:
            filters = read_filters(session, request.query_params)
            limit, offset = page_args(request.query_params)
        except ApiError as exc:
            return page_error(exc, session)
        rows = await run_in_threadpool(lambda: fetch(**filters, limit=limit, offset=offset))
        stations = await run_in_threadpool(console.stations) if session.sees_all else [session.station]
        return page(template, session, rows=rows, filters=filters, stations=stations, active=active,
                    query=request.url.query)

    @app.get("/console/applications", include_in_schema=False)
    async def applications_page(request: Request) -> Response:
        return await list_page(request, "applications.html", "applications", list_filters, console.applications)

    @app.get("/console/applications/{kiosk_id}/{submission_id}", include_in_schema=False)
    async def application_page(kiosk_id: str, submission_id: str, request: Request, error: str = "") -> Response:
        session = await page_session(request)
        if isinstance(session, RedirectResponse):
            return session
        try:
            kiosk = await locate(session, submission_id, kiosk_id)
            detail = await open_application(session, kiosk, submission_id, request)
        except ApiError as exc:
            return page_error(exc, session)
        return page("application.html", session, a=detail, error=error, active="applications")

    @app.post("/console/applications/{kiosk_id}/{submission_id}/state", include_in_schema=False)
    async def state_form(kiosk_id: str, submission_id: str, request: Request) -> Response:
        form = await read_form(request)
        back = f"/console/applications/{quote(kiosk_id)}/{quote(submission_id)}"
        try:
            session = await staff(request, write=True, csrf=form.get("csrf", ""))
        except ApiError as exc:
            return RedirectResponse("/console/login" if exc.status == 401 else f"{back}?error=csrf", status_code=303)
        try:
            await change_state(session, submission_id, {"state": form.get("state"), "note": form.get("note", ""),
                                                        "kiosk_id": kiosk_id}, request)
        except ApiError as exc:
            return RedirectResponse(f"{back}?error={exc.error}", status_code=303)
        return RedirectResponse(back, status_code=303)

    # -- 差评回访 (follow-ups) -------------------------------------------------------------------------
    def followup_filters(session: StaffSession, q: Any) -> dict[str, Any]:
        state = q.get("state") or None
        if state is not None and state not in ("pending", "open", *fu.STATES):
            raise ApiError(422, "invalid_state")
        return {"station": scope(session, q.get("station") or None), "state": state,
                "day_from": _parse_day(q["from"], "from") if q.get("from") else None,
                "day_to": _parse_day(q["to"], "to") if q.get("to") else None}

    @app.get("/api/followups", include_in_schema=False)
    async def api_followups(request: Request) -> Any:
        session = await staff(request)
        limit, offset = page_args(request.query_params)
        filters = followup_filters(session, request.query_params)
        return {"followups": await run_in_threadpool(lambda: followups.items(**filters, limit=limit, offset=offset))}

    async def followup_item(session: StaffSession, kiosk_id: str, rating_id: str) -> dict[str, Any]:
        """A 差评 this user may see (another point's is 404, the same as absent)."""
        if len(kiosk_id) > 64 or len(rating_id) > 64:
            raise ApiError(404, "not_found")
        is_bad, point = await run_in_threadpool(followups.station_of_item, kiosk_id, rating_id)
        if not is_bad or (not session.sees_all and point != session.station):
            raise ApiError(404, "not_found")
        item = await run_in_threadpool(followups.item, kiosk_id, rating_id)
        if item is None:
            raise ApiError(404, "not_found")
        return item

    async def open_followup(session: StaffSession, kiosk_id: str, rating_id: str, request: Request) -> dict[str, Any]:
        item = await followup_item(session, kiosk_id, rating_id)
        try:  # the resident's reason is read only after the view is audited
            await run_in_threadpool(console.audit, session.name, "view_rating", kiosk_id, rating_id, address(request))
        except Exception:
            raise ApiError(503, "storage_unavailable") from None
        payload = await run_in_threadpool(store.payload, rating_id, kiosk_id) or {}
        raw_tags = payload.get("tags")
        tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
        return {**item, "reason": str(payload.get("reason") or ""), "tags": [str(t) for t in tags][:10],
                "reference": str(payload.get("reference") or ""), "counter": payload.get("counter"),
                "history": await run_in_threadpool(followups.history, kiosk_id, rating_id)}

    async def change_followup(session: StaffSession, kiosk_id: str, rating_id: str, body: dict[str, Any],
                              request: Request) -> dict[str, Any]:
        state, note = body.get("state"), body.get("note", "")
        if state not in fu.STATES:
            raise ApiError(422, "invalid_state", {"allowed": list(fu.STATES)})
        if not isinstance(note, str) or len(note) > 500 or text_problem(note):
            raise ApiError(422, "invalid_note", "at most 500 characters of text")
        if not note.strip():
            raise ApiError(422, "note_required", "回访、整改或解释都要写明做了什么")
        await followup_item(session, kiosk_id, rating_id)
        result = await run_in_threadpool(followups.set_state, kiosk_id, rating_id, state, note.strip(), session.name)
        await run_in_threadpool(console.audit, session.name, "set_followup", kiosk_id, rating_id, address(request), state)
        return result

    @app.get("/api/followups/{kiosk_id}/{rating_id}", include_in_schema=False)
    async def api_followup(kiosk_id: str, rating_id: str, request: Request) -> Any:
        session = await staff(request)
        return await open_followup(session, kiosk_id, rating_id, request)

    @app.post("/api/followups/{kiosk_id}/{rating_id}", include_in_schema=False)
    async def api_set_followup(kiosk_id: str, rating_id: str, request: Request) -> Any:
        session = await staff(request, write=True)
        body = await read_json(request, 8000)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid", "expected {\"state\", \"note\"}")
        return await change_followup(session, kiosk_id, rating_id, body, request)

    @app.get("/console/followups", include_in_schema=False)
    async def followups_page(request: Request) -> Response:
        return await list_page(request, "followups.html", "followups", followup_filters, followups.items)

    @app.get("/console/followups/{kiosk_id}/{rating_id}", include_in_schema=False)
    async def followup_page(kiosk_id: str, rating_id: str, request: Request, error: str = "") -> Response:
        session = await page_session(request)
        if isinstance(session, RedirectResponse):
            return session
        try:
            item = await open_followup(session, kiosk_id, rating_id, request)
        except ApiError as exc:
            return page_error(exc, session)
        return page("followup.html", session, r=item, error=error, active="followups")

    @app.post("/console/followups/{kiosk_id}/{rating_id}", include_in_schema=False)
    async def followup_form(kiosk_id: str, rating_id: str, request: Request) -> Response:
        form = await read_form(request)
        back = f"/console/followups/{quote(kiosk_id)}/{quote(rating_id)}"
        try:
            session = await staff(request, write=True, csrf=form.get("csrf", ""))
        except ApiError as exc:
            return RedirectResponse("/console/login" if exc.status == 401 else f"{back}?error=csrf", status_code=303)
        try:
            await change_followup(session, kiosk_id, rating_id, {"state": form.get("state"), "note": form.get("note", "")},
                                  request)
        except ApiError as exc:
            return RedirectResponse(f"{back}?error={exc.error}", status_code=303)
        return RedirectResponse(back, status_code=303)

    @app.get("/console/export/{name}", include_in_schema=False)
    async def export_table(name: str, request: Request) -> Response:
        session = await staff(request)
        stem, _, kind = name.rpartition(".")
        if stem not in EXPORTS or kind not in ("csv", "xlsx"):
            raise ApiError(404, "not_found")
        q = request.query_params
        if stem == "fleet":
            kiosks = await fleet_for(session)
            header = ["终端", "服务点", "在线", "最后心跳", "版本", "待上传", "最早待传(秒)", "设备", "最近错误"]
            rows = [[k["kiosk_id"], k["station"], "在线" if k["online"] else "离线", k["last_seen"], k["version"], k["backlog"],
                     k["oldest_pending_age_s"], k["devices"], k["last_error"]] for k in kiosks]
        elif stem == "applications":
            limit, offset = page_args({"limit": 1000, **dict(q)})
            items = await run_in_threadpool(lambda: console.applications(**list_filters(session, q), limit=limit, offset=offset))
            header = ["业务编号", "终端", "服务点", "业务", "提交时间", "状态", "更新时间", "经办人"]
            rows = [[a["id"], a["kiosk_id"], a["station"], service_names.get(a["service"], a["service"]), a["created_at"],
                     STATE_LABELS.get(a["state"], a["state"]), a["updated_at"], a["updated_by"]] for a in items]
        elif stem == "followups":
            limit, offset = page_args({"limit": 1000, **dict(q)})
            filters = followup_filters(session, q)
            items = await run_in_threadpool(lambda: followups.items(**filters, limit=limit, offset=offset))
            header = ["评价编号", "终端", "服务点", "业务", "评价时间", "评价", "回访状态", "更新时间", "经办人", "回访期限", "超期"]
            rows = [[i["id"], i["kiosk_id"], i["station"], service_names.get(i["service"], i["service"]), i["rated_at"],
                     RATING_LABELS[str(i["score"])], fu.LABELS[i["state"]], i["updated_at"], i["updated_by"], i["due_at"],
                     "是" if i["overdue"] else "否"] for i in items]
        elif stem == "figures-series":
            series = await series_for(session, q)
            header = ["时段", "从", "到", "申请件数", "办结叫号", "综合咨询（D）", "差评", *[RATING_LABELS[k] for k in RATING_LABELS]]
            rows = [[b["bucket"], b["from"], b["to"], b["total"], b["tickets"], b["consultations"], b["bad_ratings"],
                     *[b["ratings"][k] for k in RATING_LABELS]] for b in series["buckets"]]
        else:
            f = await figures_for(session, q.get("from"), q.get("to"), q.get("station") or None)
            if stem == "figures-services":
                header = ["业务代码", "业务", "申请件数"]
                rows = [[s, service_names.get(s, s), n] for s, n in f["applications"].items()]
            elif stem == "figures-ratings":
                header = ["评价等级", "评价", "件数"]
                rows = [[k, RATING_LABELS[k], n] for k, n in f["ratings"].items()]
            else:
                header = ["指标", "中位数(秒)", "90% 分位(秒)"]
                rows = [["等候时间", f["wait_s"]["p50"], f["wait_s"]["p90"]],
                        ["办理时间", f["handling_s"]["p50"], f["handling_s"]["p90"]],
                        ["即时办 10 分钟内办结率", f["instant_within_10min"], ""],
                        ["综合咨询（D 号段）", f["consultations"], ""], ["办结叫号", f["tickets"], ""],
                        ["差评件数", f["bad_ratings"]["total"], ""],
                        [f"差评 {fu.FOLLOWUP_DAYS} 天内回访率", f["bad_ratings"]["followed_up_within_days"], ""],
                        [f"差评 {fu.FOLLOWUP_DAYS} 天内整改/解释率", f["bad_ratings"]["closed_within_days"], ""]]
        filename = f"{stem}-{today()}.{kind}"
        if kind == "csv":
            return Response(export.to_csv(header, rows), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        return Response(export.to_xlsx(stem, header, rows),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    return console


def _receipt_images(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Each 零星报销 receipt's picture (issue 19) as a data: URI with its failed checks, in the
    receipts' order (the page is an audited view; the CSP allows data: images)."""
    from kiosk.services.receipt_images import decode_receipt_image

    raw_receipts = payload.get("receipts")
    receipts: list[Any] = raw_receipts if isinstance(raw_receipts, list) else []
    out = []
    for n, receipt in enumerate(r for r in receipts if isinstance(r, dict)):
        raw_image, raw_checks = receipt.get("image"), receipt.get("checks")
        image: dict[str, Any] = raw_image if isinstance(raw_image, dict) else {}
        data = decode_receipt_image(raw_image)
        checks: dict[str, Any] = raw_checks if isinstance(raw_checks, dict) else {}
        out.append({"n": n + 1, "src": f"data:image/jpeg;base64,{image['data']}" if data else None,
                    "width": image.get("width") if data else None, "height": image.get("height") if data else None,
                    "failed": [str(k) for k, v in checks.items() if v is False],
                    "corrected": [str(k) for k in receipt.get("corrected_fields", []) if isinstance(k, str)]})
    return out


def _error_model() -> Any:
    from kiosk.hub.app import ErrorOut

    return ErrorOut


def _safe_next(target: str) -> str:
    """Only the console's own pages: an open redirect would lend a phishing page the bureau's trust."""
    if isinstance(target, str) and target.startswith("/console/") and "//" not in target and "\\" not in target \
            and len(target) < 300 and not target.startswith("/console/login"):
        return target
    return "/console/fleet"


def _storable(text: str) -> str:
    """A heartbeat's free text as any database can keep it: no NUL, no lone surrogate (a health
    report is never refused for its wording)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _local_time(value: str | None) -> str:
    """An ISO time as a person at the service point reads it (China Standard Time)."""
    if not value:
        return "—"
    from kiosk.hub.console.facts import FIGURES_TZ, parse_time

    try:
        return parse_time(value).astimezone(FIGURES_TZ).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
