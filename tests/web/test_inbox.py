"""The task inbox: scope, filters, keyset pages, claim, release and complete with the task's form
(checked by the engine by the definition's field types), the task's facts and reference choices."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import insert
from staff_login import client_for
from support import confirmation_of, counter_card

from engine import queries
from engine import statements as st
from engine.clock import SimulatedClock
from engine.runtime import Engine
from web.app import engine_of
from web.auth import create_user
from web.extensions import domain_of
from web.pages import inbox_queries as iq
from workflows.imports import import_people
from workflows.people import Registration, register_person

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""
PERSON = "11010519491231002X"
OTHER = "440524188001010014"
ZHANG = "350521199001010017"  # registers in Hui'an
HOLDER = "440604198003030050"  # holds several Foshan cards


def card_awaiting_activation(app: Flask, person: str = PERSON, bank: str = "icbc") -> int:
    card = counter_card(app, person, bank=bank, events=("produce", "notify_holder"))
    return card.instance_id


def open_task(engine: Engine, instance_id: int) -> int:
    return int(queries.tasks_of(engine.db, instance_id, "open")[0]["id"])


def test_a_teller_sees_the_tasks_of_their_bank_only(app: Flask) -> None:
    engine = engine_of(app)
    mine = open_task(engine, card_awaiting_activation(app))
    theirs = open_task(engine, card_awaiting_activation(app, OTHER, bank="boc"))
    page = client_for(app, "wang").get("/inbox/").get_data(as_text=True)
    assert f'data-task-id="{mine}"' in page and f'data-task-id="{theirs}"' not in page
    assert "核验身份并激活" in page
    assert PERSON not in page and "110105********002X" in page


def without_csrf_token(page: str) -> str:
    """The page without its CSRF tokens, signed with the wall clock's second (two pages a second
    apart carry different ones: a slow run failed on that)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


def test_another_banks_teller_gets_404_on_the_task_as_for_an_unknown_one(app: Flask) -> None:
    engine = engine_of(app)
    task = open_task(engine, card_awaiting_activation(app))
    chen = client_for(app, "chen")
    unknown = chen.get("/inbox/99999")
    hidden = chen.get(f"/inbox/{task}")
    assert hidden.status_code == unknown.status_code == 404
    assert without_csrf_token(hidden.get_data(as_text=True)) == without_csrf_token(
        unknown.get_data(as_text=True).replace("99999", str(task))
    )
    assert chen.post(f"/inbox/{task}/claim").status_code == 404
    done = chen.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON})
    assert done.status_code == 404
    for action in ("follow-up", "comments", "delegate", "resolve"):
        assert chen.post(f"/inbox/{task}/{action}", data={"body": "x"}).status_code == 404
    assert queries.instance(engine.db, 1)["state"] == "awaiting_activation"  # type: ignore[index]


def test_claim_and_complete_an_activation(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)
    wang = client_for(app, "wang")
    assert wang.post(f"/inbox/{task}/claim").status_code == 302
    assert 'id="assignee">wang' in wang.get(f"/inbox/{task}").get_data(as_text=True)
    mine = wang.get("/inbox/?mine=1").get_data(as_text=True)
    assert f'data-task-id="{task}"' in mine
    done = wang.post(
        f"/inbox/{task}/complete", data={"presented_id_number": PERSON, "outcome": "activate"}
    )
    assert done.status_code == 302
    assert queries.instance(engine.db, card)["state"] == "active"  # type: ignore[index]
    assert queries.history(engine.db, card)[-1]["actor"] == "wang"
    assert "任务已办结" in wang.get(done.location).get_data(as_text=True)


def test_release_gives_the_task_back(app: Flask) -> None:
    engine = engine_of(app)
    task = open_task(engine, card_awaiting_activation(app))
    wang = client_for(app, "wang")
    wang.post(f"/inbox/{task}/claim")
    zhao = client_for(app, "zhao")
    refused = zhao.post(f"/inbox/{task}/claim")
    assert refused.status_code == 409 and "已由 wang 认领" in refused.get_data(as_text=True)
    wang.post(f"/inbox/{task}/release")
    assert zhao.post(f"/inbox/{task}/claim").status_code == 302


