"""Getting the outbox to the hub: `HubClient` (HTTP), `Syncer` (one batch, the ack rules) and
`SyncWorker` (a plain thread with backoff and a heartbeat; the app bridges its status to Qt).

Ack rule: a row is acked only after a 2xx reply that names its id as accepted or duplicate.
Anything else — transport errors, 5xx, a reply that is not the expected JSON, a reply that
omits an id — leaves the row pending for the next attempt; a hostile reply never crashes us.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Sequence

from kiosk.errors import UserFacingError
from kiosk.services.outbox import Claim, OutboxKeyError, OutboxStore

if TYPE_CHECKING:
    import httpx  # imported where a request is made: ~0.25 s (httpcore, trio) off the GUI thread's start-up (issue 20)

    from drivers.diagnostics import CheckResult

log = logging.getLogger(__name__)

RESULTS = ("accepted", "duplicate", "rejected")


class HubError(Exception):
    """The hub could not be reached or did not answer usefully; `transient` says whether to retry."""

    def __init__(self, message: str, status: int | None = None, transient: bool = True,
                 message_zh: str = "", message_en: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        # what the hub says a resident should read (e.g. the platform does not know the person)
        self.message_zh, self.message_en = message_zh, message_en


def _resident_message(body: Any) -> tuple[str, str]:
    """The hub's `detail.message_zh/en`, only as short plain text: a hostile reply cannot put
    markup, control characters or a wall of text on the resident's screen."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return "", ""

    def clean(value: Any) -> str:
        if not isinstance(value, str) or not 0 < len(value) <= 200:
            return ""
        return "" if any(ch < " " or ch in "<>" for ch in value) else value.strip()

    zh, en = clean(detail.get("message_zh")), clean(detail.get("message_en"))
    return (zh, en) if zh and en else ("", "")


# Codes of a failed `HubClient.self_test` (`CheckResult.code`): `kiosk diag` picks its advice by
# them (kiosk/services/diagnostics/advice.py), never by the text.
HUB_UNREACHABLE, HUB_AUTH, HUB_TLS = "HUB_UNREACHABLE", "HUB_AUTH", "HUB_TLS"
HUB_CHECK_CODES = (HUB_UNREACHABLE, HUB_AUTH, HUB_TLS)


def tls_failure(exc: BaseException) -> str | None:
    """The TLS reason behind a transport error (a certificate not verified, a handshake refused),
    found on its chain of causes, else None."""
    import ssl

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"certificate not trusted ({current.verify_message or current.reason})"
        if isinstance(current, ssl.SSLError):
            return f"TLS failed ({current.reason or type(current).__name__})"
        current = current.__cause__ or current.__context__
    return None


def hub_check_code(exc: HubError) -> str:
    """HUB_AUTH when the hub refused the kiosk's token, HUB_TLS when its certificate could not be
    verified, else HUB_UNREACHABLE (no answer, or no useful one)."""
    if exc.status in (401, 403):
        return HUB_AUTH
    if exc.status is None and tls_failure(exc):
        return HUB_TLS
    return HUB_UNREACHABLE


class HubNotFound(HubError):
    def __init__(self, message: str = "not found", message_zh: str = "", message_en: str = "") -> None:
        super().__init__(message, 404, False, message_zh, message_en)


@dataclass(frozen=True)
class ItemResult:
    id: str
    result: str  # accepted | duplicate | rejected
    reason: str | None = None


