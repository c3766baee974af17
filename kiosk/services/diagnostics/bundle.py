"""The support bundle and the masking on its way out: `redact_text` / `redact_json` (personal
data masked in anything that leaves the kiosk), `outbox_snapshot` (stats, never payloads), and
`write_bundle` — a zip of checks, config (secrets hidden), versions, devices, outbox stats, the
audit log and logs, all redacted.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.diagnostics import CheckResult
from kiosk import __version__
from kiosk.config import Config
from kiosk.errors import UsageError
from kiosk.privacy import mask_name, scrub
from kiosk.services.audit_log import AuditLog
from kiosk.services.diagnostics.checks import (
    MiB,
    config_in_effect,
    open_outbox_readonly,
    overall_status,
    report_json,
    run_checks,
    versions,
)
from kiosk.services.submissions import outbox_path

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}")
# IDs, card numbers, permit/pass numbers: alphanumeric tokens with 6+ digits (UUID parts and
# sizes such as 1280x836 excepted)
_NUMBERED_TOKEN = re.compile(r"(?<![-0-9A-Za-z_])(?!\d{2,5}x\d{2,5}(?![0-9A-Za-z]))"
                             r"(?=[A-Za-z]*\d(?:[A-Za-z]*\d){5})[0-9A-Za-z]{8,40}(?![-0-9A-Za-z_])")
_LABELLED = re.compile(
    r"(?i)(\"?(?:name|english_name|chinese_name|id_number|address|phone|mobile|birth_date|pass_number|card_number"
    r"|姓名|证件号码|身份证号|住址|地址|电话|手机)\"?\s*[:=：]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;}]+)")


def redact_text(text: str, known_values: Iterable[str] = (), free_text: bool = True) -> str:
    """Mask personal data in text leaving the kiosk. `free_text` (logs, hub reasons) also masks
    labelled values (name=…, "id_number": …) and every run of Chinese characters (names,
    addresses); structured technical text (config, checks) keeps its Chinese."""
    for value in sorted({v for v in known_values if len(v) >= 2}, key=len, reverse=True):
        if _DATE_VALUE.fullmatch(value):  # a birth date, but never the date inside a timestamp
            text = re.sub(rf"(?<![\d-]){re.escape(value)}(?![\d:T]| \d\d:)", mask_name(value), text)
        else:
            text = text.replace(value, mask_name(value))
    if free_text:
        text = _LABELLED.sub(lambda m: m.group(1) + '"***"', text)
    text = scrub(text)
    text = _NUMBERED_TOKEN.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 2), text)
    if free_text:
        text = _CJK_RUN.sub(lambda m: mask_name(m.group(0)), text)
    return text


def redact_json(value: Any, known_values: Iterable[str] = (), free_text: bool = False) -> Any:
    """`redact_text` over every string inside a JSON-able value (keys and numbers untouched)."""
    known = list(known_values)
    if isinstance(value, str):
        return redact_text(value, known, free_text)
    if isinstance(value, dict):
        return {k: redact_json(v, known, free_text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v, known, free_text) for v in value]
    return value


_DATE_VALUE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Keys of a payload that hold the kiosk's own vocabulary, never something a resident typed.
_TECHNICAL_KEYS = frozenset({"service", "form_version", "reference", "source", "kind", "score"})


def _is_technical(text: str) -> bool:
    """Codes and small numbers: service codes, option values, sources (`idcard`), submission ids,
    amounts. Masking them would hide simulator names, codes and ids everywhere in the bundle."""
    return bool(re.fullmatch(r"[a-z][a-z0-9_]*", text) or _UUID.fullmatch(text)
                or (re.fullmatch(r"[\d.]+", text) and sum(c.isdigit() for c in text) < 6))


def _looks_personal(part: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", part)) or sum(c.isdigit() for c in part) >= 6


def _payload_strings(value: Any, key: str = "") -> Iterable[str]:
    """The personal strings of a payload, to mask wherever they leaked: what a resident gave,
    not the kiosk's codes (see _TECHNICAL_KEYS, _is_technical). Parts of a value (words of an
    address) count only when they look personal on their own (Chinese text, 6+ digits)."""
    if key in _TECHNICAL_KEYS:
        return
    if isinstance(value, str):
        text = value.strip()
        if not _is_technical(text):
            yield text
        yield from (part for part in re.split(r"[\s,，]+", text) if len(part) >= 3 and _looks_personal(part))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _payload_strings(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _payload_strings(v, key)


def outbox_snapshot(store: Any, limit: int = 200) -> tuple[dict[str, Any], set[str]]:
    """Stats and metadata of recent rows (never payloads), plus the payloads' strings so the
    bundle can redact them wherever they leaked (logs)."""
    status = store.status()
    rows = store.list(limit=limit, reveal=True)
    known: set[str] = set()
    for entry in rows:
        known.update(_payload_strings(entry.payload or {}))
    meta = [entry.to_json(reveal=False) for entry in rows]
    return {"status": status.to_json(), "recent": meta}, known


def check_bundle_path(path: str | os.PathLike[str]) -> Path:
    """Refuse (exit 2) a bundle path whose folder does not exist — no folders are made: a typo
    must not leave a file of kiosk data somewhere unexpected — or that is itself a folder."""
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError("BUNDLE_FOLDER", f"--bundle: 文件夹 {path.parent} 不存在", f"--bundle: folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError("BUNDLE_FOLDER", f"--bundle: {path} 是文件夹", f"--bundle: {path} is a folder, expected a file name such as bundle.zip")
    return path


def write_bundle(config: Config, path: str | os.PathLike[str], results: list[CheckResult] | None = None,
                 outbox: Any = None, max_log_bytes: int = 20 * MiB) -> Path:
    """A zip for support: checks, config (secrets hidden), versions, devices, outbox stats, audit
    log and logs — all redacted. Returns the path written."""
    from kiosk.services.discovery import device_inventory

    path = check_bundle_path(path)
    results = results if results is not None else run_checks(config)
    known: set[str] = set()
    outbox_info: dict[str, Any] = {"status": None, "note": "no outbox on this kiosk"}
    own = False
    try:
        if outbox is None and (outbox_path(config)).exists():
            outbox, own = open_outbox_readonly(config), True
        if outbox is not None:
            outbox_info, known = outbox_snapshot(outbox)
    except Exception as exc:  # noqa: BLE001 — a broken outbox is itself worth a bundle
        outbox_info = {"status": None, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        if own:
            outbox.close()
    audit_rows = [e.to_json() for e in reversed(AuditLog(config.data_dir / "audit.log").read_recent(1000))]
    documents: dict[str, tuple[Any, bool]] = {  # name → (JSON-able object, free_text)
        "checks.json": (report_json(results), False),
        "config.json": (config_in_effect(config), False),
        "versions.json": ({**versions(), "packages": _packages()}, False),
        "devices.json": (device_inventory(), False),
        "outbox.json": (outbox_info, True),
    }
    files: dict[str, str] = {
        name: json.dumps(redact_json(obj, known, free_text), ensure_ascii=False, indent=2, default=str)
        for name, (obj, free_text) in documents.items()
    }
    files["audit.jsonl"] = "".join(json.dumps(redact_json(row, known, True), ensure_ascii=False) + "\n" for row in audit_rows)
    budget = max_log_bytes
    log_dir = config.data_dir / "logs"
    for log_file in sorted(log_dir.glob("*.log*"), key=lambda p: p.stat().st_mtime, reverse=True) if log_dir.is_dir() else []:
        if budget <= 0:
            break
        data = log_file.read_bytes()[-budget:]
        budget -= len(data)
        files[f"logs/{log_file.name}"] = redact_text(data.decode("utf-8", errors="replace"), known, True)
    files["README.txt"] = redact_text(
        f"kiosk {__version__} diagnostics bundle, {datetime.now().isoformat(timespec='seconds')}\n"
        f"kiosk id {config.kiosk.id}; overall status {overall_status(results)}\n"
        "Personal data is masked (ID numbers, names, addresses, card numbers); the hub token and the "
        "technician PIN hash are removed; outbox payloads are not included.\n", known, False)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    os.replace(tmp, path)
    return path


def _packages() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in metadata.distributions():
        name = dist.name
        if name:
            out[name] = dist.version
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


__all__ = ["check_bundle_path", "outbox_snapshot", "redact_json", "redact_text", "write_bundle"]
