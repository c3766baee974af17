"""The hub's HTTP API (FastAPI). Every kiosk call carries `Authorization: Bearer <token>`.

POST /v1/submissions        {"items": [{id, kiosk_id?, service, kind, created_at, payload}]}
                            → 200 {"results": [{"id", "result": accepted|duplicate|rejected, "reason"?}]}
GET  /v1/submissions/{id}   → the stored metadata (own kiosk's submissions only; no payload)
GET  /v1/stats              → {"total": N, "kiosks": {kiosk_id: {"total": n, "by_service": {...}}}}
GET  /v1/health             → {"status": "ok", "store": "sqlite"|"postgresql", "time": ...} (no token)
POST /v1/vouchers/resolve   {"code": "..."} → demo person, 404 when unknown (see kiosk.hub.demo)
POST /v1/persons/record {id_number} → demo insurance record for 参保信息查询 (the ID number
                                     travels in the body, never in a URL that proxies log)

Hostile input is answered, never crashes the hub: bad token 401 (nothing read or stored),
oversize 413, not JSON 400, wrong shape 422 (error details never echo the input back).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.hub import demo
from kiosk.hub.store import HubItem, HubStore, token_hash

log = logging.getLogger(__name__)

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_ITEMS = 1000


class ItemIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    id: Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
    kiosk_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    service: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    kind: Literal["submission", "rating"] = "submission"
    created_at: Annotated[str, StringConstraints(max_length=40)]
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


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        self.status, self.error, self.detail = status, error, detail


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


def create_app(store: HubStore, tokens: dict[str, str], max_body_bytes: int = 1_000_000) -> FastAPI:
    """`tokens` maps token → kiosk id (from a file or config); tokens in the store's
    `kiosk_tokens` table are accepted too."""
    app = FastAPI(title="医保自助 Kiosk hub", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    known = {token_hash(t): k for t, k in tokens.items()}
    app.state.store = store

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body = {"error": exc.error, **({"detail": exc.detail} if exc.detail is not None else {})}
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body, status_code=exc.status, headers=headers)

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
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized")
        digest = token_hash(token.strip())
        kiosk_id = known.get(digest)
        if kiosk_id is None:
            kiosk_id = await run_in_threadpool(store.kiosk_for_token_hash, digest)
        if kiosk_id is None:
            raise ApiError(401, "unauthorized")
        return kiosk_id

    async def read_json(request: Request, limit: int) -> Any:
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
        try:
            return json.loads(b"".join(chunks).decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "malformed_json") from None

    @app.post("/v1/submissions")
    async def post_submissions(request: Request) -> dict[str, Any]:
        kiosk_id = await authenticate(request)
        raw = await read_json(request, max_body_bytes)
        try:
            batch = BatchIn.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, "invalid", _safe_errors(exc)) from None
        refused = {i.id: "kiosk_mismatch" for i in batch.items if i.kiosk_id is not None and i.kiosk_id != kiosk_id}
        for i in batch.items:  # PostgreSQL text cannot hold NUL; refuse it on every store alike
            if i.id not in refused and "\\u0000" in json.dumps(i.payload):
                refused[i.id] = "nul_character"
        items = [HubItem(i.id, kiosk_id, i.service, i.kind, i.created_at, i.payload) for i in batch.items if i.id not in refused]
        try:
            stored = {o.id: o for o in await run_in_threadpool(store.insert_batch, items)} if items else {}
        except Exception:
            log.exception("hub store failed on a batch of %d from %s", len(items), kiosk_id)
            raise ApiError(503, "storage_unavailable") from None
        results = []
        for i in batch.items:
            if i.id in refused:
                results.append({"id": i.id, "result": "rejected", "reason": refused[i.id]})
            else:
                results.append(stored[i.id].to_json())
        return {"results": results}

    @app.get("/v1/submissions/{submission_id}")
    async def get_submission(submission_id: str, request: Request) -> dict[str, Any]:
        kiosk_id = await authenticate(request)
        row = await run_in_threadpool(store.get, submission_id) if len(submission_id) <= 64 else None
        if row is None or row["kiosk_id"] != kiosk_id:  # another kiosk's submission is not yours to see
            raise ApiError(404, "not_found")
        return row

    @app.get("/v1/stats")
    async def stats(request: Request) -> dict[str, Any]:
        await authenticate(request)
        return await run_in_threadpool(store.stats)

    @app.get("/v1/health")
    async def health() -> JSONResponse:
        ok = await run_in_threadpool(store.ping)
        body = {"status": "ok" if ok else "degraded", "store": store.kind,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.post("/v1/vouchers/resolve")
    async def resolve_voucher(request: Request) -> dict[str, Any]:
        await authenticate(request)
        raw = await read_json(request, 4096)
        try:
            voucher = VoucherIn.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, "invalid", _safe_errors(exc)) from None
        person = demo.resolve_voucher(voucher.code)
        if person is None:
            raise ApiError(404, "unknown_voucher")
        return person

    @app.post("/v1/persons/record")
    async def person_record(request: Request) -> dict[str, Any]:
        await authenticate(request)
        raw = await read_json(request, 4096)
        id_number = raw.get("id_number") if isinstance(raw, dict) else None
        if not isinstance(id_number, str) or not demo.id_number_valid(id_number):
            raise ApiError(422, "invalid_id_number")
        return demo.insurance_record(id_number)

    return app
