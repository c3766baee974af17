"""Counter station: 叫号 / 重呼 / 过号 / 办结 clicked like a clerk would, on the real queue database,
with the announcement going to the voice and the lobby (another connection to the same
database) showing the call after its refresh."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from kiosk.services.queue import QueueService
from kiosk.services.voice import NullSpeaker, VoicePlayer
from kiosk.ui.audit import audit
from kiosk.ui.counter_app import CounterStation, LobbyStation
from kiosk.ui.i18n import set_language

SERVICES = [("enrol", "参保登记", "Enrolment"), ("reimburse", "待遇报销", "Reimbursement")]


@pytest.fixture
def hall(config, qtbot):
    """A counter (window 2) and a lobby on the same queue.sqlite3, as in the hall."""
    made = []

    class Hall:
        def __init__(self) -> None:
            self.db = config.data_dir / "queue.sqlite3"
            self.kiosk = QueueService(self.db, config.queue, config.kiosk.elderly_age)  # the resident kiosk
            self.voice = VoicePlayer(NullSpeaker())
            self.counter = CounterStation(config, 2, voice=self.voice, services=SERVICES, refresh_ms=0)
            self.lobby = LobbyStation(config, elderly=True, refresh_ms=0)
            made.extend([self.counter, self.lobby])
            for station in (self.counter, self.lobby):
                station.window.resize(1280, 800)
                station.window.show()
            self.settle()

        def issue(self, band: str, priority: str | None = None, service: str = "enrol") -> str:
            return self.kiosk.issue(service, config.queue.band_names[band], band, priority).number

        def click(self, action: str) -> None:
            screen = self.counter.screen
            qtbot.waitUntil(lambda: not screen.busy and screen.buttons[action].isEnabled())
            qtbot.mouseClick(screen.buttons[action], Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: not screen.busy)

        def settle(self) -> None:
            qtbot.waitUntil(lambda: not self.counter.lanes.busy and not self.lobby.lanes.busy)

        def lobby_refresh(self) -> None:
            self.lobby.screen.refresh()
            self.settle()

        def spoken(self) -> list[str]:
            assert self.voice.wait_idle(5)
            return self.voice.speaker.texts

    h = Hall()
    yield h
    for station in made:
        station.close()
    h.kiosk.close()
    set_language("zh_CN")


def test_call_takes_priority_first_by_the_ratio_announces_and_reaches_the_lobby(hall) -> None:
    hall.issue("A")                       # A001
    hall.issue("A")                       # A002
    hall.issue("A", priority="elderly")   # A003: green channel
    hall.issue("B", service="reimburse")  # B001
    screen = hall.counter.screen
    hall.click("call")
    assert screen.number.text() == "A003"  # ratio [1, 2]: one priority first
    assert "长者优先" in screen.priority.text() and "优先号" in screen.priority.text()
    assert hall.spoken() == ["请 A003 号到 2 号窗口办理"]
    hall.click("call")
    assert screen.number.text() == "A001"  # then normal tickets, FIFO
    assert screen.priority.text() == "普通号"
    assert hall.spoken()[-1] == "请 A001 号到 2 号窗口办理"
    assert screen.waiting_title.text() == "等候 2 人"
    assert screen.band_rows["A"].count.text() == "1 人" and screen.band_rows["B"].count.text() == "1 人"

    lobby = hall.lobby.screen
    hall.lobby_refresh()
    assert lobby.latest_number.text() == "A001"
    assert lobby.latest_counter.text() == "请到 2 号窗口"
    assert lobby.latest_caption.text() == "▶ 正在呼叫" and lobby.latest_caption.isVisible()
    assert lobby.band_counts["A"].text() == "1 人" and lobby.band_counts["B"].text() == "1 人"


def test_recall_announces_again_skip_and_done_finish_the_ticket(hall) -> None:
    first, second = hall.issue("B"), hall.issue("B")
    screen = hall.counter.screen
    hall.click("call")
    hall.click("recall")
    assert screen.number.text() == first
    assert hall.spoken() == [f"请 {first} 号到 2 号窗口办理"] * 2
    assert screen.status.text() == f"已重呼 {first}"

    hall.click("skip")
    assert screen.status.text() == f"{first} 已过号"
    assert screen.number.text() == "暂无"
    assert [t.number for t in hall.kiosk.waiting()] == [second]
    assert hall.kiosk.recall(2) is None

    hall.click("call")
    hall.click("done")
    assert screen.status.text() == f"{second} 已办结"
    assert screen.number.text() == "暂无"
    states = {t.number: t.state for t in (hall.kiosk.get(i) for i in _ids(hall.kiosk))}
    assert states == {first: "skipped", second: "done"}
    hall.lobby_refresh()
    assert hall.lobby.screen.latest_number.isVisible() is False
    assert hall.lobby.screen.latest_counter.text() == "请稍候，留意叫号"

    hall.click("call")
    assert screen.status.text() == "暂无等候的号"
    hall.click("recall")
    assert screen.status.text() == "当前没有正在办理的号"
    assert len(hall.spoken()) == 3  # nothing announced when there was nobody to call


def _ids(queue: QueueService) -> list[str]:
    with queue._lock:
        return [row[0] for row in queue._db.execute("SELECT ticket_id FROM tickets")]


def test_service_filter_calls_only_that_service(hall) -> None:
    hall.issue("A", service="enrol")
    reimburse = hall.issue("B", service="reimburse")
    screen = hall.counter.screen
    screen.filter.setCurrentIndex(screen.filter.findData("reimburse"))
    hall.settle()
    assert screen.waiting_title.text() == "等候 1 人"
    hall.click("call")
    assert screen.number.text() == reimburse


def test_queue_work_runs_on_the_lane_and_a_double_tap_calls_once(hall, qtbot) -> None:
    for _ in range(3):
        hall.issue("A")
    queue = hall.counter.queue
    threads: list[str] = []
    real_call_next = queue.call_next

    def slow_call_next(*args, **kwargs):
        threads.append(threading.current_thread().name)
        time.sleep(0.3)  # a slow disk: the GUI must stay responsive and not call twice
        return real_call_next(*args, **kwargs)

    queue.call_next = slow_call_next
    screen = hall.counter.screen
    qtbot.mouseClick(screen.call_button, Qt.MouseButton.LeftButton)
    assert screen.busy and not screen.call_button.isEnabled()
    assert screen.status.text() == "正在处理…"
    qtbot.mouseClick(screen.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.busy)
    assert screen.number.text() == "A001"
    assert len(threads) == 1 and threads[0].startswith("lane-queue")
    assert len(hall.kiosk.waiting()) == 2


def test_a_failing_queue_shows_an_error_and_the_counter_keeps_working(hall) -> None:
    hall.issue("A")
    queue = hall.counter.queue
    real_call_next = queue.call_next
    queue.call_next = lambda *a, **k: (_ for _ in ()).throw(OSError("disk full"))
    hall.click("call")
    screen = hall.counter.screen
    assert screen.status.text() == "操作失败，请重试"
    assert screen.status.property("role") == "error"
    queue.call_next = real_call_next
    hall.click("call")
    assert screen.number.text() == "A001"


def test_the_lobby_refreshes_itself_on_its_timer(config, qtbot) -> None:
    kiosk = QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
    lobby = LobbyStation(config, refresh_ms=100)
    try:
        number = kiosk.issue("enrol", "参保登记", "A", None).number
        kiosk.call_next(5)
        qtbot.waitUntil(lambda: lobby.screen.latest_number.text() == number, timeout=3000)
        assert lobby.screen.latest_counter.text() == "请到 5 号窗口"
    finally:
        lobby.close()
        kiosk.close()


def test_a_lobby_with_a_speaker_announces_each_new_call_once(config, qtbot) -> None:
    kiosk = QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
    kiosk.issue("enrol", "参保登记", "A", None)
    kiosk.call_next(1)  # already called before the lobby started: not announced again
    voice = VoicePlayer(NullSpeaker())
    lobby = LobbyStation(config, voice=voice, refresh_ms=0)
    try:
        qtbot.waitUntil(lambda: not lobby.lanes.busy)
        second = kiosk.issue("enrol", "参保登记", "A", None).number
        kiosk.call_next(3)
        for _ in range(2):
            lobby.screen.refresh()
            qtbot.waitUntil(lambda: not lobby.lanes.busy)
        assert voice.wait_idle(5)
        assert voice.speaker.texts == [f"请 {second} 号到 3 号窗口办理"]
    finally:
        lobby.close()
        kiosk.close()


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("elderly", [False, True])
def test_both_stations_pass_the_accessibility_audit(hall, qtbot, elderly: bool, language: str) -> None:
    hall.issue("A", priority="elderly")
    for _ in range(4):
        hall.issue("B", service="reimburse")
    hall.click("call")
    hall.kiosk.call_next(1)
    hall.kiosk.call_next(3)
    hall.lobby_refresh()
    hall.counter.screen.refresh()
    hall.settle()
    problems = []
    for station in (hall.counter, hall.lobby):
        window = station.window
        window.set_language(language)
        window.set_elderly(elderly)
        qtbot.wait(50)  # let the layouts settle at the new sizes, as a redraw on the panel would
        problems += [f"{station.screen.name}: {f}" for f in audit(window, window.metrics, language=language)]
    assert hall.lobby.screen.recent[0][0].isVisible()  # the audit saw the recent calls too
    assert problems == []
