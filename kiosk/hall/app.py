"""The hall's HTTP API and pages (FastAPI + Jinja2). Contract (issue 17; extend, don't rename):

Kiosk (`Authorization: Bearer <token>`, tokens as the hub's: lines "KIOSK_ID TOKEN"):
POST /api/tickets       {"service", "priority": bool|REASON, "submission_id": UUID|null,
                         "application"?: {...payload}} → the ticket as `kiosk ticket` prints it
                         plus "id", "submission_id"; the same submission id again returns the same
                         ticket (a retry never queues the resident twice)
POST /api/applications  {"submission_id", "service", "payload"} → {"submission_id", "stored": new|duplicate}
                         (the application may come before, with or after its ticket)
POST /api/tickets/{id}/withdraw → {"withdrawn": bool} (the resident withdrew the submission at the
                         kiosk: a ticket still waiting leaves the queue; one already called stays)
POST /v1/appointments/check-in (also /api/appointments/check-in) {"code": 8 digits, "request_id": UUID}
                         → the ticket as /api/tickets answers plus "appointment"; queued with the
                         appointment's priority. The same request id again returns the same ticket;
                         404 appointment_unknown, 409 appointment_not_yet | appointment_used,
                         410 appointment_expired; 429 after too many wrong codes from one kiosk
Clerk (session cookie from /api/login or /login; POSTs need the session's CSRF token in the
`X-CSRF-Token` header, or a `csrf` form field for the pages' forms):
POST /api/login         {"user", "password"} → {"user", "role", "csrf"} + cookie
POST /api/logout
POST /api/appointments  {"service", "day": YYYY-MM-DD, "from"?: HH:MM, "until"?: HH:MM, "priority"?: REASON}
                         → {"code", …} (预约: a clerk books; `kiosk hall add-appointment` does the same)
GET  /api/appointments?day=YYYY-MM-DD → {"appointments": [...]} (codes, services, windows, check-in state)
GET  /api/audit         → {"audit": [{"at","user","action","submission_id","ticket_id","counter","address"}]} (managers)
GET  /api/counters/{n}  → {"ticket": …|null} (the ticket now at counter n, with its application)
POST /api/counters/{n}/call   {"service"?, "bands"?} → {"ticket": {…, "number", "submission_id",
                         "application": {...}|null}} or {"ticket": null} when nobody waits
POST /api/counters/{n}/recall | /skip → {"ticket": …|null}
POST /api/tickets/{id}/finish {"outcome": done|returned|transferred, "note", "to_band"?, "to_counter"?}
                         → {"ticket": …}; transferred goes back in line keeping its place
Anyone on the LAN (no personal data — numbers and counters only):
GET  /api/lobby         → {"calling": [{"number","counter"}], "waiting": {BAND: N}, "recent", "announce", …}
GET  /api/lobby/events  → Server-Sent Events: `lobby` events carrying /api/lobby's JSON on every change
GET  /api/voice?number=A001&counter=3 → audio/wav of the call (espeak-ng)
GET  /api/counters/{n}/rating → {"pending": {"ticket_id","number","service_name"}|null}
POST /api/counters/{n}/rating {"ticket_id", "score": 1-5, "tags": [...]} (only the ticket just
                         finished at that counter, once)
GET  /api/health
Pages: /login, /counter/{n}, /lobby, /rate/{n}.

Every view of an application's personal data (API or page) writes an audit row first.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.hall import auth
from kiosk.hall.security_headers import SecurityHeaders
from kiosk.hall.service import (OUTCOME_LABELS, RATING_LABELS, RATING_TAGS, TAGGED_SCORES, HallError, HallService,
                                ticket_view)
from kiosk.hall.store import Session
from kiosk.hall.voice import CallVoice
from kiosk.hub.app import _finite_float, _reject_constant, text_problem
from kiosk.hub.ratelimit import SlidingWindowLimiter
from kiosk.hub.store import token_hash
from kiosk.services.queue import OUTCOMES

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
UUID_CHARS = set("0123456789abcdef-")


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(OUTCOME_LABELS=OUTCOME_LABELS, RATING_LABELS=RATING_LABELS, RATING_TAGS=RATING_TAGS,
                       TAGGED_SCORES=TAGGED_SCORES)
    return env


def theme_css() -> str:
    """The kiosk's palette (kiosk/ui/theme.py, one source) as CSS variables for hall.css."""
    from kiosk.ui.theme import ELDERLY, STANDARD

    def block(p: Any) -> str:
        names = ("window", "surface", "text", "muted_text", "primary", "on_primary", "accent", "on_accent",
                 "danger", "on_danger", "border", "header", "on_header")
        return "".join(f"--{n.replace('_', '-')}:{getattr(p, n)};" for n in names)

    return f":root{{{block(STANDARD)}}}\n.elderly{{{block(ELDERLY)}}}\n"


