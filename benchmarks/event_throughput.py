"""Event throughput: the engine firing card events against a bare-SQL floor, in one run.

(a) the engine starts N card instances and fires produce, notify_holder and activate on each, one
transaction per event, writing history, timers, tasks and notices as in service; (b) the floor
writes the same instance, history and notice rows with bare driver statements (per event an UPDATE
with the version check plus an INSERT into history, and the card-ready notice of notify_holder,
one transaction each); (c) the same-rows floor writes, with bare statements too, every row the
engine writes: besides the floor's, the start's history row, notify_holder's timers (as card.yaml declares them) and
activation task, activate's cancelling of those timers and closing of that task (the tables'
indexes maintained as in service: the inbox's sort orders, the due timers'). All three run on the
same database (SQLite: WAL, synchronous=NORMAL, the migrated schema), alternating in rounds so
that noise on the machine weighs on all alike. ``ratio`` is the engine's against (b), issue 17's
measure; ``ratio_same_rows`` against (c) separates the engine's own cost from the cost of the
rows it must write (``same_rows_floor_ratio``: (c) against (b)). The last line is one JSON object.

Usage: python -m benchmarks.event_throughput [--quick] [-n N] [--rounds R] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

from benchmarks.common import DEFINITIONS, POLICIES, emit, fresh_sqlite, id_number, reset_postgres
from engine.definition import load_definitions
from engine.runtime import Engine
from web.wiring import build_engine

EVENTS = ("produce", "notify_holder", "activate")


def run_engine(engine: Engine, people: range) -> float:
    """Seconds for the engine to start a card per person and fire the three events on each."""
    numbers = [id_number(i) for i in people]
    began = time.perf_counter()
    for person in numbers:
        card = engine.start(
            "card",
            business_key=person,
            actor="bench",
            variables={
                "id_number": person,
                "bank": "icbc",
                "channel": "online",
                "region": "foshan",
            },
        )
        engine.fire(card.instance_id, "produce", actor="factory")
        engine.fire(card.instance_id, "notify_holder", actor="icbc")
        engine.fire(
            card.instance_id, "activate", actor="teller", data={"presented_id_number": person}
        )
    return time.perf_counter() - began


_INSERT_INSTANCE = (
    "INSERT INTO wf_instance (process, definition_version, business_key, state, version, "
    "variables, created_at, updated_at) VALUES ({p}, 1, {p}, 'applied', 1, {p}, {p}, {p})"
)
_UPDATE = (
    "UPDATE wf_instance SET state = {p}, version = version + 1, updated_at = {p} "
    "WHERE id = {p} AND version = {p}"
)
_HISTORY = (
    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
    "occurred_at, data) VALUES ({p}, 'card', {p}, {p}, {p}, {p}, {p}, {p})"
)
_NOTICE = (
    "INSERT INTO wf_notice (instance_id, process, event, kind, recipient, channel, text_zh, "
    "text_en, data, status, attempts, created_at) "
    "VALUES ({p}, 'card', 'notify_holder', 'card_ready', {p}, 'sms', {p}, {p}, {p}, 'pending', 0, "
    "{p})"
)
"""The notice ``notify_holder`` writes to the outbox (definitions/card.yaml): the same rows."""
_READY = (
    "您的社会保障卡已制作完成，请本人持身份证到工商银行网点领卡并激活。",
    "Your card is ready.",
)
_PATH = (
    ("produce", "applied", "produced"),
    ("notify_holder", "produced", "awaiting_activation"),
    ("activate", "awaiting_activation", "active"),
)


class Floor:
    """The same rows written with bare driver statements: the fastest the database allows."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self.conn: Any = sqlite3.connect(str(parsed.database), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.param = "?"
        else:
            import psycopg

            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(dsn)
            self.param = "%s"
        self.cursor = self.conn.cursor()
        self.sql = [s.format(p=self.param) for s in (_INSERT_INSTANCE, _UPDATE, _HISTORY, _NOTICE)]

    def _begin(self) -> None:
        if self.sqlite:
            self.cursor.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        if self.sqlite:
            self.cursor.execute("COMMIT")
        else:
            self.conn.commit()

    def _insert_card(self, person: str, now: str) -> int:
        """Insert the card's instance row in the open transaction; return its id."""
        variables = json.dumps(
            {"id_number": person, "bank": "icbc", "channel": "online", "region": "foshan"}
        )
        self.cursor.execute(self.sql[0], ("card", person, variables, now, now))
        if self.sqlite:
            return int(self.cursor.lastrowid or 0)
        self.cursor.execute("SELECT lastval()")
        row = self.cursor.fetchone()
        return int(row[0])

    def run(self, people: range) -> float:
        _, update, history, notice = self.sql
        shown = json.dumps({"bank": {"zh": "工商银行", "en": "ICBC"}}, ensure_ascii=False)
        numbers = [id_number(i) for i in people]
        began = time.perf_counter()
        for person in numbers:
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            self._begin()
            instance_id = self._insert_card(person, now)
            self._commit()
            for version, (event, source, target) in enumerate(_PATH, start=1):
                self._begin()
                self.cursor.execute(update, (target, now, instance_id, version))
                self.cursor.execute(
                    history, (instance_id, event, source, target, "floor", now, None)
                )
                if event == "notify_holder":
                    self.cursor.execute(notice, (instance_id, person, *_READY, shown, now))
                self._commit()
        return time.perf_counter() - began

    def close(self) -> None:
        self.conn.close()


