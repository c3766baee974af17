"""Typed errors of the social-security card driver, in the `DriverError` shape: each has a
stable code and zh/en text safe to show; `detail` (technicians) and `sw` ride along.
"""
from __future__ import annotations

from drivers.errors import DriverError


class SsCardError(DriverError):
    """Base of every social-security card failure. `sw` is the status word when the card gave one."""

    code = "SSCARD"
    message_zh = "社保卡读取失败，请重新插卡"
    message_en = "Could not read the social-security card; please insert it again"

    def __init__(self, detail: str = "", sw: int | None = None) -> None:
        super().__init__(detail)
        self.sw = sw


class FileNotFound(SsCardError):
    code = "SSCARD_FILE_NOT_FOUND"  # 6A82
    message_zh = "卡片中未找到社保应用或文件，请确认插入的是社保卡"
    message_en = "Social-security application or file not found on the card"


class RecordNotFound(SsCardError):
    code = "SSCARD_RECORD_NOT_FOUND"  # 6A83
    message_zh = "卡片中缺少所需信息"
    message_en = "Record not found on the card"


class WrongParameters(SsCardError):
    code = "SSCARD_WRONG_P1P2"  # 6A86 / 6B00: this card uses the other addressing style
    message_zh = "卡片不支持该读取方式"
    message_en = "Card rejected the command parameters"


class SecurityNotSatisfied(SsCardError):
    code = "SSCARD_SECURITY"  # 6982
    message_zh = "卡片拒绝访问（安全条件不满足）"
    message_en = "Security status not satisfied"


class WrongLength(SsCardError):
    code = "SSCARD_WRONG_LENGTH"  # 6700
    message_zh = "卡片通讯错误（长度错误）"
    message_en = "Wrong length"


class UnexpectedStatus(SsCardError):
    code = "SSCARD_STATUS"
    message_zh = "卡片返回异常状态，请重新插卡"
    message_en = "Card returned an unexpected status word"


class CardRemovedError(SsCardError):
    code = "SSCARD_REMOVED"
    message_zh = "读卡过程中卡片被拔出，请重新插卡并等待读取完成"
    message_en = "The card was removed during reading; insert it again and wait"


class CardMute(SsCardError):
    code = "SSCARD_MUTE"
    message_zh = "卡片无响应，请检查插卡方向后重试"
    message_en = "The card does not answer; check its orientation and retry"


class MalformedRecord(SsCardError):
    code = "SSCARD_MALFORMED"
    message_zh = "卡片数据格式错误，请到人工窗口办理"
    message_en = "Card data is malformed"


class PcscUnavailableError(SsCardError):
    code = "SSCARD_PCSC_DOWN"
    message_zh = "读卡服务未运行，请联系工作人员"
    message_en = "The PC/SC service (pcscd) is not running"


class PyscardMissing(PcscUnavailableError):
    code = "SSCARD_PYSCARD_MISSING"
    message_zh = "读卡组件未安装，请联系技术人员"
    message_en = "The PC/SC library (pyscard) is not installed"


class NoReader(SsCardError):
    code = "SSCARD_NO_READER"
    message_zh = "未检测到社保卡读卡器，请联系工作人员"
    message_en = "No social-security card reader found"


class NoCard(SsCardError):
    code = "SSCARD_NO_CARD"
    message_zh = "未检测到社保卡，请插卡"
    message_en = "No card in the reader"


class ReadTimeout(SsCardError):
    code = "SSCARD_TIMEOUT"
    message_zh = "等待插卡超时"
    message_en = "Timed out waiting for a card"
