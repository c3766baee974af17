"""医保电子凭证 (medical-insurance QR voucher) input: USB-serial scanner, HID keystroke bursts,
and camera frames."""
from drivers.qrscan.errors import QrScanError, ScannerPortUnavailable
from drivers.qrscan.image import decode_qr_image
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

__all__ = [
    "GarbageRejected", "KeystrokeBurstDetector", "QrScanError", "QrScannerSimulator", "ScannerConnected",
    "ScannerDisconnected", "ScannerPortUnavailable", "SerialQrScanner", "VoucherScanned", "decode_qr_image", "self_test",
]
