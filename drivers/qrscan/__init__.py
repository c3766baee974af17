"""医保电子凭证 (medical-insurance QR voucher) input: USB-serial scanner, HID keystroke bursts,
and camera frames."""
from drivers.qrscan.image import decode_qr_image
from drivers.qrscan.keystrokes import KeystrokeBurstDetector
from drivers.qrscan.serial_scanner import (
    GarbageRejected, ScannerConnected, ScannerDisconnected, SerialQrScanner, VoucherScanned,
)
from drivers.qrscan.simulator import QrScannerSimulator

__all__ = [
    "GarbageRejected", "KeystrokeBurstDetector", "QrScannerSimulator", "ScannerConnected",
    "ScannerDisconnected", "SerialQrScanner", "VoucherScanned", "decode_qr_image",
]
