"""Memory: resident set size of the kiosk after start, after many resident journeys, and of the
warm OCR engine at the clerk station.

A kiosk runs for weeks, so what matters is not one reading but the slope once caches are warm.
After a warm-up (glyphs, styles, SQLite pages, the simulators' bounded records fill), RSS is read
every few journeys with the kiosk idle on home for a moment, as between residents (the event
loop runs: deferred deletes, and the free heap pages handed back after sign-out), and a line is
fitted (Theil-Sen: robust to RSS's steps) over the measured journeys and over their later half.
Growth is steady when the later half still climbs by STEADY_KIB_PER_JOURNEY or more; the table's
figure is RSS carried to 1,000 journeys along the steeper of the two lines, and says which it
is. RSS read right after each journey, before idling, is printed too.

The hub is away (as when the network is down), so the outbox backlog grows by one submission per
journey and every retry claims a longer batch: that path is part of what is measured. SQLite's
own heap (sqlite3_memory_used) is printed beside RSS: it is where the statement cache grew.

    .venv/bin/python bench/bench_memory.py [--journeys 320] [--warm-up 40] [--every 20]
"""
from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from figures import emit  # noqa: E402

# Growth below this carried over 1,000 journeys is under 2 MiB: noise and bounded records,
# not a leak. Above it a kiosk grows without end.
STEADY_KIB_PER_JOURNEY = 2.0


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sqlite_used():  # the libsqlite3 Python's sqlite3 module is linked against, if it can be found
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return lib.sqlite3_memory_used
    except (OSError, AttributeError):
        return None


_SQLITE_USED = _sqlite_used()


def sqlite_mib() -> float:
    return _SQLITE_USED() / 2**20 if _SQLITE_USED is not None else float("nan")


