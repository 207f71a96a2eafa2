"""The demo data set, made by a simulation: the service's own operations on a simulated clock.

``seed_demo`` drives the domain's operations (imports, registrations, years opened, the tax
authority's deductions, payments, card applications, losses, refund requests), the staff's task
decisions and the real timer sweep (lapses, reminders, sealing, and the periodic renewals) along a
clock that runs from before the first payment period up to the demo date, a day at a time. Every
state the demo shows was reached by the rules the service runs; nothing is written to a table
directly, and the timeline matches the policies: at the default date, 2022-02-15, Foshan's 2022
period is still open (renewals and failed deductions can be paid until 2022-02-28, refunds are being
requested), Hui'an's 2022 period is over (paid, paid late and lapsed years), and every group of
staff has work in its inbox.

The storyline, for people alternating between the regions (each step where the policies have it):

- Before the first period (2020-08): the existing population is imported with their cards: most
  active, some waiting to be collected, a few lost, some without a card yet, one in about sixty
  with a second usable card at another bank (an extra-card review for a social-security clerk).
- Each payment period (from the policy files): the periodic job renews last year's insured in
  good standing when the period opens (默认续保); the office opens the year for every other insured
  person; the tax authority's batch deductions run six weeks and fourteen weeks in (successes and
  failures); people whose deduction failed or who have no deduction agreement pay themselves, or a
  family member pays; the sweep lapses unpaid years at the deadline; where late payment is
  accepted some lapsed people pay late; where duplicate-payment refunds are accepted, people also
  insured as employees ask for one in the window's last weeks.
- All along: newcomers register (a clerk checks the documents, the approval opens the year they
  pay); holders report cards lost by 12333 (a temporary report, which lapses after the region's
  term) and most make the loss formal at the bank and apply for a reissue; people without a card
  apply (at the counter, online, or at a fast-issuance outlet); the factory produces cards, the
  bank notifies holders, holders come in to activate; a province-wide check finds more extra
  cards in the last weeks.
- Staff work their inboxes every working day: a task that has waited a few days is done with a
  given probability, so recent work, and some older work, is still open at the demo date. In the
  last weeks, at every demo bank one holder reports a loss, makes it formal and has a replacement
  waiting, two days before one reports a loss formally at the bank and another by 12333 (still
  temporary at the demo date), and in every region a newcomer registers, a refund is requested
  (where the policy accepts one) and an extra card is found: every demo account has tasks, even
  in a small demo.

Proportions are probabilities of actions (``DEDUCTION_FAILS``), never lists of states: the states
are the definitions' own, reached by firing their events. Deterministic: a seeded random generator
and the simulated clock decide everything, so the same seed gives the same data.

The modules, each a layer over the one before (no cycles):

- ``parameters``: the defaults, probabilities, durations, word lists; ``story_start``,
  ``check_demo``.
- ``population``: the residents (names, ID numbers, banks, households) and their import rows.
- ``stage``: the shared state (clock, engine, random generator, agenda, states, reads).
- ``residents``: the import, registrations, card applications, losses, extra cards found.
- ``years``: enrollment years opened, deducted, paid (late), refunds requested.
- ``staff``: the daily inbox work of clerks and tellers.
- ``story``: ``seed_demo`` and the ``Simulation``'s plan and run.
- ``summary``: ``DemoSummary``, read at the demo date, and its lines.
"""

from workflows.demo.parameters import (
    DEFAULT_PEOPLE,
    DEFAULT_SEED,
    DEMO_AT,
    check_demo,
    story_start,
)
from workflows.demo.story import seed_demo
from workflows.demo.summary import DemoSummary

__all__ = [
    "DEFAULT_PEOPLE",
    "DEFAULT_SEED",
    "DEMO_AT",
    "DemoSummary",
    "check_demo",
    "seed_demo",
    "story_start",
]
