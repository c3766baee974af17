"""GUI thread stalls and cold start (issue 20).

    .venv/bin/python bench/bench_gui.py [--sync-items 1000]

Stalls: a 1 ms precise QTimer on the GUI thread records the gap between its turns; the longest
gap minus the interval is the longest time the event loop could not react. Each scenario runs
inside the real event loop (taps are delivered from it, waits never sleep on the GUI thread):
card read, ticket print, certificate print, a sync burst of N items to a loopback hub, the pinyin
keyboard's first show. Start-up: the outbox open (integrity check) and queue open that
`KioskRuntime.start` does on the GUI thread today, timed on their own.

Cold start: a fresh process to the home screen painted, beside a bare PySide6 window of the same
size painted in a fresh process, in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from figures import emit  # noqa: E402

STALL_MS = 50.0
SIZE = (1280, 800)


class StallRecorder:
    """Longest gap between event-loop turns while recording."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer, Qt

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, (now - self.last) * 1000 - 1)
        self.last = now

    def start(self) -> None:
        self.longest, self.last = 0.0, time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return max(0.0, self.longest)


def run_loop_until(condition: Callable[[], Any], timeout_s: float, what: str, first: Callable[[], None] | None = None) -> None:
    """Run the real event loop until `condition()`; `first` runs from inside the loop (a tap)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    checker = QTimer()
    checker.setInterval(5)
    deadline = time.monotonic() + timeout_s
    state = {"timed_out": False}

    def check() -> None:
        if condition():
            loop.quit()
        elif time.monotonic() > deadline:
            state["timed_out"] = True
            loop.quit()

    checker.timeout.connect(check)
    checker.start()
    if first is not None:
        QTimer.singleShot(0, first)
    loop.exec()
    checker.stop()
    if state["timed_out"]:
        raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def measure(rec: StallRecorder, condition: Callable[[], Any], what: str, first: Callable[[], None] | None = None,
            timeout_s: float = 30) -> float:
    rec.start()
    run_loop_until(condition, timeout_s, what, first)
    return rec.stop()


def tap(widget) -> Callable[[], None]:
    from kiosk.ui.journey import click
    return lambda: click(widget)


def scenarios(sync_items: int) -> dict[str, float]:
    from drivers.idcard.simulator import load_profile
    from kiosk.config import load_config
    from kiosk.hub.server import start_hub_in_thread
    from kiosk.ui.journey import Journey
    from kiosk.stations.resident import KioskShell

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as data:
        config = load_config(environ={"KIOSK_DATA_DIR": data})
        hub = start_hub_in_thread(str(Path(data) / "hub.sqlite3"), {"bench-token": config.kiosk.id},
                                  key_file=Path(data) / "hub-keys" / "hub.key")
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
        config = dataclasses.replace(config, devices=devices,
                                     hub=dataclasses.replace(config.hub, url=hub.url, token="bench-token"))
        results.update(startup_pieces(config))
        shell = KioskShell(config)
        try:
            from kiosk.ui.panel import fix_to_panel
            fix_to_panel(shell.window, SIZE)
            shell.window.show()
            rec = StallRecorder()
            j = Journey(shell.window, log=lambda _: None)
            ctl = shell.controller
            young = load_profile(config.resolve("assets/cards/idcard/young_parent.json"))
            # card read: the card goes on the reader, the person shows on the identify screen
            j.choose_service("transfer")
            j.on_screen("identify")
            ctl.last_identify_latency_ms = None
            results["card read"] = measure(rec, lambda: ctl.last_identify_latency_ms is not None, "the person",
                                           lambda: shell.runtime.sims.idcard.insert(young))
            j.wait_for_person()
            j.tap(j.find("identify_continue"))
            j.on_screen("form")
            j.fill_form({"direction": "in", "phone": "13812345678"})
            results["ticket print"] = measure(rec, lambda: ctl.done_view.number and not ctl.done_view.printing, "the ticket",
                                              tap(j.find("review_submit")))
            # certificate print from the done screen (打印参保证明)
            cert = j.find("done_certificate")
            if cert.isVisible() and cert.isEnabled():
                results["certificate print"] = measure(rec, lambda: ctl.done_view.certificate == "printed", "the certificate",
                                                       tap(cert))
            j.tap(j.find("done_home"))
            shell.runtime.sims.idcard.remove()
            settle = time.monotonic() + 0.5  # the reader must see the card leave
            run_loop_until(lambda: time.monotonic() > settle, 5, "the card to leave")
            # pinyin keyboard's first show: a form whose first page has a typed field (newborn: the baby's name)
            old = load_profile(config.resolve("assets/cards/idcard/young_parent.json"))
            j.choose_service("newborn")
            j.on_screen("identify")
            shell.runtime.sims.idcard.insert(old)
            j.wait_for_person()
            results["pinyin keyboard first show"] = measure(
                rec, lambda: j.window.current.name in ("form", "review"), "the form with the keyboard",
                tap(j.find("identify_continue")))
            # sync burst: N submissions drain to the hub while the GUI shows the status
            outbox = shell.runtime.outbox
            payload = {"service": "enrol", "answers": {"phone": "13912345678"}}
            for _ in range(sync_items):
                outbox.enqueue(outbox.new_submission_id(), "enrol", config.kiosk.id, payload)
            results[f"sync burst of {sync_items}"] = measure(
                rec, lambda: outbox.status().pending + outbox.status().sending == 0, "the outbox to drain",
                shell.runtime.sync_worker.wake, timeout_s=120)
        finally:
            shell.close()
            hub.stop()
    return results


def startup_pieces(config) -> dict[str, float]:
    """The blocking opens `KioskRuntime.start` makes on the GUI thread, on a used outbox."""
    from kiosk.services.queue import QueueService
    from kiosk.services.submissions import open_outbox

    outbox = open_outbox(config)
    for _ in range(500):  # a kiosk's outbox holds rows: the integrity check reads them
        outbox.enqueue(outbox.new_submission_id(), "enrol", config.kiosk.id, {"answers": {"phone": "13912345678"}})
    outbox.close()
    start = time.perf_counter()
    outbox = open_outbox(config)
    queue = QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
    elapsed = (time.perf_counter() - start) * 1000
    queue.close()
    outbox.close()
    (config.data_dir / "outbox.sqlite3").exists()
    return {"start-up: outbox + queue open on the GUI thread": elapsed}


BARE = """
import sys, time
from PySide6.QtCore import QObject, QEvent
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget(); w.setFixedSize(%d, %d)
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            print(time.time()); sys.stdout.flush(); app.quit()
        return False
