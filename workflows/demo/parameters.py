"""The story's parameters: the demo's defaults, the probabilities of what people and staff do, the
durations of the timeline, the word lists, and the span a story needs.

Proportions are probabilities of actions (``DEDUCTION_FAILS``), never lists of states: the states
are the definitions' own, reached by firing their events. ``story_start`` and ``check_demo`` read
the policies for when the story begins and which demos it can tell.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from workflows.domain import Domain

DEMO_AT = datetime(2022, 2, 15, 10, 0, tzinfo=timezone(timedelta(hours=8)))
"""The default demo date: Foshan's 2022 period open, Hui'an's 2022 period just over."""
DEFAULT_PEOPLE = 2000
DEFAULT_SEED = 2022

# -- who the people are ---------------------------------------------------------------------
NEWCOMER = 0.05  # registers during the simulation (参保登记) instead of being imported
HOLDS_REDUCTION = 0.04  # holds one of the region's reduction categories, if it has any
RESIDENCE_PERMIT = 0.15  # registers with a residence permit, not the household register
IN_DEDUCTION_AGREEMENT = 0.85  # the tax authority deducts the premium from their account
NEVER_COLLECTS = 0.08  # never comes for a new card: reminded, then sealed after a year
HOUSEHOLD_SIZE = 3  # neighbours in the list share a household (family payments)
BANKS_PER_REGION = 3  # the partner banks the demo's cards are at, drawn from each region's list
# -- their cards when imported --------------------------------------------------------------
NO_CARD_YET = 0.03
CARD_AWAITING_COLLECTION = 0.04
CARD_REPORTED_LOST = 0.015
EXTRA_CARD = 1 / 60  # a second usable card at another bank: an extra-card review
# -- what people do --------------------------------------------------------------------------
LOSES_CARD = 0.05  # reports the card lost in the last six months before the demo date
REISSUE_AFTER_LOSS = 0.85  # applies for a new card (补领) after a loss
APPLIES_FOR_CARD = 0.75  # someone without a card applies for one
FAST_ISSUANCE_SHARE = 0.2  # of applications: at a fast-issuance outlet, activated on the spot
ONLINE_SHARE = 0.3  # of applications: online (the rest at a bank counter)
DEDUCTION_FAILS = 0.15  # the batch deduction fails (low balance, account frozen)
SECOND_DEDUCTION_SUCCEEDS = 0.4  # the next batch succeeds after a failure
PAYS_THEMSELVES = 0.6  # pays within the period after a failure or without an agreement
FAMILY_PAYS = 0.25  # of self-payments: paid by a household member (家庭缴费)
PAYS_LATE = 0.35  # pays after the deadline where the policy accepts it
REQUESTS_REFUND = 0.03  # also insured as an employee: asks for a duplicate-payment refund
PAYS_AFTER_REGISTRATION = 0.8
EXTRA_CARD_FOUND = 1 / 60  # the province-wide one-card check of the last weeks finds one
# -- the office ------------------------------------------------------------------------------
STAFF_PICKS_UP = 0.15  # a task that waited MIN_TASK_AGE is done on a given working day
HOLDER_COMES_IN = 0.1  # a notified holder comes to the bank on a given working day
REGISTRATION_APPROVED = 0.9
REFUND_APPROVED = 0.9
MIN_TASK_AGE = timedelta(days=4)

# -- the timeline ---------------------------------------------------------------------------
LEAD = timedelta(days=29)  # the story starts this long before the first payment period
DEDUCTION_BATCHES = (timedelta(days=45), timedelta(days=100))  # after a period opens
REFUND_WINDOW = timedelta(days=28)  # requests come in the last four weeks of the window
LATE_WINDOW = timedelta(days=90)  # late payers pay within this long after the deadline
LOSS_WINDOW = timedelta(days=180)
REGISTRATION_WINDOW = timedelta(days=160)
PROVINCIAL_CHECK = timedelta(days=21)  # before the demo date
PRODUCTION_DAYS = (8, 16)  # (practice, NOTES.md) about 12 working days in Guangdong
OFFICE_HOURS = (9, 17)
ROUNDS_AT = time(8, 30)  # staff look at their inboxes, then do the day's work in office hours
MIN_SPAN = timedelta(days=60)  # the shortest simulation: the demo date this long after the start

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国平志红玉兰桂萍海燕霞鹏宇晨欣怡子涵"
PAYMENT_CHANNELS = ("tax_app", "wechat", "alipay", "bank_counter", "tax_hall")
FAILURE_REASONS = ("余额不足 / insufficient balance", "账户状态异常 / account frozen")
EVIDENCE = "职工医保参保证明 / proof of employee insurance"

# -- who acts (the actors the history records) ------------------------------------------------
IMPORT = "import"
OFFICE = "office"
TAX = "tax_authority"
FACTORY = "card_factory"


def story_start(domain: Domain) -> datetime:
    """When the simulation begins: ``LEAD`` before the earliest payment period, 09:00 local."""
    first = min(
        (p for p in domain.policies.values()), key=lambda p: p.date_value("payment_period.start")
    )
    begins = first.date_value("payment_period.start") - LEAD
    zone = ZoneInfo(first.timezone)
    return datetime.combine(begins.astimezone(zone).date(), time(9), zone)


def check_demo(domain: Domain, *, people: int, at: datetime) -> None:
    """Refuse a demo the story cannot tell (before anything is written).

    Raises:
        ValueError: ``at`` is naive or earlier than ``MIN_SPAN`` after ``story_start``, or
            ``people`` is below one household (``HOUSEHOLD_SIZE``) per region.
    """
    if at.tzinfo is None:
        raise ValueError("the demo date needs a time zone")
    least = len(domain.regions) * HOUSEHOLD_SIZE
    if people < least:
        raise ValueError(f"the demo needs at least {least} people")
    earliest = story_start(domain) + MIN_SPAN
    if at < earliest:
        raise ValueError(f"the demo date must be {earliest.isoformat()} or later")
