"""医保电子凭证 (medical-insurance QR voucher) input: USB-serial scanner, HID keystroke bursts,
and camera frames.

`decode_qr_image` is imported on first use (PEP 562): it needs numpy, which the kiosk's start-up
must not pay for (issue 20) — `kiosk.devices.events` imports the serial scanner through here."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.qrscan.errors import QrScanError, ScannerPortUnavailable
from drivers.qrscan.keystrokes import KeystrokeBurstDetector
from drivers.qrscan.serial_scanner import (
    GarbageRejected,
    ScannerConnected,
    ScannerDisconnected,
    SerialQrScanner,
    VoucherScanned,
    self_test,
)
from drivers.qrscan.simulator import QrScannerSimulator

if TYPE_CHECKING:
    from drivers.qrscan.image import decode_qr_image

__all__ = [
    "GarbageRejected", "KeystrokeBurstDetector", "QrScanError", "QrScannerSimulator", "ScannerConnected",
    "ScannerDisconnected", "ScannerPortUnavailable", "SerialQrScanner", "VoucherScanned", "decode_qr_image", "self_test",
]


def __getattr__(name: str) -> Any:
    if name == "decode_qr_image":
        from drivers.qrscan.image import decode_qr_image

        return decode_qr_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
