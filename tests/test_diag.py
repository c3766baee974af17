"""`kiosk diag`: each failure a technician meets → status + a bilingual message saying what to do;
exit codes; JSON shape; the support bundle carries no personal data; the SAM port probe."""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import tty
import zipfile
from pathlib import Path

import pytest

from drivers.diagnostics import CheckResult, CheckStatus
from kiosk.config import Config, load_config
from kiosk.services import diagnostics as d
from kiosk.services.discovery import probe_sam

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(ROOT / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})


def with_devices(config: Config, **sections) -> Config:
    return dataclasses.replace(config, devices=dataclasses.replace(config.devices, **sections))


def one(results: list[CheckResult], name: str) -> CheckResult:
    return next(r for r in results if r.name == name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the failures ----------------------------------------------------------------------------

def test_reader_unplugged_is_missing_and_says_check_the_cable(config: Config) -> None:
    cfg = with_devices(config, idcard=dataclasses.replace(config.devices.idcard, port="/dev/ttyUSB-not-there"))
    r = one(d.run_checks(cfg, only=["idcard"]), "idcard.port")
    assert r.status is CheckStatus.MISSING
    assert "USB cable" in r.detail and "devices.idcard.port" in r.detail
    assert "USB 线" in r.detail_zh


def test_wrong_port_no_reader_answers(config: Config) -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        cfg = with_devices(config, idcard=dataclasses.replace(config.devices.idcard, port=os.ttyname(slave)))
        results = d.run_checks(cfg, only=["idcard"])
    finally:
        os.close(master)
        os.close(slave)
    assert one(results, "idcard.port").status is CheckStatus.OK
    r = one(results, "idcard.sam_status")
    assert r.status is CheckStatus.ERROR
    assert "wrong port" in r.detail and "devices.idcard.port" in r.detail
    assert "端口或波特率可能配错" in r.detail_zh


def test_printer_out_of_paper(config: Config) -> None:
    from kiosk.app import Simulators
    from drivers.printer.simulator import start_simulated_printer

    url, sim = start_simulated_printer()
    try:
        sim.paper = "out"
        results = d.run_checks(config, Simulators(printer=sim, urls={"printer": url}), only=["printer"])
    finally:
        sim.stop()
    r = one(results, "printer.status")
    assert r.status is CheckStatus.ERROR
    assert "load a new 80 mm paper roll" in r.detail and "装入新的" in r.detail_zh
    assert d.overall_exit_code(results) == 2


def test_pcscd_not_running(config: Config, monkeypatch) -> None:
    import drivers.sscard.reader as reader
    from drivers.sscard.errors import PcscUnavailableError

    def down():
        raise PcscUnavailableError("Service not available.")
    monkeypatch.setattr(reader, "establish_context", down)
    r = one(d.run_checks(config, only=["sscard"]), "sscard.pcsc")
    assert r.status is CheckStatus.ERROR
    assert "systemctl enable --now pcscd" in r.detail and "pcscd" in r.detail_zh and "启动读卡服务" in r.detail_zh


def test_camera_missing(config: Config, tmp_path: Path) -> None:
    cfg = with_devices(config, camera=dataclasses.replace(config.devices.camera, source=f"sim://{tmp_path / 'no-camera'}"))
    r = one(d.run_checks(cfg, only=["camera"]), "camera")
    assert r.status is CheckStatus.MISSING
    assert "check its USB cable" in r.detail and "高拍仪" in r.detail_zh


def test_tesseract_language_missing(config: Config, monkeypatch) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    cfg = dataclasses.replace(config, ocr=dataclasses.replace(config.ocr, engine="tesseract"))
    r = one(d.run_checks(cfg, only=["ocr"]), "ocr.engine")
    assert r.status is CheckStatus.MISSING
    assert "apt install tesseract-ocr-chi-sim" in r.detail and "中文语言包" in r.detail_zh


def test_hub_down(config: Config) -> None:
    cfg = dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=f"http://127.0.0.1:{free_port()}"))
    r = one(d.run_checks(cfg, only=["hub"]), "hub.reachable")
    assert r.status is CheckStatus.ERROR and r.code == "HUB_UNREACHABLE"
    assert "check the network cable" in r.detail and "hub.url" in r.detail
    assert "请检查网线" in r.detail_zh and "自动上传" in r.detail_zh


