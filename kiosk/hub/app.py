"""The hub's HTTP API (FastAPI). Every kiosk call carries `Authorization: Bearer <token>`.

POST /v1/submissions        {"items": [{id, kiosk_id?, service, kind, created_at, payload}]}
                            → 200 {"results": [{"id", "result": accepted|duplicate|rejected, "reason"?}]}
                            one result per item, in order; ids are scoped per kiosk
GET  /v1/submissions/{id}   → the stored metadata (own kiosk's submissions only; no payload)
GET  /v1/stats              → {"total": N, "kiosks": {own_kiosk_id: {"total": n, "by_service": {...}}}}
GET  /v1/health             → {"status": "ok"|"degraded", "store": ..., "time": ...} (no token);
                              503 when the store cannot read or cannot commit a write
POST /v1/vouchers/resolve   {"code": "..."} → the holder, through the platform's 电子凭证 service and
                            1101 (kiosk.hub.upstream); 404 unknown_voucher when it refuses the code
POST /v1/persons/applications {id_number, evidence} → {"applications": [{id, service, created_at, state,
                            note, updated_at, counter?: {outcome, note, counter, finished_at}}]} — 办理进度查询:
                            the person's applications at any kiosk (found by a keyed hash of the ID
                            number), with the same card-evidence check and audit as the record
POST /v1/persons/record     {id_number, evidence, diseases?} → the insurance record for 参保信息查询
                            from the platform's 1101 (+ 5301 filed diseases when asked), only with
                            card-read evidence that checks out; audited. Platform failures answer
                            502/503/504 with {"error", "detail": {"message_zh", "message_en"}}
POST /v1/enrol              {"kiosk_id", "code"} (no token) → {"kiosk_id", "token", "tls_fingerprint_sha256"}:
                            a one-time code from `kiosk hub enrol-code` (kiosk.hub.enrolment); 401 refused
GET  /openapi.json          FastAPI's own description of all of the above

Hostile input is answered, never crashes the hub: bad token 401 (nothing read or stored; 429 with
Retry-After after too many from one address), oversize 413, not JSON 400, wrong shape 422 (error
details never echo the input back); one unstorable item (lone surrogate, NUL) is rejected alone.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.hub import demo
from kiosk.hub.grants import LookupGrants
from kiosk.hub.ratelimit import SlidingWindowLimiter
from kiosk.hub.store import HubItem, HubStore, token_hash
from kiosk.hub.upstream.errors import UpstreamError
from kiosk.privacy import mask_id_number

log = logging.getLogger(__name__)

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_ITEMS = 1000


# -- request bodies (validated by hand from the raw JSON, so limits and error shapes stay ours) --
class ItemIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id: Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
    kiosk_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    service: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    kind: Literal["submission", "rating"] = "submission"
    created_at: Annotated[str, StringConstraints(max_length=40), Field(json_schema_extra={"format": "date-time"})]
    payload: dict[str, Any]

    @field_validator("created_at")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected an ISO 8601 timestamp") from None
        return value


class BatchIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)


class VoucherIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    code: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class EvidenceIn(BaseModel):
    """What the kiosk read from the resident's card, which someone holding only an ID number does not know."""
    model_config = ConfigDict(strict=True, extra="ignore")
    sscard_number: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    id_issuer: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    id_valid_from: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    id_valid_until: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    id_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None  # checked against 1101
    voucher_grant: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None  # from /v1/vouchers/resolve


class RecordQueryIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id_number: Annotated[str, StringConstraints(pattern=r"^\d{17}[\dX]$")]  # and the GB 11643 check digit
    evidence: EvidenceIn | None = None
    diseases: bool = False  # also the filed 门诊慢特病 (5301)


class ApplicationsQueryIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id_number: Annotated[str, StringConstraints(pattern=r"^\d{17}[\dX]$")]
    evidence: EvidenceIn | None = None


# -- responses (for /openapi.json and the clients built from it) ------------------------------
class ErrorOut(BaseModel):
    error: str
    detail: Any = None


class ItemResultOut(BaseModel):
    id: str
    result: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None


class BatchOut(BaseModel):
    results: list[ItemResultOut]


class SubmissionOut(BaseModel):
    id: str
    kiosk_id: str
    service: str
    kind: str
    created_at: str
    received_at: str
    status: str


class KioskStatsOut(BaseModel):
    total: int
    by_service: dict[str, int]


class StatsOut(BaseModel):
    total: int
    kiosks: dict[str, KioskStatsOut]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    store: str
    time: str


class PersonOut(BaseModel):
    name: str
    id_number: str
    sex: str
    birth_date: str | None
    voucher_status: str
    demo: bool
    lookup_grant: str | None = None  # evidence for this person's record/progress lookups from this kiosk (15 min)


