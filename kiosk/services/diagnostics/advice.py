"""What to do when a check fails: the advice table, and the choice of advice by the stable error
code a driver attaches to its failed check (`CheckResult.code`), never by its English text.

`ADVICE` maps a problem key to (English, Chinese) advice; `ADVICE_BY_CODE` maps driver error
codes (`drivers.errors.DriverError` families, `kiosk.ocr` engine codes) and the hub's and the
hall's self-test codes (HUB_*, HALL_*) to a problem key;
`advise` appends the advice to a result's own detail.
"""
from __future__ import annotations

import dataclasses

from drivers.diagnostics import CheckResult, CheckStatus

# What to do, keyed by problem. (English, Chinese); appended to the check's own detail.
ADVICE: dict[str, tuple[str, str]] = {
    "idcard.unplugged": (
        "ID card reader not found: check its USB cable and power, then run again. If it is plugged in, "
        "the port name may have changed: see the serial ports in `kiosk diag --bundle` and set devices.idcard.port",
        "未找到身份证读卡器：请检查 USB 线和电源后重新检测；若已接好，端口名可能已变，请查看诊断包中的串口列表并修改 devices.idcard.port"),
    "idcard.wrong_port": (
        "the port opens but no ID card reader answers: wrong port or baud rate? Set devices.idcard.port "
        "(and devices.idcard.baud, usually 115200) in config.toml to the reader's port",
        "端口能打开但没有身份证读卡器应答：端口或波特率可能配错，请在 config.toml 中把 devices.idcard.port 改为读卡器所在端口（波特率一般为 115200）"),
    "idcard.sam": (
        "the reader's security module (SAM) reports a fault: power-cycle the reader; if it persists, replace the reader",
        "读卡器安全模块报告故障：请断电重启读卡器；仍不行请更换读卡器"),
    "sscard.pcscd": (
        "start the smart-card service: `sudo systemctl enable --now pcscd` (install with `sudo apt install pcscd`)",
        "请启动读卡服务：sudo systemctl enable --now pcscd（未安装时先 sudo apt install pcscd）"),
    "sscard.pyscard": (
        "install the PC/SC library into the kiosk: `.venv/bin/pip install pyscard` (needs libpcsclite)",
        "请安装 PC/SC 库：.venv/bin/pip install pyscard（需要 libpcsclite）"),
    "sscard.no_reader": (
        "plug in the social-security card reader (USB) and check devices.sscard.reader matches its name",
        "请接好社保卡读卡器（USB），并确认 devices.sscard.reader 与读卡器名称相符"),
    "printer.paper_out": (
        "load a new 80 mm paper roll, close the cover, then run again",
        "请装入新的 80 毫米打印纸卷并关好纸仓盖，然后重新检测"),
    "printer.paper_low": (
        "the paper roll is nearly used up: replace it soon",
        "纸卷即将用完，请尽快更换"),
    "printer.offline": (
        "close the printer cover and check it is switched on, then run again",
        "请关好打印机纸仓盖并确认已开机，然后重新检测"),
    "printer.silent": (
        "tickets may still print, but paper-out cannot be detected: check the printer after a test print",
        "小票仍可能正常打印，但无法检测缺纸：请做一次测试打印并查看打印机"),
    "printer.connection": (
        "check the printer's power and cable, and devices.printer.url in config.toml",
        "请检查打印机电源和连接线，以及 config.toml 中的 devices.printer.url"),
    "qrscan.port": (
        "check the QR scanner's USB cable and devices.qrscan.port in config.toml",
        "请检查扫码器 USB 线以及 config.toml 中的 devices.qrscan.port"),
    "camera.missing": (
        "document camera not found: check its USB cable, then devices.camera.source (an index such as 0 or /dev/video0)",
        "未找到高拍仪：请检查 USB 线，并确认 devices.camera.source（如 0 或 /dev/video0）"),
    "camera.error": (
        "the camera gives no picture: unplug it, plug it back in and run again",
        "高拍仪没有画面：请拔下重新插好后重新检测"),
    "ocr.tesseract_lang": (
        "install the Chinese language data: `sudo apt install tesseract-ocr-chi-sim`, or set ocr.engine = \"rapidocr\"",
        "请安装中文语言包：sudo apt install tesseract-ocr-chi-sim，或把 ocr.engine 改为 \"rapidocr\""),
    "ocr.tesseract": (
        "install Tesseract: `sudo apt install tesseract-ocr tesseract-ocr-chi-sim` and `.venv/bin/pip install pytesseract`",
        "请安装 Tesseract：sudo apt install tesseract-ocr tesseract-ocr-chi-sim，并 .venv/bin/pip install pytesseract"),
    "ocr.rapidocr": (
        "reinstall the OCR engine: `.venv/bin/pip install rapidocr onnxruntime`",
        "请重新安装识别引擎：.venv/bin/pip install rapidocr onnxruntime"),
    "outbox.backlog": (
        "submissions are waiting: check the network and the hub (see hub.reachable), then `kiosk sync --once`",
        "有业务未上传：请检查网络和医保中心连接（见 hub.reachable），再执行 kiosk sync --once"),
    "outbox.quarantined": (
        "the hub refused some submissions: review them on the technician screen (retry) or `kiosk outbox list`",
        "医保中心拒收了部分业务：请在技术员界面查看并重试，或执行 kiosk outbox list"),
    "outbox.db": (
        "the local database cannot be read: take a diagnostics bundle (`kiosk diag --bundle`) and call support",
        "本地数据库无法读取：请生成诊断包（kiosk diag --bundle）并联系技术支持"),
    "outbox.key": (
        "restore the outbox key file from the installation backup to the path named above (mode 0600) and restart; "
        "do not delete the outbox database — without its key the pending submissions cannot be sent",
        "请从安装备份中恢复本地加密密钥文件到上述路径（权限 0600）并重启；不要删除 outbox 数据库，否则待上传业务将丢失"),
    "outbox.recovered": (
        "a malformed outbox database was set aside and its readable rows salvaged: keep the set-aside file for support, "
        "then run `kiosk outbox acknowledge`",
        "本地数据库曾损坏，已另存并恢复可读记录：请保留另存文件供技术支持，确认后执行 kiosk outbox acknowledge"),
    "sync.paused": (
        "the hub refuses this kiosk itself, so sync is paused and submissions stay pending: fix hub.token / kiosk.id as "
        "described above (`kiosk hub add-token` on the hub), then `kiosk sync --once`",
        "医保中心拒绝了本机身份，上传已暂停，业务保留待发：请按上述说明修正 hub.token / kiosk.id，再执行 kiosk sync --once"),
    "hub.down": (
        "check the network cable or Wi-Fi and hub.url in config.toml; submissions are kept safely and sent when the hub is back",
        "请检查网线或无线网络以及 config.toml 中的 hub.url；业务已安全保存，恢复连接后自动上传"),
    "hub.auth": (
        "the hub refused the kiosk's token: set hub.token (or KIOSK_HUB_TOKEN) to this kiosk's token",
        "医保中心拒绝了本机令牌：请设置正确的 hub.token（或环境变量 KIOSK_HUB_TOKEN）"),
    "hub.cleartext": (
        "the hub is reached over plain http:// on a network, so the kiosk's token crosses it in clear: "
        "set hub.url to https:// (TLS by the hub or a reverse proxy; a private CA goes in hub.ca_file)",
        "与医保中心的连接未加密（http://），本机令牌会以明文经过网络：请把 hub.url 改为 https://（私有证书颁发机构填 hub.ca_file）"),
    "hub.tls": (
        "the hub's certificate cannot be verified: set hub.ca_file to the CA that signed it (a private CA), or run "
        "`kiosk enrol` again if the hub's certificate changed; check the kiosk's clock too",
        "无法验证医保中心的证书：请把 hub.ca_file 设为签发该证书的证书颁发机构文件，或证书更换后重新执行 kiosk enrol；并检查本机时间"),
    "hall.down": (
        "the service hall does not answer: check the hall PC is on and `kiosk hall serve` runs, the LAN cable, and "
        "hall.url in config.toml. Submissions are still stored and go to the hub; residents are sent to the counter "
        "with their reference until the hall is back",
        "服务大厅无应答：请检查大厅主机已开机且 kiosk hall serve 在运行、局域网线以及 config.toml 中的 hall.url；"
        "业务仍会保存并上传，大厅恢复前居民凭业务编号到窗口办理"),
    "hall.auth": (
        "configuration error: the hall refused this kiosk's token — set hall.token (or KIOSK_HALL_TOKEN) to the "
        "token listed for this kiosk in the hall's token file (`kiosk hall serve --tokens FILE`)",
        "配置错误：服务大厅拒绝了本机令牌，请把 hall.token（或环境变量 KIOSK_HALL_TOKEN）设为大厅令牌文件中本机的令牌"),
    "hall.tls": (
        "the hall's certificate cannot be verified: set hall.ca_file to the CA that signed it (the hall's own "
        "certificate if it is self-signed), check the name in hall.url matches the certificate and the kiosk's clock",
        "无法验证服务大厅的证书：请把 hall.ca_file 设为签发该证书的文件（自签名证书即证书本身），并核对 hall.url 中的主机名和本机时间"),
    "hall.cert_expiring": (
        "the hall's TLS certificate expires soon: renew it on the hall PC (`--tls-cert/--tls-key`) before it does, "
        "or the kiosk will stop getting numbers",
        "服务大厅的证书即将过期：请尽快在大厅主机上更换证书（--tls-cert/--tls-key），否则本机将无法取号"),
    "hall.cleartext": (
        "the hall is reached over plain http:// on a network, so the kiosk's token and the applications cross it "
        "in clear: serve the hall with --tls-cert/--tls-key and set hall.url to https:// (a private CA in hall.ca_file)",
        "与服务大厅的连接未加密（http://），本机令牌和申请内容会以明文经过网络：请为大厅配置证书并把 hall.url 改为 https://"),
    "hall.clock": (
        "the kiosk's clock and the hall's differ: tickets show the kiosk's time but the hall measures waiting; "
        "turn on time sync on both (`sudo timedatectl set-ntp true`; with the WAN down let the hall PC serve time "
        "on the LAN with chrony)",
        "本机与服务大厅的时间不一致（号票时间与等候时长将对不上）：请在两台机器上开启时间同步（sudo timedatectl set-ntp true）"),
    "hall.unhealthy": (
        "the hall answers but reports a problem with its database: look at the hall PC's log "
        "(`journalctl -u kiosk-hall`) and its disk",
        "服务大厅有应答但其数据库异常：请查看大厅主机日志（journalctl -u kiosk-hall）和磁盘空间"),
    "disk.low": (
        "free disk space: delete old files, or run `kiosk outbox purge` to drop synced records past retention",
        "请清理磁盘空间：删除旧文件，或执行 kiosk outbox purge 清除已上传且过期的记录"),
    "disk.critical": (
        "disk nearly full: new submissions may fail to save; free space now (old logs, `kiosk outbox purge`)",
        "磁盘即将写满，新业务可能无法保存：请立即清理空间（旧日志、kiosk outbox purge）"),
    "crashed": (
        "the check itself failed: take a diagnostics bundle (`kiosk diag --bundle`) and send it to support",
        "检测本身出错：请生成诊断包（kiosk diag --bundle）发给技术支持"),
}

