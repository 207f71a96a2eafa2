"""A review of a person's extra cards, as the confirmation tests (pages and browser) open one: an
import brings in a Foshan holder with two cards at once."""

from __future__ import annotations

from flask import Flask

from engine import queries
from web.app import domain_of, engine_of
from workflows.imports import import_people


def extra_card_review(app: Flask, holder: str, numbers: str) -> tuple[int, int, dict[str, int]]:
    """``holder`` imported in Foshan with an active ICBC card and a BOC one awaiting activation
    (card numbers ``numbers`` and the file's line in two digits): the review the import opens,
    its open task and the cards by bank."""
    banks = [("icbc", "active"), ("boc", "awaiting_activation")]
    rows = [
        (
            line,
            {
                "id_number": holder,
                "name": "陈明",
                "region": "foshan",
                "card_number": f"{numbers}{line:02d}",
                "card_bank": bank,
                "card_state": state,
                "card_region_code": "440604",
            },
        )
        for line, (bank, state) in enumerate(banks, start=2)
    ]
    engine = engine_of(app)
    report = import_people(engine, domain_of(app), rows, actor="t")
    [review] = [r.review_id for r in report.results if r.review_id is not None]
    assert review is not None
    cards = {bank: r.card_id for r, (bank, _) in zip(report.results, banks, strict=True)}
    task = int(queries.tasks_of(engine.db, review, "open")[0]["id"])
    return review, task, {bank: int(card) for bank, card in cards.items() if card is not None}
