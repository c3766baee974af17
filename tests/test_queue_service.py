"""Queue numbering, daily reset, priority alternation, waits, counter actions, two processes."""
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from kiosk.config import QueueSection
from kiosk.services.queue import QueueService, announcement_text, calling_order, place_in_calling_order


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime(2024, 5, 1, 8, 30))


@pytest.fixture
def queue(tmp_path, clock):
    service = QueueService(tmp_path / "queue.sqlite3", QueueSection(), 65, clock=clock)
    yield service
    service.close()


def test_numbers_per_band_and_restart_never_reissues(tmp_path, queue, clock):
    numbers = [queue.issue("S", "参保登记", "A", None).number for _ in range(3)]
    numbers.append(queue.issue("S", "待遇报销", "B", None).number)
    assert numbers == ["A001", "A002", "A003", "B001"]
    queue.close()
    reopened = QueueService(tmp_path / "queue.sqlite3", QueueSection(), 65, clock=clock)
    assert reopened.issue("S", "参保登记", "A", None).number == "A004"
    reopened.close()


def test_daily_reset_by_local_date(queue, clock):
    clock.now = datetime(2024, 5, 1, 23, 59, 59)
    first = queue.issue("S", "综合咨询", "D", None)
    assert first.number == "D001"
    clock.now += timedelta(seconds=2)  # past midnight
    assert queue.issue("S", "综合咨询", "D", None).number == "D001"
    # yesterday's unserved ticket is not called today and not counted ahead
    called = queue.call_next(1)
    assert called.issued_at.date() == clock.now.date()
    assert queue.call_next(1) is None


def test_priority_reasons(queue):
    assert queue.priority_for(65, False, False) == "elderly"
    assert queue.priority_for(64, False, False) is None
    assert queue.priority_for(None, True, False) == "disabled"
    assert queue.priority_for(30, False, True) == "appointment"
    with pytest.raises(ValueError):
        queue.issue("S", "x", "D", "vip")
    with pytest.raises(ValueError):
        queue.issue("S", "x", "Z", None)


def test_priority_alternates_one_to_two_and_fifo_within_class(queue):
    issued = {}
    for label, reason in [("n1", None), ("n2", None), ("n3", None), ("p1", "elderly"), ("p2", "disabled"), ("n4", None)]:
        issued[queue.issue("S", "综合咨询", "D", reason).ticket_id] = label
    predicted = [issued[t.ticket_id] for t in queue.waiting()]
    called = [issued[queue.call_next(1).ticket_id] for _ in range(6)]
    assert called == ["p1", "n1", "n2", "p2", "n3", "n4"]
    assert predicted == called
    assert queue.call_next(1) is None


def test_configurable_ratio():
    tickets = [t for t in _tickets("NNNNPPPP")]
    order = "".join("P" if t.priority else "N" for t in calling_order(tickets, (2, 3), 0))
    assert order == "PPNNNPPN"


def _tickets(pattern):
    from kiosk.services.queue import Ticket

    return [Ticket(str(i), f"D{i:03d}", "D", "S", "x", "elderly" if c == "P" else None, datetime(2024, 1, 1))
            for i, c in enumerate(pattern)]


def test_people_ahead_and_wait_follow_calling_order(queue):
    a = queue.issue("S", "待遇报销", "B", None)
    b = queue.issue("S", "待遇报销", "B", None)
    p = queue.issue("S", "待遇报销", "B", "elderly")
    other_band = queue.issue("S", "参保登记", "A", None)
    assert [queue.people_ahead(t) for t in (a, b, p)] == [1, 2, 0]  # priority goes first
    assert queue.estimated_wait_min(b) == 16  # 2 × 8 min (band B)
    assert queue.people_ahead(other_band) == 0
    queue.call_next(1)
    assert queue.people_ahead(b) == 1


