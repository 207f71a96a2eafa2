"""The scheduler: catch-up at start-up, ``shebao scheduler --once --now``, moving policy dates."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import queries
from engine.clock import SimulatedClock
from engine.runtime import Engine
from engine.scheduler import Scheduler, run_once
from web.cli.main import main
from web.config import PROJECT_ROOT
from web.wiring import build_engine, build_service
from workflows.identity import make_id_number
from workflows.imports import import_people
from workflows.payments import PaymentRequest, open_renewals, pay_enrollment

DEFINITIONS = PROJECT_ROOT / "definitions"
POLICIES = DEFINITIONS / "policies"
HUIAN_DEADLINE = datetime(2022, 12, 31, 16, 0, tzinfo=UTC)  # 2023-01-01 00:00 in Shanghai


def enroll(engine: Engine, policy: str, n: int) -> list[int]:
    """``n`` enrollment years of ``policy`` waiting for renewal, in one transaction."""
    definition = engine.definition("enrollment")

    def work(tx: object) -> list[int]:
        return [
            engine.start_in(
                tx,  # type: ignore[arg-type]
                definition,
                "renewal_pending",
                f"p{i}:{policy}",
                {"policy": policy, "region": policy.split("-")[0], "id_number": f"p{i}"},
                "test",
            ).instance_id
            for i in range(n)
        ]

    return engine.transaction(work)


def states(engine: Engine) -> dict[str, int]:
    return queries.counts_by_state(engine.db, "enrollment")


def test_a_scheduler_down_across_the_deadline_fires_it_at_start(db_url: str) -> None:
    clock = SimulatedClock(datetime(2022, 10, 1, tzinfo=UTC))
    engine = build_engine(db_url, str(DEFINITIONS), str(POLICIES), clock=clock)
    iids = enroll(engine, "huian-2023", 3)
    restarted_at = datetime(2023, 1, 9, 8, 30, tzinfo=UTC)  # a week after the deadline
    clock.set(restarted_at)
    scheduler = Scheduler(engine, interval=3600)
    scheduler.start()
    try:
        assert scheduler.swept.wait(timeout=30), "no sweep at start-up"
    finally:
        scheduler.shutdown()
    assert scheduler.last is not None and scheduler.last.fired == 3
    assert states(engine) == {"lapsed": 3}
    for iid in iids:
        lapse = queries.history(engine.db, iid)[-1]
        assert lapse["event"] == "lapse" and lapse["actor"] == "scheduler"
        assert (lapse["due_at"], lapse["occurred_at"]) == (HUIAN_DEADLINE, restarted_at)
    engine.db.dispose()


def test_the_apscheduler_job_is_configured_for_misfires() -> None:
    engine = build_engine("sqlite://", str(DEFINITIONS), str(POLICIES))
    scheduler = Scheduler(engine, interval=10)
    (job,) = scheduler.apscheduler.get_jobs()
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 10)
    assert job.next_run_time is not None  # scheduled for start-up: the catch-up sweep


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    return CliRunner()


def scheduler_once(runner: CliRunner, now: str, *extra: str) -> dict[str, object]:
    result = runner.invoke(main, ["scheduler", "--once", "--now", now, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_scheduler_once_fires_what_is_due_at_now(runner: CliRunner, sqlite_url: str) -> None:
    engine = build_engine(sqlite_url, str(DEFINITIONS), str(POLICIES))
    enroll(engine, "huian-2023", 5)
    assert scheduler_once(runner, "2022-12-31T23:59:59+08:00")["fired"] == 0
    assert states(engine) == {"renewal_pending": 5}
    report = scheduler_once(runner, "2023-01-01T00:00:00+08:00", "--chunk", "2")
    assert (report["fired"], report["chunks"]) == (5, 3)
    assert states(engine) == {"lapsed": 5}
    assert scheduler_once(runner, "2023-06-01T00:00:00Z")["claimed"] == 0
    engine.db.dispose()


def test_scheduler_refuses_a_time_without_a_zone(runner: CliRunner) -> None:
    result = runner.invoke(main, ["scheduler", "--once", "--now", "2023-01-01T00:00:00"])
    assert result.exit_code == 2 and "time zone" in result.output


def foshan_policies(folder: Path, end: str) -> Path:
    """A copy of the shipped policies with Foshan 2022's payment period ending on ``end``."""
    folder.mkdir(exist_ok=True)
    for path in POLICIES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    foshan = folder / "foshan-2022.yaml"
    text = foshan.read_text(encoding="utf-8")
    assert "  end: 2022-02-28" in text
    foshan.write_text(text.replace("  end: 2022-02-28", f"  end: {end}", 1), encoding="utf-8")
    return folder