# Driver error code → problem key. A failed check whose code is not here gets its check's
# fallback (`FALLBACK_BY_CHECK`).
ADVICE_BY_CODE: dict[str, str] = {
    "IDCARD_PORT": "idcard.unplugged",
    # the port opened but what answers is not a reader at this baud rate
    "IDCARD_TIMEOUT": "idcard.wrong_port",
    "IDCARD_FRAME": "idcard.wrong_port",
    "IDCARD_FRAME_CHECKSUM": "idcard.wrong_port",
    "IDCARD_FRAME_LENGTH": "idcard.wrong_port",
    "IDCARD_SAM": "idcard.sam",
    "IDCARD_SAM_SELF_TEST": "idcard.sam",
    "IDCARD_SAM_NOT_AUTHORISED": "idcard.sam",
    "SSCARD_PCSC_DOWN": "sscard.pcscd",
    "SSCARD_PYSCARD_MISSING": "sscard.pyscard",
    "SSCARD_NO_READER": "sscard.no_reader",
    "PRINTER_PAPER_OUT": "printer.paper_out",
    "PRINTER_PAPER_OUT_DURING": "printer.paper_out",
    "PRINTER_PAPER_LOW": "printer.paper_low",
    "PRINTER_OFFLINE": "printer.offline",
    "PRINTER_SILENT": "printer.silent",
    "PRINTER_IO": "printer.connection",
    "PRINTER_URL": "printer.connection",
    "PRINTER_USB_UNAVAILABLE": "printer.connection",
    "QRSCAN_PORT": "qrscan.port",
    "CAMERA_MISSING": "camera.missing",
    "CAMERA_READ": "camera.error",
    "CAMERA_CLOSED": "camera.error",
    "OCR_ENGINE": "ocr.tesseract",
    "OCR_TESSERACT_PROGRAM": "ocr.tesseract",
    "OCR_TESSERACT_LANG": "ocr.tesseract_lang",
    # not drivers: the hub's and the hall's self-tests (kiosk/services/sync.py, diagnostics/hall.py)
    "HUB_UNREACHABLE": "hub.down",
    "HUB_AUTH": "hub.auth",
    "HUB_TLS": "hub.tls",
    "HALL_UNREACHABLE": "hall.down",
    "HALL_AUTH": "hall.auth",
    "HALL_TLS": "hall.tls",
    "HALL_CERT_EXPIRING": "hall.cert_expiring",
    "HALL_CLEARTEXT": "hall.cleartext",
    "HALL_CLOCK_SKEW": "hall.clock",
    "HALL_UNHEALTHY": "hall.unhealthy",
}