class HubClient:
    """HTTP(S) to the hub. The hub's certificate is always verified: against `ca_file` (a private
    CA's bundle, `[hub] ca_file`) when given, else the system's CAs."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None,
                 ca_file: str | None = None) -> None:
        self.url = url.rstrip("/")
        verify: Any = True
        if ca_file:
            import ssl

            from kiosk.errors import ConfigError
            try:
                verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("config", "hub.ca_file", f"cannot load the hub CA file {ca_file}: "
                                  f"{getattr(exc, 'strerror', None) or getattr(exc, 'reason', None) or exc}") from None
        # The httpx client (and the system CAs' SSL context it loads, ~0.15 s) is made on first use,
        # on the thread that first talks to the hub — not on the GUI thread at start-up (issue 20).
        self._client_args: dict[str, Any] = {
            "base_url": self.url, "timeout": timeout_s, "transport": transport, "verify": verify,
            "headers": {"Authorization": f"Bearer {token}", "User-Agent": "yibao-kiosk"}}
        self._made: httpx.Client | None = None
        self._making = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        client = self._made
        if client is None:
            with self._making:
                if self._made is None:
                    import httpx

                    self._made = httpx.Client(**self._client_args)
                client = self._made
        return client

    @classmethod
    def from_config(cls, hub: Any, timeout_s: float | None = None) -> HubClient:
        """From the `[hub]` config section (url, token, timeout_s, ca_file)."""
        return cls(hub.url, hub.token, hub.timeout_s if timeout_s is None else timeout_s, ca_file=hub.ca_file or None)

    def close(self) -> None:
        with self._making:
            if self._made is not None:
                self._made.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # connect/read/write timeouts, resets, protocol errors
            raise HubError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise HubError(f"HTTP {response.status_code}: reply is not JSON", response.status_code) from None

    def _check(self, response: httpx.Response) -> None:
        if not 200 <= response.status_code < 300:
            transient = response.status_code >= 500 or response.status_code in (401, 403, 408, 429)
            detail, body = "", None
            try:
                body = response.json()
                if isinstance(body, dict):
                    detail = str(body.get("error", ""))[:100]
            except ValueError:
                pass
            if response.status_code == 404:
                raise HubNotFound("not found", *_resident_message(body))
            raise HubError(f"HTTP {response.status_code}{': ' + detail if detail else ''}", response.status_code, transient,
                           *_resident_message(body))

    def post_batch(self, items: Sequence[dict[str, Any]]) -> list[ItemResult]:
        """Results the hub named, validated; unknown ids and malformed entries are dropped."""
        response = self._request("POST", "/v1/submissions", json={"items": list(items)})
        return self._results(response, {item["id"] for item in items})

    def post_encoded(self, ids: Sequence[str], body: bytes) -> list[ItemResult]:
        """`post_batch` for a body already encoded (`request_body`) holding the items `ids`."""
        response = self._request("POST", "/v1/submissions", content=body, headers={"Content-Type": "application/json"})
        return self._results(response, set(ids))

    def _results(self, response: httpx.Response, sent: set[str]) -> list[ItemResult]:
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise HubError(f"HTTP {response.status_code}: reply has no results list", response.status_code)
        results = []
        for r in body["results"]:
            if (isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"] in sent
                    and r.get("result") in RESULTS):
                reason = r.get("reason")
                results.append(ItemResult(r["id"], r["result"], str(reason)[:200] if reason is not None else None))
        return results

    def health(self) -> dict[str, Any]:
        response = self._request("GET", "/v1/health")
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict):
            raise HubError("health reply is not an object")
        return body

    def self_test(self) -> CheckResult:
        """For `kiosk diag`: can we reach the hub, and how fast."""
        from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch

        with Stopwatch() as sw:
            try:
                body = self.health()
                failure: HubError | None = None
            except HubError as exc:
                body, failure = {}, exc
        if failure is not None:
            error = str(failure)
            return CheckResult("hub.reachable", CheckStatus.ERROR, f"{self.url}: {error}", f"无法连接医保中心：{error}", sw.ms,
                               {"http_status": failure.status} if failure.status is not None else {},
                               code=hub_check_code(failure))
        ok = body.get("status") == "ok"
        return CheckResult("hub.reachable", CheckStatus.OK if ok else CheckStatus.DEGRADED,
                           f"{self.url}: {body.get('status')} ({body.get('store')})", "医保中心连接正常" if ok else "医保中心状态异常",
                           sw.ms, {"store": body.get("store")})

    def resolve_voucher(self, code: str) -> dict[str, Any]:
        """The demo person for a 医保电子凭证 code; `HubNotFound` when the hub does not know it."""
        response = self._request("POST", "/v1/vouchers/resolve", json={"code": code})
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("id_number"), str):
            raise HubError("voucher reply has no id_number")
        return body

    def person_record(self, id_number: str, evidence: dict[str, str] | None = None) -> dict[str, Any]:
        """`evidence`: what the card read showed (sscard_number, or id_issuer + id_valid_from +
        id_valid_until) so the hub can tell a resident at the kiosk from a typed-in number."""
        body: dict[str, Any] = {"id_number": id_number, **({"evidence": evidence} if evidence else {})}
        response = self._request("POST", "/v1/persons/record", json=body)
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict):
            raise HubError("record reply is not an object")
        return body

    def get_submission(self, submission_id: str) -> dict[str, Any]:
        response = self._request("GET", f"/v1/submissions/{submission_id}")
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict):
            raise HubError("submission reply is not an object")
        return body

    def heartbeat(self, beat: dict[str, Any]) -> dict[str, Any]:
        """The kiosk's health for the bureau's fleet page (no personal data: states and counts)."""
        response = self._request("POST", "/v1/heartbeat", json=beat)
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict):
            raise HubError("heartbeat reply is not an object")
        return body

    def application_state(self, submission_id: str) -> dict[str, Any]:
        """The back office's state of one of this kiosk's submissions (`submitted` until set)."""
        response = self._request("GET", f"/v1/applications/{submission_id}/state")
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            raise HubError("state reply has no state")
        return body

    def person_applications(self, id_number: str, evidence: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """办理进度查询: this person's applications (at any kiosk) with their states; the same
        card evidence as `person_record`."""
        body: dict[str, Any] = {"id_number": id_number, **({"evidence": evidence} if evidence else {})}
        response = self._request("POST", "/v1/persons/applications", json=body)
        self._check(response)
        reply = self._json(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("applications"), list):
            raise HubError("applications reply has no list")
        return [a for a in reply["applications"] if isinstance(a, dict)]

    def state_changes(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """This kiosk's application states changed after `since`, and the cursor to ask with next."""
        response = self._request("GET", "/v1/application-states", params={"since": since})
        self._check(response)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list) or not isinstance(body.get("next"), int):
            raise HubError("state changes reply is not as expected")
        return [c for c in body["changes"] if isinstance(c, dict)], body["next"]


