"""The offscreen platform's "This plugin does not support propagateSizeHints()" line is filtered
at the source (kiosk/ui/panel.py sets a Qt logging rule before any QApplication), so tests, the
demo and the benchmarks show only their own output (issue 20)."""
from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
if sys.argv[1] == "kiosk":
    import kiosk.ui.panel  # what every kiosk window imports first
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget(); w.show(); app.processEvents()
for n in range(5):
    w.setMinimumSize(100 + n, 100 + n); app.processEvents()
print("shown")
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QT_LOGGING_RULES", None)
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=60)


def test_size_hint_warning_is_filtered_when_the_kiosk_sets_up_qt():
    bare, kiosk = run("bare"), run("kiosk")
    assert "propagateSizeHints" in bare.stderr  # the platform still says it: the test would see it
    assert kiosk.returncode == 0 and "shown" in kiosk.stdout
    assert "propagateSizeHints" not in kiosk.stderr


def test_existing_logging_rules_are_kept():
    from kiosk.ui.panel import OFFSCREEN_LOGGING_RULE, quiet_offscreen_warnings

    env = {"QT_QPA_PLATFORM": "offscreen", "QT_LOGGING_RULES": "qt.qml.binding=false"}
    quiet_offscreen_warnings(env)
    assert env["QT_LOGGING_RULES"].split(";") == ["qt.qml.binding=false", OFFSCREEN_LOGGING_RULE]
    real = {"QT_QPA_PLATFORM": "xcb"}
    quiet_offscreen_warnings(real)
    assert "QT_LOGGING_RULES" not in real  # on a real display nothing is hidden