f = F(); w.installEventFilter(f); w.show(); app.exec()
""" % SIZE

KIOSK = """
import dataclasses, sys, tempfile, time
from PySide6.QtCore import QObject, QEvent, QTimer
from kiosk.config import load_config
from kiosk.stations.resident import KioskShell
from kiosk.ui.panel import fix_to_panel
data = tempfile.mkdtemp()
config = load_config(environ={"KIOSK_DATA_DIR": data})
devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
shell = KioskShell(dataclasses.replace(config, devices=devices))
home = shell.window.current
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            print(time.time()); sys.stdout.flush(); shell.app.quit()
        return False
f = F(); home.installEventFilter(f)
fix_to_panel(shell.window, (%d, %d)); shell.window.show(); shell.app.exec()
shell.close()
""" % SIZE


def cold_start(script: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    start = time.time()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 and not lines:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return float(lines[-1]) - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sync-items", type=int, default=1000)
    parser.add_argument("--cold-rounds", type=int, default=3)
    args = parser.parse_args()
    bare = statistics.median(cold_start(BARE) for _ in range(args.cold_rounds))
    kiosk = statistics.median(cold_start(KIOSK) for _ in range(args.cold_rounds))
    emit("cold start to home painted", kiosk, "s", "≤ 1.0 s and ≤ 6× bare", kiosk <= 1.0 and kiosk <= 6 * bare,
         bare, "bare PySide6 window painted")
    for name, ms in scenarios(args.sync_items).items():
        emit(f"GUI stall: {name}", ms, "ms", f"< {STALL_MS:.0f} ms", ms < STALL_MS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