_TIMER = (
    "INSERT INTO wf_timer (instance_id, process, state, event, due_at, status, policy_ref, "
    "created_at) VALUES ({p}, 'card', 'awaiting_activation', {p}, {p}, 'pending', {p}, {p})"
)
_TASK = (
    "INSERT INTO wf_task (instance_id, process, name, state, candidate_group, scope, status, "
    "created_at, due_at) VALUES ({p}, 'card', 'activate_card', 'awaiting_activation', "
    "'bank_teller', 'icbc', 'open', {p}, {p})"
)
_CANCEL_TIMERS = (
    "UPDATE wf_timer SET status = 'cancelled' WHERE instance_id = {p} AND status = 'pending'"
)
_CLOSE_TASK = (
    "UPDATE wf_task SET status = 'completed', closed_at = {p}, closed_by = {p}, outcome = {p} "
    "WHERE instance_id = {p} AND status = 'open'"
)


def notify_holder_timers() -> tuple[tuple[str, str | None], ...]:
    """notify_holder's timers, (event, policy reference) each, as ``definitions/card.yaml``
    declares them on ``awaiting_activation``: a timer added there is written by the floor too."""
    card = load_definitions(DEFINITIONS)["card"]
    return tuple((timer.event, timer.policy) for timer in card.states["awaiting_activation"].timers)


