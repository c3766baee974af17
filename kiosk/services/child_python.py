"""Starting one of the project's own modules in a child Python (`python -m kiosk....`): the same
interpreter, the project importable however this process found it (installed, a checkout, a
test's clone), run from the project's folder. The OCR worker and the certificate renderer use it."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from kiosk.config import PROJECT_ROOT


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the project first on PYTHONPATH, plus `extra`."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}
