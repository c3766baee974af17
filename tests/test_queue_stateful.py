"""Any interleaving of issue / call / recall / skip / done / finish (done, returned, transferred
back in line) / restart / next day keeps numbers unique and gap-free per band per day, calls FIFO
within a class (a transferred ticket keeps its place), and alternates by the ratio."""
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kiosk.config import QueueSection
from kiosk.services.queue import QueueService, calling_order

BANDS = ("A", "B")
SERVICES = {"A": "SB01", "B": "BX02"}
RATIO = (1, 2)


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="queue-sm-"))
        self.now = datetime(2024, 5, 1, 8, 0)
        self.queue = self._open()
        self.issued: dict[tuple[str, str], list[int]] = {}  # (day, band) → serials in issue order
        self.all_numbers: set[tuple[str, str]] = set()
        self.waiting: list = []  # model: today's waiting tickets in issue order
        self.slot = 0
        self.at_counter: dict[int, str] = {}
        self.tickets: dict[str, object] = {}  # id → ticket as issued
        self.order: dict[str, int] = {}  # id → issue position (the place a transfer keeps)

    def _open(self) -> QueueService:
        config = QueueSection(priority_ratio=list(RATIO))
        return QueueService(self.dir / "queue.sqlite3", config, 65, clock=lambda: self.now)

    def teardown(self) -> None:
        self.queue.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(band=st.sampled_from(BANDS), priority=st.booleans())
    def issue(self, band, priority):
        self.now += timedelta(seconds=7)
        ticket = self.queue.issue(SERVICES[band], "x", band, "elderly" if priority else None)
        day = self.now.date().isoformat()
        key = (day, ticket.number)
        assert key not in self.all_numbers, f"number {ticket.number} reissued on {day}"
        self.all_numbers.add(key)
        self.issued.setdefault((day, band), []).append(int(ticket.number[1:]))
        self.waiting.append(ticket)
        self.tickets[ticket.ticket_id] = ticket
        self.order[ticket.ticket_id] = len(self.order)

    @rule(counter=st.integers(1, 3), band=st.one_of(st.none(), st.sampled_from(BANDS)))
    def call(self, counter, band):
        service = SERVICES[band] if band else None
        candidates = [t for t in self.waiting if service is None or t.service_code == service]
        called = self.queue.call_next(counter, service)
        self.at_counter.pop(counter, None)
        if not candidates:
            assert called is None
            return
        assert called is not None
        priority = [t for t in candidates if t.priority]
        normal = [t for t in candidates if not t.priority]
        if priority and normal:
            want_priority = self.slot % sum(RATIO) < RATIO[0]
            assert called.priority == want_priority, "alternation broken"
        expected = (priority if called.priority else normal)[0]
        assert called.ticket_id == expected.ticket_id, "not FIFO within class"
        self.slot += 1
        self.waiting = [t for t in self.waiting if t.ticket_id != called.ticket_id]
        self.at_counter[counter] = called.ticket_id

    @rule(counter=st.integers(1, 3), action=st.sampled_from(["skip", "done", "recall"]))
    def finish(self, counter, action):
        ticket = getattr(self.queue, action)(counter)
        expected = self.at_counter.get(counter)
        assert (ticket.ticket_id if ticket else None) == expected
        if action != "recall":
            self.at_counter.pop(counter, None)

    @rule(counter=st.integers(1, 3), outcome=st.sampled_from(["done", "returned", "transferred"]),
          band=st.sampled_from(BANDS))
    def finish_with_outcome(self, counter, outcome, band):
        ticket_id = self.at_counter.pop(counter, None)
        if ticket_id is None:
            return
        self.now += timedelta(seconds=30)
        ended = self.queue.finish(ticket_id, outcome, "note", to_band=band if outcome == "transferred" else None)
        assert ended is not None and ended.outcome == outcome
        if outcome == "transferred":
            assert (ended.state, ended.queue_band, ended.counter) == ("waiting", band, None)
            self.waiting = sorted(self.waiting + [self.tickets[ticket_id]], key=lambda t: self.order[t.ticket_id])
        else:
            assert ended.state == "done" and ended.handling_s is not None and ended.handling_s >= 30
        assert self.queue.finish(ticket_id, "done") is None  # only a called ticket ends

    @rule()
    def restart(self):
        self.queue.close()
        self.queue = self._open()

    @rule()
    def next_day(self):
        self.now = (self.now + timedelta(days=1)).replace(hour=8, minute=0)
        self.waiting, self.slot, self.at_counter = [], 0, {}

    @invariant()
    def serials_are_gap_free(self):
        for serials in self.issued.values():
            assert serials == list(range(1, len(serials) + 1))

    @invariant()
    def people_ahead_follows_the_calling_order(self):
        fresh = [self.queue.get(t.ticket_id) for t in self.waiting]  # as now (a transfer changed its band)
        for band in BANDS:
            order = calling_order([t for t in fresh if t.queue_band == band], RATIO, self.slot)
            assert [self.queue.people_ahead(t) for t in order] == list(range(len(order)))

    @invariant()
    def waiting_matches_model(self):
        assert {t.ticket_id for t in self.queue.waiting()} == {t.ticket_id for t in self.waiting}
        assert sum(self.queue.waiting_by_band().values()) == len(self.waiting)


QueueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestQueueMachine = QueueMachine.TestCase