def test_hub_up_reports_latency(config: Config, tmp_path: Path) -> None:
    from kiosk.hub.server import start_hub_in_thread

    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"t-1": "KIOSK-0001"})
    try:
        cfg = dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=hub.url, token="t-1"))
        r = one(d.run_checks(cfg, only=["hub"]), "hub.reachable")
    finally:
        hub.stop()
    assert r.status is CheckStatus.OK and r.data["latency_ms"] >= 0 and " ms" in r.detail


@pytest.mark.parametrize("free, status, words", [
    (900 * d.MiB, CheckStatus.DEGRADED, "free disk space"),
    (100 * d.MiB, CheckStatus.ERROR, "disk nearly full"),
    (50 * d.GiB, CheckStatus.OK, "GiB free"),
])
def test_disk_thresholds(config: Config, free: int, status: CheckStatus, words: str) -> None:
    usage = lambda path: type("U", (), {"free": free})()  # noqa: E731
    (r,) = d.check_disk(config, d.DiskThresholds(), usage=usage)
    assert r.status is status and words in r.detail and "剩余" in r.detail_zh


def test_disk_threshold_injectable_through_run_checks(config: Config) -> None:
    r = one(d.run_checks(config, only=["disk"], disk=d.DiskThresholds(degraded_below=2**62, error_below=0)), "disk")
    assert r.status is CheckStatus.DEGRADED and "清理磁盘空间" in r.detail_zh


def test_outbox_stale_and_quarantined_are_degraded(config: Config) -> None:
    from kiosk.services.crypto import FieldCipher
    from kiosk.services.outbox import OutboxStore

    clock = [1_000_000.0]
    store = OutboxStore(config.data_dir / "outbox.sqlite3", FieldCipher.load_or_create(config.outbox_key_path), clock=lambda: clock[0])
    try:
        store.enqueue("00000000-0000-4000-8000-000000000001", "A01", "K", {"x": 1})
        clock[0] += 2 * 3600
        (r,) = d.check_outbox(config, store)
        assert r.status is CheckStatus.DEGRADED and "kiosk sync --once" in r.detail and r.data["pending"] == 1
    finally:
        store.close()


def test_sim_devices_ok_and_simulators_stopped(config: Config) -> None:
    import threading

    before = {t.name for t in threading.enumerate()}
    results = d.run_checks(config, only=["idcard", "printer", "qrscan", "camera"])
    assert {r.status for r in results} == {CheckStatus.OK}, [r.to_json() for r in results]
    leftover = {t.name for t in threading.enumerate() if t.is_alive()} - before
    assert not {n for n in leftover if "sim" in n}


# -- overall ---------------------------------------------------------------------------------

def test_exit_codes() -> None:
    ok = CheckResult("a", CheckStatus.OK)
    assert d.overall_exit_code([ok]) == 0
    assert d.overall_exit_code([ok, CheckResult("b", CheckStatus.MISSING)]) == 1
    assert d.overall_exit_code([ok, CheckResult("b", CheckStatus.DEGRADED)]) == 1
    assert d.overall_exit_code([CheckResult("b", CheckStatus.DEGRADED), CheckResult("c", CheckStatus.ERROR)]) == 2