@given(pattern=st.text("PN", max_size=40), ratio=st.tuples(st.integers(1, 4), st.integers(1, 4)), slot=st.integers(0, 20))
def test_place_from_counts_is_where_calling_order_puts_each_ticket(pattern, ratio, slot):
    tickets = _tickets(pattern)
    order = calling_order(list(tickets), ratio, slot)
    for ticket in tickets:
        before = sum(t.priority == ticket.priority for t in tickets[:int(ticket.ticket_id)])
        place = place_in_calling_order(ticket.priority, before, pattern.count("P"), pattern.count("N"), ratio, slot)
        assert place == order.index(ticket)


def test_people_ahead_reads_no_list_of_everyone_waiting(queue):
    """Issue 20: a ticket is printed with its people ahead, worked out twice; with the whole
    waiting list read as tickets each time, a kiosk whose queue grew (the day's unserved
    residents) allocated ~1 KiB more per person waiting at every ticket."""
    import tracemalloc

    for n in range(600):
        queue.issue("S", "待遇报销", "B", "elderly" if n % 5 == 0 else None)
    last = queue.issue("S", "待遇报销", "B", None)
    tracemalloc.start()
    try:
        ahead = queue.people_ahead(last)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ahead == 600
    assert peak < 32 * 1024, f"people_ahead allocated {peak / 1024:.0f} KiB with 600 waiting"


def test_counter_actions_and_lobby_display(queue, clock):
    first = queue.issue("S", "参保登记", "A", None)
    second = queue.issue("S", "参保登记", "A", None)
    assert queue.call_next(1).number == "A001"
    clock.now += timedelta(minutes=1)
    assert queue.call_next(2).number == "A002"
    assert [t.number for t in queue.current_calls()] == ["A002", "A001"]
    assert queue.recall(1).ticket_id == first.ticket_id
    assert queue.skip(2).state == "skipped"
    assert queue.skip(2) is None
    assert queue.done(1).state == "done"
    assert queue.current_calls() == []
    assert queue.get(second.ticket_id).state == "skipped"
    assert announcement_text(first, 2) == "请 A001 号到 2 号窗口办理"


def test_call_next_finishes_the_previous_ticket_and_filters_service(queue):
    queue.issue("SB01", "参保登记", "A", None)
    wanted = queue.issue("BX02", "待遇报销", "B", None)
    first = queue.call_next(3, "BX02")
    assert first.ticket_id == wanted.ticket_id
    assert queue.call_next(3, "BX02") is None
    assert queue.get(wanted.ticket_id).state == "done"


def test_print_state(queue):
    t = queue.issue("S", "x", "D", None)
    queue.mark_print_failed(t.ticket_id, "PRINTER_PAPER_OUT")
    assert [c.ticket_id for c in queue.reprint_candidates()] == [t.ticket_id]
    assert queue.get(t.ticket_id).print_state == "failed"
    queue.mark_printed(t.ticket_id)
    assert queue.reprint_candidates() == []
    with pytest.raises(KeyError):
        queue.mark_printed("no-such-ticket")


def test_database_is_wal_full_and_versioned(tmp_path, queue):
    db = sqlite3.connect(tmp_path / "queue.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM schema_version").fetchone()[0] == 3
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        QueueService(tmp_path / "queue.sqlite3", QueueSection(), 65)


def test_two_processes_never_share_a_number(tmp_path):
    db = tmp_path / "queue.sqlite3"
    QueueService(db, QueueSection(), 65).close()
    script = textwrap.dedent(f"""
        from pathlib import Path
        from kiosk.config import QueueSection
        from kiosk.services.queue import QueueService
        q = QueueService(Path({str(db)!r}), QueueSection(), 65)
        for _ in range(40):
            q.issue("S", "x", "A", None)
    """)
    root = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=root) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    numbers = [r[0] for r in sqlite3.connect(db).execute("SELECT number FROM tickets ORDER BY seq")]
    assert sorted(numbers) == [f"A{i:03d}" for i in range(1, 121)]


