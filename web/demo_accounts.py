"""Demo accounts and the demo data set: seed an empty database on first start, or reseed on demand.

The data set is the simulation of ``workflows.demo``: the service's own operations from 2020 up to
the demo date. Seeding then sets the service clock (``engine.clock.DatabaseClock``) to the demo
date, so every process of the service reads that date (and the time elapsed since).

Accounts: one supervisor, a social-security and a medical-insurance clerk per region and a bank
teller per demo bank (the regions and banks of the domain's region registry, the banks those the
simulation's cards are at), each with a strong random password that is shown once (only its hash
is stored). The supervisor also gets a TOTP second factor (supervisors need one), whose secret and
``otpauth://`` URI are shown once too, to add to an authenticator app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import delete, func, select

from engine import statements as st
from engine.clock import DatabaseClock
from engine.queries import total_instances
from engine.runtime import Engine
from web.i18n import LOCAL_TZ
from web.mfa import enroll, provisioning_uri
from web.passwords import random_password
from web.sessions import delete_all as delete_all_sessions
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


def demo_account_plan(
    domain: Domain, banks: Iterable[str]
) -> list[tuple[str, str, str | None, str]]:
    """(username, group, scope, display name) of every demo account: the supervisor, two clerks
    per region, and a teller for each of ``banks`` that is a partner bank of some region."""
    plan: list[tuple[str, str, str | None, str]] = [("supervisor", "supervisor", None, "业务主管")]
    wanted = set(banks)
    tellers: dict[str, str] = {}
    for region in domain.regions:
        name = region.name.zh
        plan.append((f"ss_{region.key}", "social_security_clerk", region.key, f"社保经办员 {name}"))
        plan.append(
            (f"mi_{region.key}", "medical_insurance_clerk", region.key, f"医保经办员 {name}")
        )
        for code, label in region.banks.items():
            if code in wanted:
                tellers.setdefault(code, label.zh)
    for code, bank_name in tellers.items():
        plan.append((f"teller_{code}", "bank_teller", code, f"银行柜员 {bank_name}"))
    return plan


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


def wipe(engine: Engine) -> None:
    """Delete every instance, its history, tasks, timers and keys, and every account with its
    sessions (the security event log stays)."""
    delete_all_sessions(engine.db)
    with engine.db.begin() as conn:
        for table in (st.history, st.tasks, st.timers, st.keys, st.instances, attempts, users):
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
