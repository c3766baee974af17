"""The technician screen's API: `DiagnosticsFacade`, what `kiosk/ui/screens/technician.py` calls
(always from a task lane): PIN and lockout, running checks, test print, camera preview,
reconnect, the device trace, the outbox backlog and quarantine, the audit trail. Every action is
written to the audit log with actor "technician".
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.diagnostics import CheckResult
from kiosk import __version__
from kiosk.config import SIMULATED, Config
from kiosk.services.audit_log import AuditEntry, AuditLog
from kiosk.services.diagnostics.bundle import redact_text
from kiosk.services.diagnostics.checks import (
    CHECK_GROUPS,
    DiskThresholds,
    LiveDevices,
    config_in_effect,
    group_of,
    open_outbox_readonly,
    overall_status,
    run_checks,
)
from kiosk.services.submissions import outbox_path
from kiosk.services.trace import DeviceTrace

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TestPrintResult:
    __test__ = False  # not a pytest test class despite the name
    ok: bool
    png: bytes
    detail: str = ""
    detail_zh: str = ""


@dataclass(frozen=True)
class OutboxSummary:
    depth: int  # pending + sending
    oldest_pending_age_s: float | None
    quarantined: int
    acked: int = 0


@dataclass(frozen=True)
class QuarantinedItem:
    id: str
    service: str
    reason: str
    updated_at: float


class DiagnosticsFacade:
    """What the technician screen calls, always from a worker (`run_in_background`). Every
    action is written to the audit log with actor "technician"."""

    def __init__(self, config: Config, *, live: LiveDevices | None = None, sims: Any = None,
                 audit: AuditLog | None = None, disk: DiskThresholds | None = None,
                 test_print: Callable[[], TestPrintResult] | None = None) -> None:
        self.config = config
        self.live = live or LiveDevices()
        self.sims = sims
        self.audit_log = audit or AuditLog(config.data_dir / "audit.log")
        self.disk = disk or DiskThresholds()
        self._test_print = test_print
        from kiosk.services.technician import TechnicianGate

        self.gate = TechnicianGate(config.technician.pin_hash)
        self._trace: DeviceTrace | None = None

    # -- PIN (the screen calls these on the GUI thread or a worker; both fine) --
    @property
    def pin_enabled(self) -> bool:
        return self.gate.enabled

    @property
    def is_locked(self) -> bool:
        return self.gate.is_locked

    @property
    def lockout_remaining_s(self) -> float:
        return self.gate.lockout_remaining_s

    @property
    def attempts_left(self) -> int:
        return self.gate.attempts_left

    def try_pin(self, pin: str) -> bool:
        if self.gate.is_locked:
            self.audit("technician.pin_refused_locked")
            return False
        ok = self.gate.try_pin(pin)
        if ok:
            self.audit("technician.unlock")
        elif self.gate.is_locked:
            self.audit("technician.lockout", f"{self.gate.max_failures} wrong PINs; locked {self.gate.lockout_s:.0f} s")
        else:
            self.audit("technician.pin_wrong", f"{self.gate.attempts_left} attempts left")
        return ok

    def audit(self, action: str, detail: str = "") -> None:
        try:
            self.audit_log.record("technician", action, detail)
        except OSError:
            log.exception("audit log write failed")

    def run_all(self) -> list[CheckResult]:
        results = run_checks(self.config, self.sims, disk=self.disk, live=self.live)
        self.audit("diag.run_all", f"status {overall_status(results)}")
        return results

    def run_one(self, name: str) -> list[CheckResult]:
        group = group_of(name)
        if group not in CHECK_GROUPS:
            raise ValueError(f"unknown check {name!r}")
        results = run_checks(self.config, self.sims, only=[group], disk=self.disk, live=self.live)
        self.audit("diag.run_one", f"{group}: {overall_status(results)}")
        return results

    # -- live tools: trace, camera preview, reconnect ------------------------------------------
    def start_trace(self) -> None:
        if self._trace is None:
            self._trace = DeviceTrace()
        self._trace.start()

    def stop_trace(self) -> None:
        if self._trace is not None:
            self._trace.stop()

    def trace_lines(self, n: int = 12) -> list[str]:
        return self._trace.recent(n) if self._trace is not None else []

    def camera_snapshot(self) -> bytes:
        """One frame from the document camera as PNG, at most 480 px wide (raises the camera's own
        clear error)."""
        from drivers.camera import encode_png, open_camera, shrink

        section = self.config.devices.camera
        camera = open_camera(section.source, self.config.resolve(section.sim_folder))
        try:
            camera.open()
            frame = camera.grab()
        finally:
            camera.close()
        try:
            png = encode_png(shrink(frame, 480))
        except Exception:
            self.audit("camera.preview", "encode failed")
            raise
        self.audit("camera.preview", "ok")
        return png

    def reconnect(self, device: str) -> str:
        """Close the device's port; its owner reopens it at once (reader thread, next print)."""
        if device == "idcard" and self.live.idcard_reader is not None:
            reader = self.live.idcard_reader
            reader.submit(reader.close).result(timeout=5)  # on the reader's own thread
        elif device == "printer" and self.live.printer is not None:
            self.live.printer.close()
        else:
            raise ValueError(f"cannot reconnect {device!r} here")
        self.audit("device.reconnect", device)
        return device

    def test_print(self) -> TestPrintResult:
        result = (self._test_print or self._default_test_print)()
        self.audit("printer.test_print", "ok" if result.ok else f"failed: {result.detail}")
        return result

    def _default_test_print(self) -> TestPrintResult:
        from drivers.printer.preview import render_preview
        from drivers.printer.printer import TicketPrinter
        from drivers.printer.ticket import TicketContent, encode_ticket

        section = self.config.devices.printer
        content = TicketContent(service_point=self.config.kiosk.service_point, service_name="测试打印 TEST PRINT",
                                number="T000", people_ahead=0, estimated_wait_min=0, issued_at=datetime.now(),
                                priority=False, ticket_id="TEST-PRINT", footer="技术员测试，非排队号")
        buffer = io.BytesIO()
        render_preview(encode_ticket(content, section.width_chars), section.width_chars).save(buffer, format="PNG")
        png = buffer.getvalue()
        if not section.enabled:
            return TestPrintResult(False, png, "printer disabled in config", "打印机已在配置中停用")
        printer, own = self.live.printer, False
        if printer is None:
            url = (getattr(self.sims, "urls", {}) or {}).get("printer", section.url)
            if url == SIMULATED:
                return TestPrintResult(False, png, "simulated printer not running", "模拟打印机未启动")
            printer, own = TicketPrinter(url, baud=section.baud, profile=section.profile, width_chars=section.width_chars), True
        try:
            outcome = printer.print_ticket(content)
        finally:
            if own:
                printer.close()
        if outcome.ok:
            return TestPrintResult(True, png, "test ticket printed", "测试小票已打印")
        detail = f"{outcome.message_en} ({outcome.detail})" if outcome.detail else outcome.message_en
        return TestPrintResult(False, png, detail, outcome.message_zh)

    def _store(self) -> tuple[Any, bool]:
        if self.live.outbox is not None:
            return self.live.outbox, False
        if not outbox_path(self.config).exists():
            return None, False
        return open_outbox_readonly(self.config), True

    def outbox_summary(self) -> OutboxSummary:
        store, own = self._store()
        if store is None:
            return OutboxSummary(0, None, 0)
        try:
            s = store.status()
        finally:
            if own:
                store.close()
        return OutboxSummary(s.pending + s.sending, s.oldest_pending_age_s, s.quarantined, s.acked)

    def quarantined(self, limit: int = 20) -> list[QuarantinedItem]:
        store, own = self._store()
        if store is None:
            return []
        try:
            rows = store.list(state="quarantined", limit=limit)
        finally:
            if own:
                store.close()
        return [QuarantinedItem(e.id, e.service, redact_text(e.reason or "", free_text=True), e.updated_at) for e in rows]

    def retry_quarantined(self) -> int:
        store, own = self._store()
        if store is None:
            return 0
        try:
            n = store.retry_quarantined()
        finally:
            if own:
                store.close()
        sync_worker = getattr(self.live, "sync_worker", None)
        if sync_worker is not None:
            sync_worker.wake()
        self.audit("outbox.retry_quarantined", f"{n} returned to pending")
        return n

    def recent_audit(self, n: int = 20) -> list[AuditEntry]:
        return self.audit_log.read_recent(n)

    def config_in_effect(self) -> dict[str, Any]:
        return config_in_effect(self.config)

    def version(self) -> str:
        return __version__


__all__ = ["DiagnosticsFacade", "OutboxSummary", "QuarantinedItem", "TestPrintResult"]