@dataclass(frozen=True)
class SyncReport:
    sent: int = 0
    acked: int = 0  # accepted + duplicate
    duplicates: int = 0
    quarantined: int = 0  # by the hub's verdict or locally (unreadable rows); see local_quarantined
    error: str | None = None
    local_quarantined: int = 0  # rows that could not be read or decrypted here, never sent
    config_error: str | None = None  # the hub refused this kiosk itself (token, identity): sync is paused

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(self.sent + other.sent, self.acked + other.acked, self.duplicates + other.duplicates,
                          self.quarantined + other.quarantined, other.error or self.error,
                          self.local_quarantined + other.local_quarantined, other.config_error or self.config_error)

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "acked": self.acked, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "error": self.error,
                "local_quarantined": self.local_quarantined, "config_error": self.config_error}


_PERMANENT_BATCH_STATUSES = (400, 413, 422)
_AUTH_STATUSES = (401, 403)
IDENTITY_REASONS = ("kiosk_mismatch",)  # a verdict on the kiosk, not on the item


def identity_problem(status: int | None, reason: str | None = None, kiosk_id: str = "") -> str:
    """What to fix, in one line, when the hub refuses the kiosk rather than a submission."""
    if status == 401:
        return ("the hub refused this kiosk's token (HTTP 401): set hub.token (or KIOSK_HUB_TOKEN) to the token "
                f"issued for kiosk {kiosk_id or 'kiosk.id'} (`kiosk hub add-token` on the hub); submissions stay pending")
    if status == 403:
        return ("the hub does not allow this kiosk to submit (HTTP 403): check on the hub that the kiosk is enrolled "
                "and its token is active; submissions stay pending")
    return (f"the hub token belongs to another kiosk than kiosk.id {kiosk_id!r} ({reason}): set kiosk.id to the id "
            "the token was issued for, or set hub.token to this kiosk's own token; submissions stay pending")