class SameRowsFloor(Floor):
    """Bare statements writing every row the engine writes for a card (see the module's (c))."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.more = [s.format(p=self.param) for s in (_TIMER, _TASK, _CANCEL_TIMERS, _CLOSE_TASK)]
        self.timers = notify_holder_timers()

    def run(self, people: range) -> float:
        _, update, history, notice = self.sql
        timer, task, cancel_timers, close_task = self.more
        shown = json.dumps({"bank": {"zh": "工商银行", "en": "ICBC"}}, ensure_ascii=False)
        numbers = [id_number(i) for i in people]
        began = time.perf_counter()
        for person in numbers:
            at = datetime.now(UTC).replace(tzinfo=None)
            now, due = at.isoformat(sep=" "), (at + timedelta(days=30)).isoformat(sep=" ")
            self._begin()
            instance_id = self._insert_card(person, now)
            self.cursor.execute(
                history, (instance_id, "start", None, "applied", "floor", now, None)
            )
            self._commit()
            for version, (event, source, target) in enumerate(_PATH, start=1):
                self._begin()
                self.cursor.execute(update, (target, now, instance_id, version))
                self.cursor.execute(
                    history, (instance_id, event, source, target, "floor", now, None)
                )
                if event == "notify_holder":
                    for timer_event, policy in self.timers:
                        self.cursor.execute(timer, (instance_id, timer_event, due, policy, now))
                    self.cursor.execute(task, (instance_id, now, due))
                    self.cursor.execute(notice, (instance_id, person, *_READY, shown, now))
                elif event == "activate":
                    self.cursor.execute(cancel_timers, (instance_id,))
                    self.cursor.execute(close_task, (now, "floor", event, instance_id))
                self._commit()
        return time.perf_counter() - began


def written() -> int:
    """Bytes this process has handed to ``write``/``pwrite`` so far (Linux's /proc/self/io
    ``wchar``; 0 elsewhere). On SQLite nearly all of it is the WAL's pages: what each side's
    commits cost grows with it."""
    try:
        with open("/proc/self/io", encoding="ascii") as io:
            for line in io:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Side:
    """One side's totals over the rounds: seconds, and bytes written (see ``written``)."""

    seconds: float = 0.0
    bytes: int = 0

    def add(self, run: Callable[[range], float], people: range) -> None:
        before = written()
        self.seconds += run(people)
        self.bytes += written() - before


def measure(url: str, n: int, rounds: int) -> tuple[Side, Side, Side]:
    """Engine, floor and same-rows floor totals for ``n`` cards each, alternating in ``rounds``
    on one database, so that whatever else the machine does weighs on all alike."""
    engine = build_engine(url, str(DEFINITIONS), str(POLICIES))
    floor, same_rows = Floor(url), SameRowsFloor(url)
    sides = (Side(), Side(), Side())
    step = max(n // rounds, 1)
    for start in range(0, n, step):
        people = range(start, min(start + step, n))
        sides[0].add(lambda group: run_engine(engine, group), people)
        sides[1].add(floor.run, range(n + people.start, n + people.stop))
        sides[2].add(same_rows.run, range(2 * n + people.start, 2 * n + people.stop))
    floor.close()
    same_rows.close()
    engine.db.dispose()
    return sides


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (well under 30 s)")
    parser.add_argument("-n", type=int, help="card instances (default 3000, quick 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    n = args.n or (1000 if args.quick else 3000)
    if args.postgres:
        engine, floor, same_rows = measure(reset_postgres(args.postgres), n, args.rounds)
        database = "postgresql"
    else:
        with fresh_sqlite("throughput.db") as url:
            engine, floor, same_rows = measure(url, n, args.rounds)
        database = "sqlite-wal-normal"
    engine_s, floor_s, same_rows_s = engine.seconds, floor.seconds, same_rows.seconds
    transitions = 3 * n
    result = {
        "benchmark": "event_throughput",
        "database": database,
        "instances": n,
        "transitions": transitions,
        "engine_transitions_per_s": round(transitions / engine_s, 1),
        "floor_transitions_per_s": round(transitions / floor_s, 1),
        "ratio": round(floor_s / engine_s, 3),
        "same_rows_floor_transitions_per_s": round(transitions / same_rows_s, 1),
        "ratio_same_rows": round(same_rows_s / engine_s, 3),
        "same_rows_floor_ratio": round(floor_s / same_rows_s, 3),
    }
    if not args.postgres and engine.bytes:
        # What the commits write (the WAL's pages, wchar): the bare floor against the rows the
        # engine must write bounds ``ratio`` wherever the commits' writing is most of the cost.
        result |= {
            "kb_written_per_card": {
                side: round(totals.bytes / n / 1024, 1)
                for side, totals in (("engine", engine), ("floor", floor), ("same_rows", same_rows))
            },
            "written_floor_to_same_rows": round(floor.bytes / same_rows.bytes, 3),
        }
    emit(result)
    return result


if __name__ == "__main__":
    main()