def test_a_task_a_colleague_holds_shows_its_holder_and_no_actions(app: Flask) -> None:
    engine = engine_of(app)
    task = open_task(engine, card_awaiting_activation(app))
    wang, zhao = client_for(app, "wang"), client_for(app, "zhao")
    assert wang.post(f"/inbox/{task}/claim").status_code == 302
    page = zhao.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="held-by-other"' in page and "此任务已由 wang 认领" in page
    for form in ('id="claim"', 'id="complete-form"', 'id="follow-up-form"', 'id="release"'):
        assert form not in page, form
    english = zhao.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "wang has claimed this task: only they may act on it" in english
    refused = zhao.post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-03-05"})
    assert refused.status_code == 409
    assert "A colleague has claimed this task" in refused.get_data(as_text=True)
    assert iq.task(engine.db, task)["follow_up_at"] is None  # type: ignore[index]
    # the holder keeps the form; a supervisor keeps reassigning and unclaiming
    mine = wang.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="complete-form"' in mine and 'id="held-by-other"' not in mine
    boss = client_for(app, "boss").get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="assign-form"' in boss and 'id="unassign-form"' in boss


@pytest.mark.parametrize(
    ("presented", "says"),
    [
        ("11010519491231002", "应为 18 位"),
        ("110105194912310021", "校验位错误"),
        ("110105194913310029", "出生日期"),
        (OTHER, "与申领时使用的证件不一致"),
    ],
)
def test_a_wrong_presented_id_is_refused_with_the_reason(
    app: Flask, presented: str, says: str
) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)
    response = client_for(app, "wang").post(
        f"/inbox/{task}/complete", data={"presented_id_number": presented}
    )
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert queries.instance(engine.db, card)["state"] == "awaiting_activation"  # type: ignore[index]


def test_the_second_completer_is_told_it_was_already_handled(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)
    wang, zhao = client_for(app, "wang"), client_for(app, "zhao")
    assert zhao.get(f"/inbox/{task}").status_code == 200  # both have the form open
    first = wang.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON})
    assert first.status_code == 302
    second = zhao.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON})
    assert second.status_code == 409
    assert "该任务已不能办理：任务 " in second.get_data(as_text=True)
    assert "已由 wang 办结" in second.get_data(as_text=True)
    english = zhao.post(f"/inbox/{task}/complete?lang=en", data={"presented_id_number": PERSON})
    flashed = re.search(r'class="flash error"[^>]*>([^<]*)<', english.get_data(as_text=True))
    assert flashed and "can no longer be done here: " in flashed.group(1)
    assert "already completed by wang" in flashed.group(1)
    assert "：" not in flashed.group(1)  # English punctuation in an English sentence


def test_a_supervisor_reads_a_tellers_task_but_cannot_complete_it(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)
    boss = client_for(app, "boss")
    page = boss.get(f"/inbox/{task}").get_data(as_text=True)
    assert "您可查看但不能办理此任务" in page and "<svg" in page
    assert (
        boss.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON}).status_code
        == 403
    )
    listing = boss.get("/inbox/?group=bank_teller").get_data(as_text=True)
    assert f'data-task-id="{task}"' in listing


def test_overdue_and_due_within_filters(app: Flask, clock: SimulatedClock) -> None:
    engine = engine_of(app)
    early = open_task(engine, card_awaiting_activation(app))
    clock.advance(timedelta(days=20))
    late = open_task(engine, card_awaiting_activation(app, OTHER))
    clock.advance(timedelta(days=15))  # the first is now 5 days overdue, the second due in 15
    wang = client_for(app, "wang")
    overdue = wang.get("/inbox/?overdue=1").get_data(as_text=True)
    assert f'data-task-id="{early}"' in overdue and f'data-task-id="{late}"' not in overdue
    soon = wang.get("/inbox/?within=10").get_data(as_text=True)
    assert f'data-task-id="{early}"' in soon and f'data-task-id="{late}"' not in soon
    later = wang.get("/inbox/?within=20").get_data(as_text=True)
    assert f'data-task-id="{late}"' in later
    kind = wang.get("/inbox/?kind=close_bank_account").get_data(as_text=True)
    assert "data-task-id" not in kind and "没有符合条件的任务" in kind
    region = wang.get("/inbox/?region=huian").get_data(as_text=True)
    assert "data-task-id" not in region
    assert f'data-task-id="{early}"' in wang.get("/inbox/?region=foshan").get_data(as_text=True)