# Chosen by measurement (bench/bench_sync.py sweeps it): on loopback, throughput rises steeply up
# to ~100-200 items per request (the per-request cost is paid fewer times) and is flat beyond.
DEFAULT_BATCH_SIZE = 200
# A request stays well under the hub's default 1,000,000-byte body limit even when payloads are
# large (a 413 would make the Syncer fall back to one item per request).
DEFAULT_BATCH_BYTES = 256 * 1024


_BODY_HEAD, _BODY_TAIL = b'{"items":[', b"]}"


def wire_size(item: dict[str, Any]) -> int:
    """An upper bound of the item's bytes in the request body (ASCII-escaped JSON is never shorter
    than UTF-8 JSON)."""
    return len(json.dumps(item, separators=(",", ":"))) + 1


def request_body(items: Sequence[bytes]) -> bytes:
    """`{"items": [...]}` from items already encoded as JSON (`OutboxEntry.wire_json`)."""
    return _BODY_HEAD + b",".join(items) + _BODY_TAIL


@dataclass(frozen=True)
class Encoded:
    entry: Any  # OutboxEntry
    wire: bytes  # entry.wire_json(), made once


def split_by_bytes(entries: Sequence[Any], max_bytes: int) -> list[list[Encoded]]:
    """Consecutive runs of entries whose request body (`request_body`) is at most `max_bytes`
    (an entry bigger than that on its own goes alone). Each entry is encoded exactly once."""
    chunks: list[list[Encoded]] = []
    size = 0
    for entry in entries:
        item = Encoded(entry, entry.wire_json())
        n = len(item.wire) + 1  # its comma (or the envelope's slack for the first)
        if not chunks or size + n > max_bytes:
            chunks.append([])
            size = len(_BODY_HEAD) + len(_BODY_TAIL) - 1
        chunks[-1].append(item)
        size += n
    return chunks


