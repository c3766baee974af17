"""`make bench`: run every benchmark in this folder, then print ONE table (figure, value, baseline
measured in the same run, ratio, target, pass/fail) and write it, with a description of the
machine, to docs/performance.md between the bench-table markers (other sections untouched).

    .venv/bin/python bench/run_all.py [--only bench_sync,bench_gui] [--no-write] [--with-distortions]

Each script reports its figures through bench/figures.py `emit` (every figure beside a baseline
measured in the same run where one exists); its own detailed output is shown as it runs. The
machine may be shared: the load average is recorded before each script and at the end, next to
the table. Exit 1 when a script crashed; figures that miss their targets show FAIL.

bench/ocr_distortions.py (22 classes × 3 receipts, tens of minutes) runs only with
--with-distortions; alone, it rewrites its own section of docs/performance.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import PERFORMANCE_MD, load, machine, markdown_table, text_table, write_section  # noqa: E402

# Arguments that keep `make bench` under 10 minutes on a 2-core machine; every script runs alone
# with its own defaults too.
ARGS: dict[str, list[str]] = {
    "bench_fleet.py": ["--seconds", "10", "--facts", "100000"],
    "bench_hall.py": ["--seconds", "5"],
    "bench_idcard.py": ["-n", "100"],
    "bench_identify.py": ["--rounds", "20"],
    "bench_memory.py": [],  # 40 warm-up + 320 measured journeys, ~2.5 min: a slope needs the length
    "bench_ocr.py": ["--count", "3", "--engines", "rapidocr"],
    "bench_ticket.py": ["--count", "1000"],
}
# Scripts not named bench_*.py that `make bench --with-distortions` runs as well (they write their
# own marked sections).
EXTRA = ["ocr_distortions.py"]
TIMEOUT_S = 300


def scripts(only: set[str], extra: bool = False) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py")) + [HERE / name for name in EXTRA if extra and (HERE / name).exists()]
    return [s for s in found if not only or s.stem in only or s.name in only]


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    parser.add_argument("--with-distortions", action="store_true", help="also run ocr_distortions.py (slow)")
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    about = machine()  # before the load we make
    started = time.monotonic()
    crashed, timings = [], []
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        env["BENCH_FIGURES"] = str(Path(d) / "figures.jsonl")
        only = {s.strip() for s in args.only.split(",") if s.strip()}
        for script in scripts(only, args.with_distortions or bool(only & {"ocr_distortions", "ocr_distortions.py"})):
            load_now = load_average()
            print(f"\n== {script.name} == (load average {load_now:.1f})" if load_now is not None
                  else f"\n== {script.name} ==", flush=True)
            t0 = time.monotonic()
            try:
                rc = subprocess.run([sys.executable, str(script), *ARGS.get(script.name, [])], env=env,
                                    check=False, timeout=TIMEOUT_S).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            timings.append((script.name, time.monotonic() - t0, load_now))
            if rc not in (0, 1) or (rc == 1 and script.name not in EXTRA):  # EXTRA exit 1 = a target missed
                crashed.append(f"{script.name} ({rc})")
        rows = load(Path(env["BENCH_FIGURES"]))
    total = time.monotonic() - started
    load_end = load_average()
    print("\n" + text_table(rows))
    failed = [r.figure for r in rows if r.passed is False]
    print(f"\n{len(rows)} figures, {len(failed)} missed their targets; {total / 60:.1f} min"
          + (f"; crashed: {', '.join(crashed)}" if crashed else ""))
    if not args.no_write:
        when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        text = "\n".join([
            "## Benchmark table (issue 20)", "",
            f"Measured {when} on: {about}.", "",
            "Each baseline is measured in the same run on the same machine, so the ratio holds when the "
            "machine is busy; absolute values vary with load (the load average before each script is "
            "given below: on 2 CPUs, anything above 2 means the benchmarks waited for the CPU).", "",
            markdown_table(rows), "",
            f"Run time {total / 60:.1f} min: "
            + ", ".join(f"{n} {s:.0f} s" + (f" (load {la:.1f})" if la is not None else "") for n, s, la in timings)
            + (f"; load average at the end {load_end:.1f}" if load_end is not None else "") + "."
            + (f" Crashed: {', '.join(crashed)}." if crashed else ""),
        ])
        write_section(text)
        print(f"written to {PERFORMANCE_MD.relative_to(HERE.parent)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
