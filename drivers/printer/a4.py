"""The kiosk's A4 printer, for documents such as the 参保证明 (insurance certificate).

Printing goes through CUPS with `lp` (the queue named in the URL: `cups:QUEUE`, or `cups:` for
the default destination). The simulator (`sim://` or `folder:/path`) keeps each PDF it is sent,
so tests and the demo can look at exactly what would have been printed.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import DriverError


class A4PrinterError(DriverError):
    """Base of the A4 printer's errors (the `DriverError` shape)."""

    code = "A4_ERROR"
    message_zh = "A4 打印失败，请到窗口打印"
    message_en = "A4 printing failed; please ask at a counter"


class A4NoCups(A4PrinterError):
    code = "A4_NO_CUPS"
    message_zh = "A4 打印服务未安装，请联系技术人员"
    message_en = "The A4 print service (CUPS) is not installed; please call staff"


class A4Timeout(A4PrinterError):
    code = "A4_TIMEOUT"
    message_zh = "A4 打印机无响应，请到窗口打印"
    message_en = "The A4 printer did not answer; please ask at a counter"


class A4Refused(A4PrinterError):
    code = "A4_REFUSED"
    message_zh = "A4 打印失败，请到窗口打印"
    message_en = "A4 printing failed; please ask at a counter"


class A4UrlInvalid(A4PrinterError):
    code = "A4_URL"
    message_zh = "A4 打印机地址配置错误"
    message_en = "The A4 printer address in the configuration is not valid"


@dataclass(frozen=True)
class A4Job:
    ok: bool
    job_id: str = ""
    path: Path | None = None


class CupsPrinter:
    def __init__(self, queue: str = "", timeout_s: float = 20.0) -> None:
        self.queue, self.timeout_s = queue, timeout_s

    def print_pdf(self, pdf: Path) -> A4Job:
        lp = shutil.which("lp")
        if lp is None:
            raise A4NoCups("lp not found")
        command = [lp, "-t", "参保证明", *(["-d", self.queue] if self.queue else []), str(pdf)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise A4Timeout(f"lp gave no answer within {self.timeout_s:g} s") from None
        if done.returncode != 0:
            raise A4Refused(f"lp failed: {done.stderr.strip()[:200]}")
        return A4Job(True, done.stdout.strip())


class FolderPrinter:
    """Simulator: a 'printer' that files every document it receives."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def print_pdf(self, pdf: Path) -> A4Job:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{pdf.name}"
        shutil.copyfile(pdf, target)
        return A4Job(True, target.name, target)

    @property
    def printed(self) -> list[Path]:
        return sorted(self.folder.glob("*.pdf")) if self.folder.exists() else []


def open_a4_printer(url: str, sim_folder: Path) -> CupsPrinter | FolderPrinter:
    if url == "sim://":
        return FolderPrinter(sim_folder)
    if url.startswith("folder:"):
        return FolderPrinter(Path(url.removeprefix("folder:")))
    if url.startswith("cups:"):
        return CupsPrinter(url.removeprefix("cups:"))
    raise A4UrlInvalid(f"unknown A4 printer address {url!r} (cups:QUEUE, folder:/path or sim://)")
