"""Demo accounts and the demo data set: seed an empty database on first start, or reseed on demand.

The data set is the simulation of ``workflows.demo``: the service's own operations from 2020 up to
the demo date. Seeding then sets the service clock (``engine.clock.DatabaseClock``) to the demo
date, so every process of the service reads that date (and the time elapsed since).

Accounts: one supervisor, a social-security and a medical-insurance clerk per region and a bank
teller per demo bank (the regions and banks of the domain's region registry, the banks those the
simulation's cards are at), each with a strong random password that is shown once (only its hash
is stored). The supervisor also gets a TOTP second factor (supervisors need one), whose secret and
``otpauth://`` URI are shown once too, to add to an authenticator app. Each account's display
name is a person's name (``demo_display_name``): names read alike in both languages, while the
pages show the account's group and scope beside it in the page's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import Table, delete, func, select

from engine import statements as st
from engine.clock import DatabaseClock
from engine.models import Incident
from engine.queries import total_instances
from engine.runtime import Engine
from web.i18n import LOCAL_TZ
from web.mfa import enroll, provisioning_uri
from web.models import TaskFilter
from web.passwords import random_password
from web.sessions import searches, sessions
from web.staff import SUPERVISOR, attempts, create_user, users
from workflows.demo import (
    DEFAULT_PEOPLE,
    DEFAULT_SEED,
    DEMO_AT,
    check_demo,
    seed_demo,
    story_start,
)
from workflows.domain import Domain


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    group: str
    scope: str | None
    totp_secret: str | None = None


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN_NAMES = (
    "芳", "伟", "静", "磊", "敏", "洋", "婷", "军", "丽", "强",
    "娜", "杰", "燕", "涛", "霞", "超", "玲", "斌", "萍", "鹏",
)  # fmt: skip


def demo_display_name(index: int) -> str:
    """The ``index``-th demo account's display name: a person's name, as staff accounts carry in
    service (not a role: the pages show the group and scope beside the name, translated). Distinct
    for the first 400 accounts (a surname, and a given name shifted along with each round of
    surnames)."""
    rounds, surname = divmod(index, len(SURNAMES))
    return SURNAMES[surname] + GIVEN_NAMES[(rounds + surname) % len(GIVEN_NAMES)]


def demo_account_plan(
    domain: Domain, banks: Iterable[str]
) -> list[tuple[str, str, str | None, str]]:
    """(username, group, scope, display name) of every demo account: the supervisor, two clerks
    per region, and a teller for each of ``banks`` that is a partner bank of some region."""
    accounts: list[tuple[str, str, str | None]] = [("supervisor", "supervisor", None)]
    wanted = set(banks)
    tellers: list[str] = []
    for region in domain.regions:
        accounts.append((f"ss_{region.key}", "social_security_clerk", region.key))
        accounts.append((f"mi_{region.key}", "medical_insurance_clerk", region.key))
        tellers += [code for code in region.banks if code in wanted and code not in tellers]
    accounts += [(f"teller_{code}", "bank_teller", code) for code in tellers]
    return [(*account, demo_display_name(i)) for i, account in enumerate(accounts)]


def create_demo_accounts(engine: Engine, domain: Domain, banks: Iterable[str]) -> list[DemoAccount]:
    """Create every demo account with a fresh random password (and the supervisor's second
    factor)."""
    created = []
    for username, group, scope, display in demo_account_plan(domain, banks):
        password = random_password()
        create_user(engine.db, username, password, group, scope, display)
        secret = enroll(engine.db, username) if group == SUPERVISOR else None
        created.append(DemoAccount(username, password, group, scope, secret))
    return created


INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
SAVED_FILTERS: Table = TaskFilter.__table__  # type: ignore[assignment]


def instance_tables() -> list[Table]:
    """``wf_instance`` and every table whose rows hang on an instance by a foreign key, directly
    (history, tasks, timers, notices) or through another (a task's comments), read from the
    engine's metadata: the referencing tables first, so that deleting in order breaks no key."""
    ordered = st.instances.metadata.sorted_tables  # a referenced table before its referrers
    found = {st.instances}
    for table in ordered:
        if any(key.column.table in found for key in table.foreign_keys):
            found.add(table)
    return [table for table in reversed(ordered) if table in found]


def wipe(engine: Engine) -> None:
    """Delete, in one transaction, every instance with all that hangs on it
    (``instance_tables``), the idempotency keys and the incidents (their steps went with the
    instances), and every account with its sessions, searches, saved filters and login attempts.
    The security event log, the API tokens, the deployed definitions and the policy changes
    stay."""
    accounts = (searches, sessions, SAVED_FILTERS, attempts, users)
    with engine.db.begin() as conn:
        for table in (*instance_tables(), st.keys, INCIDENTS, *accounts):
            conn.execute(delete(table))


def account_lines(accounts: list[DemoAccount], url: str | None = None) -> list[str]:
    """What to print once: each account with its password, the second factor of those that
    have one (and where to log in)."""
    lines = ["demo accounts (shown once; passwords are stored hashed):"]
    for account in accounts:
        scope = account.scope or "*"
        lines.append(
            f"  {account.username:20} {account.password:16} {account.group:24} scope={scope}"
        )
    for account in accounts:
        if account.totp_secret:
            lines += [
                f"second factor of {account.username} (add it to an authenticator app; "
                "the login asks for its 6-digit code):",
                f"    totp secret: {account.totp_secret}",
                f"    totp uri:    {provisioning_uri(account.totp_secret, account.username)}",
            ]
    if url:
        lines.append(f"log in at {url}")
    return lines


def service_clock(engine: Engine) -> DatabaseClock:
    """The clock that stores the service time: the engine's own, or one over its database."""
    clock = engine.clock
    return clock if isinstance(clock, DatabaseClock) else DatabaseClock(engine.db)


def reseed(
    engine: Engine,
    domain: Domain,
    *,
    people: int = DEFAULT_PEOPLE,
    at: datetime = DEMO_AT,
    seed: int = DEFAULT_SEED,
) -> list[str]:
    """Wipe, simulate the demo up to ``at``, set the service clock to ``at``, create the demo
    accounts; returns the lines to print.

    Raises:
        ValueError: a demo the story cannot tell (``workflows.demo.check_demo``); nothing is
            wiped then.
    """
    check_demo(domain, people=people, at=at)
    clock = service_clock(engine)
    # While the story is written, schedulers of this service read its first day (within their
    # clocks' cache time): nothing the simulation schedules is due for them.
    clock.set(story_start(domain))
    wipe(engine)
    summary = seed_demo(engine, domain, people=people, at=at, seed=seed)
    clock.set(at)
    shown = at.astimezone(LOCAL_TZ).isoformat(timespec="minutes")
    lines = summary.lines() + [
        f"service clock: {shown} (simulated; it runs on from there; "
        "`shebao clock reset` returns to the system clock)"
    ]
    return lines + account_lines(create_demo_accounts(engine, domain, summary.banks))


def seed_if_empty(app: Flask) -> list[str]:
    """On first start: seed demo data and accounts (at the default demo date) when the database
    has no instances and no accounts; returns the lines to print (none when there was something
    already)."""
    from web.extensions import domain_of, engine_of

    engine = engine_of(app)
    with engine.db.connect() as conn:
        accounts = conn.execute(select(func.count()).select_from(users)).scalar_one()
    if total_instances(engine.db) or accounts:
        return []
    return reseed(engine, domain_of(app))
