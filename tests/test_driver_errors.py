"""One shape for every driver error (issue 15): each family derives from `DriverError`, every class
has a stable machine code and zh/en texts, codes are unique across families, and `detail` never
reaches the resident's message. Drivers import no Qt and no kiosk."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import drivers
from drivers.errors import DriverError, UserFacingError, error_codes

ROOT = Path(__file__).resolve().parent.parent


def _all_driver_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(drivers.__path__, "drivers.")]


def _all_error_classes() -> list[type[DriverError]]:
    for name in _all_driver_modules():
        importlib.import_module(name)
    return list(error_codes(DriverError).values())


def test_every_family_derives_from_driver_error() -> None:
    from drivers.camera import CameraError
    from drivers.idcard.protocol import IdCardProtocolError
    from drivers.printer.a4 import A4PrinterError
    from drivers.printer.printer import PrinterError
    from drivers.qrscan import QrScanError
    from drivers.sscard import SsCardError
    from drivers.sscard.pcscd import PcscdUnavailable

    for family in (CameraError, IdCardProtocolError, A4PrinterError, PrinterError, QrScanError, SsCardError, PcscdUnavailable):
        assert issubclass(family, DriverError) and issubclass(family, UserFacingError), family


def test_codes_are_unique_upper_case_and_named_by_family() -> None:
    classes = _all_error_classes()
    assert len(classes) >= 50
    seen: dict[str, type] = {}
    for cls in classes:
        assert cls.code.isupper() and " " not in cls.code, cls
        assert cls.code.split("_")[0] in {"DRIVER", "IDCARD", "SSCARD", "PRINTER", "A4", "CAMERA", "QRSCAN"}, cls.code
        assert cls.code not in seen or issubclass(cls, seen[cls.code]), (cls, seen.get(cls.code))
        seen[cls.code] = cls
        assert cls.message_zh and cls.message_en, cls
        assert any("\u4e00" <= ch <= "\u9fff" for ch in cls.message_zh), cls


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.code)
def test_detail_is_for_technicians_only(cls: type[DriverError]) -> None:
    try:
        error = cls("port /dev/ttyUSB9: [Errno 2]")
    except TypeError:  # a family whose constructor takes more context still takes the detail first
        pytest.fail(f"{cls.__name__} does not take a detail")
    assert error.code == cls.code
    assert "ttyUSB9" not in error.message("zh_CN") and "ttyUSB9" not in error.message("en")
    assert "ttyUSB9" in error.technical and "ttyUSB9" in str(error) and str(error).startswith(f"[{cls.code}]")


def test_printer_outcome_keeps_os_text_off_the_resident_message(tmp_path: Path) -> None:
    from datetime import datetime

    from drivers.printer.printer import TicketPrinter
    from drivers.printer.ticket import TicketContent

    printer = TicketPrinter(f"file:{tmp_path}/no-such-folder/spool.bin")
    outcome = printer.print_ticket(TicketContent("服务点", "测试", "A001", 0, 0, datetime(2024, 5, 1), False, "T1"))
    assert not outcome.ok and outcome.error_code == "PRINTER_IO"
    assert "no-such-folder" not in outcome.message_en and "no-such-folder" in outcome.detail


def test_self_tests_name_the_code_behind_a_failure(tmp_path: Path) -> None:
    from drivers.camera import FolderCamera
    from drivers.idcard.reader import IdCardReader
    from drivers.qrscan import self_test as qrscan_self_test

    (port,) = IdCardReader("/dev/ttyUSB-not-there").self_test()
    assert port.code == "IDCARD_PORT" and port.to_json()["code"] == "IDCARD_PORT"
    assert FolderCamera(tmp_path / "none").self_test().code == "CAMERA_MISSING"
    (scanner,) = qrscan_self_test("/dev/ttyACM-not-there")
    assert scanner.code == "QRSCAN_PORT" and "ttyACM-not-there" in scanner.detail


def test_drivers_import_no_qt_and_no_kiosk() -> None:
    offenders = []
    for path in sorted((ROOT / "drivers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("kiosk", "PySide6", "PyQt5", "PyQt6")]
    assert offenders == []