def _bulk_tasks(engine: Engine, instance_id: int, dues: list[datetime | None]) -> None:
    rows = [
        {
            "instance_id": instance_id,
            "process": "card",
            "name": "activate_card",
            "state": "awaiting_activation",
            "candidate_group": "bank_teller",
            "scope": "icbc",
            "status": "open",
            "created_at": NOW,
            "due_at": due,
        }
        for due in dues
    ]
    with engine.db.begin() as conn:
        conn.execute(insert(st.tasks), rows)


def test_keyset_pages_cover_every_task_once_in_due_order_undated_last(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    dues: list[datetime | None] = [NOW + timedelta(hours=h % 17) for h in range(90)]
    _bulk_tasks(engine, card, dues + [None] * 25)
    seen: list[tuple[bool, datetime, int]] = []
    cursor = None
    for _ in range(10):
        page = iq.open_tasks(
            engine.db, "bank_teller", "icbc", username="wang", now=NOW, cursor=cursor, limit=20
        )
        seen += [(r["due_at"] is None, r["due_at"] or NOW, r["id"]) for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = iq.Cursor.decode(page.next_cursor)
    assert len(seen) == 116 and len({s[2] for s in seen}) == 116
    assert seen == sorted(seen)
    assert all(s[0] for s in seen[-25:])
    every_scope = iq.open_tasks(engine.db, "bank_teller", None, username="", now=NOW, limit=200)
    assert len(every_scope.rows) == 116


def test_the_inbox_pages_follow_the_cursor_in_the_url(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    _bulk_tasks(engine, card, [NOW + timedelta(days=d) for d in range(60)])
    wang = client_for(app, "wang")
    first = wang.get("/inbox/").get_data(as_text=True)
    assert first.count("data-task-id=") == 50
    next_url = first.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = wang.get(next_url.replace("&amp;", "&")).get_data(as_text=True)
    assert second.count("data-task-id=") == 11
    assert 'id="next-page"' not in second


def test_a_task_shows_its_facts_and_the_engine_checks_its_form(
    app: Flask, clock: SimulatedClock
) -> None:
    """A registration review (huian.txt:35): the clerk sees the declared facts beside the form;
    a value outside the form's choices or a field the form does not have is refused with the
    field named, the entered values stay on the page, and nothing changes."""
    clock.set(datetime(2022, 10, 10, 2, tzinfo=UTC))  # within huian-2023's payment period
    engine = engine_of(app)
    create_user(engine.db, "mi_huian", "pw", "medical_insurance_clerk", "huian")
    create_user(engine.db, "mi_foshan", "pw", "medical_insurance_clerk", "foshan")
    person = register_person(
        engine,
        domain_of(app),
        Registration(
            id_number=ZHANG,
            name="张伟",
            region="huian",
            residence="residence_permit",
            household="H-0301",
            reduction_categories=("low_income",),
            flags=("disabled",),  # huian.txt:59: a low-income 减免对象 at 42
        ),
        actor="counter",
    ).instance_id
    task = open_task(engine, person)
    clerk = client_for(app, "mi_huian")
    page = clerk.get(f"/inbox/{task}").get_data(as_text=True)
    facts = page[page.index('id="task-facts"') :]
    for shown in ("姓名", "张伟", "户号", "H-0301", "申报的减免类别"):
        assert shown in facts, shown
    assert "low_income" in facts or "低收入家庭成员" in facts
    assert ZHANG not in page and "350521********0017" in page
    assert '<option value="hmt_residence_permit"' in page  # the choice field's options
    assert client_for(app, "mi_foshan").get(f"/inbox/{task}").status_code == 404

    approve = {"outcome": "approve_registration", "note": "已核验原件"}
    wrong = clerk.post(f"/inbox/{task}/complete", data={**approve, "document_kind": "passport"})
    assert wrong.status_code == 422
    text = wrong.get_data(as_text=True)
    assert "document_kind" in text and "应为以下之一" in text
    assert 'value="已核验原件"' in text  # what the clerk typed is kept
    stray = clerk.post(
        f"/inbox/{task}/complete",
        data={**approve, "document_kind": "residence_permit", "stamp": "x"},
    )
    assert stray.status_code == 422 and "不是此表单的字段" in stray.get_data(as_text=True)
    assert queries.instance(engine.db, person)["state"] == "registration_review"  # type: ignore[index]

    done = clerk.post(
        f"/inbox/{task}/complete", data={**approve, "document_kind": "residence_permit"}
    )
    assert done.status_code == 302
    assert queries.instance(engine.db, person)["state"] == "insured"  # type: ignore[index]
    approval = queries.history(engine.db, person)[-1]
    assert (approval["event"], approval["actor"]) == ("approve_registration", "mi_huian")
    assert approval["data"] == {"document_kind": "residence_permit", "note": "已核验原件"}
    # the approval opened the year whose payment period is open, in the same transaction
    [(year, state)] = queries.by_business_key(engine.db, "enrollment", f"{ZHANG}:huian-2023")
    assert state == "registered"
    assert queries.instance(engine.db, year)["variables"]["reduction_categories"] == [  # type: ignore[index]
        "low_income"
    ]


def test_the_clerk_sees_the_declared_flags_in_words(app: Flask, clock: SimulatedClock) -> None:
    """huian.txt:59: for a low-income family member of 42 the declared flag ``disabled`` alone
    turns the 70% reduction on, so the clerk checking the registration sees it, in words."""
    clock.set(datetime(2022, 10, 10, 2, tzinfo=UTC))
    engine = engine_of(app)
    create_user(engine.db, "mi_huian", "pw", "medical_insurance_clerk", "huian")
    person = register_person(
        engine,
        domain_of(app),
        Registration(
            id_number=ZHANG,
            name="张伟",
            region="huian",
            reduction_categories=("low_income",),
            flags=("disabled", "new_student"),
        ),
        actor="counter",
    ).instance_id
    task = open_task(engine, person)
    clerk = client_for(app, "mi_huian")
    for lang, words in (
        ("zh", ("申报的情形", "残疾人、新入学学生")),
        ("en", ("Circumstances declared", "Disabled person, New student")),
    ):
        page = clerk.get(f"/inbox/{task}?lang={lang}").get_data(as_text=True)
        facts = page[page.index('id="task-facts"') :].split("</dl>")[0]
        for shown in words:
            assert shown in facts, (lang, shown)
        assert "disabled" not in facts and "new_student" not in facts  # words, not keys


def rows_with_cards(
    people: list[tuple[str, tuple[str, str, str]]],
) -> list[tuple[int, dict[str, str]]]:
    """People-import rows from line 2, one card each: (ID number, (bank, state, region code)),
    all named 陈明 in foshan, card numbers 4400000000 and the line."""
    return [
        (
            line,
            {
                "id_number": number,
                "name": "陈明",
                "region": "foshan",
                "card_number": f"4400000000{line:02d}",
                "card_bank": bank,
                "card_state": state,
                "card_region_code": code,
            },
        )
        for line, (number, (bank, state, code)) in enumerate(people, start=2)
    ]


def test_a_reference_field_offers_the_persons_usable_cards_only(app: Flask) -> None:
    """One person, several cards in a province (huian.txt:7-9): the review's select offers the
    person's usable cards and nothing else; keeping one cancels the other usable ones."""
    engine = engine_of(app)
    create_user(engine.db, "ss_foshan", "pw", "social_security_clerk", "foshan")
    cards = [("icbc", "active", "440604"), ("boc", "awaiting_activation", "440605")]
    cards.append(("abc", "lost", "440604"))
    rows = rows_with_cards([(HOLDER, c) for c in cards] + [(OTHER, ("icbc", "active", "440604"))])
    report = import_people(engine, domain_of(app), rows, actor="t")
    assert report.rejected == [] and report.reviews_opened == 1
    [review] = [r.review_id for r in report.results if r.review_id is not None]
    ids = {bank: r.card_id for r, (bank, _, _) in zip(report.results[:3], cards, strict=True)}
    other_card = report.results[-1].card_id
    task = open_task(engine, review)  # type: ignore[arg-type]

    clerk = client_for(app, "ss_foshan")
    page = clerk.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'data-reference="card"' in page
    offered = {int(i) for i in re.findall(r'<option value="(\d+)"', page)}
    assert offered == {ids["icbc"], ids["boc"]}  # not the lost card, not another person's
    assert "440000000002" not in page and "44********02" in page  # card numbers masked

    # resolving ends the review and cancels cards: the page asks first, and nothing changes
    asked = clerk.post(
        f"/inbox/{task}/complete", data={"outcome": "resolve", "keep_card_id": str(ids["boc"])}
    )
    assert asked.status_code == 200 and 'id="confirm-panel"' in asked.get_data(as_text=True)
    # the confirmation names the card that will be kept: number masked, bank, state's label
    [panel] = re.findall(r'id="confirm-panel".*?</div>', asked.get_data(as_text=True), re.S)
    [kept] = re.findall(r'id="confirm-keep_card_id">(.*?)</p>', panel, re.S)
    assert "保留的社保卡" in kept and f"#{ids['boc']} " in kept
    assert "44********03" in kept and "中国银行" in kept and "待激活" in kept
    assert "440000000003" not in panel and "awaiting_activation" not in panel
    assert f"#{ids['icbc']} " not in panel
    english = client_for(app, "ss_foshan")
    english.get(f"/inbox/{task}?lang=en")
    asked = english.post(
        f"/inbox/{task}/complete", data={"outcome": "resolve", "keep_card_id": str(ids["boc"])}
    )
    [kept] = re.findall(r'id="confirm-keep_card_id">(.*?)</p>', asked.get_data(as_text=True), re.S)
    assert "The card to keep" in kept and "Bank of China" in kept and "Awaiting activation" in kept
    assert queries.instance(engine.db, ids["icbc"])["state"] == "active"  # type: ignore[index]
    keep = {"outcome": "resolve", "confirmed": confirmation_of(asked.get_data(as_text=True))}
    refused = clerk.post(f"/inbox/{task}/complete", data={**keep, "keep_card_id": str(other_card)})
    assert refused.status_code == 422 and "不是可选的对象" in refused.get_data(as_text=True)
    assert queries.instance(engine.db, ids["icbc"])["state"] == "active"  # type: ignore[index]
    done = clerk.post(f"/inbox/{task}/complete", data={**keep, "keep_card_id": str(ids["boc"])})
    assert done.status_code == 302
    states = {b: queries.instance(engine.db, i)["state"] for b, i in ids.items()}  # type: ignore[index]
    assert states == {"icbc": "cancelled", "boc": "awaiting_activation", "abc": "lost"}
    assert queries.instance(engine.db, other_card)["state"] == "active"  # type: ignore[arg-type,index]
    # the cancelled card's account is closed at its own bank's counter
    [closing] = queries.tasks_of(engine.db, ids["icbc"], "open")  # type: ignore[arg-type]
    assert (closing["name"], closing["scope"]) == ("close_bank_account", "icbc")


def test_a_malformed_reference_is_refused_before_the_confirmation(app: Flask) -> None:
    """A form the engine refuses (a reference of the wrong type, or one the task may not name)
    is refused before the confirmation is asked for, as a missing field is: 422 with the field
    by its label, the typed value given back, nothing changed; a reference a check refused
    counts as a refused attempt, as the confirmed completion would."""
    engine = engine_of(app)
    create_user(engine.db, "ss_foshan", "pw", "social_security_clerk", "foshan")
    cards = [("icbc", "active"), ("abc", "lost"), ("boc", "awaiting_activation")]
    rows = rows_with_cards(
        [(HOLDER, (bank, state, "440604")) for bank, state in cards]
        + [(OTHER, ("icbc", "active", "440604"))]
    )
    report = import_people(engine, domain_of(app), rows, actor="t")
    [review] = [r.review_id for r in report.results if r.review_id is not None]
    other_card = report.results[-1].card_id
    task = open_task(engine, review)  # type: ignore[arg-type]
    clerk = client_for(app, "ss_foshan")

    def attempts() -> int:
        [row] = queries.tasks_of(engine.db, review, "open")  # type: ignore[arg-type]
        return int(row["attempts"])

    before = queries.history(engine.db, review)  # type: ignore[arg-type]
    malformed = clerk.post(
        f"/inbox/{task}/complete", data={"outcome": "resolve", "keep_card_id": "abc"}
    )
    page = malformed.get_data(as_text=True)
    assert malformed.status_code == 422 and 'id="confirm-panel"' not in page
    assert "填写的内容有误：保留的社保卡：应为整数" in page
    assert queries.history(engine.db, review) == before  # type: ignore[arg-type]
    assert attempts() == 0

    not_theirs = clerk.post(
        f"/inbox/{task}/complete", data={"outcome": "resolve", "keep_card_id": str(other_card)}
    )
    page = not_theirs.get_data(as_text=True)
    assert not_theirs.status_code == 422 and 'id="confirm-panel"' not in page
    assert "不是可选的对象" in page
    assert attempts() == 1
    assert queries.history(engine.db, review)[-1]["event"] == "task_refused"  # type: ignore[arg-type]
    states = {queries.instance(engine.db, r.card_id)["state"] for r in report.results}  # type: ignore[arg-type,index]
    assert states == {"active", "lost", "awaiting_activation"}
