"""The lobby's spoken call: espeak-ng (as kiosk.services.voice runs it) renders
"请 A001 号到 3 号窗口办理" to WAV bytes the lobby page plays. Only a ticket number and a counter
go in, so nothing personal is ever spoken or cached."""
from __future__ import annotations

import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from kiosk.services.queue import call_announcement
from kiosk.services.voice import EspeakSpeaker

NUMBER = re.compile(r"^[A-Z]\d{3,4}$")


class CallVoice:
    def __init__(self, speed: int = 140, volume: int = 160, cache_size: int = 64) -> None:
        self.speaker = EspeakSpeaker(speed=speed, volume=volume, player=None)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_size = cache_size

    @property
    def available(self) -> bool:
        return self.speaker.available

    def wav(self, number: str, counter: int) -> bytes:
        """WAV bytes for this call; ValueError for anything that is not a ticket number and counter."""
        if not NUMBER.match(number) or not 1 <= counter <= 999:
            raise ValueError("not a ticket number and counter")
        text = call_announcement(number, counter)
        with self._lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        with tempfile.TemporaryDirectory(prefix="hall-voice-") as folder:
            path = Path(folder) / "call.wav"
            self.speaker.synthesize(text, "zh_CN", path)
            data = path.read_bytes()
        with self._lock:
            self._cache[text] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data
