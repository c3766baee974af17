"""VoicePlayer: never cuts an announcement in progress, interrupt drops only what waits, mute,
a missing espeak-ng disables voice without a crash, and real espeak-ng makes audible audio."""
from __future__ import annotations

import logging
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from kiosk.services.voice import EspeakSpeaker, NullSpeaker, VoicePlayer, speakable_zh

CALL_1 = "请 A001 号到 1 号窗口办理"
CALL_2 = "请 A002 号到 2 号窗口办理"
CALL_3 = "请 B001 号到 3 号窗口办理"


@pytest.fixture
def player():
    players = []

    def make(duration_s: float = 0.0, speaker=None) -> VoicePlayer:
        p = VoicePlayer(speaker or NullSpeaker(duration_s))
        players.append(p)
        return p

    yield make
    for p in players:
        p.stop()


def wait_speaking(speaker: NullSpeaker) -> None:
    assert speaker.speaking.wait(2), "the first text never started"


def test_two_announcements_in_a_row_are_both_heard_whole_and_in_order(player) -> None:
    p = player(0.25)
    started = time.monotonic()
    assert p.say(CALL_1) and p.say(CALL_2)
    assert time.monotonic() - started < 0.1  # say() never waits for the speech
    assert p.wait_idle(5)
    s = p.speaker
    assert s.texts == [CALL_1, CALL_2]
    assert s.started[1] >= s.finished[0]  # the second began only after the first had ended
    assert all(end - begin >= 0.24 for begin, end in zip(s.started, s.finished))


def test_interrupt_drops_queued_texts_but_not_the_one_being_spoken(player) -> None:
    p = player(0.3)
    p.say(CALL_1)
    wait_speaking(p.speaker)
    p.say(CALL_2)
    p.say(CALL_3)
    p.say("请 C001 号到 4 号窗口办理", interrupt=True)
    assert p.wait_idle(5)
    assert p.speaker.texts == [CALL_1, "请 C001 号到 4 号窗口办理"]
    assert p.speaker.finished[0] - p.speaker.started[0] >= 0.29  # the call in progress was not cut


def test_mute_silences_new_and_queued_texts_but_lets_the_current_one_finish(player) -> None:
    p = player(0.2)
    p.say(CALL_1)
    wait_speaking(p.speaker)
    p.say(CALL_2)
    p.mute(True)
    assert p.muted
    assert p.say(CALL_3) is False
    assert p.wait_idle(5)
    assert p.speaker.texts == [CALL_1]
    p.mute(False)
    assert p.say(CALL_3)
    assert p.wait_idle(5)
    assert p.speaker.texts == [CALL_1, CALL_3]


def test_language_goes_to_the_speaker(player) -> None:
    p = player()
    p.say("Please place your ID card on the reader", language="en")
    p.say(CALL_1)
    assert p.wait_idle(5)
    assert p.speaker.said == [("Please place your ID card on the reader", "en"), (CALL_1, "zh_CN")]


def test_missing_espeak_disables_voice_with_a_clear_message(player, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kiosk.services.voice")
    speaker = EspeakSpeaker(binary="espeak-ng-not-installed")
    assert speaker.available is False
    p = player(speaker=speaker)
    assert p.enabled is False
    assert p.say(CALL_1) is False
    assert p.wait_idle(1)
    assert "espeak-ng-not-installed not found" in caplog.text and "disabled" in caplog.text


class _FailingSpeaker(NullSpeaker):
    def speak(self, text: str, language: str) -> None:
        if text.startswith("fail"):
            raise subprocess.CalledProcessError(1, ["espeak-ng", text])
        super().speak(text, language)


def test_a_failing_utterance_does_not_stop_the_voice_nor_leak_the_text(player, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kiosk.services.voice")
    p = player(speaker=_FailingSpeaker())
    p.say("fail 张三 请到窗口")
    p.say(CALL_1, loggable=True)
    assert p.wait_idle(5)
    assert p.speaker.texts == [CALL_1]
    assert "speaking failed" in caplog.text
    assert "张三" not in caplog.text  # prompts are never logged unless marked safe
    assert CALL_1 in caplog.text      # ticket announcements are


def test_stop_lets_the_current_text_finish_and_drops_the_rest(player) -> None:
    p = player(0.2)
    p.say(CALL_1)
    wait_speaking(p.speaker)
    p.say(CALL_2)
    p.stop()
    assert p.speaker.texts == [CALL_1]
    assert p.say(CALL_3) is False


def test_ticket_numbers_are_spoken_digit_by_digit() -> None:
    assert speakable_zh(CALL_2) == "请 A零零二 号到 2 号窗口办理"
    assert speakable_zh("请 B1000 号到 12 号窗口办理") == "请 B一零零零 号到 12 号窗口办理"


def test_espeak_command_line(tmp_path: Path) -> None:
    speaker = EspeakSpeaker(speed=140, volume=150, binary="sh")  # any binary present: only the command is built
    zh = speaker.command(CALL_1, "zh_CN", tmp_path / "x.wav")
    assert zh[1:] == ["-v", "cmn-latn-pinyin", "-s", "140", "-a", "150", "-w", str(tmp_path / "x.wav"),
                      "--", "请 A零零一 号到 1 号窗口办理"]
    assert speaker.command("Hello", "en")[1:] == ["-v", "en", "-s", "140", "-a", "150", "--", "Hello"]


def _audio_seconds_and_peak(path: Path) -> tuple[float, int]:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
        assert w.getsampwidth() == 2
    samples = np.frombuffer(frames, dtype="<i2")
    return seconds, int(np.abs(samples).max()) if samples.size else 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_real_espeak_synthesises_an_announcement(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(out), CALL_1], check=True, timeout=30)
    seconds, peak = _audio_seconds_and_peak(out)
    assert seconds > 1.0 and peak > 1000
    # The voice the player uses (digit-by-digit ticket number, pinyin voice) also makes audio.
    ours = tmp_path / "ours.wav"
    EspeakSpeaker().synthesize(CALL_1, "zh_CN", ours)
    seconds, peak = _audio_seconds_and_peak(ours)
    assert seconds > 1.0 and peak > 1000
