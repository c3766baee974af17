"""GUI thread stalls and cold start (issue 20).

    .venv/bin/python bench/bench_gui.py [--sync-items 1000] [--why]

Stalls: a 1 ms precise QTimer on the GUI thread records the gap between its turns; the longest
gap minus the interval is the longest time the event loop could not react. Each scenario runs
inside the real event loop (taps are delivered from it, waits never sleep on the GUI thread):
card read, ticket print, certificate print, a sync burst of N items to a loopback hub, the pinyin
keyboard's first show. Start-up: the outbox open (integrity check) and queue open that
`KioskRuntime.start` does on the GUI thread today, timed on their own.

Cold start: a fresh process to the home screen painted, beside a bare PySide6 window of the same
size painted in a fresh process, in the same run.

The stall scenarios run with the appliance's packages: the dev-only ones (DEV_ONLY: selenium's
trio, schemathesis's rich, pygments) are hidden, as they are absent from a kiosk (`make
install` installs no dev extras). Present, httpx imports its command line with them when sync
first starts: ~70 ms more Python on the sync thread, competing for the GIL, that no kiosk runs.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
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
    """Longest gap between event-loop turns while recording. With `why`, a sampler thread looks at
    the GUI thread's Python stack every 2 ms while a turn is overdue (> WHY_AFTER_MS) and keeps the
    stacks of the longest stall, to say what blocked it."""

    WHY_AFTER_MS = 15.0

    def __init__(self, why: bool = False) -> None:
        from PySide6.QtCore import QTimer, Qt

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0
        self.why = why
        self.gui_thread = threading.get_ident()
        self._samples: list[str] = []  # stacks seen in the stall under way
        self.culprit: list[str] = []  # stacks seen in the longest stall so far
        self._sampling = False

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000 - 1
        if gap > self.longest:
            self.longest = gap
            if self._samples:
                self.culprit = self._samples
        self._samples = []
        self.last = now

    def _sample(self) -> None:
        while self._sampling:
            time.sleep(0.002)
            if (time.perf_counter() - self.last) * 1000 > self.WHY_AFTER_MS:
                frame = sys._current_frames().get(self.gui_thread)
                if frame is not None:
                    self._samples.append("".join(traceback.format_stack(frame, limit=12)))

    def start(self) -> None:
        self.longest, self.last, self.culprit, self._samples = 0.0, time.perf_counter(), [], []
        self.timer.start()
        if self.why and not self._sampling:
            self._sampling = True
            threading.Thread(target=self._sample, daemon=True, name="stall-sampler").start()

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        self._sampling = False
        return max(0.0, self.longest)

    def explain(self, name: str) -> None:
        """Print the most frequent GUI-thread stacks of the longest stall (`why` only)."""
        if not self.culprit:
            return
        counts = collections.Counter(self.culprit)
        print(f"  longest stall in {name}: {len(self.culprit)} samples of the GUI thread's stack (2 ms apart)")
        for stack, n in counts.most_common(2):
            print(f"    {n} × " + stack.rstrip().replace("\n", "\n      "))


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
    longest = rec.stop()
    rec.explain(what)
    return longest


def tap(widget) -> Callable[[], None]:
    from kiosk.ui.journey import click
    return lambda: click(widget)


def choose(j, code: str) -> None:
    """Tap the service's tile, turning the home screen's pages (更多服务) as a resident would, and
    go past its 办事指南 (开始填写) when one is shown."""
    from kiosk.ui.journey import wait_until

    tile = j.find(f"tile_{code}")
    for _ in range(10):
        if tile.isVisible():
            break
        j.tap(j.find("home_more"))
    j.choose_service(code)
    wait_until(lambda: j.window.current.name != "home", 10, f"the {code} service to open")
    if j.window.current.name == "guide":
        j.tap(j.find("guide_start"))


def scenarios(sync_items: int, why: bool = False) -> tuple[dict[str, float], dict[str, float]]:
    """Longest GUI stall per scenario, and the baselines measured beside some of them."""
    from drivers.idcard.simulator import load_profile
    from kiosk.config import load_config
    from kiosk.hub.server import start_hub_in_thread
    from kiosk.ui.journey import Journey
    from kiosk.stations.resident import KioskShell

    results: dict[str, float] = {}
    baselines: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as data:
        config = load_config(environ={"KIOSK_DATA_DIR": data})
        hub = start_hub_in_thread(str(Path(data) / "hub.sqlite3"), {"bench-token": config.kiosk.id},
                                  key_file=Path(data) / "hub-keys" / "hub.key")
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
        # The panel is SIZE, as the kiosk's own config says it (the window is painted ahead at it).
        config = dataclasses.replace(config, devices=devices,
                                     display=dataclasses.replace(config.display, width=SIZE[0], height=SIZE[1]),
                                     hub=dataclasses.replace(config.hub, url=hub.url, token="bench-token"))
        results.update(startup_pieces(config))
        shell = KioskShell(config)
        try:
            from kiosk.ui.panel import fix_to_panel
            fix_to_panel(shell.window, SIZE)
            rec = StallRecorder(why)
            j = Journey(shell.window, log=lambda _: None)
            ctl = shell.controller
            young = load_profile(config.resolve("assets/cards/idcard/young_parent.json"))
            # start-up on screen: the window shown, laid out and painted, the first second at home
            shown_until = time.monotonic() + 1.0
            shell.warm_up_after_paint()  # as `kiosk run` does (KioskShell.exec)
            results["start-up: home shown and settled"] = measure(rec, lambda: time.monotonic() > shown_until,
                                                                  "the home screen", shell.window.show)
            j.on_screen("home")
            # the floor: the longest gap with the kiosk idle at home (the machine's own noise)
            idle_until = time.monotonic() + 1.0
            results["idle at home (noise floor)"] = measure(rec, lambda: time.monotonic() > idle_until, "idle")

            def card_leaves() -> None:
                j.tap(j.find("done_home"))
                shell.runtime.sims.idcard.remove()
                settle = time.monotonic() + 0.5  # the reader must see the card leave
                run_loop_until(lambda: time.monotonic() > settle, 5, "the card to leave")

            # card read: the card goes on the reader, the person shows on the identify screen
            choose(j, "transfer")
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
            card_leaves()
            # certificate print (参保信息查询 → the record → 打印参保证明 on the done screen)
            try:
                choose(j, "record_query")
                j.on_screen("identify")
                shell.runtime.sims.idcard.insert(young)
                j.wait_for_person()
                j.tap(j.find("identify_continue"))
                j.on_screen("form")
                j.fill_form({"purpose": "query"})
                j.tap(j.find("review_submit"))
                from kiosk.ui.journey import wait_until
                wait_until(lambda: ctl.done_view.record or ctl.done_view.record_error, 20, "the record")
                cert = j.find("done_certificate")
                if not (cert.isVisible() and cert.isEnabled()):
                    raise RuntimeError(f"no certificate button ({ctl.done_view.record_error or 'record shown without it'})")
                results["certificate print"] = measure(rec, lambda: ctl.done_view.certificate == "printed",
                                                       "the certificate", tap(cert))
            except Exception as exc:  # reported, and the other scenarios still run
                print(f"  certificate print skipped: {type(exc).__name__}: {exc}")
            card_leaves()
            # card read of an elderly resident: 长辈版 switches on with the person (every screen restyled)
            elderly = load_profile(config.resolve("assets/cards/idcard/resident.json"))
            choose(j, "transfer")
            j.on_screen("identify")
            ctl.last_identify_latency_ms = None
            results["card read, elderly resident (长辈版 on)"] = measure(
                rec, lambda: ctl.last_identify_latency_ms is not None, "the elderly person",
                lambda: shell.runtime.sims.idcard.insert(elderly))
            ctl.sign_out()
            shell.runtime.sims.idcard.remove()
            settle = time.monotonic() + 0.5
            run_loop_until(lambda: time.monotonic() > settle and j.window.current.name == "home", 10, "home again")
            # pinyin keyboard's first show: the first form page with a typed field (newborn: the
            # baby's name, after 与新生儿关系), from the tap on 下一步 until the keys exist
            choose(j, "newborn")
            j.on_screen("identify")
            shell.runtime.sims.idcard.insert(young)
            j.wait_for_person()
            j.tap(j.find("identify_continue"))
            j.on_screen("form")
            form = j.window.form
            for _ in range(len(form.steps)):
                if any(spec.type == "text" for spec in form.steps[form.index + 1]):
                    break
                j.answer_current({spec.name: None for spec in form.steps[form.index]})
            first = form.steps[form.index][0]
            j.answer_field(first, first.options[0].value if first.options else None)

            def keyboard_shown() -> bool:
                keyboard = getattr(form, "keyboard", None)
                return keyboard is not None and keyboard.isVisible() and bool(getattr(keyboard, "available", True))

            results["pinyin keyboard first show"] = measure(rec, keyboard_shown, "the keyboard's keys",
                                                            tap(j.find("form_next")))
            # its baseline: the same page turn again, the keys already made (what the form costs alone)
            page = form.index
            j.tap(j.find("form_previous"))
            j.answer_field(first, first.options[0].value if first.options else None)
            baselines["pinyin keyboard first show"] = measure(
                rec, lambda: form.index == page and keyboard_shown(), "the same page again", tap(j.find("form_next")))
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
    return results, baselines


def clerk_scenarios(why: bool = False) -> dict[str, float]:
    """The clerk station (`kiosk run --station clerk`) on its simulated camera and RapidOCR: the
    longest GUI stall while a receipt is captured and read — the first one (the OCR engine made on
    the lane, off the GUI thread) and a warm one — until its fields are on screen."""
    from kiosk.config import load_config
    from kiosk.stations.clerk import build_clerk_station
    from kiosk.ui.journey import click

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-clerk-") as data:
        config = load_config(environ={"KIOSK_DATA_DIR": data})
        station = build_clerk_station(config)
        try:
            from kiosk.ui.panel import fix_to_panel
            fix_to_panel(station.window, SIZE)
            rec = StallRecorder(why)
            screen = station.screen
            results["clerk station shown, camera preview on"] = measure(
                rec, lambda: screen.capture.isEnabled(), "the camera preview", station.window.show)
            for name in ("OCR run at the clerk station (first: engine made off the GUI thread)",
                         "OCR run at the clerk station (engine warm)"):
                count, seen = len(screen.batch.receipts), screen.frame
                # the simulated camera turns to the next receipt every 2 s: never the same one twice
                run_loop_until(lambda s=seen: screen.frame is not s, 10, "the next receipt on the camera")
                results[name] = measure(rec, lambda n=count: len(screen.batch.receipts) == n + 1 and screen.capture.isEnabled(),
                                        "the receipt's fields", lambda: click(screen.capture), timeout_s=120)
        finally:
            station.close()
    return results


def keyboard_alone(rounds: int = 3) -> tuple[float, float]:
    """The pinyin keyboard made in a window of its own, side by side with the way it was made
    before issue 20 (one synchronous setSource of the same QML in a plain QQuickWidget), each in
    a fresh process (Qt caches the compiled QML per process). Medians of `rounds` alternate runs."""
    sliced, synchronous = [], []
    for _ in range(rounds):
        for how, into in (("sync", synchronous), ("sliced", sliced)):
            env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, __file__, "--keyboard-alone", how], capture_output=True, text=True,
                                 env=env, cwd=ROOT, timeout=120)
            lines = [line for line in out.stdout.splitlines() if line.startswith("longest ")]
            if not lines:
                raise RuntimeError(f"keyboard ({how}): {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
            into.append(float(lines[-1].split()[1]))
    return statistics.median(sliced), statistics.median(synchronous)


def _keyboard_alone_child(how: str) -> None:
    """One keyboard in a fresh process: print the longest stall from its creation to its keys."""
    from kiosk.stations.qt import qt_application

    app = qt_application(touch_keyboard=True)
    from PySide6.QtCore import QUrl
    from PySide6.QtQuickWidgets import QQuickWidget
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    from kiosk.ui.theme import Metrics
    from kiosk.ui.widgets import touch_keyboard

    host = QWidget()
    layout = QVBoxLayout(host)
    field = QLineEdit()
    layout.addWidget(field)
    host.resize(*SIZE)
    host.show()
    settle = time.monotonic() + 0.3
    run_loop_until(lambda: time.monotonic() > settle, 5, "the window")
    made: dict[str, Any] = {}

    def make() -> None:
        if how == "sync":  # as before: compile and make the whole panel in setSource
            widget = QQuickWidget()
            widget.setResizeMode(QQuickWidget.ResizeMode.SizeRootObjectToView)
            widget.setSource(QUrl.fromLocalFile(str(touch_keyboard.QML)))
            layout.addWidget(widget)
            made["ready"] = lambda: widget.rootObject() is not None
        else:
            keyboard = touch_keyboard.TouchKeyboard(Metrics(96.0))
            layout.addWidget(keyboard)
            keyboard.set_language("zh_CN")
            made["ready"] = lambda: keyboard.available
        field.setFocus()

    rec = StallRecorder()
    longest = measure(rec, lambda: "ready" in made and made["ready"](), "the keyboard", make)
    settle = time.monotonic() + 0.3  # its first frames drawn
    rec.start()
    run_loop_until(lambda: time.monotonic() > settle, 5, "the keyboard drawn")
    print(f"longest {max(longest, rec.stop()):.1f}")
    app.quit()


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

# Packages in the dev venv only (selenium brings trio; schemathesis brings rich and click) that
# httpx/httpcore import when present: hidden, the kiosk imports what an appliance has (`make
# install` installs no dev extras), measured beside the dev-venv start in the same run.
DEV_ONLY = ("trio", "rich", "pygments")  # click is uvicorn's: an appliance has it
HIDE_DEV_ONLY = """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in %r:
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, _NotInstalled())
""" % (DEV_ONLY,)

KIOSK = """
import dataclasses, sys, tempfile, time
from PySide6.QtCore import QObject, QEvent, QTimer
from kiosk.config import load_config
from kiosk.stations.resident import KioskShell
from kiosk.ui.panel import fix_to_panel
data = tempfile.mkdtemp()
config = load_config(environ={"KIOSK_DATA_DIR": data})
devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
display = dataclasses.replace(config.display, width=%d, height=%d)
shell = KioskShell(dataclasses.replace(config, devices=devices, display=display))
home = shell.window.current
class F(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            print(time.time()); sys.stdout.flush(); shell.app.quit()
        return False
f = F(); home.installEventFilter(f)
fix_to_panel(shell.window, (%d, %d)); shell.window.show(); shell.app.exec()
shell.close()
""" % (SIZE + SIZE)


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
    parser.add_argument("--why", action="store_true", help="print the GUI thread's stacks during each longest stall")
    parser.add_argument("--keyboard-alone", choices=("sync", "sliced"), help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    if args.keyboard_alone:
        _keyboard_alone_child(args.keyboard_alone)
        return 0
    # The project's bytecode compiled first, as `make install` does for the appliance (and setup.sh
    # for a checkout): under PYTHONDONTWRITEBYTECODE every start would compile kiosk/ from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "kiosk", "drivers"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    bares, kiosks, appliances = [], [], []
    for _ in range(args.cold_rounds):  # alternated, so the load of the moment falls on all three alike
        bares.append(cold_start(BARE))
        kiosks.append(cold_start(KIOSK))
        appliances.append(cold_start(HIDE_DEV_ONLY + KIOSK))
    bare, kiosk, appliance = (statistics.median(x) for x in (bares, kiosks, appliances))
    emit("cold start to home painted", kiosk, "s", "≤ 1.0 s and ≤ 6× bare", kiosk <= 1.0 and kiosk <= 6 * bare,
         bare, "bare PySide6 window painted")
    emit(f"cold start, appliance imports (no {', '.join(DEV_ONLY)})", appliance, "s", "≤ 1.0 s and ≤ 6× bare",
         appliance <= 1.0 and appliance <= 6 * bare, bare, "bare PySide6 window painted")
    sliced, synchronous = keyboard_alone()
    emit("GUI stall: pinyin keyboard made (alone)", sliced, "ms", f"< {STALL_MS:.0f} ms", sliced < STALL_MS, synchronous,
         "same QML in one setSource, as before; median of 3")
    exec(HIDE_DEV_ONLY, {})  # the stall scenarios import as an appliance does (see the docstring)
    stalls, baselines = scenarios(args.sync_items, args.why)
    stalls.update(clerk_scenarios(args.why))
    floor = stalls.pop("idle at home (noise floor)", None)
    for name, ms in stalls.items():
        base, label = (baselines[name], "the same page turn, keys made") if name in baselines else \
            (floor, "longest gap idle at home")
        emit(f"GUI stall: {name}", ms, "ms", f"< {STALL_MS:.0f} ms", ms < STALL_MS, base, label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
