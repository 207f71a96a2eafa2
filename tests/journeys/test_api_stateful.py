"""Random journeys over the HTTP API (Hypothesis ``RuleBasedStateMachine``).

Random people register, are approved or rejected, are brought in with cards, apply for cards, have
years opened, pay (right and wrong amounts, for themselves and for others), are deducted by the tax
authority, ask for refunds; outside systems send every card and enrollment event with tokens of
every scope and random data; clerks and tellers complete tasks through the tasks API; the clock
moves and the scheduler sweeps. After every step:
- no request, read or write, answered 5xx;
- one usable card per person per province, unless a review of that person's extra cards is open
  (cards brought in from other systems);
- at most one live enrollment per person and policy year;
- every paid year has a payment with its payer (or the assistance fund, where nothing is due), and
  its amount is the amount due when it was paid.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as s
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import select

from engine import statements as st
from tests.journeys.conftest import Journey
from web.extensions import domain_of, engine_of
from workflows.enrollment import amount_due
from workflows.identity import age_on, make_id_number

pytestmark = pytest.mark.slow

START = datetime.fromisoformat("2021-09-15T10:00:00+08:00")
REGION_CODES = {"foshan": ["440604", "440605"], "huian": ["350521"]}

TOKENS = [
    "channel",
    "factory",
    "tax",
    "bank_icbc",
    "bank_cmb",
    "bank_fjnx",
    "clerk_foshan",
    "clerk_huian",
    "importer",
    "reader",
]
POLICIES = ["foshan-2021", "foshan-2022", "huian-2022", "huian-2023", "nowhere-2022"]
CARD_EVENTS = [
    "produce",
    "notify_holder",
    "activate",
    "report_loss",
    "report_loss_formally",
    "revoke_loss",
    "cancel",
    "close_bank_account",
    "remind_holder",
    "issue_on_the_spot",
    "frobnicate",
]
YEAR_EVENTS = ["deduct", "fail_deduction", "request_refund", "pay", "lapse", "approve_refund"]

amounts = s.sampled_from(
    ["0", "280", "280.00", "320", "320.00", "360", "108.00", "1e3", "-1", "99999999", "", "abc"]
)
junk = s.one_of(
    s.none(),
    s.booleans(),
    s.integers(),
    s.text(max_size=8),
    s.sampled_from(["", "\u0000", "2022-01-01", "440604198003030050"]),
)
data_dicts = s.dictionaries(
    s.sampled_from(
        [
            "amount",
            "presented_id_number",
            "reason",
            "paid_at",
            "payer_kind",
            "employee_insurance_elsewhere",
            "benefits_used",
            "evidence",
            "keep_card_id",
            "document_kind",
            "note",
            "bogus",
        ]
    ),
    s.one_of(junk, amounts),
    max_size=4,
)


class ApiJourneys(RuleBasedStateMachine):
    template: Path
    folder: Path
    runs = 0

    people = Bundle("people")

    def __init__(self) -> None:
        super().__init__()
        ApiJourneys.runs += 1
        folder = self.folder / f"run{ApiJourneys.runs}"
        folder.mkdir()
        shutil.copy(self.template, folder / "shebao.db")
        self.j = Journey(f"sqlite:///{folder / 'shebao.db'}", START, folder)
        self.cards: list[int] = []
        self.owner: dict[int, tuple[str, str]] = {}  # card -> (person, bank)
        self.years: list[int] = []
        self.serial = 0

    def teardown(self) -> None:
        engine_of(self.j.app).db.dispose()

    # -- helpers -----------------------------------------------------------------------------

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        answer = self.j.api_client.open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.j.tokens.get(token, token)}"},
        )
        assert answer.status_code < 500, (method, path, body, answer.get_data(as_text=True))
        return answer.status_code, answer.get_json(silent=True)

    @initialize()
    def tokens(self) -> None:
        scopes = {
            "channel": "channel",
            "factory": "factory",
            "tax": "tax",
            "bank_icbc": "bank:icbc",
            "bank_cmb": "bank:cmb",
            "bank_fjnx": "bank:fjnx",
            "clerk_foshan": "clerk:foshan",
            "clerk_huian": "clerk:huian",
            "importer": "import",
            "reader": "read",
        }
        for name, scope in scopes.items():
            self.j.token(name, scope)

    # -- people ------------------------------------------------------------------------------

    @rule(
        target=people,
        region=s.sampled_from(["foshan", "huian", "beijing"]),
        born=s.dates(date(1930, 1, 1), date(2021, 1, 1)),
        residence=s.sampled_from(["household_register", "residence_permit", "passport"]),
        categories=s.lists(s.sampled_from(["dibao", "low_income", "royalty"]), max_size=2),
    )
    def register(self, region: str, born: date, residence: str, categories: list[str]) -> str:
        """A newcomer registers (参保登记); refused (another region, a passport...) they stay
        a stranger with no record."""
        self.serial += 1
        person = make_id_number(REGION_CODES.get(region, ["110105"])[0], born, self.serial)
        body = {
            "id_number": person,
            "name": "测试",
            "region": region,
            "residence": residence,
            "reduction_categories": categories,
        }
        self.call("POST", "/registrations", "channel", body)
        return person

    @rule(
        person=people,
        bank=s.sampled_from(["icbc", "boc", "cmb", "fjnx", "nowhere"]),
        state=s.sampled_from(
            [
                "applied",
                "active",
                "awaiting_activation",
                "loss_reported",
                "lost",
                "cancelled",
                "bank_account_closed",
                "dreaming",
            ]
        ),
        number=s.integers(1, 40),
        region=s.sampled_from(["foshan", "huian"]),
    )
    def import_with_card(
        self, person: str, bank: str, state: str, number: int, region: str
    ) -> None:
        row = {
            "id_number": person,
            "name": "导入",
            "region": region,
            "card_number": f"N-{number}",
            "card_bank": bank,
            "card_state": state,
        }
        status, body = self.call("POST", "/imports/people", "importer", {"rows": [row]})
        assert status == 200
        if body["applied"] and state in (
            "active",
            "awaiting_activation",
            "loss_reported",
            "lost",
            "applied",
        ):
            status, cards = self.call("POST", "/people/cards", "channel", {"id_number": person})
            for card in cards["cards"] if status == 200 else []:
                if card["id"] not in self.owner:
                    self.cards.append(card["id"])
                    self.owner[card["id"]] = (person, card["bank"])

    @rule(
        person=people,
        channel=s.sampled_from(["fast_issuance", "online", "counter"]),
        region=s.sampled_from(["foshan", "huian"]),
        bank=s.sampled_from(["icbc", "cmb", "fjnx"]),
    )
    def apply_card(self, person: str, channel: str, region: str, bank: str) -> None:
        status, body = self.call(
            "POST",
            "/cards",
            "channel",
            {
                "id_number": person,
                "channel": channel,
                "bank": bank,
                "region_code": REGION_CODES[region][0],
            },
        )
        if status == 201:
            self.cards.append(body["card"]["id"])
            self.owner[body["card"]["id"]] = (person, bank)

    @rule(person=people, policy=s.sampled_from(POLICIES))
    def open_year(self, person: str, policy: str) -> None:
        status, body = self.call(
            "POST", "/enrollments", "channel", {"id_number": person, "policy": policy}
        )
        if status == 201:
            self.years.append(body["instance_id"])

    @rule(
        person=people,
        policy=s.one_of(s.none(), s.sampled_from(POLICIES)),
        amount=amounts,
        payer=s.sampled_from(["self", "family", "on_behalf"]),
        other=s.one_of(s.none(), people),
        token=s.sampled_from(["channel", "tax", "reader"]),
        backdate=s.booleans(),
    )
    def pay(
        self,
        person: str,
        policy: str | None,
        amount: str,
        payer: str,
        other: str | None,
        token: str,
        backdate: bool,
    ) -> None:
        body: dict[str, Any] = {"id_number": person, "amount": amount, "payer_kind": payer}
        if policy:
            body["policy"] = policy
        if other:
            body["payer_id_number"] = other
        if backdate:
            body["paid_at"] = (self.j.clock.now() - timedelta(days=40)).isoformat()
        self.call("POST", "/payments", token, body)

    # -- events and tasks ---------------------------------------------------------------------

    @rule(
        index=s.integers(0, 50),
        event=s.sampled_from(CARD_EVENTS),
        token=s.sampled_from(TOKENS),
        data=data_dicts,
    )
    def card_event(self, index: int, event: str, token: str, data: dict[str, Any]) -> None:
        target = self.cards[index % len(self.cards)] if self.cards else index + 1
        self.call("POST", f"/cards/{target}/events", token, {"event": event, "data": data})

    @rule(
        index=s.integers(0, 50),
        event=s.sampled_from(YEAR_EVENTS),
        token=s.sampled_from(TOKENS),
        data=data_dicts,
    )
    def year_event(self, index: int, event: str, token: str, data: dict[str, Any]) -> None:
        target = self.years[index % len(self.years)] if self.years else index + 1
        self.call("POST", f"/enrollments/{target}/events", token, {"event": event, "data": data})

    @rule(index=s.integers(0, 50), amount=amounts, token=s.sampled_from(["channel", "tax"]))
    def pay_year(self, index: int, amount: str, token: str) -> None:
        target = self.years[index % len(self.years)] if self.years else index + 1
        self.call("POST", f"/enrollments/{target}/payments", token, {"amount": amount})

    @rule(
        token=s.sampled_from(
            ["bank_icbc", "bank_cmb", "bank_fjnx", "clerk_foshan", "clerk_huian", "channel"]
        ),
        pick=s.integers(0, 20),
        outcome=s.one_of(
            s.none(),
            s.sampled_from(
                [
                    "approve_registration",
                    "reject_registration",
                    "activate",
                    "report_loss_formally",
                    "resolve",
                    "close_bank_account",
                    "approve_refund",
                    "reject_refund",
                    "nope",
                ]
            ),
        ),
        data=data_dicts,
        sensible=s.booleans(),
    )
    def complete_task(
        self, token: str, pick: int, outcome: str | None, data: dict[str, Any], sensible: bool
    ) -> None:
        status, body = self.call("GET", "/tasks", token)
        if status != 200 or not body["tasks"]:
            return
        task = body["tasks"][pick % len(body["tasks"])]
        if sensible:  # what a careful clerk would send for the task
            data = (
                {"document_kind": "household_register"}
                if task["name"] == "verify_residence"
                else data
            )
        payload: dict[str, Any] = {"data": data}
        if outcome:
            payload["outcome"] = outcome
        self.call("POST", f"/tasks/{task['id']}/complete", token, payload)

    # -- careful clients: what a well-behaved channel, bank or clerk sends ---------------------

    @rule(
        target=people,
        region=s.sampled_from(sorted(REGION_CODES)),
        born=s.dates(date(1930, 1, 1), date(2021, 1, 1)),
        categories=s.sampled_from(["", "dibao", "low_income"]),
    )
    def an_insured_person(self, region: str, born: date, categories: str) -> str:
        """Someone already on the books of a region (brought in from its existing system)."""
        self.serial += 1
        person = make_id_number(REGION_CODES[region][0], born, self.serial)
        row = {"id_number": person, "name": "参保人", "region": region}
        today = self.j.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
        if categories == "low_income" and 18 <= age_on(person, today) < 60:
            categories = ""  # huian.txt:59: a low-income 减免对象 is 60 or older, or under 18
        if region == "huian" and categories:
            row["reduction_categories"] = categories
        status, body = self.call("POST", "/imports/people", "importer", {"rows": [row]})
        assert status == 200 and body["applied"] == 1, body
        return person

    @rule(person=people)
    def careful_open(self, person: str) -> None:
        """Open whichever year the person's region has that can still be paid."""
        for policy in POLICIES:
            status, body = self.call(
                "POST", "/enrollments", "channel", {"id_number": person, "policy": policy}
            )
            if status == 201:
                self.years.append(body["instance_id"])

    @rule(person=people, payer=s.sampled_from(["self", "family"]), other=people)
    def careful_pay(self, person: str, payer: str, other: str) -> None:
        """Pay the amount the service says is due for an unpaid year, by the person or family."""
        status, body = self.call("POST", "/people/enrollments", "channel", {"id_number": person})
        if status != 200:
            return
        for year in body["unpaid"]:
            if year["amount_due"] is None:
                continue
            request = {"amount": year["amount_due"]}
            if payer == "family" and other != person:
                request.update(payer_kind="family", payer_id_number=other)
            self.call("POST", f"/enrollments/{year['enrollment_id']}/payments", "channel", request)

    @rule(person=people, success=s.booleans())
    def careful_deduction(self, person: str, success: bool) -> None:
        """The tax authority's result for an unpaid year, with the amount due."""
        status, body = self.call("POST", "/people/enrollments", "tax", {"id_number": person})
        if status != 200:
            return
        for year in body["unpaid"]:
            if year["amount_due"] is not None:
                event = "deduct" if success else "fail_deduction"
                self.call(
                    "POST",
                    f"/enrollments/{year['enrollment_id']}/events",
                    "tax",
                    {"event": event, "data": {"amount": year["amount_due"]}},
                )

    @rule(person=people, used=s.booleans())
    def careful_refund(self, person: str, used: bool) -> None:
        status, body = self.call("POST", "/people/enrollments", "channel", {"id_number": person})
        if status != 200:
            return
        for year in body["paid"]:
            self.call(
                "POST",
                f"/enrollments/{year['enrollment_id']}/events",
                "channel",
                {
                    "event": "request_refund",
                    "data": {"employee_insurance_elsewhere": True, "benefits_used": used},
                },
            )

    @rule(index=s.integers(0, 50))
    def careful_card_step(self, index: int) -> None:
        """The next step of a card's life, from the system that takes it."""
        if not self.cards:
            return
        card = self.cards[index % len(self.cards)]
        person, bank = self.owner[card]
        token = f"bank_{bank}"
        status, body = self.call("GET", f"/cards/{card}", "channel")
        if status != 200:
            return
        step = {
            "produce": ("factory", {}),
            "notify_holder": (token, {}),
            "activate": (token, {"presented_id_number": person}),
            "report_loss": ("channel", {}),
            "report_loss_formally": (token, {"presented_id_number": person}),
            "close_bank_account": (token, {}),
        }
        for event in body["allowed_events"]:
            if event in step:
                who, data = step[event]
                self.call("POST", f"/cards/{card}/events", who, {"event": event, "data": data})
                return

    @rule(
        token=s.sampled_from(["bank_icbc", "bank_cmb", "bank_fjnx", "clerk_foshan", "clerk_huian"]),
        pick=s.integers(0, 20),
        approve=s.booleans(),
    )
    def careful_task(self, token: str, pick: int, approve: bool) -> None:
        status, body = self.call("GET", "/tasks", token)
        if status != 200 or not body["tasks"]:
            return
        task = body["tasks"][pick % len(body["tasks"])]
        payload: dict[str, Any] = {"data": {}}
        if task["name"] == "verify_residence":
            payload = {
                "outcome": "approve_registration" if approve else "reject_registration",
                "data": {"document_kind": "household_register"}
                if approve
                else {"reason": "证件不符"},
            }
        elif task["name"] == "review_refund":
            payload = {
                "outcome": "approve_refund" if approve else "reject_refund",
                "data": {} if approve else {"reason": "未提供证明"},
            }
        elif task["name"] in ("activate_card", "confirm_loss"):
            person, _ = self.owner.get(task["instance_id"], ("", ""))
            payload = {"data": {"presented_id_number": person}}
        elif task["name"] == "resolve_extra_cards":
            usable = [c for c in self.owner if c in self.owner]  # any card, right or wrong
            keep = usable[pick % len(usable)] if usable else 1
            payload = {"data": {"keep_card_id": keep}}
        self.call("POST", f"/tasks/{task['id']}/complete", token, payload)

    @rule(person=people, token=s.sampled_from(["channel", "tax", "reader", "factory"]))
    def read(self, person: str, token: str) -> None:
        self.call("POST", "/people/enrollments", token, {"id_number": person})
        self.call("POST", "/people/cards", token, {"id_number": person})
        for card in self.cards[-3:]:
            self.call("GET", f"/cards/{card}", token)

    @rule(days=s.integers(1, 120))
    def time_passes(self, days: int) -> None:
        self.j.clock.advance(timedelta(days=days))
        self.j.sweep()

    # -- invariants ---------------------------------------------------------------------------

    def _instances(self, process: str) -> list[Any]:
        with engine_of(self.j.app).db.connect() as conn:
            return list(conn.execute(select(st.instances).where(st.instances.c.process == process)))

    @invariant()
    def one_usable_card_per_person_and_province(self) -> None:
        engine = engine_of(self.j.app)
        usable = engine.definition("card").tagged("usable")
        counts = Counter(r.business_key for r in self._instances("card") if r.state in usable)
        in_review = {
            r.business_key
            for r in self._instances("card_review")
            if r.state in engine.definition("card_review").tagged("live")
        }
        assert all(n == 1 or key in in_review for key, n in counts.items()), counts

    @invariant()
    def one_live_year_per_person_and_policy(self) -> None:
        live = engine_of(self.j.app).definition("enrollment").tagged("live")
        counts = Counter(r.business_key for r in self._instances("enrollment") if r.state in live)
        assert all(n == 1 for n in counts.values()), counts

    @invariant()
    def every_paid_year_has_its_payment(self) -> None:
        engine, domain = engine_of(self.j.app), domain_of(self.j.app)
        paid = engine.definition("enrollment").tagged("paid")
        for row in self._instances("enrollment"):
            if row.state not in paid:
                continue
            payment = row.variables["payment"]
            if payment["payer_kind"] == "medical_assistance":  # the fund paid all: nothing due
                assert payment["payer_id_number"] is None
            else:
                assert payment["payer_kind"] in ("self", "family", "on_behalf")
                assert payment["payer_id_number"]
            policy = domain.policy_of(row.variables)
            moment = datetime.fromisoformat(payment["paid_at"])
            assert Decimal(payment["amount"]) == amount_due(policy, row.variables, moment)


def test_random_journeys_over_the_api(sqlite_template: Path, tmp_path: Path) -> None:
    ApiJourneys.template, ApiJourneys.folder = sqlite_template, tmp_path
    ApiJourneys.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    ApiJourneys.TestCase().runTest()
