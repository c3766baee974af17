"""Technician diagnostics, in five parts:

- `advice`: what to do when a check fails, chosen by the error code on the result (drivers',
  the hub's HUB_*, the hall's HALL_*);
- `checks`: every self-test, `run_checks`, the overall status and `kiosk diag`'s JSON report;
- `hall`: the service hall's checks (reachable, token, clock, TLS) when `[hall] url` is set;
- `bundle`: masking of personal data and the support bundle;
- `panel_api`: `DiagnosticsFacade`, the technician screen's API.

UI-free: `kiosk diag` runs this without a display. `from kiosk.services.diagnostics import X`
keeps working for every name below.
"""
from __future__ import annotations

from kiosk.services.diagnostics.advice import ADVICE, ADVICE_BY_CODE, advice_key, advise, with_advice
from kiosk.services.diagnostics.bundle import check_bundle_path, outbox_snapshot, redact_json, redact_text, write_bundle
from kiosk.services.diagnostics.checks import (
                                               CHECK_GROUPS,
                                               HUB_CHECK_TIMEOUT_S,
                                               STALE_PENDING_S,
                                               DiskThresholds,
                                               GiB,
                                               LiveDevices,
                                               MiB,
                                               check_app,
                                               check_camera,
                                               check_config,
                                               check_disk,
                                               check_forms,
                                               check_hall,
                                               check_hub,
                                               check_idcard,
                                               check_ocr,
                                               check_outbox,
                                               check_printer,
                                               check_qrscan,
                                               check_sscard,
                                               config_in_effect,
                                               group_of,
                                               overall_exit_code,
                                               overall_status,
                                               report_json,
                                               run_checks,
                                               token_in_clear,
                                               versions,
)
from kiosk.services.diagnostics.panel_api import DiagnosticsFacade, OutboxSummary, QuarantinedItem, TestPrintResult

__all__ = [
    "ADVICE", "ADVICE_BY_CODE", "CHECK_GROUPS", "HUB_CHECK_TIMEOUT_S", "STALE_PENDING_S", "DiagnosticsFacade",
    "DiskThresholds", "GiB", "LiveDevices", "MiB", "OutboxSummary", "QuarantinedItem", "TestPrintResult", "advice_key",
    "advise", "check_app", "check_bundle_path", "check_camera", "check_config", "check_disk", "check_forms", "check_hall", "check_hub",
    "check_idcard", "check_ocr", "check_outbox", "check_printer", "check_qrscan", "check_sscard", "config_in_effect",
    "group_of", "outbox_snapshot", "overall_exit_code", "overall_status", "redact_json", "redact_text", "report_json",
    "run_checks", "token_in_clear", "versions", "with_advice", "write_bundle",
]
