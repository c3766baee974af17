"""Errors of the QR voucher scanner, in the `DriverError` shape (stable code, zh/en text)."""
from __future__ import annotations

from drivers.errors import DriverError


class QrScanError(DriverError):
    """Base of every QR scanner failure."""

    code = "QRSCAN_ERROR"
    message_zh = "扫码器出错，请联系工作人员"
    message_en = "QR scanner error; please call staff"


class ScannerPortUnavailable(QrScanError):
    code = "QRSCAN_PORT"
    message_zh = "无法打开扫码器端口，请联系工作人员"
    message_en = "The QR scanner's port cannot be opened; please call staff"

