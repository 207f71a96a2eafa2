"""Demo accounts and the demo data set: seed an empty database on first start, or reseed on demand.

Accounts: one supervisor, a social-security and a medical-insurance clerk per region and a bank
teller per demo bank, each with a random password that is shown once (only its hash is stored).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import delete, func, select

from engine import statements as st
from engine.queries import total_instances
from engine.runtime import Engine
from web.auth import attempts, create_user, users
from workflows.demo import BANKS, REGIONS, seed_demo


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    group: str
    scope: str | None


def demo_account_plan() -> list[tuple[str, str, str | None, str]]:
    """(username, group, scope, display name) of every demo account."""
    plan: list[tuple[str, str, str | None, str]] = [("supervisor", "supervisor", None, "业务主管")]
    for _, _, region in REGIONS:
        plan.append((f"ss_{region}", "social_security_clerk", region, f"社保经办员 {region}"))
        plan.append((f"mi_{region}", "medical_insurance_clerk", region, f"医保经办员 {region}"))
    for bank in BANKS:
        plan.append((f"teller_{bank}", "bank_teller", bank, f"银行柜员 {bank}"))
    return plan


def create_demo_accounts(engine: Engine) -> list[DemoAccount]:
    """Create every demo account with a fresh random password."""
    created = []
    for username, group, scope, display in demo_account_plan():
        password = secrets.token_urlsafe(9)
        create_user(engine.db, username, password, group, scope, display)
        created.append(DemoAccount(username, password, group, scope))
    return created


def wipe(engine: Engine) -> None:
    """Delete every instance, its history, tasks, timers and keys, and every account."""
    with engine.db.begin() as conn:
        for table in (st.history, st.tasks, st.timers, st.keys, st.instances, attempts, users):
            conn.execute(delete(table))


def account_lines(accounts: list[DemoAccount], url: str | None = None) -> list[str]:
    """What to print once: each account with its password (and where to log in)."""
    lines = ["demo accounts (shown once; passwords are stored hashed):"]
    for account in accounts:
        scope = account.scope or "*"
        lines.append(
            f"  {account.username:20} {account.password:14} {account.group:24} scope={scope}"
        )
    if url:
        lines.append(f"log in at {url}")
    return lines


def reseed(engine: Engine, people: int = 2000) -> list[str]:
    """Wipe and seed the demo data and accounts; the lines to print."""
    wipe(engine)
    summary = seed_demo(engine, people=people)
    lines = [
        f"demo data: {summary.people} people, {summary.cards} cards, "
        f"{summary.enrollments} enrollment years ({summary.refunds} refund reviews)"
    ]
    return lines + account_lines(create_demo_accounts(engine))


def seed_if_empty(app: Flask) -> list[str]:
    """On first start: seed demo data and accounts when the database has no instances and no
    accounts; returns the lines to print (none when there was something already)."""
    from web.app import engine_of

    engine = engine_of(app)
    with engine.db.connect() as conn:
        accounts = conn.execute(select(func.count()).select_from(users)).scalar_one()
    if total_instances(engine.db) or accounts:
        return []
    return reseed(engine)
