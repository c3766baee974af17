"""The layers' import rules (docs/architecture.md, Layers), checked on every module's source —
lazy imports inside functions included — and, for the Qt-free layers, by importing them:

- drivers/ import no Qt and nothing of kiosk;
- kiosk/services/ and kiosk/ocr/ import no Qt (not even through another module);
- kiosk/ui/ imports no driver (kiosk/devices translates);
- a station module (kiosk/stations/) is imported only by the CLI (kiosk/commands/) and by the
  stations themselves (tests and benchmarks start stations too).

`tests/test_diag.py::test_cli_never_imports_widgets` checks the same for the CLI's diagnostics.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, absolute names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def is_under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}" for path in sources(folder)
            for name in sorted(imported_modules(path)) if is_under(name, forbidden)]


def test_the_rules_see_lazy_and_relative_imports(tmp_path: Path) -> None:
    assert "drivers.idcard.reader" in imported_modules(ROOT / "kiosk" / "devices" / "sources.py")  # inside a function
    assert violations("kiosk/devices", ("drivers",))  # the translation layer does import drivers


def test_drivers_import_no_qt_and_no_kiosk() -> None:
    assert sources("drivers")
    assert violations("drivers", QT + ("kiosk",)) == []


@pytest.mark.parametrize("layer", ["kiosk/services", "kiosk/ocr"])
def test_services_and_ocr_import_no_qt(layer: str) -> None:
    assert violations(layer, QT) == []


def test_ui_imports_no_driver() -> None:
    assert violations("kiosk/ui", ("drivers",)) == []


def test_only_the_cli_imports_a_station() -> None:
    found = [f"{path.relative_to(ROOT)} imports {name}"
             for folder in ("kiosk", "drivers") for path in sources(folder)
             if not is_under(".".join(path.relative_to(ROOT).parts[:2]), ("kiosk.commands", "kiosk.stations"))
             for name in sorted(imported_modules(path)) if is_under(name, ("kiosk.stations",))]
    assert found == []


def test_services_and_ocr_load_no_qt_at_run_time() -> None:
    """Importing every service and OCR module (and the drivers) pulls in no Qt module, not even
    through a module of another layer."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts)
               for layer in ("kiosk/services", "kiosk/ocr", "drivers") for p in sources(layer)
               if p.name != "__main__.py"]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
            "assert not qt, qt\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
