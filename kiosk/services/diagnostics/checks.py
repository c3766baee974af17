"""Every self-test the kiosk can run, and running them: devices (through each driver's own
`self_test`), OCR, outbox, hub, the service hall (`hall.py`), disk, config; the overall status
and `kiosk diag`'s JSON report.

UI-free: `kiosk diag` runs this without a display. A failed device check gets its advice by the
driver error code it carries (`advice.advise`). Personal data never enters a result.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import logging
import platform
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from kiosk import __version__
from kiosk.config import SIMULATED, Config
from kiosk.privacy import scrub
from kiosk.services.diagnostics.advice import advise, with_advice
from kiosk.services.diagnostics.hall import check_hall
from kiosk.services.submissions import open_outbox, outbox_path

log = logging.getLogger(__name__)

GiB, MiB = 1024**3, 1024**2
STALE_PENDING_S = 3600.0
CHECK_GROUPS = ("app", "config", "idcard", "sscard", "printer", "qrscan", "camera", "ocr", "outbox", "hub", "hall", "disk")
HUB_CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DiskThresholds:
    degraded_below: int = 1 * GiB
    error_below: int = 200 * MiB


def _ok(name: str, detail: str, detail_zh: str, ms: float = 0.0, data: dict | None = None) -> CheckResult:
    return CheckResult(name, CheckStatus.OK, detail, detail_zh, ms, data or {})


# -- devices ---------------------------------------------------------------------------------

def _disabled(name: str, key: str) -> CheckResult:
    return _ok(name, f"disabled in config ({key} = false)", f"已在配置中停用（{key} = false）")


def check_idcard(config: Config, url: str, reader: Any = None) -> list[CheckResult]:
    """The live reader's self-test runs on its own device thread (`self_test_anywhere`)."""
    section = config.devices.idcard
    if not section.enabled:
        return [_disabled("idcard", "devices.idcard.enabled")]
    from drivers.idcard.reader import IdCardReader

    reader = reader or IdCardReader(url, baud=section.baud)
    out = []
    for r in reader.self_test_anywhere():
        if r.name == "idcard.port" and r.status is not CheckStatus.OK:
            r = dataclasses.replace(r, status=CheckStatus.MISSING)
        r = advise(r)
        if r.data.get("action") == "idcard.wrong_port":
            others = _other_id_readers(url)
            if others:
                r = dataclasses.replace(r, detail=f"{r.detail}. A reader answers on: {', '.join(others)}",
                                        detail_zh=f"{r.detail_zh}。检测到读卡器应答的端口：{'、'.join(others)}",
                                        data={**r.data, "readers_found": others})
        out.append(r)
    return out


def _other_id_readers(configured: str) -> list[str]:
    """Probe USB serial ports other than the configured one (quickly) for an answering reader."""
    from kiosk.services.discovery import find_id_readers, list_serial_ports

    ports = [i.device for i in list_serial_ports() if i.vid is not None and i.device != configured][:8]
    return [r.port for r in find_id_readers(ports, timeout=0.3)] if ports else []


def check_sscard(config: Config) -> list[CheckResult]:
    section = config.devices.sscard
    if not section.enabled:
        return [_disabled("sscard", "devices.sscard.enabled")]
    from drivers.sscard.reader import self_test

    return [advise(r) for r in self_test(section.reader)]


def check_printer(config: Config, url: str, printer: Any = None) -> list[CheckResult]:
    section = config.devices.printer
    if not section.enabled:
        return [_disabled("printer", "devices.printer.enabled")]
    from drivers.printer.printer import TicketPrinter

    own = printer is None
    printer = printer or TicketPrinter(url, baud=section.baud, profile=section.profile, width_chars=section.width_chars)
    try:
        results = printer.self_test()
    finally:
        if own:
            printer.close()
    return [advise(r) for r in results]


def check_qrscan(config: Config, url: str) -> list[CheckResult]:
    section = config.devices.qrscan
    if not section.enabled:
        return [_disabled("qrscan", "devices.qrscan.enabled")]
    from drivers.qrscan import self_test

    return [advise(r) for r in self_test(url, section.baud)]