def test_extending_a_payment_period_moves_pending_timers_and_nothing_lapses_early(
    runner: CliRunner, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = foshan_policies(tmp_path / "policies", "2022-01-31")
    monkeypatch.setenv("SHEBAO_POLICIES", str(policies))
    engine = build_engine(sqlite_url, str(DEFINITIONS), str(policies))
    enroll(engine, "foshan-2022", 4)
    enroll(engine, "huian-2023", 2)
    foshan_policies(policies, "2022-02-28")  # Foshan extends its period to the end of February

    result = runner.invoke(main, ["policy", "reload"])
    assert result.exit_code == 0, result.output
    assert "foshan-2022:payment_period.end: moved 4 pending timers" in result.output
    assert "moved 4 pending timers" in result.output.splitlines()[-1]

    assert scheduler_once(runner, "2022-02-15T00:00:00+08:00")["fired"] == 0
    assert states(engine) == {"renewal_pending": 6}
    assert scheduler_once(runner, "2022-03-01T00:00:00+08:00")["fired"] == 4
    assert states(engine) == {"renewal_pending": 2, "lapsed": 4}
    engine.db.dispose()


def test_a_running_scheduler_follows_a_policy_file_change(sqlite_url: str, tmp_path: Path) -> None:
    policies = foshan_policies(tmp_path / "policies", "2022-01-31")
    clock = SimulatedClock(datetime(2022, 2, 10, tzinfo=UTC))
    engine = build_engine(sqlite_url, str(DEFINITIONS), str(policies), clock=clock)
    enroll(engine, "foshan-2022", 2)
    scheduler = Scheduler(engine, policies_dir=policies)
    foshan_policies(policies, "2022-02-28")
    report = scheduler.tick()  # not started: one run of the job, in this thread
    assert report.fired == 0 and states(engine) == {"renewal_pending": 2}
    assert run_once(engine, datetime(2022, 2, 28, 15, 59, tzinfo=UTC)).fired == 0
    assert run_once(engine, datetime(2022, 2, 28, 16, 0, tzinfo=UTC)).fired == 2
    engine.db.dispose()


def test_scheduler_once_renews_last_years_insured_in_good_standing_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huian.txt:29 默认续保: when 2023's period opens, everyone whose 2022 year is paid and whose
    record is still insured gets a 2023 year, once, with no call; an unpaid 2022 lapses."""
    monkeypatch.setenv("SHEBAO_DATABASE_URL", db_url)
    runner = CliRunner()
    clock = SimulatedClock(datetime(2021, 10, 10, 2, tzinfo=UTC))
    service = build_service(db_url, str(DEFINITIONS), str(POLICIES), clock=clock)
    engine, domain = service.engine, service.domain
    people = [make_id_number("350521", date(1980, 1, 1 + i), 1 + i) for i in range(4)]
    rows = [(i, {"id_number": p, "name": "张三", "region": "huian"}) for i, p in enumerate(people)]
    assert import_people(engine, domain, rows, actor="t").rejected == []
    # imported while huian-2022's period is open: each import opened that year, as a clerk's
    # approval of a registration would have
    assert states(engine) == {"registered": 4}
    for person in people[:3]:
        [(year, _)] = queries.by_business_key(engine.db, "enrollment", f"{person}:huian-2022")
        pay_enrollment(engine, domain, year, PaymentRequest(amount="320.00"), actor="t")
    [(leaving, _)] = queries.by_business_key(engine.db, "person", people[2])
    engine.fire(leaving, "leave_scheme", data={"reason": "迁出"})  # left: not renewed

    assert scheduler_once(runner, "2022-08-31T23:59:00+08:00")["fired"] == 1  # 2022 lapsed
    assert states(engine) == {"deducted": 3, "lapsed": 1}
    scheduler_once(runner, "2022-09-01T00:00:00+08:00")
    renewed = {
        p: [s for _, s in queries.by_business_key(engine.db, "enrollment", f"{p}:huian-2023")]
        for p in people
    }
    assert renewed == {
        people[0]: ["renewal_pending"],
        people[1]: ["renewal_pending"],
        people[2]: [],
        people[3]: [],
    }
    scheduler_once(runner, "2022-09-02T00:00:00+08:00")  # once per policy year
    assert states(engine) == {"deducted": 3, "lapsed": 1, "renewal_pending": 2}
    engine.db.dispose()


def test_the_sweep_benchmarks_seeded_years_are_what_a_renewal_writes(db_url: str) -> None:
    """``benchmarks.deadline_sweep`` seeds by SQL what ``open_renewals`` writes (same state,
    variables, lapse timer, due time and policy reference), so it measures the real thing."""
    from benchmarks.deadline_sweep import CREATED, DUE, POLICY, REF, seed_due_enrollments

    service = build_service(db_url, str(DEFINITIONS), str(POLICIES), clock=SimulatedClock(CREATED))
    engine = service.engine
    policy = service.domain.regions.policy(POLICY)
    assert policy is not None
    open_renewals(engine, policy, [{"id_number": "r1", "region": "huian"}])
    first, last = seed_due_enrollments(engine.db, 1, prefix="s")
    assert first == last == 2

    def shape(iid: int) -> tuple[object, ...]:
        row = queries.instance(engine.db, iid)
        assert row is not None
        variables = {k: v for k, v in row["variables"].items() if k != "id_number"}
        [timer] = queries.timers_of(engine.db, iid, "pending")
        when = (timer["event"], timer["state"], timer["due_at"], timer["policy_ref"])
        return row["business_key"].split(":")[1], row["state"], row["version"], variables, when

    assert (
        shape(1)
        == shape(2)
        == (
            POLICY,
            "renewal_pending",
            1,
            {"policy": POLICY, "region": "huian", "reduction_categories": [], "flags": []},
            ("lapse", "renewal_pending", DUE, REF),
        )
    )
    assert run_once(engine, DUE).fired == 2
    assert states(engine) == {"lapsed": 2}
    engine.db.dispose()


def test_each_run_beats_the_heartbeat_and_a_clean_shutdown_removes_it(db_url: str) -> None:
    from engine.heartbeat import schedulers

    engine = build_engine(db_url, str(DEFINITIONS), str(POLICIES))
    scheduler = Scheduler(engine, interval=3600)
    assert schedulers(engine.db) == []
    scheduler.tick()
    (row,) = schedulers(engine.db)
    assert row["name"] == scheduler.name == scheduler.sweeper.name
    assert row["age_s"] < 5 and row["info"]["interval_s"] == 3600
    first = row["heartbeat_at"]
    scheduler.tick()
    (again,) = schedulers(engine.db)
    assert again["heartbeat_at"] >= first and again["started_at"] == row["started_at"]
    scheduler.shutdown()
    assert schedulers(engine.db) == []
    engine.db.dispose()