class InsuranceOut(BaseModel):
    insutype: str
    insutype_name: str
    psn_type: str
    psn_type_name: str
    status: str
    status_name: str
    since: str | None = None  # absent when the platform gave no date
    paused_since: str | None = None
    region: str
    region_code: str


class FiledDiseaseOut(BaseModel):
    code: str
    name: str
    begin: str | None = None
    end: str | None = None  # absent: still in force


class RecordOut(BaseModel):
    id_number: str
    enrolled: bool
    status: str
    insurance_type: str
    scheme: str
    region: str
    region_code: str
    paid_until: str
    annual_contribution_yuan: int | None = None  # not in the platform's 1101: absent unless known
    demo: bool
    insurances: list[InsuranceOut] = []
    filed_diseases: list[FiledDiseaseOut] | None = None
    filed_diseases_error: str | None = None


class CounterOutcomeOut(BaseModel):
    outcome: str
    note: str = ""
    counter: int | str | None = None
    finished_at: str | None = None


class PersonApplicationOut(BaseModel):
    id: str
    service: str
    created_at: str
    state: str
    note: str
    updated_at: str | None = None
    counter: CounterOutcomeOut | None = None


class PersonApplicationsOut(BaseModel):
    applications: list[PersonApplicationOut]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses as inf, which no database or hash accepts
        raise ValueError("number out of range")
    return value


def _safe_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors echo the input (personal data); keep only where and what."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()][:20]


def text_problem(value: Any) -> str | None:
    """Why a payload cannot be stored as text anywhere, or None. A lone surrogate ("\\ud800") is
    not Unicode text at all; a real NUL is refused because PostgreSQL text cannot hold it (the
    six characters backslash-u-0-0-0-0 are ordinary text and pass). One walk, no encoding of
    the whole payload: it runs for every item of every batch (issue 20)."""
    nul = False
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    return "invalid_text"  # wins over a NUL anywhere, as before
            nul = nul or "\x00" in v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return "nul_character" if nul else None