# A failed check without a known code: the advice its check name calls for.
FALLBACK_BY_CHECK: dict[str, str] = {
    "idcard.port": "idcard.unplugged",
    "idcard.sam_status": "idcard.sam",
    "idcard.sam_id": "idcard.sam",
    "sscard.pcsc": "sscard.pcscd",
    "sscard.reader": "sscard.no_reader",
    "printer.connection": "printer.connection",
    "printer.status": "printer.silent",
    "qrscan.port": "qrscan.port",
    "camera": "camera.error",
    "hub.reachable": "hub.down",
    "hall.reachable": "hall.down",
}


def with_advice(result: CheckResult, key: str, status: CheckStatus | None = None) -> CheckResult:
    """`result` with the advice `key` appended to its details (and `data.action = key`)."""
    en, zh = ADVICE[key]
    detail = f"{result.detail} — {en}" if result.detail else en
    detail_zh = f"{result.detail_zh or result.detail}。{zh}" if (result.detail_zh or result.detail) else zh
    return dataclasses.replace(result, status=status or result.status, detail=detail, detail_zh=detail_zh,
                               data={**result.data, "action": key})


def advice_key(result: CheckResult) -> str | None:
    """The problem key for a failed check: by its driver error code, else by its check name."""
    if result.status is CheckStatus.OK:
        return None
    return ADVICE_BY_CODE.get(result.code) or FALLBACK_BY_CHECK.get(result.name)


def advise(result: CheckResult) -> CheckResult:
    """A failed device check with its advice appended (unchanged when ok or nothing applies)."""
    key = advice_key(result)
    return with_advice(result, key) if key else result


__all__ = ["ADVICE", "ADVICE_BY_CODE", "FALLBACK_BY_CHECK", "advice_key", "advise", "with_advice"]
