"""Declared dependencies are used, and the optional-hardware ones have one owner module (issue 15):
pytesseract only in the Tesseract engine, python-escpos only in the ticket printer driver, and
among the drivers OpenCV only in the camera driver (the QR decoder and the technician's camera
preview go through it; no screen and no diagnostics import it)."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# distribution → the top-level module it provides (where the names differ)
MODULE_OF = {
    "pyside6-essentials": "PySide6", "pyside6-addons": "PySide6", "pyserial": "serial", "pyscard": "smartcard",
    "opencv-python-headless": "cv2", "python-escpos": "escpos", "pillow": "PIL", "argon2-cffi": "argon2",
}
# used without an import statement of their own
INDIRECT = {"onnxruntime": "rapidocr's runtime; `kiosk diag` checks it is installed"}


def _imports() -> dict[str, set[str]]:
    """Top-level module → the source files (kiosk/, drivers/) that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted([*(ROOT / "kiosk").rglob("*.py"), *(ROOT / "drivers").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_declared_dependency_is_imported() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    imports = _imports()
    unused = []
    for requirement in declared:
        dist = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()
        if dist not in INDIRECT and MODULE_OF.get(dist, dist.replace("-", "_")) not in imports:
            unused.append(dist)
    assert unused == [], f"declared in pyproject.toml but imported nowhere: {unused}"


def test_optional_hardware_libraries_have_one_owner() -> None:
    imports = _imports()
    assert imports["pytesseract"] == {"kiosk/ocr/engines.py"}
    assert imports["escpos"] == {"drivers/printer/printer.py"}
    assert {p for p in imports["cv2"] if p.startswith("drivers/")} == {"drivers/camera/camera.py"}
    assert not {p for p in imports["cv2"] if p.startswith(("kiosk/ui/", "kiosk/services/diagnostics/"))}
