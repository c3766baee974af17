"""HTTP(S) to the service hall (kiosk/hall/app.py holds the contract).

`HallClient` is the kiosk's side (bearer token from `[hall]`): issue a ticket linked to a
submission and hand over the application. `HallClerk` is a counter's side (`kiosk queue`): log
in, then call / recall / skip / finish with the session cookie and its CSRF token.

The hall's certificate is always verified, against `[hall] ca_file` when given (a private CA),
else the system's CAs — as HubClient does for the hub. Every failure is a `HallError` whose text
names no token, password or personal data; `unreachable` tells "the hall is down" (go to the
counter with the 业务编号) from "the hall said no".
"""
from __future__ import annotations

import ssl
from typing import Any, Self

import httpx

from kiosk.errors import ConfigError


class HallError(Exception):
    """`status` is the HTTP status (None when no answer came); `code` the hall's error code."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code

    @property
    def unreachable(self) -> bool:
        """No answer, or the hall answering that it cannot serve now."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


def tls_verify(ca_file: str | None, key: str = "hall.ca_file") -> Any:
    """What httpx verifies the hall's certificate with: a context on `ca_file`, else the system CAs."""
    if not ca_file:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("config", key, f"cannot load the hall CA file {ca_file}: "
                          f"{getattr(exc, 'strerror', None) or getattr(exc, 'reason', None) or exc}") from None


class _HallHttp:
    def __init__(self, url: str, timeout_s: float, transport: httpx.BaseTransport | None, ca_file: str | None,
                 headers: dict[str, str]) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport, verify=tls_verify(ca_file),
                                    headers={"User-Agent": "yibao-kiosk", **headers})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The reply's JSON object, or HallError (message safe to print: no credentials, no data)."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # refused, timeout, reset, TLS failure
            raise HallError(f"hall {self.url} unreachable ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not 200 <= response.status_code < 300:
            code = str(body.get("error", ""))[:60] if isinstance(body, dict) else ""
            message = str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
            raise HallError(f"hall said HTTP {response.status_code}{' ' + code if code else ''}{': ' + message if message else ''}",
                            response.status_code, code)
        if not isinstance(body, dict):
            raise HallError(f"hall reply (HTTP {response.status_code}) is not a JSON object", response.status_code)
        return body

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/api/health")


class HallClient(_HallHttp):
    """The kiosk's calls (bearer token)."""

    def __init__(self, url: str, token: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None,
                 ca_file: str | None = None) -> None:
        super().__init__(url, timeout_s, transport, ca_file, {"Authorization": f"Bearer {token}"})

    @classmethod
    def from_config(cls, hall: Any, timeout_s: float | None = None) -> HallClient:
        """From the `[hall]` config section (url, token, timeout_s, ca_file)."""
        return cls(hall.url, hall.token, hall.timeout_s if timeout_s is None else timeout_s, ca_file=hall.ca_file or None)

    def issue_ticket(self, service: str, priority: bool | str, submission_id: str | None,
                     application: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hall's ticket JSON. With a submission id the call is idempotent (the hall answers a
        repeat with the same ticket), so a lost reply is retried once; without one it is not — a
        retry could put the resident in line twice."""
        body: dict[str, Any] = {"service": service, "priority": priority, "submission_id": submission_id}
        if application is not None:
            body["application"] = application
        attempts = 2 if submission_id else 1
        for attempt in range(attempts):
            try:
                ticket = self._call("POST", "/api/tickets", json=body)
                break
            except HallError as exc:
                if attempt + 1 == attempts or not exc.unreachable:
                    raise
        if not isinstance(ticket.get("number"), str) or not isinstance(ticket.get("id"), str):
            raise HallError("hall ticket reply has no number or id")
        return ticket

    def check_in(self, code: str, request_id: str) -> dict[str, Any]:
        """预约签到: the hall's ticket JSON (plus "appointment"). The request id makes it idempotent
        (a repeat gets the same ticket), so a lost reply is retried once. HallError with code
        appointment_unknown | appointment_not_yet | appointment_expired | appointment_used when refused."""
        body = {"code": code, "request_id": request_id}
        for attempt in range(2):
            try:
                ticket = self._call("POST", "/v1/appointments/check-in", json=body)
                break
            except HallError as exc:
                if attempt == 1 or not exc.unreachable:
                    raise
        if not isinstance(ticket.get("number"), str) or not isinstance(ticket.get("id"), str):
            raise HallError("hall check-in reply has no number or id")
        return ticket

    def withdraw(self, ticket_id: str) -> bool:
        """The resident withdrew the submission: True when the ticket left the hall's queue."""
        return self._call("POST", f"/api/tickets/{ticket_id}/withdraw").get("withdrawn") is True


class HallClerk(_HallHttp):
    """A counter's calls: `login` first (session cookie + CSRF token), then the actions."""

    def __init__(self, url: str, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None,
                 ca_file: str | None = None) -> None:
        super().__init__(url, timeout_s, transport, ca_file, {})
        self._csrf = ""

    def login(self, user: str, password: str) -> str:
        """The clerk's role; HallError (401 bad_login, 429 too_many_failures) otherwise."""
        body = self._call("POST", "/api/login", json={"user": user, "password": password})
        self._csrf = str(body.get("csrf", ""))
        return str(body.get("role", ""))

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._call("POST", path, json=body or {}, headers={"X-CSRF-Token": self._csrf})

    def current(self, counter: int) -> dict[str, Any] | None:
        return self._call("GET", f"/api/counters/{counter}").get("ticket")

    def call(self, counter: int, service: str | None = None) -> dict[str, Any] | None:
        return self._post(f"/api/counters/{counter}/call", {"service": service} if service else {}).get("ticket")

    def recall(self, counter: int) -> dict[str, Any] | None:
        return self._post(f"/api/counters/{counter}/recall").get("ticket")

    def skip(self, counter: int) -> dict[str, Any] | None:
        return self._post(f"/api/counters/{counter}/skip").get("ticket")

    def finish(self, ticket_id: str, outcome: str = "done", note: str = "") -> dict[str, Any] | None:
        return self._post(f"/api/tickets/{ticket_id}/finish", {"outcome": outcome, "note": note}).get("ticket")

    def done(self, counter: int) -> dict[str, Any] | None:
        """办结 the ticket now at the counter (None when there is none), as `kiosk queue done` does locally."""
        current = self.current(counter)
        return self.finish(current["id"], "done") if current else None

    def lobby(self) -> dict[str, Any]:
        return self._call("GET", "/api/lobby")