class Syncer:
    def __init__(self, store: OutboxStore, client: HubClient, batch_size: int = DEFAULT_BATCH_SIZE,
                 max_batch_bytes: int = DEFAULT_BATCH_BYTES) -> None:
        self.store = store
        self.client = client
        self.batch_size = max(1, int(batch_size))
        self.max_batch_bytes = max(1, int(max_batch_bytes))

    def sync_once(self) -> SyncReport:
        """Claim one batch (at most `batch_size` rows), post it in requests of at most
        `max_batch_bytes`, apply the per-item results. Never raises for hub trouble.
        Rows that cannot be read locally are quarantined by the claim and counted here."""
        return self._post_claim(self.store.claim_batch(self.batch_size))

    def _prepare(self, acks: list[str], limit: int) -> tuple[Claim, list[list[Encoded]]]:
        """The helper thread's part of `drain`: record acks, claim the next batch, encode it."""
        claim = self.store.ack_and_claim(acks, limit)
        try:
            return claim, split_by_bytes(claim.entries, self.max_batch_bytes)
        except BaseException:  # claimed but cannot be sent from here: back in line, untried
            self.store.unclaim([e.id for e in claim.entries])
            raise

    def _post_claim(self, claim: Claim, acks: list[str] | None = None,
                    chunks: list[list[Encoded]] | None = None) -> SyncReport:
        """Post a claimed batch (`chunks`: already encoded). `acks`: collect the ids the hub took
        instead of marking them acked here (the caller records them; until then they stay `sending`)."""
        report = SyncReport(quarantined=claim.local_quarantined, local_quarantined=claim.local_quarantined)
        if not claim.entries:
            return report
        try:
            if chunks is None:
                chunks = split_by_bytes(claim.entries, self.max_batch_bytes)
            for n, chunk in enumerate(chunks):
                report = report + self._send(chunk, acks)
                if report.error:  # the hub is in trouble: the rest go back in line untouched
                    rest = [item.entry.id for later in chunks[n + 1:] for item in later]
                    if rest:
                        self.store.release_sending(rest, report.error)
                    break
            return report
        except BaseException:
            taken = set(acks or ())  # recorded by the caller; acked rows stay acked
            self.store.release_sending([e.id for e in claim.entries if e.id not in taken], "interrupted")
            raise

    def _pause(self, ids: list[str], problem: str, report: SyncReport) -> SyncReport:
        """The hub refused the kiosk: its items go back in line untouched, sync is paused."""
        self.store.release_sending(ids, problem)
        self.store.set_sync_paused(problem)
        log.error("sync paused: %s", problem)
        return dataclasses.replace(report, error=problem, config_error=problem)

    def _send(self, items: list[Encoded], acks: list[str] | None = None) -> SyncReport:
        batch = [item.entry for item in items]
        try:
            results = self.client.post_encoded([e.id for e in batch], request_body([item.wire for item in items]))
        except HubError as exc:
            if exc.status in _AUTH_STATUSES:
                return self._pause([e.id for e in batch], identity_problem(exc.status, kiosk_id=batch[0].kiosk_id),
                                   SyncReport(sent=len(batch)))
            if exc.status in _PERMANENT_BATCH_STATUSES and not exc.transient:
                if len(items) > 1:  # one bad item must not block the rest: send them one by one
                    report = SyncReport(sent=0)
                    for n, item in enumerate(items):
                        report = report + self._send([item], acks)
                        if report.error:  # paused or in trouble: the rest would fare the same
                            rest = [e.id for e in batch[n + 1:]]
                            if rest:
                                self.store.release_sending(rest, report.error)
                            break
                    return report
                self.store.quarantine(batch[0].id, f"hub refused: {exc}")
                log.warning("submission %s quarantined: %s", batch[0].id, exc)
                return SyncReport(sent=1, quarantined=1)
            self.store.release_sending([e.id for e in batch], str(exc))
            return SyncReport(sent=len(batch), error=str(exc))
        named = {r.id: r for r in results}
        identity = [r for r in results if r.result == "rejected" and r.reason in IDENTITY_REASONS]
        acked_ids = [r.id for r in results if r.result in ("accepted", "duplicate")]
        if acks is None:
            self.store.mark_acked(acked_ids)
        else:
            acks.extend(acked_ids)
        quarantined = 0
        for r in results:
            if r.result == "rejected" and r not in identity:
                self.store.quarantine(r.id, r.reason or "rejected")
                quarantined += 1
                log.warning("submission %s rejected by the hub: %s", r.id, r.reason)
        report = SyncReport(sent=len(batch), acked=len(acked_ids), duplicates=sum(r.result == "duplicate" for r in results),
                            quarantined=quarantined)
        if identity:
            return self._pause([r.id for r in identity], identity_problem(None, identity[0].reason, batch[0].kiosk_id), report)
        self.store.set_sync_paused(None)  # the hub took the kiosk's word: any earlier pause is over
        missing = [e.id for e in batch if e.id not in named]
        if missing:
            self.store.release_sending(missing, "hub reply did not name this id")
            return report + SyncReport(error="hub reply omitted some ids")
        return report

    def check_identity(self) -> str | None:
        """With nothing to send, ask an authenticated endpoint whether the hub still refuses
        this kiosk (a 404 for an unknown id means the token is good)."""
        try:
            self.client.get_submission("00000000-0000-0000-0000-000000000000")
        except HubNotFound:
            pass
        except HubError as exc:
            if exc.status in _AUTH_STATUSES:
                problem = identity_problem(exc.status)
                self.store.set_sync_paused(problem)
                return problem
            raise
        self.store.set_sync_paused(None)
        return None

    def drain(self, max_batches: int = 10_000) -> SyncReport:
        """Batches until the queue is empty or an attempt fails (a paused sync is a failure).

        Pipelined, one batch in flight and one prepared: while batch k is posted, a helper thread
        records batch k-1's acks and claims batch k+1 in one transaction (`ack_and_claim`), so
        the kiosk's commit and decryption run beside the hub's work instead of between requests.
        Acks are still written only after the 2xx that names them; a prepared batch the hub's
        trouble stopped goes back untried (`unclaim`); a crash leaves rows `sending`, released at
        the next start and answered `duplicate` by the hub if they had arrived.

        The pipeline starts once the hub has answered: until then nothing is prepared, so a retry
        while the hub is away claims and decrypts one batch, not two (issue 20: with a backlog the
        second batch was a growing heap peak at every retry, unclaimed again untried)."""
        total = SyncReport()
        acks: list[str] = []  # taken by the hub, not yet recorded
        claim: Claim | None = self.store.claim_batch(self.batch_size)
        chunks: list[list[Encoded]] | None = None
        prepared: Future[tuple[Claim, list[list[Encoded]]]] | None = None
        handed: list[str] = []  # the acks `prepared` records
        batches = 0
        hub_answered = False
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-claim") as pool:
            try:
                while claim is not None and batches < max_batches:
                    batches += 1
                    if not claim.entries:  # empty queue, or only unreadable rows (quarantined: look again)
                        total = total + self._post_claim(claim)
                        claim = self.store.claim_batch(self.batch_size) if claim.local_quarantined else None
                        chunks = None
                        continue
                    handed, acks = acks, []
                    limit = self.batch_size if batches < max_batches else 0
                    if hub_answered:
                        prepared = pool.submit(self._prepare, handed, limit)
                    posting, claim = claim, None  # the post acks or releases its rows, whatever happens
                    report = self._post_claim(posting, acks, chunks)
                    total = total + report
                    if prepared is None:  # the first batch: the next is claimed only once the hub took it
                        if report.error:
                            break
                        prepared = pool.submit(self._prepare, handed, limit)
                    (claim, chunks), prepared, handed = prepared.result(), None, []
                    if report.error:
                        break
                    hub_answered = True
            finally:
                try:
                    if prepared is not None:  # interrupted while the next claim was being prepared
                        claim = None
                        claim = prepared.result()[0]
                        handed = []
                finally:
                    acks = handed + acks  # `prepared` failed: its acks were not recorded
                    if acks:
                        self.store.mark_acked(acks)
                if claim is not None and claim.entries:  # prepared but never posted
                    self.store.unclaim([e.id for e in claim.entries])
        return total


