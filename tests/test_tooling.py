"""The lint and type check run with the suite, so `make test` and CI run them: ruff and mypy on
kiosk/ and drivers/ as configured in pyproject.toml ([tool.ruff], [tool.mypy]). The same commands
by hand: see /work/notes/tooling.md or README's test section."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# The venv's own executables (tests run as .venv/bin/python -m pytest); not resolved, since the
# venv's python is a symlink to the system one.
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} is missing: scripts/setup.sh installs the dev dependencies (pyproject [dev])")
    return subprocess.run([str(exe), *args], cwd=PROJECT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_in_kiosk_and_drivers() -> None:
    result = run("ruff", "check", "--output-format", "concise", "kiosk", "drivers")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_on_kiosk_and_drivers() -> None:
    result = run("mypy")  # `files` in [tool.mypy]: kiosk, drivers
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


# `# type: ignore[code]` / `# noqa: CODE` and then nothing: the reason is missing.
SUPPRESSION = re.compile(r"#\s*(type:\s*ignore\[[^\]]*\]|noqa:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)(.*)$")


def test_every_suppression_names_its_code_and_a_reason() -> None:
    """Bare `# type: ignore` / `# noqa` fail mypy (ignore-without-code) and ruff (PGH004); this
    asks the rest to say why, e.g. `# type: ignore[attr-defined]  # pytest-qt's QtBot`."""
    bare = []
    for path in sorted([*PROJECT.glob("kiosk/**/*.py"), *PROJECT.glob("drivers/**/*.py")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = SUPPRESSION.search(line)
            if found and not found.group(2).strip(" #—-:()"):
                bare.append(f"{path.relative_to(PROJECT)}:{number}: {line.strip()}")
    assert bare == []
