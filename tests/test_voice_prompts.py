"""Spoken prompts follow the resident through the steps and errors, a mute button silences them,
and nothing spoken ever carries a name or an ID number."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shell(kiosk_shell):
    return kiosk_shell(hub=False)[0]


def test_prompts_for_steps_and_errors_then_mute(shell) -> None:
    from drivers.idcard.simulator import load_profile

    said = shell.voice.speaker.said  # offscreen: a recording speaker stands in for espeak-ng
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("transfer")
    j.on_screen("identify")
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/resident.json"))
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    click(j.find("form_next"))  # no answer: an error, spoken too
    wait_until(lambda: any("请填写此项" in text for text, _ in said), 5, "the spoken error")
    texts = [text for text, _ in said]
    assert "将身份证放在下方读卡区" in texts and "转移方向" in texts
    for secret in ("张三", "110105195003070019", "张*"):
        assert not any(secret in text for text in texts)

    click(j.find("header_mute"))
    assert shell.voice.muted
    count = len(said)
    j.answer_current("in")
    shell.voice.wait_idle(2)
    assert len(said) == count