@dataclass(frozen=True)
class SyncStatus:
    online: bool | None  # None until the first attempt
    pending: int
    oldest_pending_age_s: float | None
    last_error: str | None
    last_sync_at: float | None  # wall-clock time of the last successful exchange with the hub
    quarantined: int = 0
    config_error: str | None = None  # sync paused until this is fixed (status strip: 配置错误)


class SyncWorker(threading.Thread):
    """Drains the outbox in the background. Backoff after failure: a random delay in
    [0, min(cap, base·2^failures)] (full jitter), so a room full of kiosks does not retry in step.
    Paused (the hub refuses the kiosk's token or identity, or the key does not fit the rows):
    items stay pending and it looks again every `cap_s` until the configuration is fixed."""

    def __init__(self, syncer: Syncer, base_s: float = 1.0, cap_s: float = 300.0,
                 on_status: Callable[[SyncStatus], None] | None = None, rng: random.Random | None = None,
                 idle_s: float = 30.0, heartbeat_s: float = 5.0,
                 health: Callable[[], dict[str, Any]] | None = None, hub_heartbeat_s: float = 60.0) -> None:
        super().__init__(name="sync-worker", daemon=True)
        self.syncer = syncer
        self.base_s, self.cap_s = base_s, cap_s
        self.on_status = on_status or (lambda status: None)
        self.rng = rng or random.Random()
        self.idle_s, self.heartbeat_s = idle_s, heartbeat_s
        # `health`: the composition root's provider of device states and version for the hub's
        # heartbeat (POST /v1/heartbeat every `hub_heartbeat_s`); None = no heartbeat
        self.health, self.hub_heartbeat_s = health, hub_heartbeat_s
        self.last_heartbeat_at: float | None = None  # monotonic, of the last attempt
        self.last_heartbeat_error: str | None = None
        self.failures = 0
        self.online: bool | None = None
        self.last_error: str | None = None
        self.last_sync_at: float | None = None
        self.config_error: str | None = None
        self._wake = threading.Event()
        self._stop_requested = threading.Event()

    def next_delay(self) -> float:
        if self.config_error:
            return self.cap_s  # nothing changes until someone fixes the configuration
        if self.failures == 0:
            return self.idle_s
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** min(self.failures, 32)))

    def wake(self) -> None:
        """Try now (a new submission, or the network came back)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop_requested.set()
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def status(self) -> SyncStatus:
        s = self.syncer.store.status()
        return SyncStatus(self.online, s.pending + s.sending, s.oldest_pending_age_s, self.last_error,
                          self.last_sync_at, s.quarantined, self.config_error)

    def _emit(self) -> None:
        try:
            self.on_status(self.status())
        except Exception:
            log.exception("sync status observer failed")

    def heartbeat_body(self) -> dict[str, Any]:
        """Backlog and its age from the outbox, sync's last error, plus what `health` reports."""
        status = self.status()
        beat: dict[str, Any] = {"backlog": status.pending, "oldest_pending_age_s": status.oldest_pending_age_s}
        if status.config_error or status.last_error:
            beat["last_error"] = (status.config_error or status.last_error or "")[:200]
        if self.health is not None:
            beat.update(self.health())
        return {k: v for k, v in beat.items() if v is not None}

    def send_heartbeat(self, force: bool = False) -> bool:
        """One heartbeat when due (or `force`); never raises. True when the hub took it."""
        now = time.monotonic()
        if self.health is None or (not force and self.last_heartbeat_at is not None
                                   and now - self.last_heartbeat_at < self.hub_heartbeat_s):
            return False
        self.last_heartbeat_at = now  # a failed one waits its turn too: no hammering a struggling hub
        try:
            self.syncer.client.heartbeat(self.heartbeat_body())
        except HubError as exc:
            self.last_heartbeat_error = str(exc)
            log.info("heartbeat not delivered: %s", exc)
            return False
        except Exception as exc:  # a broken provider must not stop sync
            self.last_heartbeat_error = f"{type(exc).__name__}: {exc}"
            log.exception("heartbeat failed")
            return False
        self.last_heartbeat_error = None
        return True

    def attempt(self) -> SyncReport:
        """One round: drain; with nothing to send, a ping keeps `online` honest (an authenticated
        one while paused, so fixing the token on the hub resumes sync by itself)."""
        try:
            report = self.syncer.drain()
            if report.sent == 0 and report.error is None:
                if self.config_error:
                    problem = self.syncer.check_identity()
                    if problem:
                        report = SyncReport(error=problem, config_error=problem)
                else:
                    self.syncer.client.health()
        except HubError as exc:
            report = SyncReport(error=str(exc))
        except OutboxKeyError as exc:  # the key does not fit the stored rows: a configuration fault
            report = SyncReport(error=exc.message_en, config_error=exc.message_en)
        except UserFacingError as exc:  # disk full, database locked: say so, retry later
            log.error("sync attempt failed: %s", exc.message_en)
            report = SyncReport(error=exc.message_en)
        except Exception as exc:  # a bug or a broken disk must not kill the thread silently
            log.exception("sync attempt failed")
            report = SyncReport(error=f"{type(exc).__name__}: {exc}")
        if report.config_error or not report.error:  # a network error while paused does not end the pause
            self.config_error = report.config_error
        if report.error:
            self.failures += 1
            # we reached the hub when it refused the kiosk; otherwise online only if something got through
            self.online = bool(report.acked or report.config_error)
            self.last_error = report.error
            log.info("sync failed (%d in a row): %s", self.failures, report.error)
        else:
            self.failures = 0
            self.online = True
            self.last_error = None
            self.last_sync_at = time.time()
        return report

    def run(self) -> None:
        try:
            self.config_error = self.syncer.store.sync_paused()  # shown at once, re-checked by the first attempt
            self.syncer.store.release_sending()  # rows left 'sending' by a crash go back in line
        except Exception:
            log.exception("could not release rows left sending")
        while not self._stop_requested.is_set():
            self._wake.clear()
            self.attempt()
            self._emit()
            self.send_heartbeat()
            deadline = time.monotonic() + self.next_delay()
            while not self._stop_requested.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._wake.wait(min(remaining, self.heartbeat_s)):
                    break
                self._emit()
                self.send_heartbeat()