def _is_uuidish(value: Any) -> bool:
    return isinstance(value, str) and 8 <= len(value) <= 64 and set(value.lower()) <= UUID_CHARS


def _first_of(form: dict[str, list[str]]) -> Callable[[str], str]:
    """A form field's first value ("" when absent), as `field("name")`."""
    return lambda key: (form.get(key) or [""])[0]


def create_app(service: HallService, tokens: dict[str, str], rules: auth.SessionRules = auth.SessionRules(),
               voice: CallVoice | None = None, max_body_bytes: int = 2_000_000, login_failures_per_minute: int = 10,
               sse_heartbeat_s: float = 15.0, extra_health: Callable[[], dict[str, Any]] | None = None) -> FastAPI:
    """`tokens` maps kiosk token → kiosk id (read_tokens_file of kiosk.hub.server)."""
    app = FastAPI(title="医保自助 Kiosk hall", version="1", docs_url=None, redoc_url=None)
    app.state.service = service
    store = service.store
    known = {token_hash(t): k for t, k in tokens.items()}
    templates = _templates()
    voice = voice if voice is not None else CallVoice()
    failures = SlidingWindowLimiter(login_failures_per_minute)  # staff logins, per address
    token_failures = SlidingWindowLimiter(login_failures_per_minute)  # kiosk tokens: a bad kiosk never locks clerks out
    theme = theme_css()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # -- plumbing -----------------------------------------------------------------------------
    app.add_middleware(SecurityHeaders, cacheable=("/static/",))

    @app.exception_handler(HallError)
    async def _hall_error(request: Request, exc: HallError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail).lower().replace(" ", "_")}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        route = request.scope.get("route")  # the template, not the path: a path may carry data
        log.exception("hall error on %s %s", request.method, getattr(route, "path", "?"))
        return JSONResponse({"error": "internal"}, status_code=500)

    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def body_bytes(request: Request, limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise HallError(413, "too_large", "请求内容过大")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HallError(413, "too_large", "请求内容过大")
            chunks.append(chunk)
        return b"".join(chunks)

    async def read_json(request: Request, limit: int = 64_000, empty_ok: bool = False) -> Any:
        raw = await body_bytes(request, limit)
        if empty_ok and not raw.strip():
            return {}
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HallError(400, "malformed_json", "请求不是有效的 JSON") from None
        if not isinstance(data, dict):
            raise HallError(422, "invalid", "请求应为 JSON 对象")
        return data

    async def read_form(request: Request) -> dict[str, list[str]]:
        raw = await body_bytes(request, 64_000)
        try:
            return parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
        except (UnicodeDecodeError, ValueError):
            raise HallError(400, "malformed_form", "表单内容无效") from None

    async def kiosk(request: Request) -> str:
        where = address(request)
        wait = token_failures.retry_after(where)
        if wait:
            raise HallError(429, "too_many_failures", f"失败次数过多，请 {wait} 秒后再试")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        kiosk_id = known.get(token_hash(token.strip())) if scheme.lower() == "bearer" and token.strip() else None
        if kiosk_id is None:
            token_failures.record(where)
            log.warning("hall: failed kiosk authentication from %s", where)  # never the token
            raise HallError(401, "unauthorized", "终端令牌无效")
        return kiosk_id

    async def session_of(request: Request) -> Session | None:
        token = request.cookies.get(auth.SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        return await run_in_threadpool(store.session, token, rules.idle_s, rules.max_s)

    async def clerk(request: Request, csrf: str | None = None, check_csrf: bool = True) -> Session:
        session = await session_of(request)
        if session is None:
            raise HallError(401, "login_required", "请先登录")
        if check_csrf and not auth.csrf_ok(session, csrf if csrf is not None else request.headers.get(auth.CSRF_HEADER)):
            raise HallError(403, "csrf", "页面已过期，请刷新后再试")
        return session

    def counter_number(n: int) -> int:
        if not 1 <= n <= 999:
            raise HallError(404, "no_such_counter", "没有这个窗口")
        return n

    def set_session_cookie(response: Response, token: str) -> None:
        response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="strict", secure=rules.secure_cookie, path="/")

    async def login(request: Request, name: str, password: str) -> tuple[str, str, str]:
        """(role, cookie token, csrf) or HallError 401/429."""
        where = address(request)
        wait = failures.retry_after(where)
        if wait:
            raise HallError(429, "too_many_failures", f"登录失败次数过多，请 {wait} 秒后再试")
        role = await run_in_threadpool(auth.check_login, store, name, password) if name and len(name) <= 64 and len(password) <= 256 else None
        if role is None:
            failures.record(where)
            log.warning("hall: failed login from %s", where)
            raise HallError(401, "bad_login", "用户名或密码不正确")
        token, csrf = await run_in_threadpool(store.open_session, name, role)
        return role, token, csrf

    async def ticket_with_application(ticket: Any, session: Session, counter: int | None, request: Request) -> dict[str, Any] | None:
        if ticket is None:
            return None
        application = await run_in_threadpool(service.application_view, ticket, session.name, counter, address(request))
        return {**ticket_view(ticket), "application": application}

    # -- API: kiosk ------------------------------------------------------------------------------
    @app.post("/api/tickets")
    async def post_ticket(request: Request) -> Any:
        kiosk_id = await kiosk(request)
        body = await read_json(request, max_body_bytes)
        code, priority, submission_id = body.get("service"), body.get("priority", False), body.get("submission_id")
        application = body.get("application")
        if not isinstance(code, str) or not isinstance(priority, (bool, str)):
            raise HallError(422, "invalid", "需要 service（业务代码）和 priority（true/false）")
        if submission_id is not None and not _is_uuidish(submission_id):
            raise HallError(422, "invalid_submission_id", "业务编号格式不对")
        if application is not None and (not isinstance(application, dict) or text_problem(application)):
            raise HallError(422, "invalid_application", "申请内容无效")
        return await run_in_threadpool(service.issue, code, priority, submission_id, kiosk_id, application)

    @app.post("/api/applications")
    async def post_application(request: Request) -> Any:
        kiosk_id = await kiosk(request)
        body = await read_json(request, max_body_bytes)
        submission_id, code, payload = body.get("submission_id"), body.get("service"), body.get("payload")
        if not _is_uuidish(submission_id) or not isinstance(code, str) or not isinstance(payload, dict) or text_problem(payload):
            raise HallError(422, "invalid", "需要 submission_id、service 和 payload（对象）")
        new = await run_in_threadpool(service.put_application, submission_id, code, kiosk_id, payload)
        service.live.notify()
        return {"submission_id": submission_id, "stored": "new" if new else "duplicate"}

    @app.post("/api/tickets/{ticket_id}/withdraw")
    async def post_withdraw(ticket_id: str, request: Request) -> Any:
        await kiosk(request)
        return {"withdrawn": await run_in_threadpool(service.withdraw, ticket_id[:64])}

    wrong_codes = SlidingWindowLimiter(20)  # per kiosk: 8-digit codes are not to be guessed by trying

    @app.post("/v1/appointments/check-in")
    @app.post("/api/appointments/check-in")
    async def post_check_in(request: Request) -> Any:
        kiosk_id = await kiosk(request)
        wait = wrong_codes.retry_after(kiosk_id)
        if wait:
            raise HallError(429, "too_many_failures", f"错误次数过多，请 {wait} 秒后再试")
        body = await read_json(request, 4096)
        code, request_id = body.get("code"), body.get("request_id")
        if not isinstance(code, str) or not (code.isascii() and code.isdigit() and len(code) == 8):
            wrong_codes.record(kiosk_id)
            raise HallError(404, "appointment_unknown", "预约码不存在")
        if not _is_uuidish(request_id):
            raise HallError(422, "invalid_request_id", "需要 request_id")
        try:
            return await run_in_threadpool(service.check_in, code, request_id)
        except HallError as exc:
            if exc.code == "appointment_unknown":
                wrong_codes.record(kiosk_id)
            raise

    # -- API: clerks -----------------------------------------------------------------------------
    @app.post("/api/appointments")
    async def api_add_appointment(request: Request) -> Any:
        session = await clerk(request)
        body = await read_json(request, 4096)
        values = [body.get(k) for k in ("service", "day", "from", "until")]
        priority = body.get("priority", "appointment")
        if not isinstance(values[0], str) or not isinstance(values[1], str) or \
                not all(v is None or isinstance(v, str) for v in values[2:]) or not isinstance(priority, str):
            raise HallError(422, "invalid", "需要 service、day（YYYY-MM-DD），可选 from/until（HH:MM）")
        service_code, day, window_from, window_until = values
        return await run_in_threadpool(service.add_appointment, service_code, day, window_from, window_until, priority,
                                       session.name)

    @app.get("/api/appointments")
    async def api_appointments(request: Request, day: str = "") -> Any:
        await clerk(request, check_csrf=False)
        rows = await run_in_threadpool(service.queue.appointments, day[:10] or None)
        return {"appointments": [a.to_json() for a in rows]}

    @app.post("/api/login")
    async def api_login(request: Request) -> Any:
        # JSON only: a cross-site form can post text/plain that parses as JSON (login CSRF)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise HallError(415, "json_required", "请以 JSON 提交")
        body = await read_json(request, 4096)
        name, password = body.get("user"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise HallError(422, "invalid", "需要 user 和 password")
        role, token, csrf = await login(request, name, password)
        response = JSONResponse({"user": name, "role": role, "csrf": csrf})
        set_session_cookie(response, token)
        return response

    @app.post("/api/logout")
    async def api_logout(request: Request) -> Any:
        await clerk(request)
        await run_in_threadpool(store.close_session, request.cookies.get(auth.SESSION_COOKIE, ""))
        response = JSONResponse({"ok": True})
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @app.get("/api/audit")
    async def api_audit(request: Request, limit: int = 200) -> Any:
        """Managers only: who was shown which application, when, from where."""
        session = await clerk(request, check_csrf=False)
        if session.role != "manager":
            raise HallError(403, "manager_only", "仅管理员可查看")
        rows = await run_in_threadpool(store.audit_rows, max(1, min(limit, 1000)))
        return {"audit": [{"at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(r.at)), "user": r.name, "action": r.action,
                           "submission_id": r.submission_id, "ticket_id": r.ticket_id, "counter": r.counter,
                           "address": r.address} for r in rows]}

    @app.get("/api/counters/{n}")
    async def api_counter(n: int, request: Request) -> Any:
        session = await clerk(request, check_csrf=False)
        ticket = await run_in_threadpool(service.current, counter_number(n))
        return {"ticket": await ticket_with_application(ticket, session, n, request)}

    @app.post("/api/counters/{n}/call")
    async def api_call(n: int, request: Request) -> Any:
        session = await clerk(request)
        body = await read_json(request, 4096, empty_ok=True)
        code, bands = body.get("service"), body.get("bands")
        if (code is not None and not isinstance(code, str)) or (bands is not None and (
                not isinstance(bands, list) or not all(isinstance(b, str) for b in bands))):
            raise HallError(422, "invalid", "service 应为业务代码，bands 应为号段列表")
        ticket = await run_in_threadpool(service.call, counter_number(n), code, tuple(bands) if bands else None)
        return {"ticket": await ticket_with_application(ticket, session, n, request)}

    @app.post("/api/counters/{n}/recall")
    async def api_recall(n: int, request: Request) -> Any:
        await clerk(request)
        ticket = await run_in_threadpool(service.recall, counter_number(n))
        return {"ticket": ticket_view(ticket) if ticket else None}

    @app.post("/api/counters/{n}/skip")
    async def api_skip(n: int, request: Request) -> Any:
        await clerk(request)
        ticket = await run_in_threadpool(service.skip, counter_number(n))
        return {"ticket": ticket_view(ticket) if ticket else None}

    @app.post("/api/tickets/{ticket_id}/finish")
    async def api_finish(ticket_id: str, request: Request) -> Any:
        await clerk(request)
        body = await read_json(request, 16_000)
        args = _finish_args(body)
        ticket = await run_in_threadpool(service.finish, ticket_id[:64], *args)
        return {"ticket": ticket_view(ticket)}

    # -- API: lobby, voice, rating pad, health ------------------------------------------------------
    cached: dict[str, Any] = {"version": -1, "data": None}

    async def lobby_now() -> dict[str, Any]:
        """One computation per change, however many TVs and pads listen (read before computing:
        a change racing in only makes the cached copy newer than its label)."""
        version = service.live.version
        if cached["version"] != version:
            cached["data"], cached["version"] = await run_in_threadpool(service.lobby), version
        data: dict[str, Any] = cached["data"]
        return data

    @app.get("/api/lobby")
    async def api_lobby() -> Any:
        return await lobby_now()

    @app.get("/api/lobby/events")
    async def api_lobby_events(request: Request) -> StreamingResponse:
        async def stream() -> Any:
            seen = -1
            yield "retry: 1000\n\n"  # the browser reconnects after a second if the hall restarts
            while not service.live.closed and not await request.is_disconnected():
                version = await service.live.wait(seen, sse_heartbeat_s)
                if service.live.closed:
                    break
                if version == seen:
                    yield ": keep-alive\n\n"
                    continue
                seen = version
                data = await lobby_now()
                yield f"event: lobby\nid: {version}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/voice")
    async def api_voice(number: str = "", counter: int = 0) -> Response:
        if not voice.available:
            raise HallError(503, "no_voice", "本机没有 espeak-ng，不能播报")
        try:
            data = await run_in_threadpool(voice.wav, number, counter)
        except ValueError:
            raise HallError(422, "invalid", "需要号码和窗口") from None
        except Exception as exc:
            log.error("hall: espeak-ng failed: %s", type(exc).__name__)
            raise HallError(503, "no_voice", "语音合成失败") from None
        return Response(data, media_type="audio/wav", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/counters/{n}/rating")
    async def api_rating_pending(n: int) -> Any:
        return {"pending": await run_in_threadpool(service.rate_pending, counter_number(n))}

    @app.post("/api/counters/{n}/rating")
    async def api_rate(n: int, request: Request) -> Any:
        body = await read_json(request, 4096)
        ticket_id, score, tags = body.get("ticket_id"), body.get("score"), body.get("tags", [])
        if not isinstance(ticket_id, str) or not isinstance(score, int) or isinstance(score, bool) or \
                not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HallError(422, "invalid", "需要 ticket_id、score（1-5）和 tags（列表）")
        await run_in_threadpool(service.rate, counter_number(n), ticket_id, score, tags)
        return {"ok": True}

    @app.get("/api/health")
    async def api_health() -> JSONResponse:
        ok = await run_in_threadpool(store.ping)
        body: dict[str, Any] = {"status": "ok" if ok else "degraded", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "report_failures": service.report_failures, "voice": voice.available}
        if extra_health:
            body.update(await run_in_threadpool(extra_health))
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/theme.css")
    async def theme_stylesheet() -> Response:
        return Response(theme, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    # -- pages ---------------------------------------------------------------------------------
    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(service_point=service.settings.service_point, **context)
        return HTMLResponse(html, status_code=status)

    def login_redirect(path: str) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", include_in_schema=False)
    async def login_page(next: str = "/counter/1", error: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(16)
        response = page("login.html", next=_safe_next(next), csrf=token, error=error)
        response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=rules.secure_cookie, path="/login")
        return response

    @app.post("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        form = await read_form(request)
        field = _first_of(form)
        target = _safe_next(field("next"))
        cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, field("csrf")):
            return RedirectResponse(f"/login?next={quote(target)}&error=expired", status_code=303)
        try:
            _, token, _ = await login(request, field("user"), field("password"))
        except HallError as exc:
            return RedirectResponse(f"/login?next={quote(target)}&error={'busy' if exc.status == 429 else 'bad'}", status_code=303)
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, token)
        response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout_form(request: Request) -> Response:
        form = await read_form(request)
        session = await session_of(request)
        if session is not None and auth.csrf_ok(session, (form.get("csrf") or [""])[0]):
            await run_in_threadpool(store.close_session, request.cookies.get(auth.SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @app.get("/counter/{n}", include_in_schema=False)
    async def counter_page(n: int, request: Request, error: str = "") -> Response:
        session = await session_of(request)
        if session is None:
            return login_redirect(f"/counter/{n}")
        counter_number(n)
        ticket = await run_in_threadpool(service.current, n)
        current = await ticket_with_application(ticket, session, n, request)
        lobby = await lobby_now()
        return page("counter.html", n=n, session=session, ticket=current, lobby=lobby, error=error,
                    outcomes=OUTCOMES, bands=lobby["bands"])

    @app.post("/counter/{n}/{action}", include_in_schema=False)
    async def counter_action(n: int, action: str, request: Request) -> Response:
        form = await read_form(request)
        field = _first_of(form)
        back = f"/counter/{n}"
        try:
            await clerk(request, csrf=field("csrf"))
        except HallError as exc:
            return login_redirect(back) if exc.status == 401 else RedirectResponse(f"{back}?error={exc.code}", status_code=303)
        counter_number(n)
        try:
            if action == "call":
                await run_in_threadpool(service.call, n, field("service") or None, None)
            elif action == "recall":
                await run_in_threadpool(service.recall, n)
            elif action == "skip":
                await run_in_threadpool(service.skip, n)
            elif action == "finish":
                note = _note_with_missing(field("note"), form.get("material", []), form.get("present", []), field("outcome"))
                args = _finish_args({"outcome": field("outcome"), "note": note, "to_band": field("to_band") or None,
                                     "to_counter": int(field("to_counter")) if field("to_counter").isdigit() else None})
                await run_in_threadpool(service.finish, field("ticket_id")[:64], *args)
            else:
                raise HallError(404, "no_such_action", "没有这个操作")
        except HallError as exc:
            return RedirectResponse(f"{back}?error={exc.code}", status_code=303)
        return RedirectResponse(back, status_code=303)

    @app.get("/lobby", include_in_schema=False)
    async def lobby_page() -> HTMLResponse:
        from kiosk.services.signage import qr_data_uri  # the policy-publicity QR (config [signage], issue 19)

        settings = service.settings
        return page("lobby.html", lobby=await lobby_now(), phone=settings.phone,
                    policy_qr=qr_data_uri(settings.policy_qr_url) if settings.policy_qr_url else "")

    @app.get("/rate/{n}", include_in_schema=False)
    async def rate_page(n: int, thanks: int = 0) -> HTMLResponse:
        pending = await run_in_threadpool(service.rate_pending, counter_number(n))
        return page("rate.html", n=n, pending=pending, thanks=bool(thanks))

    @app.post("/rate/{n}", include_in_schema=False)
    async def rate_form(n: int, request: Request) -> Response:
        form = await read_form(request)
        field = _first_of(form)
        try:
            await run_in_threadpool(service.rate, counter_number(n), field("ticket_id")[:64],
                                    int(field("score")) if field("score").isdigit() else 0, form.get("tag", []))
        except HallError:
            return RedirectResponse(f"/rate/{n}", status_code=303)
        return RedirectResponse(f"/rate/{n}?thanks=1", status_code=303)

    return app


def _safe_next(target: str) -> str:
    """Only our own pages: an open redirect would hand a phishing page the clerk's trust."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 100:
        return target
    return "/counter/1"


def _finish_args(body: dict[str, Any]) -> tuple[str, str, str | None, int | None]:
    outcome, note = body.get("outcome"), body.get("note", "")
    to_band, to_counter = body.get("to_band"), body.get("to_counter")
    if outcome not in OUTCOMES:
        raise HallError(422, "invalid_outcome", "办理结果应为 done、returned 或 transferred")
    if not isinstance(note, str) or len(note) > 500 or "\x00" in note:
        raise HallError(422, "invalid_note", "备注应为不超过 500 字的文字")
    if to_band is not None and not isinstance(to_band, str):
        raise HallError(422, "invalid_band", "to_band 应为号段字母")
    if to_counter is not None and (not isinstance(to_counter, int) or isinstance(to_counter, bool) or not 1 <= to_counter <= 999):
        raise HallError(422, "invalid_counter", "to_counter 应为 1 到 999 的窗口号")
    if outcome == "transferred" and to_band is None and to_counter is None:
        raise HallError(422, "transfer_target", "转办需要选择号段或窗口")
    return outcome, note, to_band, to_counter


def _note_with_missing(note: str, materials: list[str], present: list[str], outcome: str) -> str:
    """退回补正 from the page: the unticked materials become the note's missing list."""
    if outcome != "returned":
        return note
    missing = [m for m in materials if m not in present]
    if not missing:
        return note
    line = "缺少材料：" + "、".join(missing)
    return f"{line}；{note}" if note else line
