"""Memory: resident set size of the kiosk after start, after many resident journeys (steady
growth once caches are warm means a leak: a kiosk runs for weeks), and of the warm OCR engine
at the clerk station. The simulators record every frame they see, so a few KiB per journey of
steady growth is theirs, not the kiosk's.

    .venv/bin/python bench/bench_memory.py [--journeys 20]
"""
from __future__ import annotations

import argparse
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


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def journey(shell, profile) -> None:
    from PySide6.QtCore import QEvent

    from kiosk.ui.journey import Journey, click, wait_until

    from bench_gui import choose  # the tile on its home page, past its 办事指南

    j = Journey(shell.window, log=lambda _: None)
    choose(j, "transfer")
    j.on_screen("identify")
    shell.runtime.sims.idcard.insert(profile)
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    j.fill_form({"direction": "in", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    click(j.find("done_home"))
    shell.runtime.sims.idcard.remove()
    end = time.monotonic() + 0.4  # the reader must see the card leave
    while time.monotonic() < end:
        shell.app.processEvents()
        time.sleep(0.02)
    # What the running event loop does between events: objects passed to deleteLater() go.
    shell.app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=20)
    args = parser.parse_args()
    from drivers.idcard.simulator import load_profile
    from kiosk.config import load_config
    from kiosk.stations.resident import KioskShell

    base = rss_mib()
    with tempfile.TemporaryDirectory() as data:
        config = load_config(environ={"KIOSK_DATA_DIR": data})
        devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
        shell = KioskShell(dataclasses.replace(config, devices=devices))
        shell.window.resize(1280, 800)
        shell.window.show()
        profile = load_profile(config.resolve("assets/cards/idcard/young_parent.json"))
        started = rss_mib()
        journey(shell, profile)
        gc.collect()
        first = rss_mib()
        for _ in range(20):  # caches fill up first (glyphs, styles, SQLite pages): not a leak
            journey(shell, profile)
        gc.collect()
        warm = rss_mib()
        for _ in range(args.journeys):
            journey(shell, profile)
        gc.collect()
        after = rss_mib()
        shell.close()
    from kiosk.ocr.pipeline import ReceiptReader
    from kiosk.ocr.synth import make_receipt

    before_ocr = rss_mib()
    reader = ReceiptReader("rapidocr")
    for seed in range(3):
        reader.read(make_receipt(5000 + seed).image)
    ocr = rss_mib()
    print(f"memory (RSS, MiB): python+imports {base:.0f}; kiosk started {started:.0f}; after 1 journey {first:.0f}; "
          f"after 21 (caches warm) {warm:.0f}; after {args.journeys} more {after:.0f} "
          f"(steady growth {(after - warm) * 1024 / max(args.journeys, 1):+.0f} KiB/journey)")
    print(f"memory (RSS, MiB): + warm RapidOCR after 3 receipts {ocr:.0f} (engine {ocr - before_ocr:+.0f})")
    slope = (after - warm) / max(args.journeys, 1)
    at_1000 = warm + slope * (1000 - 21)  # bounded run: the measured steady slope carried to 1,000 journeys
    emit(f"kiosk RSS at 1,000 journeys (from {21 + args.journeys}, slope {slope * 1024:+.0f} KiB/journey)",
         at_1000, "MiB", "≤ 250 MiB", at_1000 <= 250, started, "kiosk just started")
    emit("clerk station RSS with warm OCR", ocr, "MiB", "≤ 700 MiB", ocr <= 700, before_ocr, "same process before the OCR engine")


if __name__ == "__main__":
    main()