def journey(shell, profile) -> None:
    from PySide6.QtCore import QEvent

    from kiosk.ui.journey import Journey, click, wait_until

    from bench_gui import choose  # the tile on its home page, past its 办事指南

    j = Journey(shell.window, log=lambda _: None)
    j.start_counting()  # the screen recorder rides on the window: start its list afresh each visit
    choose(j, "transfer")
    j.on_screen("identify")
    card = shell.runtime.sims.idcard
    card.insert(profile)
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    j.fill_form({"direction": "in", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    click(j.find("done_home"))
    card.remove()
    removed = time.monotonic()
    # The reader must see the card leave: its next poll after the removal answers "no card".
    requests = card.device.requests
    wait_until(lambda: requests and requests[-1][0] > removed, 5, "the reader to poll the empty slot")
    # What the running event loop does between events: objects passed to deleteLater() go.
    shell.app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def settle(shell, seconds: float = 1.2) -> tuple[float, float]:
    """RSS (MiB) right after a journey, and after `seconds` of the kiosk idle on home between
    residents — the event loop running, as it does then: deferred deletes, and the free heap pages
    handed back after sign-out (kiosk.services.heap). Both after a full garbage collection."""
    gc.collect()
    busy = rss_mib()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        shell.app.processEvents()
        time.sleep(0.02)
    gc.collect()
    return busy, rss_mib()


def fit(points: list[tuple[int, float]]) -> float:
    """Slope of (journey, MiB) points in MiB per journey: the median of the slopes between every
    two points (Theil-Sen). RSS moves in steps (a 1 MiB Python arena given back or taken, free
    heap pages returned), and one such step must not tilt the line as it tilts least squares."""
    slopes = sorted((y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1:] if x2 != x1)
    if not slopes:
        return 0.0
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=320, help="measured journeys after the warm-up")
    parser.add_argument("--warm-up", type=int, default=40, help="journeys before measuring (caches fill)")
    parser.add_argument("--every", type=int, default=20, help="journeys between RSS samples")
    args = parser.parse_args()
    from drivers.idcard.simulator import load_profile
    from kiosk.config import load_config
    from kiosk.stations.resident import KioskShell

    base = rss_mib()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as data:
        config = load_config(environ={"KIOSK_DATA_DIR": data})
        # The reader polls every 50 ms rather than 300 (a setting, devices.idcard.poll_interval_ms):
        # a journey then waits less for the card to be seen coming and going, and twice as many
        # journeys fit in the bench's time. Per journey the kiosk does the same work.
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False),
                                      idcard=dataclasses.replace(config.devices.idcard, poll_interval_ms=50))
        shell = KioskShell(dataclasses.replace(config, devices=devices))
        shell.window.resize(1280, 800)
        shell.window.show()
        profile = load_profile(config.resolve("assets/cards/idcard/young_parent.json"))
        started, sqlite_started = rss_mib(), sqlite_mib()
        journey(shell, profile)
        gc.collect()
        first = rss_mib()
        warm_up = max(1, args.warm_up)
        for _ in range(warm_up - 1):
            journey(shell, profile)
        done = warm_up
        busy, idle = settle(shell)
        samples, busy_samples = [(done, idle)], [(done, busy)]
        sqlite_warm = sqlite_mib()
        while done < warm_up + args.journeys:
            for _ in range(min(args.every, warm_up + args.journeys - done)):
                journey(shell, profile)
                done += 1
            busy, idle = settle(shell)
            samples.append((done, idle))
            busy_samples.append((done, busy))
        sqlite_after = sqlite_mib()
        backlog = shell.runtime.outbox.status().pending
        shell.close()
    seconds = time.monotonic() - t0
    slope = fit(samples)
    later = [p for p in samples if p[0] >= samples[0][0] + (samples[-1][0] - samples[0][0]) / 2]
    slope_later = fit(later)
    steady = slope_later * 1024 >= STEADY_KIB_PER_JOURNEY
    from kiosk.ocr.pipeline import ReceiptReader
    from kiosk.ocr.synth import make_receipt

    before_ocr = rss_mib()
    reader = ReceiptReader("rapidocr")
    for seed in range(3):
        reader.read(make_receipt(5000 + seed).image)
    ocr = rss_mib()
    warm, after = samples[0][1], samples[-1][1]
    print(f"memory (RSS, MiB): python+imports {base:.0f}; kiosk started {started:.0f}; after 1 journey {first:.0f}; "
          f"after {warm_up} (caches warm) {warm:.1f}; after {done} {after:.1f} ({seconds:.0f} s, "
          f"{seconds / max(done, 1) * 1000:.0f} ms a journey)")
    print(f"memory (RSS, MiB) every {args.every} journeys, idle on home: " + " ".join(f"{mib:.1f}" for _, mib in samples))
    print(f"memory (RSS, MiB) every {args.every} journeys, just after the journey: "
          + " ".join(f"{mib:.1f}" for _, mib in busy_samples) + f" (slope {fit(busy_samples) * 1024:+.1f} KiB/journey)")
    print(f"memory slope over journeys {samples[0][0]}-{samples[-1][0]}: {slope * 1024:+.1f} KiB/journey "
          f"(later half {later[0][0]}-{samples[-1][0]}: {slope_later * 1024:+.1f}); "
          f"{'STEADY GROWTH' if steady else 'no steady growth'} (threshold {STEADY_KIB_PER_JOURNEY:.0f} KiB/journey)")
    print(f"memory: SQLite heap {sqlite_started:.2f} MiB at start, {sqlite_warm:.2f} warm, {sqlite_after:.2f} after "
          f"{done} journeys (outbox backlog {backlog}: the hub is away)")
    print(f"memory (RSS, MiB): + warm RapidOCR after 3 receipts {ocr:.0f} (engine {ocr - before_ocr:+.0f})")
    # Carried along the steeper fitted line (never below what was measured: a falling line is no credit).
    at_1000 = after + max(slope, slope_later, 0.0) * (1000 - done) if done < 1000 else after
    verdict = "steady growth" if steady else "no steady growth"
    emit(f"kiosk RSS at 1,000 journeys ({done} run; slope after {warm_up} {slope * 1024:+.1f} KiB/journey, "
         f"after {later[0][0]} {slope_later * 1024:+.1f}: {verdict})",
         at_1000, "MiB", "≤ 250 MiB, no steady growth", at_1000 <= 250 and not steady, started, "kiosk just started")
    emit("clerk station RSS with warm OCR", ocr, "MiB", "≤ 700 MiB", ocr <= 700, before_ocr, "same process before the OCR engine")


if __name__ == "__main__":
    main()