# -- schema v2: the hall's fields (issue 17) -------------------------------------------------
def test_a_v1_database_upgrades_in_place_and_keeps_its_tickets(tmp_path, clock):
    db_path = tmp_path / "queue.sqlite3"
    db = sqlite3.connect(db_path)
    v1 = """CREATE TABLE schema_version (version INTEGER NOT NULL);
    CREATE TABLE tickets (seq INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL UNIQUE, day TEXT NOT NULL,
      band TEXT NOT NULL, serial INTEGER NOT NULL, number TEXT NOT NULL, service_code TEXT NOT NULL,
      service_name TEXT NOT NULL, priority_reason TEXT, issued_at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'waiting',
      print_state TEXT NOT NULL DEFAULT 'pending', print_error TEXT, counter INTEGER, called_at TEXT, call_seq INTEGER,
      UNIQUE (day, band, serial));
    INSERT INTO schema_version VALUES (1);
    INSERT INTO tickets (ticket_id, day, band, serial, number, service_code, service_name, issued_at)
      VALUES ('t-old', '2024-05-01', 'A', 1, 'A001', 'enrol', '参保登记', '2024-05-01T08:00:00');"""
    db.executescript(v1)
    db.close()
    q = QueueService(db_path, QueueSection(), 65, clock=clock)
    try:
        assert sqlite3.connect(db_path).execute("SELECT version FROM schema_version").fetchone()[0] == 3
        assert q.issue("enrol", "参保登记", "A", None).number == "A002"  # the old ticket still counts
        called = q.call_next(1)
        assert called.ticket_id == "t-old" and called.first_called_at == clock.now
    finally:
        q.close()


def test_one_ticket_per_submission(queue):
    first = queue.issue("enrol", "参保登记", "A", None, submission_id="sub-1")
    again = queue.issue("enrol", "参保登记", "A", None, submission_id="sub-1")
    other = queue.issue("enrol", "参保登记", "A", None, submission_id="sub-2")
    assert again.ticket_id == first.ticket_id and again.number == "A001"
    assert other.number == "A002"
    assert queue.by_submission("sub-1").ticket_id == first.ticket_id


def test_finish_records_outcome_note_and_times(queue, clock):
    t = queue.issue("enrol", "参保登记", "A", None)
    clock.now += timedelta(minutes=7)
    queue.call_next(2)
    clock.now += timedelta(minutes=4)
    queue.recall(2)  # a recall is not a new first call
    clock.now += timedelta(minutes=1)
    done = queue.finish(t.ticket_id, "returned", "缺少：户口簿")
    assert (done.state, done.outcome, done.note) == ("done", "returned", "缺少：户口簿")
    assert (done.waiting_s, done.handling_s) == (7 * 60, 5 * 60)
    assert queue.finish(t.ticket_id, "done") is None  # only a called ticket finishes
    with pytest.raises(ValueError):
        queue.finish(t.ticket_id, "vanished")


def test_transfer_keeps_the_place_and_routes_to_a_band_or_counter(queue):
    first = queue.issue("enrol", "参保登记", "A", None)
    queue.issue("enrol", "参保登记", "A", None)
    queue.issue("claim", "待遇报销", "B", None)
    assert queue.call_next(1).ticket_id == first.ticket_id
    moved = queue.finish(first.ticket_id, "transferred", "转报销窗口", to_band="B")
    assert (moved.state, moved.queue_band, moved.number) == ("waiting", "B", "A001")
    assert queue.waiting_by_band() == {"A": 1, "B": 2, "C": 0, "D": 0}
    assert queue.call_next(3, bands=("B",)).ticket_id == first.ticket_id  # ahead of the later B ticket
    queue.finish(first.ticket_id, "transferred", to_counter=5)
    assert all(t.ticket_id != first.ticket_id for t in [queue.call_next(4, bands=("B",))])
    assert queue.call_next(5).ticket_id == first.ticket_id
    with pytest.raises(ValueError):
        queue.finish(first.ticket_id, "transferred")  # to where?


def test_call_next_finishes_the_previous_with_outcome_done(queue, clock):
    a = queue.issue("enrol", "参保登记", "A", None)
    queue.issue("enrol", "参保登记", "A", None)
    queue.call_next(1)
    clock.now += timedelta(minutes=3)
    queue.call_next(1)
    finished = queue.get(a.ticket_id)
    assert (finished.state, finished.outcome, finished.handling_s) == ("done", "done", 180)
    assert [t.number for t in queue.recent_calls()] == ["A002", "A001"]
