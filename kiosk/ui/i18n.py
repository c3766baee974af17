"""Every user-facing string of the app, zh_CN first and English second.

Screens call `tr(key, **values)`; the language is switched at runtime and screens re-read their
texts in `retranslate()`. Forms carry their own zh/en texts (see kiosk/services/forms.py).
"""
from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("医保自助服务", "Medical Insurance Self-Service"),
    "header.elderly_on": ("长辈版 已开", "Large text ON"),
    "header.elderly_off": ("长辈版", "Large text"),
    "header.language": ("English", "中文"),
    "header.greeting": ("您好，{name}", "Hello, {name}"),
    "header.logout": ("退出", "Sign out"),
    "header.mute": ("语音 开", "Voice on"),
    "header.muted": ("语音 关", "Voice off"),
    "home.heading": ("请选择要办理的业务", "Choose a service"),
    "home.swipe_hint": ("可先刷身份证、社保卡或出示医保电子凭证", "You can start by placing your ID card, social-security card, or e-voucher"),
    "home.green_channel": ("65 岁以上长辈自动进入绿色通道，优先叫号", "Residents aged 65+ get the green channel and are called first"),
    "home.instant": ("即时办结", "Done here"),
    "home.counter": ("取号到窗口", "Ticket for counter"),
    "identify.heading": ("请验证身份", "Please identify yourself"),
    "identify.idcard": ("将身份证放在下方读卡区", "Place your ID card on the reader below"),
    "identify.sscard": ("或将社保卡插入读卡口", "Or insert your social-security card"),
    "identify.voucher": ("或出示医保电子凭证二维码", "Or show your insurance e-voucher QR code"),
    "identify.waiting": ("正在等待读卡…", "Waiting for a card…"),
    "identify.reading": ("正在读取，请勿移动卡片…", "Reading, please keep the card still…"),
    "identify.read_ok": ("身份验证成功", "Identity verified"),
    "identify.invalid_id": ("证件号码校验未通过，请到窗口办理", "The ID number failed its check; please go to a counter"),
    "identify.expired": ("您的社保卡已过期，请到窗口换领新卡", "Your social-security card has expired; please renew it at a counter"),
    "identify.failed": ("读卡失败：{reason}。请重新放置卡片", "Card read failed: {reason}. Please place the card again"),
    "identify.removed": ("卡片已移开", "Card removed"),
    "identify.continue": ("继续", "Continue"),
    "identify.name": ("姓名", "Name"),
    "identify.id_number": ("证件号码", "ID number"),
    "identify.age": ("年龄", "Age"),
    "identify.priority": ("绿色通道：优先叫号", "Green channel: priority call"),
    "common.back": ("返回", "Back"),
    "common.home": ("返回首页", "Home"),
    "common.next": ("下一步", "Next"),
    # why a receipt needs review when the picture is the problem (kiosk.ocr measures it, issue 23)
    "ocr.image_problem.blurry": ("图像模糊，请重新拍摄（清晰度 {sharpness:.0f}，需 ≥ {needed:.0f}）",
                                 "Image blurred, please retake it (sharpness {sharpness:.0f}, needs ≥ {needed:.0f})"),
    "ocr.image_problem.dark": ("图像太暗，请在明亮处重新拍摄（亮度 {brightness:.0f}/255）",
                               "Image too dark, please retake it in better light (brightness {brightness:.0f}/255)"),
    "ocr.image_problem.low_contrast": ("图像对比度太低，请重新拍摄（对比度 {contrast:.0f}）",
                                       "Image contrast too low, please retake it (contrast {contrast:.0f})"),
    "common.previous": ("上一步", "Previous"),
    "common.submit": ("确认提交", "Submit"),
    "common.edit": ("返回修改", "Change"),
    "common.step": ("第 {n} / {total} 步", "Step {n} of {total}"),
    "common.yes": ("是", "Yes"),
    "common.no": ("否", "No"),
    "common.optional": ("（选填）", "(optional)"),
    "form.agree": ("我已阅读并同意", "I have read and agree"),
    "form.selected": ("已选 {n} 项", "{n} selected"),
    "form.pick_date": ("选择日期", "Pick a date"),
    "form.year": ("年", "Year"),
    "form.month": ("月", "Month"),
    "form.day": ("日", "Day"),
    "form.clear": ("清除", "Clear"),
    "form.decimal_point": ("小数点", "Point"),
    "form.delete": ("删除", "Delete"),
    "form.from_card": ("来自证件", "From your card"),
    "review.heading": ("请核对信息", "Please check your details"),
    "review.service": ("办理业务", "Service"),
    "review.applicant": ("申请人", "Applicant"),
    "done.success": ("提交成功", "Submitted"),
    "done.instant": ("业务已办结", "Done"),
    "done.your_number": ("您的排队号", "Your number"),
    "done.people_ahead": ("前面还有 {n} 人", "{n} people ahead of you"),
    "done.wait": ("预计等待约 {n} 分钟", "About {n} minutes"),
    "done.priority": ("绿色通道 优先叫号", "Green channel: priority"),
    "done.take_ticket": ("请取走小票，留意叫号屏", "Take your ticket and watch the display"),
    "done.print_failed": ("小票打印失败：{reason}。请记下您的号码，或点“重新打印”", "Ticket printing failed: {reason}. Note your number or tap Reprint"),
    "done.no_ticket": ("您的申请已安全保存，但暂时无法取号。请凭业务编号 {ref} 到窗口办理", "Your application is safely stored, but no number could be issued. Please go to a counter with reference {ref}"),
    "done.reprint": ("重新打印", "Reprint"),
    "done.printing": ("正在打印小票…", "Printing your ticket…"),
    "done.saving": ("正在保存…", "Saving…"),
    "done.reference": ("业务编号 {ref}", "Reference {ref}"),
    "done.offline_note": ("网络暂时中断，您的申请已安全保存，恢复后自动上传", "The network is down; your application is safely stored and will be sent automatically"),
    "done.undo": ("撤回申请", "Withdraw"),
    "done.undone": ("申请已撤回", "Application withdrawn"),
    "record.heading": ("您的参保信息", "Your insurance record"),
    "record.loading": ("正在查询…", "Looking up…"),
    "record.enrolled": ("参保状态", "Status"),
    "record.enrolled_yes": ("正常参保", "Enrolled"),
    "record.enrolled_no": ("未参保", "Not enrolled"),
    "record.type": ("险种", "Scheme"),
    "record.region": ("参保地", "Region"),
    "record.paid_until": ("缴费至", "Paid until"),
    "record.contribution": ("年度缴费（元）", "Yearly contribution (yuan)"),
    "record.print": ("打印参保证明", "Print certificate"),
    "record.printing": ("正在打印参保证明…", "Printing the certificate…"),
    "record.printed": ("参保证明已打印，请在下方出纸口取走", "Certificate printed; please take it from the tray below"),
    "rating.prompt": ("请为本次服务评价", "Please rate this service"),
    "rating.5": ("非常满意", "Very satisfied"),
    "rating.4": ("满意", "Satisfied"),
    "rating.3": ("基本满意", "Fair"),
    "rating.2": ("不满意", "Unsatisfied"),
    "rating.1": ("非常不满意", "Very unsatisfied"),
    "rating.thanks": ("感谢您的评价", "Thank you for your rating"),
    "error.heading": ("抱歉，出了点问题", "Sorry, something went wrong"),
    "error.generic": ("系统繁忙，请稍后再试或到窗口办理", "The system is busy; please try again or go to a counter"),
    "error.cannot_store": ("本机暂时无法受理业务，您的申请未保存。请到人工窗口办理",
                           "This kiosk cannot take submissions right now and your application was not saved. "
                           "Please go to a counter"),
    "error.code": ("错误代码 {code}", "Error code {code}"),
    "idle.title": ("您还在吗？", "Are you still there?"),
    "idle.message": ("{n} 秒后将退出并清除您的信息", "Signing out and clearing your data in {n} s"),
    "idle.continue": ("继续办理", "Continue"),
    "status.idcard": ("身份证", "ID card"),
    "status.sscard": ("社保卡", "SS card"),
    "status.printer": ("打印机", "Printer"),
    "status.qrscan": ("扫码", "Scanner"),
    "status.ok": ("正常", "OK"),
    "status.degraded": ("异常", "Degraded"),
    "status.missing": ("未连接", "Missing"),
    "status.error": ("故障", "Error"),
    "status.unknown": ("检测中", "Checking"),
    "status.network": ("网络", "Network"),
    "status.online": ("在线", "Online"),
    "status.offline": ("离线", "Offline"),
    "status.pending": ("待上传 {n}", "{n} pending"),
    "status.config_error": ("配置错误", "Configuration error"),
}

_language = "zh_CN"


def register_strings(table: dict[str, tuple[str, str]]) -> None:
    """A screen module brings its own (zh_CN, en) table; keys must not collide."""
    clash = set(table) & set(STRINGS)
    if clash and any(STRINGS[k] != table[k] for k in clash):
        raise ValueError(f"translation keys defined twice: {sorted(clash)}")
    STRINGS.update(table)


def set_language(language: str) -> None:
    global _language
    _language = "zh_CN" if language.startswith("zh") else "en"


def language() -> str:
    return _language


def tr(key: str, **values: object) -> str:
    zh, en = STRINGS[key]
    text = zh if _language == "zh_CN" else en
    return text.format(**values) if values else text
