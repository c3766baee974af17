"""The scripted offscreen demo: two residents, one in 长辈版, through the real UI and devices.

The residents' hands are `kiosk.devices.simulators.DemoHands` (the UI never touches a simulator).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.ui.journey import Journey, JourneyError, click, wait_until
from kiosk.ui.panel import fix_to_panel

ELDERLY_PROFILE = "assets/cards/idcard/resident.json"
YOUNG_PROFILE = "assets/cards/idcard/young_parent.json"


def _wait_synced(shell: Any, timeout_s: float = 20.0) -> None:
    status = shell.window.status
    wait_until(lambda: status.online and status.pending_count == 0, timeout_s, "the outbox to sync to the hub")


def play_demo(shell: Any, shots: Path, hands: Any) -> bool:
    """`shell`: the resident station (window, controller, config); `hands`: its `DemoHands`."""
    window = shell.window
    # Exactly the panel (display.width × display.height, or `kiosk demo --size`): every
    # screenshot is that size, and a screen that does not fit shows as such.
    fix_to_panel(window, (shell.config.display.width, shell.config.display.height))
    window.show()
    j = Journey(window, shots)
    try:
        j.on_screen("home")
        j.step("home", "首页：服务磁贴 / home with service tiles")
        j.choose_service("chronic_disease", start=False)
        j.on_screen("guide")
        j.step("guide", "办事指南：一次告知所需材料、时限、结果 / the service guide: everything to bring, at once")
        click(j.find("guide_start"))
        j.on_screen("identify")
        j.step("identify-waiting", "选择门诊慢特病认定，等待读卡 / waiting for a card")
        hands.place_idcard(ELDERLY_PROFILE)
        j.wait_for_person()
        j.step("identify-elderly", "70 岁长辈刷身份证：自动长辈版、绿色通道 / elderly resident read, large text on")
        click(j.find("identify_continue"))
        j.on_screen("form")
        j.step("form-choices", "同一页选择病种和定点医院（最多 3 家）/ disease and hospitals on one page")
        j.answer_current({"disease": "hypertension", "hospitals": ["h_township", "h_county_people"]})
        j.step("form-phone", "数字键盘输入电话（本次只问一次）/ phone on the keypad, asked once per visit")
        j.answer_current("13812345678")
        j.on_screen("review")
        j.step("review", "核对信息（已脱敏）/ review, masked")
        click(j.find("review_submit"))
        wait_until(lambda: shell.controller.done_view.saved and not shell.controller.done_view.printing
                   and bool(shell.controller.done_view.number), 15, "the ticket to print")
        j.step("done-ticket", "提交成功，小票已打印 / submitted, ticket printed")
        _wait_synced(shell)
        j.step("synced", "已上传到中心 / synced to the hub")
        click(j.find("done_another"))
        j.on_screen("home")
        j.step("menu-same-visit", "办理其他业务：仍是本人，无需再刷卡 / another service, same person")
        j.choose_service("enrol")
        j.on_screen("form")
        j.fill_form({"insurance_type": "resident"})
        j.on_screen("review")
        j.step("review-phone-reused", "电话沿用本次已填（不再询问）/ the phone given earlier in this visit")
        click(j.find("header_sign_out"))  # leaves without submitting: the visit, and its phone, end here
        hands.remove_idcard()
        j.on_screen("home")

        window.set_language("en")
        j.step("home-english", "English home screen")
        window.set_language("zh_CN")
        hands.place_idcard(YOUNG_PROFILE)
        j.on_screen("identify")
        j.wait_for_person()
        j.step("identify-young", "年轻家长刷卡：标准字号 / a young parent, normal text")
        click(j.find("identify_continue"))
        j.on_screen("home")
        j.step("menu-identified", "先刷卡：继续后直接到业务菜单，保留本人 / card first: the service menu, person kept")
        j.choose_service("newborn")
        j.on_screen("form")
        j.fill_form({"relationship": "father", "baby_name": "张小宝", "baby_birth_date": None, "consent": True})
        j.on_screen("review")
        j.step("review-newborn", "新生儿参保：核对 / newborn enrolment review")
        click(j.find("review_submit"))
        wait_until(lambda: bool(shell.controller.done_view.number) and not shell.controller.done_view.printing, 15, "the ticket")
        j.step("done-newborn", "新生儿参保：取号 / newborn ticket")
        _wait_synced(shell)
        click(j.find("done_home"))
        hands.remove_idcard()
        j.on_screen("home")

        if hands.has_sscard:
            j.choose_service("record_query")
            j.on_screen("identify")
            hands.insert_sscard()
            j.wait_for_person(15)
            j.step("identify-sscard", "插入社保卡（经 pcscd 读取）/ social-security card through pcscd")
            click(j.find("identify_continue"))
            j.on_screen("form")
            j.fill_form({"purpose": "certificate"})
            click(j.find("review_submit"))
            wait_until(lambda: shell.controller.done_view.certificate == "printed", 20, "the certificate")
            j.step("record-certificate", "参保信息查询并打印参保证明 / record and certificate")
            click(j.find("rate_5"))
            j.step("rated", "好差评：非常满意 / rated")
            click(j.find("done_home"))
            hands.remove_sscard()
        j.on_screen("home")
        j.choose_service("consult")
        j.on_screen("identify")
        j.step("identify-card-optional", "取号咨询：可不刷卡 / ticket only, the card is optional")
        click(j.find("identify_skip"))
        wait_until(lambda: bool(shell.controller.done_view.number) and not shell.controller.done_view.printing, 15, "the number")
        j.step("done-ticket-only", "综合咨询 D 号，无需填表 / a band-D number without a form")
        click(j.find("done_home"))
        print(f"journey complete: {len(j.steps)} steps")
        return True
    except JourneyError as exc:
        j.step("failed", f"journey stopped: {exc}")
        print(f"demo failed: {exc}")
        return False