# A JSON text can only put a NUL or a lone surrogate into a string through a \\u escape: raw control
# characters are refused by the parser and the body is decoded as strict UTF-8 (no surrogates).
# A body without such an escape needs no `text_problem` walk of its items (issue 20: the walk was
# a third of the hub's own CPU per batch). A false alarm (an escaped backslash, a valid pair)
# only means the walk runs.
_TEXT_RISK = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_json(raw: bytes) -> Any:
    """The hub's JSON: strict UTF-8, no NaN/Infinity, no number that overflows to inf."""
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json") from None


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI request body for a route that parses its JSON by hand (size limit first)."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(store: HubStore, tokens: dict[str, str], max_body_bytes: int = 1_000_000,
               auth_failures_per_minute: int = 10, lookups_per_minute: int = 30,
               require_evidence: bool = True, console: Any = None, platform: Any = None) -> FastAPI:
    """`tokens` maps token → kiosk id (from a file or config); tokens in the store's
    `kiosk_tokens` table are accepted too. `require_evidence`: refuse record and progress lookups
    that carry no card-read evidence (social-security card number, ID card name + issuer + dates,
    or the grant a voucher resolution handed out); every lookup is audited with its verdict.
    `console`: `kiosk.hub.console.routes.ConsoleOptions` for the bureau's console (defaults when None).
    `platform`: the `kiosk.hub.upstream.service.PlatformService` answering record and voucher
    queries (None: they answer 503 upstream_not_configured)."""
    app = FastAPI(title="医保自助 Kiosk hub", version="1", docs_url=None, redoc_url=None)
    known = {token_hash(t): k for t, k in tokens.items()}
    app.state.store = store
    auth_failures = SlidingWindowLimiter(auth_failures_per_minute)
    lookups = SlidingWindowLimiter(lookups_per_minute)
    grants = LookupGrants(store.keyring)
    bearer = [Security(HTTPBearer(auto_error=False))]  # documents the scheme; `authenticate` checks it

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = {"error": exc.error, **({"detail": exc.detail} if exc.detail is not None else {})}
        headers = dict(exc.headers or {})
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(body, status_code=exc.status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid", "detail": _safe_errors(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail).lower().replace(" ", "_")}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        route = request.scope.get("route")  # the template, not the path: a path may carry data
        log.exception("hub error on %s %s", request.method, getattr(route, "path", "?"))
        return JSONResponse({"error": "internal"}, status_code=500)

    async def authenticate(request: Request) -> str:
        address = _client_address(request)
        wait = auth_failures.retry_after(address)
        if wait:
            raise ApiError(429, "too_many_failed_logins", {"retry_after_s": wait}, {"Retry-After": str(wait)})
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        kiosk_id = None
        if scheme.lower() == "bearer" and token.strip():
            digest = token_hash(token.strip())
            kiosk_id = known.get(digest)
            if kiosk_id is None:
                kiosk_id = await run_in_threadpool(store.kiosk_for_token_hash, digest)
        if kiosk_id is None:
            n = auth_failures.record(address)  # the token itself is never logged
            log.warning("hub: failed authentication from %s (%s; %d in the last minute)", address,
                        "no bearer token" if not token.strip() else "unknown token", n)
            raise ApiError(401, "unauthorized")
        return kiosk_id

    async def read_json(request: Request, limit: int) -> Any:
        return parse_json(await read_body(request, limit))

    async def read_body(request: Request, limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ApiError(400, "bad_content_length")
            if int(length) > limit:
                raise ApiError(413, "too_large", {"max_bytes": limit})
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "too_large", {"max_bytes": limit})
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def validate(model: type[BaseModel], raw: Any) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, "invalid", _safe_errors(exc)) from None

    @app.post("/v1/submissions", response_model=BatchOut, response_model_exclude_none=True, dependencies=bearer,
              openapi_extra=_body(BatchIn), responses=_errors(400, 401, 413, 422, 429, 503))
    async def post_submissions(request: Request) -> Any:
        kiosk_id = await authenticate(request)
        raw = await read_body(request, max_body_bytes)
        batch: BatchIn = validate(BatchIn, parse_json(raw))
        check_text = _TEXT_RISK.search(raw) is not None
        refused: dict[int, str] = {}
        for n, i in enumerate(batch.items):
            if i.kiosk_id is not None and i.kiosk_id != kiosk_id:
                refused[n] = "kiosk_mismatch"
            elif check_text and (problem := text_problem(i.payload)):
                refused[n] = problem
        items = [HubItem(i.id, kiosk_id, i.service, i.kind, i.created_at, i.payload)
                 for n, i in enumerate(batch.items) if n not in refused]
        try:
            outcomes = iter(await run_in_threadpool(store.insert_batch, items) if items else [])
        except Exception as exc:  # one line: the cause, never the payload, never a traceback per request
            log.error("hub store failed on a batch of %d from %s: %s: %s", len(items), kiosk_id,
                      type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
            raise ApiError(503, "storage_unavailable") from None
        results = []
        for n, i in enumerate(batch.items):  # by position: an id sent twice gets two truthful answers
            if n in refused:
                results.append({"id": i.id, "result": "rejected", "reason": refused[n]})
            else:
                results.append(next(outcomes).to_json())
        # BatchOut by construction (ids passed the UUID pattern, results and reasons are ours): sent
        # as is, without FastAPI validating and re-serialising each result (`response_model` still
        # describes it in /openapi.json)
        return JSONResponse({"results": results})

    @app.get("/v1/submissions/{submission_id}", response_model=SubmissionOut, dependencies=bearer,
             responses=_errors(401, 404, 429))
    async def get_submission(submission_id: str, request: Request) -> Any:
        kiosk_id = await authenticate(request)
        row = await run_in_threadpool(store.get, submission_id, kiosk_id) if len(submission_id) <= 64 else None
        if row is None:  # another kiosk's submission is not yours to see (nor to learn of)
            raise ApiError(404, "not_found")
        return row

    @app.get("/v1/stats", response_model=StatsOut, dependencies=bearer, responses=_errors(401, 429))
    async def stats(request: Request) -> Any:
        kiosk_id = await authenticate(request)  # a kiosk sees its own counts; fleet figures are for staff
        return await run_in_threadpool(store.stats, kiosk_id)

    @app.get("/v1/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
    async def health() -> JSONResponse:
        ok = await run_in_threadpool(lambda: store.ping() and store.writable())
        body = {"status": "ok" if ok else "degraded", "store": store.kind,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.post("/v1/vouchers/resolve", response_model=PersonOut, dependencies=bearer, openapi_extra=_body(VoucherIn),
              responses=_errors(400, 401, 404, 413, 422, 429, 502, 503, 504))
    async def resolve_voucher(request: Request) -> Any:
        kiosk_id = await authenticate(request)
        voucher: VoucherIn = validate(VoucherIn, await read_json(request, 4096))
        try:
            holder = await run_in_threadpool(_platform().resolve_voucher, voucher.code)
        except UpstreamError as exc:
            raise _upstream_error(exc) from None
        return {**holder, "lookup_grant": grants.issue(kiosk_id, holder["id_number"])}

    @app.post("/v1/persons/record", response_model=RecordOut, dependencies=bearer, openapi_extra=_body(RecordQueryIn),
              responses=_errors(400, 401, 403, 404, 413, 422, 429, 502, 503, 504), response_model_exclude_none=True)
    async def person_record(request: Request) -> Any:
        kiosk_id = await authenticate(request)
        raw = await read_json(request, 4096)
        if not isinstance(raw, dict) or not isinstance(raw.get("id_number"), str) or not demo.id_number_valid(raw["id_number"]):
            raise ApiError(422, "invalid_id_number")
        query: RecordQueryIn = validate(RecordQueryIn, raw)
        masked = mask_id_number(query.id_number)
        wait = lookups.retry_after(kiosk_id)
        if wait:
            await _audit(kiosk_id, masked, "rate_limited")
            raise ApiError(429, "too_many_lookups", {"retry_after_s": wait}, {"Retry-After": str(wait)})
        lookups.record(kiosk_id)
        evidence = grants.screen(kiosk_id, query.id_number, query.evidence.model_dump(exclude_none=True) if query.evidence else {})
        try:  # a social-security card is checked by the platform itself, so the verdict comes back with it
            found = await run_in_threadpool(_platform().lookup, query.id_number, evidence, require_evidence, query.diseases)
        except UpstreamError as exc:
            await _audit(kiosk_id, masked, exc.code)
            raise _upstream_error(exc) from None
        await _audit(kiosk_id, masked, found.verdict)
        if found.record is None:
            raise ApiError(403, "evidence_mismatch" if found.verdict == "mismatch" else "evidence_required")
        return found.record

    @app.post("/v1/persons/applications", response_model=PersonApplicationsOut, dependencies=bearer,
              openapi_extra=_body(ApplicationsQueryIn), response_model_exclude_none=True,
              responses=_errors(400, 401, 403, 413, 422, 429, 502, 503, 504))
    async def person_applications(request: Request) -> Any:
        """办理进度查询: only with card evidence that checks out (the record lookup's check), audited."""
        kiosk_id = await authenticate(request)
        raw = await read_json(request, 4096)
        if not isinstance(raw, dict) or not isinstance(raw.get("id_number"), str) or not demo.id_number_valid(raw["id_number"]):
            raise ApiError(422, "invalid_id_number")
        query: ApplicationsQueryIn = validate(ApplicationsQueryIn, raw)
        masked = mask_id_number(query.id_number)
        wait = lookups.retry_after(kiosk_id)
        if wait:
            await _audit(kiosk_id, masked, "progress_rate_limited")
            raise ApiError(429, "too_many_lookups", {"retry_after_s": wait}, {"Retry-After": str(wait)})
        lookups.record(kiosk_id)
        evidence = grants.screen(kiosk_id, query.id_number, query.evidence.model_dump(exclude_none=True) if query.evidence else {})
        try:
            found = await run_in_threadpool(_platform().lookup, query.id_number, evidence, require_evidence, False)
        except UpstreamError as exc:
            await _audit(kiosk_id, masked, "progress_" + exc.code)
            raise _upstream_error(exc) from None
        await _audit(kiosk_id, masked, "progress_" + found.verdict)  # before anything is read
        if found.record is None:
            raise ApiError(403, "evidence_mismatch" if found.verdict == "mismatch" else "evidence_required")
        try:
            rows = await run_in_threadpool(store.person_applications, query.id_number)
        except Exception as exc:
            log.error("hub: progress query failed: %s", type(exc).__name__)
            raise ApiError(503, "storage_unavailable") from None
        return {"applications": rows}

    def _platform() -> Any:
        if platform is None:
            raise UpstreamError("upstream_not_configured")
        return platform

    def _upstream_error(exc: UpstreamError) -> ApiError:
        log.warning("hub: platform: %s", exc)  # the code and the clerk's reason; no personal data
        return ApiError(exc.problem.status, exc.code, exc.body()["detail"])

    async def _audit(kiosk_id: str, masked: str, outcome: str) -> None:
        """No audit row, no answer: a lookup that cannot be recorded is not made."""
        try:
            await run_in_threadpool(store.audit_lookup, kiosk_id, masked, outcome)
        except Exception as exc:
            log.error("hub: cannot write the lookup audit: %s", type(exc).__name__)
            raise ApiError(503, "storage_unavailable") from None

    from kiosk.hub.console.routes import HeartbeatIn, mount_console  # the bureau's console (issue 18)

    mount_console(app, store, authenticate, read_json, validate, auth_failures, console)

    from kiosk.hub.enrolment import mount_enrolment  # POST /v1/enrol: one-time code → token (issue 21)

    mount_enrolment(app, store, read_json, validate, auth_failures, ApiError, _client_address)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (BatchIn, VoucherIn, RecordQueryIn, ApplicationsQueryIn, HeartbeatIn, app.state.enrol_body):  # bodies parsed by hand still get described
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    return app