def check_camera(config: Config) -> list[CheckResult]:
    section = config.devices.camera
    if not section.enabled:
        return [_disabled("camera", "devices.camera.enabled")]
    from drivers.camera.camera import open_camera

    return [advise(open_camera(section.source, config.resolve(section.sim_folder)).self_test())]


# -- software, storage, network --------------------------------------------------------------

def check_ocr(config: Config) -> list[CheckResult]:
    engine = config.ocr.engine
    if engine == "tesseract":
        from kiosk.ocr.engines import OcrEngineError, TesseractEngine

        with Stopwatch() as sw:
            try:
                TesseractEngine().check()
                error = None
            except OcrEngineError as exc:
                error = exc
        if error is None:
            return [_ok("ocr.engine", "tesseract with chi_sim", "Tesseract 中文语言包已安装", sw.ms, {"engine": engine})]
        return [advise(CheckResult("ocr.engine", CheckStatus.MISSING, error.message_en, error.message_zh, sw.ms,
                                   {"engine": engine}, code=error.code))]
    with Stopwatch() as sw:
        missing = [m for m in ("rapidocr", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        r = CheckResult("ocr.engine", CheckStatus.MISSING, f"{', '.join(missing)} not installed", "识别引擎未安装",
                        sw.ms, {"engine": engine})
        return [with_advice(r, "ocr.rapidocr")]
    return [_ok("ocr.engine", "rapidocr + onnxruntime installed (models inside the wheel)", "RapidOCR 识别引擎已安装",
                sw.ms, {"engine": engine})]


def check_outbox(config: Config, store: Any = None, stale_after_s: float = STALE_PENDING_S) -> list[CheckResult]:
    own = store is None
    if own:
        db = outbox_path(config)
        if not db.exists():
            return [_ok("outbox.db", "no outbox yet (nothing submitted on this kiosk)", "尚无待发送业务", 0.0,
                        {"pending": 0, "quarantined": 0, "oldest_pending_age_s": None})]
        try:
            store = open_outbox_readonly(config)
        except Exception as exc:  # noqa: BLE001 — key file or database unusable
            return [with_advice(CheckResult("outbox.db", CheckStatus.ERROR, f"cannot open the outbox: {exc}",
                                            "本地数据库无法打开"), "outbox.db")]
    try:
        r = store.self_test(stale_after_s)
    finally:
        if own:
            store.close()
    if r.data.get("key_error"):
        return [with_advice(r, "outbox.key", CheckStatus.ERROR)]
    if r.data.get("sync_paused"):
        return [with_advice(r, "sync.paused", CheckStatus.ERROR)]
    if r.status is CheckStatus.ERROR:
        return [with_advice(r, "outbox.db")]
    if r.data.get("recoveries"):
        r = with_advice(r, "outbox.recovered", CheckStatus.DEGRADED)
    if r.data.get("quarantined"):
        r = with_advice(r, "outbox.quarantined", CheckStatus.DEGRADED)
    if (r.data.get("oldest_pending_age_s") or 0) > stale_after_s:
        r = with_advice(r, "outbox.backlog", CheckStatus.DEGRADED)
    return [r]


def open_outbox_readonly(config: Config) -> Any:
    """Diagnostics never create a key: rows without their key are reported by the store's self-test."""
    return open_outbox(config, create_key=False)


def check_hub(config: Config, client: Any = None) -> list[CheckResult]:
    from kiosk.services.sync import HubClient

    own = client is None
    client = client or HubClient.from_config(config.hub, min(config.hub.timeout_s, HUB_CHECK_TIMEOUT_S))
    try:
        r = client.self_test()
    finally:
        if own:
            client.close()
    data = {**r.data, "latency_ms": round(r.elapsed_ms, 1), "url": config.hub.url}
    r = dataclasses.replace(r, data=data)
    if r.status is CheckStatus.OK:
        r = dataclasses.replace(r, detail=f"{r.detail}, {r.elapsed_ms:.0f} ms", detail_zh=f"{r.detail_zh}，延迟 {r.elapsed_ms:.0f} 毫秒")
        return [with_advice(r, "hub.cleartext", CheckStatus.DEGRADED) if token_in_clear(config.hub.url) else r]
    return [advise(r)]  # by the self-test's code (HUB_AUTH, HUB_TLS, HUB_UNREACHABLE), never by its text


def token_in_clear(url: str) -> bool:
    """A plain http:// hub that is not this machine: the bearer token would cross a network in clear."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: resolved elsewhere, so on a network


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(config: Config, thresholds: DiskThresholds = DiskThresholds(),
               usage: Callable[[Path], Any] = shutil.disk_usage) -> list[CheckResult]:
    where = _existing(config.data_dir)
    with Stopwatch() as sw:
        free = usage(where).free
    data = {"path": str(config.data_dir), "free_bytes": free}
    text_en, text_zh = f"{free / GiB:.2f} GiB free at {config.data_dir}", f"剩余 {free / GiB:.2f} GiB（{config.data_dir}）"
    if free < thresholds.error_below:
        return [with_advice(CheckResult("disk", CheckStatus.ERROR, text_en, text_zh, sw.ms, data), "disk.critical")]
    if free < thresholds.degraded_below:
        return [with_advice(CheckResult("disk", CheckStatus.DEGRADED, text_en, text_zh, sw.ms, data), "disk.low")]
    return [_ok("disk", text_en, text_zh, sw.ms, data)]


def versions() -> dict[str, Any]:
    """Versions of the kiosk, Python, the platform and the Qt binding — read from the installed
    packages' metadata, so the services stay Qt-free (the pip wheels of PySide6 ship the Qt of
    their own version, hence `qt` = the binding's version)."""
    from importlib import metadata

    info: dict[str, Any] = {"kiosk": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for dist in ("pyside6-essentials", "pyside6"):
        try:
            info["pyside6"] = info["qt"] = metadata.version(dist)
            break
        except metadata.PackageNotFoundError:
            continue
    return info


def check_app() -> list[CheckResult]:
    v = versions()
    return [_ok("app.version", f"kiosk {v['kiosk']}, Python {v['python']}" + (f", PySide6 {v['pyside6']}" if "pyside6" in v else ""),
                f"版本 {v['kiosk']}", 0.0, v)]


def config_in_effect(config: Config) -> dict[str, Any]:
    """The config as the kiosk runs it, secrets hidden (hub and hall tokens, technician PIN hash)."""
    raw = dataclasses.asdict(config)
    raw["data_dir"], raw["source"] = str(config.data_dir), str(config.source)
    raw["hub"]["token"] = "(set, hidden)" if config.hub.token else "(not set)"
    raw["hall"]["token"] = "(set, hidden)" if config.hall.token else "(not set)"
    raw["technician"]["pin_hash"] = "(set, hidden)" if config.technician.pin_hash else "(not set: technician mode off)"
    return raw


def check_config(config: Config) -> list[CheckResult]:
    sims = [k for k, v in (("idcard", config.devices.idcard.port), ("printer", config.devices.printer.url),
                           ("qrscan", config.devices.qrscan.port), ("camera", config.devices.camera.source)) if v == SIMULATED]
    en = f"{config.source}" + (f"; simulated: {', '.join(sims)}" if sims else "")
    zh = f"配置文件 {config.source}" + (f"；模拟设备：{'、'.join(sims)}" if sims else "")
    return [_ok("config", en, zh, 0.0, config_in_effect(config)), *check_forms(config)]


def check_forms(config: Config) -> list[CheckResult]:
    """The services residents can choose: every form file loads, and at least one does."""
    from kiosk.services.forms import load_forms

    folder = config.resolve(config.kiosk.forms_dir)
    with Stopwatch() as sw:
        catalog = load_forms(folder) if folder.is_dir() else None
    if catalog is None or not catalog.forms:
        return [CheckResult("config.forms", CheckStatus.ERROR, f"no form loads from {folder}: residents see no service; "
                            "set kiosk.forms_dir to the folder of form files (forms/*.toml)",
                            f"{folder} 中没有可用的业务表单，居民看不到任何业务；请把 kiosk.forms_dir 设为表单文件夹",
                            sw.ms, {"folder": str(folder), "errors": [str(e) for e in (catalog.errors if catalog else [])]})]
    data = {"folder": str(folder), "services": [f.code for f in catalog.forms], "errors": [str(e) for e in catalog.errors]}
    if catalog.errors:
        broken = "; ".join(str(e) for e in catalog.errors)
        return [CheckResult("config.forms", CheckStatus.DEGRADED, f"{len(catalog.forms)} services; hidden because broken: {broken}",
                            f"{len(catalog.forms)} 项业务；以下表单有错已隐藏：{broken}", sw.ms, data)]
    return [_ok("config.forms", f"{len(catalog.forms)} services from {folder}", f"{len(catalog.forms)} 项业务（{folder}）", sw.ms, data)]


# -- running them ----------------------------------------------------------------------------

@dataclass
class LiveDevices:
    """Objects the running app already owns; checks use them instead of opening a second handle."""

    idcard_reader: Any = None
    printer: Any = None
    outbox: Any = None
    hub_client: Any = None
    sync_worker: Any = None  # woken after "retry quarantined"


def group_of(name: str) -> str:
    return name.split(".", 1)[0]


def run_checks(config: Config, sims: Any = None, *, only: Iterable[str] | None = None,
               disk: DiskThresholds = DiskThresholds(), live: LiveDevices | None = None) -> list[CheckResult]:
    """Every check (or the groups in `only`). `sim://` devices: use `sims` when given (not stopped
    here), else start the simulators for the duration and stop them after."""
    groups = [g for g in CHECK_GROUPS if only is None or g in {group_of(o) for o in only}]
    live = live or LiveDevices()
    own_sims = None
    needs_sim = {"idcard": config.devices.idcard.port, "printer": config.devices.printer.url, "qrscan": config.devices.qrscan.port}
    if sims is None and any(g in groups and needs_sim[g] == SIMULATED for g in needs_sim):
        from kiosk.devices.simulators import start_simulators

        sims = own_sims = start_simulators(config)
    urls = dict(getattr(sims, "urls", {}) or {})
    steps: dict[str, Callable[[], list[CheckResult]]] = {
        "app": check_app,
        "config": lambda: check_config(config),
        "idcard": lambda: check_idcard(config, urls.get("idcard", config.devices.idcard.port), live.idcard_reader),
        "sscard": lambda: check_sscard(config),
        "printer": lambda: check_printer(config, urls.get("printer", config.devices.printer.url), live.printer),
        "qrscan": lambda: check_qrscan(config, urls.get("qrscan", config.devices.qrscan.port)),
        "camera": lambda: check_camera(config),
        "ocr": lambda: check_ocr(config),
        "outbox": lambda: check_outbox(config, live.outbox),
        "hub": lambda: check_hub(config, live.hub_client),
        "hall": lambda: check_hall(config),
        "disk": lambda: check_disk(config, disk),
    }
    results: list[CheckResult] = []
    try:
        for group in groups:
            try:
                results.extend(steps[group]())
            except Exception as exc:  # noqa: BLE001 — one broken check must not hide the others
                log.exception("check %s crashed", group)
                results.append(with_advice(CheckResult(group, CheckStatus.ERROR, f"{type(exc).__name__}: {scrub(str(exc))[:200]}",
                                                       "检测出错"), "crashed"))
    finally:
        if own_sims is not None:
            own_sims.stop()
    return results


def overall_status(results: Iterable[CheckResult]) -> str:
    statuses = {r.status for r in results}
    if CheckStatus.ERROR in statuses:
        return "error"
    if statuses & {CheckStatus.DEGRADED, CheckStatus.MISSING}:
        return "degraded"
    return "ok"


def overall_exit_code(results: Iterable[CheckResult]) -> int:
    return {"ok": 0, "degraded": 1, "error": 2}[overall_status(results)]


def report_json(results: list[CheckResult]) -> dict[str, Any]:
    return {"checks": [r.to_json() for r in results], "status": overall_status(results), "version": __version__}



__all__ = [
    "CHECK_GROUPS", "GiB", "HUB_CHECK_TIMEOUT_S", "MiB", "STALE_PENDING_S", "DiskThresholds", "LiveDevices", "check_app",
    "check_camera", "check_config", "check_disk", "check_forms", "check_hall", "check_hub", "check_idcard", "check_ocr", "check_outbox",
    "check_printer", "check_qrscan", "check_sscard", "config_in_effect", "group_of", "open_outbox_readonly",
    "overall_exit_code", "overall_status", "report_json", "run_checks", "token_in_clear", "versions",
]
