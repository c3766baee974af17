"""Offline voice: queue announcements and prompts, speak them one at a time on one worker thread.

`VoicePlayer.say()` never blocks the caller and never cuts off an utterance in progress: a new
text waits its turn; `interrupt=True` only drops texts still waiting (a stale step prompt),
never the one being spoken (a ticket call must be heard whole). Mute drops what waits and
ignores new texts until unmuted.

Back-ends implement one seam, `speak(text, language)` (blocking, on the worker thread):
`EspeakSpeaker` runs espeak-ng (to a WAV played by aplay/paplay when one exists, else
espeak-ng's own audio output); `NullSpeaker` records what was said and simulates the duration,
for tests and for stations without audio. A missing espeak-ng disables voice with one log line;
the app keeps running.

Privacy: the spoken text is logged only when the caller says it is safe (`loggable=True`:
ticket numbers and counters). Resident prompts must not contain names or ID numbers anyway.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

log = logging.getLogger(__name__)

# Debian's espeak-ng 1.51 `cmn` voice reads the pinyin tone digits aloud in English ("qing
# three", espeak-ng issues #1028, #1236); `cmn-latn-pinyin` speaks the same characters right.
DEFAULT_ZH_VOICE = "cmn-latn-pinyin"
DEFAULT_EN_VOICE = "en"
_ZH_DIGITS = "零一二三四五六七八九"
_TICKET = re.compile(r"\b([A-Z])(\d{3,4})\b")


def speakable_zh(text: str) -> str:
    """Ticket numbers are called digit by digit ("A012" → "A零一二"), as halls announce them;
    espeak would otherwise read "零十二"."""
    return _TICKET.sub(lambda m: m.group(1) + "".join(_ZH_DIGITS[int(d)] for d in m.group(2)), text)


class Speaker(Protocol):
    available: bool
    reason: str

    def speak(self, text: str, language: str) -> None:
        """Say `text` and return when it has been said (runs on the voice worker thread)."""


@dataclass
class EspeakSpeaker:
    """espeak-ng through a subprocess. `speed` in words per minute (espeak -s, default 175;
    slower is kinder to elderly listeners), `volume` as espeak amplitude 0–200 (-a)."""

    speed: int = 150
    volume: int = 120
    zh_voice: str = DEFAULT_ZH_VOICE
    en_voice: str = DEFAULT_EN_VOICE
    binary: str = "espeak-ng"
    player: str | None = "auto"  # "auto" = aplay or paplay if installed; None = espeak's own output
    timeout_s: float = 60.0
    available: bool = field(init=False, default=False)
    reason: str = field(init=False, default="")

    def __post_init__(self) -> None:
        found = shutil.which(self.binary)
        if found is None:
            self.reason = f"{self.binary} not found on PATH; voice prompts are disabled (install the espeak-ng package)"
            return
        self.binary = found
        if self.player == "auto":
            self.player = shutil.which("aplay") or shutil.which("paplay")
        self.available = True

    def voice_for(self, language: str) -> str:
        return self.zh_voice if language.startswith("zh") else self.en_voice

    def command(self, text: str, language: str, wav: Path | None = None) -> list[str]:
        spoken = speakable_zh(text) if language.startswith("zh") else text
        args = [self.binary, "-v", self.voice_for(language), "-s", str(self.speed), "-a", str(self.volume)]
        if wav is not None:
            args += ["-w", str(wav)]
        return args + ["--", spoken]

    def synthesize(self, text: str, language: str, wav: Path) -> None:
        """Write the speech to a WAV file (no audio device needed)."""
        subprocess.run(self.command(text, language, wav), check=True, timeout=self.timeout_s,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def speak(self, text: str, language: str) -> None:
        if not self.player:
            subprocess.run(self.command(text, language), check=True, timeout=self.timeout_s,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            return
        with tempfile.TemporaryDirectory(prefix="kiosk-voice-") as folder:
            wav = Path(folder) / "say.wav"
            self.synthesize(text, language, wav)
            subprocess.run([self.player, str(wav)], check=True, timeout=self.timeout_s,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class NullSpeaker:
    """Says nothing; records (text, language) in order and takes `duration_s` per utterance.
    `started` / `finished` are the moments each utterance began and ended (time.monotonic).
    Each record keeps the last KEEP utterances: a kiosk with voice off runs on this speaker for
    weeks."""

    KEEP: ClassVar[int] = 200

    duration_s: float = 0.0
    available: bool = True
    reason: str = ""
    said: list[tuple[str, str]] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    speaking: threading.Event = field(default_factory=threading.Event)

    def speak(self, text: str, language: str) -> None:
        self.started.append(time.monotonic())
        self.speaking.set()
        try:
            if self.duration_s:
                time.sleep(self.duration_s)
            self.said.append((text, language))
        finally:
            self.finished.append(time.monotonic())
            for record in (self.said, self.started, self.finished):
                del record[:-self.KEEP]
            self.speaking.clear()

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.said]


@dataclass(frozen=True)
class _Utterance:
    text: str
    language: str
    loggable: bool


class VoicePlayer:
    """One worker thread speaking queued texts in order. Thread-safe; `say` returns at once."""

    def __init__(self, speaker: Speaker | None = None, language: str = "zh_CN") -> None:
        self.speaker: Speaker = speaker if speaker is not None else EspeakSpeaker()
        self.language = language
        self._pending: deque[_Utterance] = deque()
        self._cond = threading.Condition()
        self._muted = False
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        if not self.speaker.available:
            log.warning("voice disabled: %s", self.speaker.reason)
            return
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    @property
    def enabled(self) -> bool:
        return self._thread is not None and not self._stopping

    @property
    def muted(self) -> bool:
        return self._muted

    def say(self, text: str, interrupt: bool = False, language: str | None = None, loggable: bool = False) -> bool:
        """Queue `text`; True if it will be spoken. `interrupt` drops texts still waiting (never
        the one being spoken). `loggable` only for texts free of personal data."""
        if not text.strip():
            return False
        with self._cond:
            if not self.enabled or self._muted:
                return False
            if interrupt and self._pending:
                log.debug("voice: %d queued text(s) dropped by a newer one", len(self._pending))
                self._pending.clear()
            self._pending.append(_Utterance(text, language or self.language, loggable))
            self._cond.notify()
        return True

    def mute(self, muted: bool = True) -> None:
        """Muting drops what waits; an utterance already being spoken finishes."""
        with self._cond:
            self._muted = muted
            if muted:
                self._pending.clear()
        log.info("voice %s", "muted" if muted else "unmuted")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or being spoken (tests, orderly shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Drop what waits, let the current utterance finish, end the worker."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("voice worker still speaking after %.0f s at shutdown", timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._pending.popleft()
                self._busy = True
            try:
                if item.loggable:
                    log.info("voice: %s", item.text)
                self.speaker.speak(item.text, item.language)
            except Exception as exc:  # a failed utterance must not end the worker
                # The exception text may quote the command line, i.e. the spoken text.
                log.warning("voice: speaking failed (%s)", type(exc).__name__)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