def test_cli_json_shape_and_exit_code(config: Config, tmp_path: Path, capsys, monkeypatch) -> None:
    from kiosk.cli import main

    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_HUB_URL", f"http://127.0.0.1:{free_port()}")  # hub down → error → 2
    code = main(["diag", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["status"] == "error" and out["version"]
    names = {c["name"] for c in out["checks"]}
    assert {"app.version", "config", "idcard.port", "printer.status", "camera", "ocr.engine", "outbox.db",
            "hub.reachable", "disk"} <= names
    for c in out["checks"]:
        assert set(c) >= {"name", "status", "detail", "detail_zh", "elapsed_ms"}
        assert c["status"] in ("ok", "degraded", "missing", "error")
    config_check = next(c for c in out["checks"] if c["name"] == "config")
    assert "demo-token-0001" not in json.dumps(out)
    assert config_check["data"]["hub"]["token"] == "(set, hidden)"


def test_cli_table(config: Config, capsys) -> None:
    from kiosk.commands.diag import format_table

    text = format_table([CheckResult("disk", CheckStatus.DEGRADED, "low", "低"), CheckResult("hub.reachable", CheckStatus.ERROR, "down", "断")])
    assert "▲ degraded" in text and "✖ error" in text and text.endswith("overall: ✖ error")
    assert "低" in format_table([CheckResult("disk", CheckStatus.DEGRADED, "low", "低")], "zh_CN")


def test_cli_never_imports_widgets() -> None:
    import subprocess
    import sys

    code = ("import sys, kiosk.commands.diag, kiosk.services.diagnostics as d, kiosk.services.discovery;"
            "assert 'PySide6.QtWidgets' not in sys.modules and 'PySide6.QtGui' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- the bundle ------------------------------------------------------------------------------

def personal_values() -> list[str]:
    values = []
    for path in sorted((ROOT / "assets/cards/idcard").glob("*.json")):
        f = json.loads(path.read_text(encoding="utf-8"))["fields"]
        values += [f[k] for k in ("name", "english_name", "chinese_name", "id_number", "address", "pass_number") if f.get(k)]
    for path in sorted((ROOT / "assets/cards/sscard").glob("*.json")):
        c = json.loads(path.read_text(encoding="utf-8"))["card"]
        values += [c[k] for k in ("name", "id_number", "card_number", "card_id") if c.get(k)]
    return values


def test_bundle_has_no_personal_data(config: Config, tmp_path: Path) -> None:
    from kiosk.services.audit_log import AuditLog
    from kiosk.services.crypto import FieldCipher
    from kiosk.services.outbox import OutboxStore

    values = personal_values()
    assert len(values) >= 15
    # outbox rows with personal payloads, one quarantined with a leaky hub reason
    store = OutboxStore(config.data_dir / "outbox.sqlite3", FieldCipher.load_or_create(config.outbox_key_path))
    for i, v in enumerate(values):
        store.enqueue(f"00000000-0000-4000-8000-{i:012d}", "A01", "K", {"applicant": v, "note": f"for {v}"})
    store.close()
    # logs leaking every way code could leak: labelled, JSON, bare
    log_dir = config.data_dir / "logs"
    log_dir.mkdir(parents=True)
    lines = []
    for v in values:
        lines += [f"2024-05-01 10:00:00 INFO read card name={v} ok", f'payload {{"name": "{v}", "id_number": "{v}"}}',
                  f"resident {v} placed card", f"{v}"]
    (log_dir / "kiosk.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (log_dir / "kiosk.log.1").write_text("ERROR id 110105195003070019 rejected\n", encoding="utf-8")
    AuditLog(config.data_dir / "audit.log").record("technician", "diag.run_all", "status ok")

    results = d.run_checks(config, only=["app", "config", "outbox", "disk"])
    path = d.write_bundle(config, tmp_path / "bundle.zip", results)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        blob = "\n".join(zf.read(n).decode("utf-8") for n in names)
    assert {"checks.json", "config.json", "versions.json", "devices.json", "outbox.json", "audit.jsonl",
            "logs/kiosk.log", "logs/kiosk.log.1", "README.txt"} <= set(names)
    leaked = [v for v in values if v in blob]
    assert not leaked
    assert "demo-token-0001" not in blob and "diag.run_all" in blob
    assert '"pending"' in blob and "serial_ports" in blob and "pyside6" in blob.lower()


def test_cli_bundle(config: Config, tmp_path: Path, monkeypatch, capsys) -> None:
    from kiosk.cli import main

    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_HUB_URL", f"http://127.0.0.1:{free_port()}")  # not another test's hub on the default port
    code = main(["diag", "--bundle", str(tmp_path / "b.zip")])
    assert code in (1, 2)
    assert "overall:" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert json.loads(zf.read("checks.json"))["status"] in ("degraded", "error")


# -- probe -----------------------------------------------------------------------------------

def test_probe_finds_the_simulated_reader() -> None:
    from drivers.idcard.simulator import start_simulated_reader

    url, sim = start_simulated_reader(ROOT / "assets/cards/idcard/resident.json")
    try:
        result = probe_sam(url, timeout=1.0)
    finally:
        sim.stop()
    assert result.answered and result.outcome == "reader" and result.sw3 == 0x90


def test_probe_on_a_silent_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        result = probe_sam(os.ttyname(slave), timeout=0.3)
    finally:
        os.close(master)
        os.close(slave)
    assert not result.answered and result.outcome == "silent" and "无应答" in result.detail_zh


def test_probe_on_a_missing_port() -> None:
    result = probe_sam("/dev/ttyUSB-not-there", timeout=0.2)
    assert not result.answered and result.outcome == "cannot_open"


# -- a hub reached over plain http:// on a network: the token crosses it in clear (issue 14) ------
class _AnsweringHub:
    def self_test(self) -> CheckResult:
        return CheckResult("hub.reachable", CheckStatus.OK, "ok (sqlite)", "连接正常", 3.0, {})


@pytest.mark.parametrize("url, clear", [
    ("http://10.1.2.3:8765", True), ("http://hub.county.example", True), ("http://[fd00::1]:8765", True),
    ("http://127.0.0.1:8765", False), ("http://localhost:8765", False), ("http://[::1]:8765", False),
    ("https://hub.county.example", False), ("https://10.1.2.3:8765", False),
])
def test_a_plain_http_hub_on_a_network_is_degraded_with_what_to_fix(config: Config, url: str, clear: bool) -> None:
    config = dataclasses.replace(config, hub=dataclasses.replace(config.hub, url=url))
    result = one(d.check_hub(config, _AnsweringHub()), "hub.reachable")
    assert d.token_in_clear(url) is clear
    if clear:
        assert result.status is CheckStatus.DEGRADED and "https://" in result.detail and "in clear" in result.detail
        assert "明文" in result.detail_zh
    else:
        assert result.status is CheckStatus.OK and "in clear" not in result.detail


# -- advice by the driver's error code, not its English text (issue 15) -------------------------
def test_every_advice_code_is_a_real_error_code_and_names_real_advice() -> None:
    import importlib
    import pkgutil

    import drivers
    from drivers.errors import DriverError, error_codes

    for module in pkgutil.walk_packages(drivers.__path__, "drivers."):
        importlib.import_module(module.name)
    from kiosk.services.diagnostics.hall import HALL_CHECK_CODES
    from kiosk.services.sync import HUB_CHECK_CODES

    known = set(error_codes(DriverError)) | {"OCR_ENGINE", "OCR_TESSERACT_PROGRAM", "OCR_TESSERACT_LANG"}
    known |= set(HUB_CHECK_CODES) | set(HALL_CHECK_CODES)  # the hub's and the hall's self-tests
    assert set(d.ADVICE_BY_CODE) <= known, set(d.ADVICE_BY_CODE) - known
    assert set(d.ADVICE_BY_CODE.values()) <= set(d.ADVICE)


def test_advice_follows_the_code_whatever_the_text_says() -> None:
    misleading = CheckResult("idcard.sam_status", CheckStatus.ERROR, "TIMEOUT FRAME not installed HTTP 401", "", code="IDCARD_SAM")
    assert d.advise(misleading).data["action"] == "idcard.sam"
    silent = CheckResult("idcard.sam_status", CheckStatus.ERROR, "", "", code="IDCARD_TIMEOUT")
    assert d.advise(silent).data["action"] == "idcard.wrong_port"
    assert d.advise(CheckResult("sscard.pcsc", CheckStatus.MISSING, "x", code="SSCARD_PYSCARD_MISSING")).data["action"] == "sscard.pyscard"
    assert d.advise(CheckResult("printer.status", CheckStatus.DEGRADED, "x", code="PRINTER_PAPER_LOW")).data["action"] == "printer.paper_low"
    unknown = CheckResult("printer.connection", CheckStatus.ERROR, "x", code="PRINTER_SOMETHING_NEW")
    assert d.advise(unknown).data["action"] == "printer.connection"  # the check's own fallback
    assert d.advise(CheckResult("camera", CheckStatus.OK, "fine")).data == {}


def test_a_failed_device_check_carries_its_code_in_the_json(config: Config) -> None:
    cfg = with_devices(config, idcard=dataclasses.replace(config.devices.idcard, port="/dev/ttyUSB-not-there"),
                       qrscan=dataclasses.replace(config.devices.qrscan, port="/dev/ttyACM-not-there"))
    report = d.report_json(d.run_checks(cfg, only=["idcard", "qrscan"]))
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["idcard.port"]["code"] == "IDCARD_PORT" and by_name["idcard.port"]["data"]["action"] == "idcard.unplugged"
    assert by_name["qrscan.port"]["code"] == "QRSCAN_PORT" and "devices.qrscan.port" in by_name["qrscan.port"]["detail"]


def test_diagnostics_reach_into_no_other_module_s_private_attributes() -> None:
    import ast

    offenders = []
    for path in sorted((ROOT / "kiosk/services/diagnostics").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_"):
                offenders.append(f"{path.name}:{node.lineno} getattr {node.args[1].value}")
    assert offenders == []
