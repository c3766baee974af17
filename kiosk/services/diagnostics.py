"""Technician diagnostics: every self-test the kiosk can run, what to do when one fails, the
overall status, the support bundle, and `DiagnosticsFacade` (the API the technician screen calls).

UI-free: `kiosk diag` runs this without a display. Each failure a technician can meet carries a
bilingual message that says what to do (`ADVICE`), appended to the driver's own detail.
Personal data never enters a result; the bundle is redacted once more on the way out.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import io
import ipaddress
import json
import logging
import os
import platform
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from kiosk import __version__
from kiosk.config import SIMULATED, Config
from kiosk.errors import UsageError
from kiosk.privacy import mask_name, scrub
from kiosk.services.audit_log import AuditEntry, AuditLog
from kiosk.services.submissions import open_outbox, outbox_path

log = logging.getLogger(__name__)

GiB, MiB = 1024**3, 1024**2
STALE_PENDING_S = 3600.0
CHECK_GROUPS = ("app", "config", "idcard", "sscard", "printer", "qrscan", "camera", "ocr", "outbox", "hub", "disk")
HUB_CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DiskThresholds:
    degraded_below: int = 1 * GiB
    error_below: int = 200 * MiB


# What to do, keyed by problem. (English, Chinese); appended to the check's own detail.
ADVICE: dict[str, tuple[str, str]] = {
    "idcard.unplugged": (
        "ID card reader not found: check its USB cable and power, then run again. If it is plugged in, "
        "the port name may have changed: see the serial ports in `kiosk diag --bundle` and set devices.idcard.port",
        "未找到身份证读卡器：请检查 USB 线和电源后重新检测；若已接好，端口名可能已变，请查看诊断包中的串口列表并修改 devices.idcard.port"),
    "idcard.wrong_port": (
        "the port opens but no ID card reader answers: wrong port or baud rate? Set devices.idcard.port "
        "(and devices.idcard.baud, usually 115200) in config.toml to the reader's port",
        "端口能打开但没有身份证读卡器应答：端口或波特率可能配错，请在 config.toml 中把 devices.idcard.port 改为读卡器所在端口（波特率一般为 115200）"),
    "idcard.sam": (
        "the reader's security module (SAM) reports a fault: power-cycle the reader; if it persists, replace the reader",
        "读卡器安全模块报告故障：请断电重启读卡器；仍不行请更换读卡器"),
    "sscard.pcscd": (
        "start the smart-card service: `sudo systemctl enable --now pcscd` (install with `sudo apt install pcscd`)",
        "请启动读卡服务：sudo systemctl enable --now pcscd（未安装时先 sudo apt install pcscd）"),
    "sscard.pyscard": (
        "install the PC/SC library into the kiosk: `.venv/bin/pip install pyscard` (needs libpcsclite)",
        "请安装 PC/SC 库：.venv/bin/pip install pyscard（需要 libpcsclite）"),
    "sscard.no_reader": (
        "plug in the social-security card reader (USB) and check devices.sscard.reader matches its name",
        "请接好社保卡读卡器（USB），并确认 devices.sscard.reader 与读卡器名称相符"),
    "printer.paper_out": (
        "load a new 80 mm paper roll, close the cover, then run again",
        "请装入新的 80 毫米打印纸卷并关好纸仓盖，然后重新检测"),
    "printer.paper_low": (
        "the paper roll is nearly used up: replace it soon",
        "纸卷即将用完，请尽快更换"),
    "printer.offline": (
        "close the printer cover and check it is switched on, then run again",
        "请关好打印机纸仓盖并确认已开机，然后重新检测"),
    "printer.silent": (
        "tickets may still print, but paper-out cannot be detected: check the printer after a test print",
        "小票仍可能正常打印，但无法检测缺纸：请做一次测试打印并查看打印机"),
    "printer.connection": (
        "check the printer's power and cable, and devices.printer.url in config.toml",
        "请检查打印机电源和连接线，以及 config.toml 中的 devices.printer.url"),
    "qrscan.port": (
        "check the QR scanner's USB cable and devices.qrscan.port in config.toml",
        "请检查扫码器 USB 线以及 config.toml 中的 devices.qrscan.port"),
    "camera.missing": (
        "document camera not found: check its USB cable, then devices.camera.source (an index such as 0 or /dev/video0)",
        "未找到高拍仪：请检查 USB 线，并确认 devices.camera.source（如 0 或 /dev/video0）"),
    "camera.error": (
        "the camera gives no picture: unplug it, plug it back in and run again",
        "高拍仪没有画面：请拔下重新插好后重新检测"),
    "ocr.tesseract_lang": (
        "install the Chinese language data: `sudo apt install tesseract-ocr-chi-sim`, or set ocr.engine = \"rapidocr\"",
        "请安装中文语言包：sudo apt install tesseract-ocr-chi-sim，或把 ocr.engine 改为 \"rapidocr\""),
    "ocr.tesseract": (
        "install Tesseract: `sudo apt install tesseract-ocr tesseract-ocr-chi-sim` and `.venv/bin/pip install pytesseract`",
        "请安装 Tesseract：sudo apt install tesseract-ocr tesseract-ocr-chi-sim，并 .venv/bin/pip install pytesseract"),
    "ocr.rapidocr": (
        "reinstall the OCR engine: `.venv/bin/pip install rapidocr onnxruntime`",
        "请重新安装识别引擎：.venv/bin/pip install rapidocr onnxruntime"),
    "outbox.backlog": (
        "submissions are waiting: check the network and the hub (see hub.reachable), then `kiosk sync --once`",
        "有业务未上传：请检查网络和医保中心连接（见 hub.reachable），再执行 kiosk sync --once"),
    "outbox.quarantined": (
        "the hub refused some submissions: review them on the technician screen (retry) or `kiosk outbox list`",
        "医保中心拒收了部分业务：请在技术员界面查看并重试，或执行 kiosk outbox list"),
    "outbox.db": (
        "the local database cannot be read: take a diagnostics bundle (`kiosk diag --bundle`) and call support",
        "本地数据库无法读取：请生成诊断包（kiosk diag --bundle）并联系技术支持"),
    "outbox.key": (
        "restore the outbox key file from the installation backup to the path named above (mode 0600) and restart; "
        "do not delete the outbox database — without its key the pending submissions cannot be sent",
        "请从安装备份中恢复本地加密密钥文件到上述路径（权限 0600）并重启；不要删除 outbox 数据库，否则待上传业务将丢失"),
    "outbox.recovered": (
        "a malformed outbox database was set aside and its readable rows salvaged: keep the set-aside file for support, "
        "then run `kiosk outbox acknowledge`",
        "本地数据库曾损坏，已另存并恢复可读记录：请保留另存文件供技术支持，确认后执行 kiosk outbox acknowledge"),
    "sync.paused": (
        "the hub refuses this kiosk itself, so sync is paused and submissions stay pending: fix hub.token / kiosk.id as "
        "described above (`kiosk hub add-token` on the hub), then `kiosk sync --once`",
        "医保中心拒绝了本机身份，上传已暂停，业务保留待发：请按上述说明修正 hub.token / kiosk.id，再执行 kiosk sync --once"),
    "hub.down": (
        "check the network cable or Wi-Fi and hub.url in config.toml; submissions are kept safely and sent when the hub is back",
        "请检查网线或无线网络以及 config.toml 中的 hub.url；业务已安全保存，恢复连接后自动上传"),
    "hub.auth": (
        "the hub refused the kiosk's token: set hub.token (or KIOSK_HUB_TOKEN) to this kiosk's token",
        "医保中心拒绝了本机令牌：请设置正确的 hub.token（或环境变量 KIOSK_HUB_TOKEN）"),
    "hub.cleartext": (
        "the hub is reached over plain http:// on a network, so the kiosk's token crosses it in clear: "
        "set hub.url to https:// (TLS by the hub or a reverse proxy; a private CA goes in hub.ca_file)",
        "与医保中心的连接未加密（http://），本机令牌会以明文经过网络：请把 hub.url 改为 https://（私有证书颁发机构填 hub.ca_file）"),
    "disk.low": (
        "free disk space: delete old files, or run `kiosk outbox purge` to drop synced records past retention",
        "请清理磁盘空间：删除旧文件，或执行 kiosk outbox purge 清除已上传且过期的记录"),
    "disk.critical": (
        "disk nearly full: new submissions may fail to save; free space now (old logs, `kiosk outbox purge`)",
        "磁盘即将写满，新业务可能无法保存：请立即清理空间（旧日志、kiosk outbox purge）"),
    "crashed": (
        "the check itself failed: take a diagnostics bundle (`kiosk diag --bundle`) and send it to support",
        "检测本身出错：请生成诊断包（kiosk diag --bundle）发给技术支持"),
}


def with_advice(result: CheckResult, key: str, status: CheckStatus | None = None) -> CheckResult:
    en, zh = ADVICE[key]
    detail = f"{result.detail} — {en}" if result.detail else en
    detail_zh = f"{result.detail_zh or result.detail}。{zh}" if (result.detail_zh or result.detail) else zh
    return dataclasses.replace(result, status=status or result.status, detail=detail, detail_zh=detail_zh,
                               data={**result.data, "action": key})


def _ok(name: str, detail: str, detail_zh: str, ms: float = 0.0, data: dict | None = None) -> CheckResult:
    return CheckResult(name, CheckStatus.OK, detail, detail_zh, ms, data or {})


# -- devices ---------------------------------------------------------------------------------

def _disabled(name: str, key: str) -> CheckResult:
    return _ok(name, f"disabled in config ({key} = false)", f"已在配置中停用（{key} = false）")


def check_idcard(config: Config, url: str, reader: Any = None) -> list[CheckResult]:
    section = config.devices.idcard
    if not section.enabled:
        return [_disabled("idcard", "devices.idcard.enabled")]
    from drivers.idcard.reader import IdCardReader

    if reader is not None and getattr(reader, "_owner", None) is not None:
        # the live reader's port belongs to its device thread: run the self-test there
        results = reader.submit(reader.self_test).result(timeout=15)
    else:
        reader = reader or IdCardReader(url, baud=section.baud)
        results = reader.self_test()
    out = []
    for r in results:
        if r.name == "idcard.port" and r.status is not CheckStatus.OK:
            r = with_advice(dataclasses.replace(r, status=CheckStatus.MISSING), "idcard.unplugged")
        elif r.name == "idcard.sam_status" and r.status is not CheckStatus.OK:
            if "TIMEOUT" in r.detail or "FRAME" in r.detail:
                r = with_advice(r, "idcard.wrong_port")
                others = _other_id_readers(url)
                if others:
                    r = dataclasses.replace(r, detail=f"{r.detail}. A reader answers on: {', '.join(others)}",
                                            detail_zh=f"{r.detail_zh}。检测到读卡器应答的端口：{'、'.join(others)}",
                                            data={**r.data, "readers_found": others})
            else:
                r = with_advice(r, "idcard.sam")
        elif r.name == "idcard.sam_id" and r.status is not CheckStatus.OK:
            r = with_advice(r, "idcard.sam")
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

    out = []
    for r in self_test(section.reader):
        if r.name == "sscard.pcsc" and r.status is not CheckStatus.OK:
            r = with_advice(r, "sscard.pyscard" if "not installed" in r.detail else "sscard.pcscd")
        elif r.name == "sscard.reader" and r.status is not CheckStatus.OK:
            r = with_advice(r, "sscard.no_reader")
        out.append(r)
    return out


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
    out = []
    for r in results:
        if r.name == "printer.connection" and r.status is not CheckStatus.OK:
            r = with_advice(r, "printer.connection")
        elif r.name == "printer.status" and r.status is not CheckStatus.OK:
            paper, online = r.data.get("paper"), r.data.get("online")
            if online is False:
                r = with_advice(r, "printer.offline")
            elif paper == "out":
                r = with_advice(r, "printer.paper_out")
            elif paper == "near_end":
                r = with_advice(r, "printer.paper_low")
            else:
                r = with_advice(r, "printer.silent")
        out.append(r)
    return out


def check_qrscan(config: Config, url: str) -> list[CheckResult]:
    section = config.devices.qrscan
    if not section.enabled:
        return [_disabled("qrscan", "devices.qrscan.enabled")]
    import serial

    with Stopwatch() as sw:
        try:
            port = serial.serial_for_url(url, baudrate=section.baud, timeout=0.05)
            port.close()
            error = ""
        except (serial.SerialException, OSError, ValueError) as exc:
            error = str(exc)
    if error:
        return [with_advice(CheckResult("qrscan.port", CheckStatus.MISSING, f"cannot open {url}: {error}",
                                        "无法打开扫码器端口", sw.ms, {"port": url}), "qrscan.port")]
    return [_ok("qrscan.port", f"{url} open", "扫码器端口已打开", sw.ms, {"port": url})]


def check_camera(config: Config) -> list[CheckResult]:
    section = config.devices.camera
    if not section.enabled:
        return [_disabled("camera", "devices.camera.enabled")]
    from drivers.camera.camera import open_camera

    r = open_camera(section.source, config.resolve(section.sim_folder)).self_test()
    if r.status is CheckStatus.MISSING:
        r = with_advice(r, "camera.missing")
    elif r.status is not CheckStatus.OK:
        r = with_advice(r, "camera.error")
    return [r]


# -- software, storage, network --------------------------------------------------------------

def check_ocr(config: Config) -> list[CheckResult]:
    engine = config.ocr.engine
    with Stopwatch() as sw:
        if engine == "tesseract":
            from kiosk.ocr.engines import OcrEngineError, TesseractEngine

            try:
                TesseractEngine()._check()
                error = None
            except OcrEngineError as exc:
                error = exc
    if engine == "tesseract":
        if error is None:
            return [_ok("ocr.engine", "tesseract with chi_sim", "Tesseract 中文语言包已安装", sw.ms, {"engine": engine})]
        r = CheckResult("ocr.engine", CheckStatus.MISSING, error.message_en, error.message_zh, sw.ms, {"engine": engine})
        return [with_advice(r, "ocr.tesseract_lang" if "language data" in error.message_en else "ocr.tesseract")]
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
            store = _open_outbox(config)
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


def _open_outbox(config: Config) -> Any:
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
    return [with_advice(r, "hub.auth" if re.search(r"HTTP 40[13]", r.detail) else "hub.down")]


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
    info: dict[str, Any] = {"kiosk": __version__, "python": platform.python_version(), "platform": platform.platform()}
    spec = importlib.util.find_spec("PySide6")
    if spec is not None:
        import PySide6  # the package only: never widgets here

        info["pyside6"] = PySide6.__version__
        try:
            from PySide6 import QtCore  # QtCore only (no display needed)

            info["qt"] = QtCore.qVersion()
        except ImportError:
            info["qt"] = None
    return info


def check_app() -> list[CheckResult]:
    v = versions()
    return [_ok("app.version", f"kiosk {v['kiosk']}, Python {v['python']}" + (f", PySide6 {v['pyside6']}" if "pyside6" in v else ""),
                f"版本 {v['kiosk']}", 0.0, v)]


def config_in_effect(config: Config) -> dict[str, Any]:
    """The config as the kiosk runs it, secrets hidden (hub token, technician PIN hash)."""
    raw = dataclasses.asdict(config)
    raw["data_dir"], raw["source"] = str(config.data_dir), str(config.source)
    raw["hub"]["token"] = "(set, hidden)" if config.hub.token else "(not set)"
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


def _group_of(name: str) -> str:
    return name.split(".", 1)[0]


def run_checks(config: Config, sims: Any = None, *, only: Iterable[str] | None = None,
               disk: DiskThresholds = DiskThresholds(), live: LiveDevices | None = None) -> list[CheckResult]:
    """Every check (or the groups in `only`). `sim://` devices: use `sims` when given (not stopped
    here), else start the simulators for the duration and stop them after."""
    groups = [g for g in CHECK_GROUPS if only is None or g in {_group_of(o) for o in only}]
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


# -- support bundle --------------------------------------------------------------------------

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
            outbox, own = _open_outbox(config), True
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
        name = dist.metadata.get("Name")
        if name:
            out[name] = dist.version
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


# -- the technician screen's API -------------------------------------------------------------

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
                 audit: AuditLog | None = None, disk: DiskThresholds = DiskThresholds(),
                 test_print: Callable[[], TestPrintResult] | None = None) -> None:
        self.config = config
        self.live = live or LiveDevices()
        self.sims = sims
        self.audit_log = audit or AuditLog(config.data_dir / "audit.log")
        self.disk = disk
        self._test_print = test_print
        from kiosk.services.technician import TechnicianGate

        self.gate = TechnicianGate(config.technician.pin_hash)

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
        group = _group_of(name)
        if group not in CHECK_GROUPS:
            raise ValueError(f"unknown check {name!r}")
        results = run_checks(self.config, self.sims, only=[group], disk=self.disk, live=self.live)
        self.audit("diag.run_one", f"{group}: {overall_status(results)}")
        return results

    # -- live tools: trace, camera preview, reconnect ------------------------------------------
    def start_trace(self) -> None:
        from kiosk.services.trace import DeviceTrace

        if getattr(self, "_trace", None) is None:
            self._trace = DeviceTrace()
        self._trace.start()

    def stop_trace(self) -> None:
        if getattr(self, "_trace", None) is not None:
            self._trace.stop()

    def trace_lines(self, n: int = 12) -> list[str]:
        trace = getattr(self, "_trace", None)
        return trace.recent(n) if trace is not None else []

    def camera_snapshot(self) -> bytes:
        """One frame from the document camera as PNG (raises the camera's own clear error)."""
        import cv2

        from drivers.camera import open_camera

        section = self.config.devices.camera
        camera = open_camera(section.source, self.config.resolve(section.sim_folder))
        try:
            camera.open()
            frame = camera.grab()
        finally:
            camera.close()
        height, width = frame.shape[:2]
        scale = min(1.0, 480 / max(width, 1))
        small = cv2.resize(frame, (int(width * scale), int(height * scale))) if scale < 1.0 else frame
        ok, png = cv2.imencode(".png", small)
        self.audit("camera.preview", "ok" if ok else "encode failed")
        return png.tobytes()

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
        return TestPrintResult(False, png, outcome.message_en, outcome.message_zh)

    def _store(self) -> tuple[Any, bool]:
        if self.live.outbox is not None:
            return self.live.outbox, False
        if not outbox_path(self.config).exists():
            return None, False
        return _open_outbox(self.config), True

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


__all__ = [
    "ADVICE", "CHECK_GROUPS", "DiagnosticsFacade", "DiskThresholds", "LiveDevices", "OutboxSummary", "QuarantinedItem",
    "TestPrintResult", "check_disk", "config_in_effect", "overall_exit_code", "overall_status", "redact_text",
    "report_json", "run_checks", "write_bundle",
]
