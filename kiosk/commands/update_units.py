"""The units `kiosk update` restarts, and how it judges them healthy.

One small interface (`UnitControl`): `Systemctl` runs the `systemctl` found on PATH (tests put a
fake one there); `NoRestart` (`kiosk update --no-restart`) restarts nothing and reports nothing,
leaving only the new release's own live check. A unit is healthy once it has been `active` for
`settle_s` in a row without systemd restarting it (NRestarts unchanged) — for the resident app
(`Type=notify`, `WatchdogSec=`) active means READY=1 came and the watchdog pings keep coming, so a
frozen GUI, not only a dead process, fails the check. `failed`, or no such stretch before the
deadline, is unhealthy.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from collections.abc import Callable

UNIT_NAMES = ("yibao-kiosk.service", "yibao-hall.service", "yibao-hub.service")


@dataclass(frozen=True)
class UnitState:
    active: str  # ActiveState: active, activating, deactivating, failed, inactive
    sub: str
    restarts: int
    invocation: str = ""  # InvocationID: new on every start, so the old process is never taken for the new


class UnitControl(Protocol):
    def restart(self, units: list[str]) -> None: ...

    def state(self, unit: str) -> UnitState | None: ...


class UnitError(Exception):
    pass


class Systemctl:
    def __init__(self, command: str | None = None, timeout_s: float = 120.0) -> None:
        self.command = command or shutil.which("systemctl") or "systemctl"
        self.timeout_s = timeout_s

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run([self.command, *args], capture_output=True, text=True, timeout=self.timeout_s)
        except FileNotFoundError:
            raise UnitError("systemctl not found (use --no-restart and restart the units yourself)") from None
        except subprocess.TimeoutExpired:
            raise UnitError(f"systemctl {' '.join(args)}: no answer in {self.timeout_s:.0f} s") from None
        if done.returncode != 0:
            raise UnitError(f"systemctl {' '.join(args)}: {(done.stderr.strip() or 'failed')[:300]}")
        return done.stdout

    def restart(self, units: list[str]) -> None:
        if units:
            self._run("restart", "--no-block", *units)  # health is judged below, not by a blocking start

    def state(self, unit: str) -> UnitState | None:
        out = self._run("show", "-p", "ActiveState,SubState,NRestarts,InvocationID", unit)
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        try:
            restarts = int(values.get("NRestarts", "0") or 0)
        except ValueError:
            restarts = 0
        return UnitState(values.get("ActiveState", "unknown"), values.get("SubState", ""), restarts,
                         values.get("InvocationID", ""))


class NoRestart:
    def restart(self, units: list[str]) -> None:
        pass

    def state(self, unit: str) -> UnitState | None:
        return None


def installed_units(units_dir: Path) -> list[str]:
    """The appliance's units that install.sh put there (and so this machine runs)."""
    return [name for name in UNIT_NAMES if (units_dir / name).is_file()]


@dataclass(frozen=True)
class Health:
    ok: bool
    problem: str = ""


def invocations(control: UnitControl, units: list[str]) -> dict[str, str]:
    """Each unit's InvocationID now (before a restart): until it changes, the old process runs."""
    out = {}
    for unit in units:
        try:
            state = control.state(unit)
        except UnitError:
            continue
        if state is not None and state.invocation:
            out[unit] = state.invocation
    return out


def wait_healthy(control: UnitControl, units: list[str], timeout_s: float, settle_s: float,
                 clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep,
                 poll_s: float = 1.0, old: dict[str, str] | None = None) -> Health:
    """Every unit active for `settle_s` in a row with no restart in between, within `timeout_s`.
    `old`: invocations from before the restart, which do not count (a restart not begun yet)."""
    old = old or {}
    deadline = clock() + timeout_s
    since: dict[str, tuple[float, tuple[int, str]] | None] = {u: None for u in units}
    while True:
        now = clock()
        pending = []
        for unit in units:
            try:
                state = control.state(unit)
            except UnitError as exc:
                return Health(False, str(exc))
            if state is None:
                continue  # not watched (--no-restart)
            if state.active == "failed":
                return Health(False, f"{unit} failed ({state.sub or 'failed'}, {state.restarts} restarts)")
            mark = since[unit]
            run = (state.restarts, state.invocation)
            if state.invocation and state.invocation == old.get(unit):
                pending.append(f"{unit} not restarted yet")
                continue
            if state.active != "active" or (mark is not None and mark[1] != run):
                since[unit] = None if state.active != "active" else (now, run)
                pending.append(f"{unit} {state.active}/{state.sub}" + (f", restarted {state.restarts}×" if state.restarts else ""))
                continue
            if mark is None:
                since[unit] = mark = (now, run)
            if now - mark[0] < settle_s:
                pending.append(f"{unit} active for {now - mark[0]:.0f} s of {settle_s:.0f}")
        if not pending:
            return Health(True)
        if now >= deadline:
            return Health(False, f"not healthy within {timeout_s:.0f} s: {'; '.join(pending)}")
        pause(min(poll_s, max(0.0, deadline - now)))
