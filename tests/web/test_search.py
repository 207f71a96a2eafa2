"""Staff search and the person page: each kind of key, who sees what, ID numbers never in a URL
or a log line, bad input answered with a clear 4xx and nothing changed."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from staff_login import client_for
from support import MakeApp

from engine import queries
from engine import statements as st
from engine.clock import SimulatedClock
from web.app import engine_of
from web.extensions import domain_of
from web.models import SearchQuery
from web.pages import search_queries as sq
from web.security_log import events
from web.staff import Staff
from workflows.cards import apply_for_card
from workflows.identity import mask_id_number
from workflows.imports import import_people

SEARCH_DAY = date(2026, 1, 1)
"""The service clock's date the search is made on (ID numbers are born by it)."""

NOW = datetime(2022, 1, 10, 2, 0, tzinfo=UTC)  # inside Foshan's 2022 payment period
CHEN = "440604198003030050"  # Foshan: a lost card at ICBC (imported), a new one at BOC; a year
LIN = "350521199001010017"  # Hui'an: a card at ICBC
CHEN_CARD = "440000000123"
LIN_CARD = "350000000456"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    staff = [
        ("wang", "bank_teller", "icbc"),
        ("chen", "bank_teller", "boc"),
        ("ss_foshan", "social_security_clerk", "foshan"),
        ("mi_foshan", "medical_insurance_clerk", "foshan"),
        ("mi_huian", "medical_insurance_clerk", "huian"),
        ("boss", "supervisor", None),
    ]
    app = make_app(SimulatedClock(NOW), staff=staff)
    engine, domain = engine_of(app), domain_of(app)
    rows = [
        (2, _row(CHEN, "陈明", "foshan", CHEN_CARD, "icbc", "440604", "lost")),
        (3, _row(LIN, "林芳", "huian", LIN_CARD, "icbc", "350521", "active")),
    ]
    report = import_people(engine, domain, rows, actor="t")
    assert report.rejected == []
    card = apply_for_card(
        engine,
        domain.regions,
        id_number=CHEN,
        channel="counter",
        bank="boc",
        region_code="440605",
        actor="t",
    )
    engine.fire(card.instance_id, "produce")
    engine.fire(card.instance_id, "notify_holder")  # a teller's task at BOC
    # the import opened Chen's foshan-2022 year (its period is open at NOW); Lin's Hui'an one is not
    return app


def _row(
    number: str, name: str, region: str, card: str, bank: str, code: str, state: str
) -> dict[str, str]:
    return {
        "id_number": number,
        "name": name,
        "region": region,
        "card_number": card,
        "card_bank": bank,
        "card_state": state,
        "card_region_code": code,
    }


def _ids(page: str, table: str) -> set[int]:
    found = re.search(rf'<table class="grid" id="{table}">(.*?)</table>', page, re.S)
    if found is None:
        return set()
    return {int(i) for i in re.findall(r'data-instance-id="(\d+)"', found.group(1))}


def _tasks(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-task-id="(\d+)"', page)}


def _instance(app: Flask, process: str, key_part: str) -> int:
    with engine_of(app).db.connect() as conn:
        i = st.instances
        return int(
            conn.execute(
                select(i.c.id).where(i.c.process == process, i.c.business_key.contains(key_part))
            ).scalar_one()
        )


def _search(client: FlaskClient, q: str) -> tuple[int, str]:
    """Post a search and follow its redirect to the results page (a refused query: no redirect)."""
    answer = client.post("/search", data={"q": q})
    if answer.status_code == 303:
        assert answer.location.startswith("/search/results/")
        answer = client.get(answer.location)
    return answer.status_code, answer.get_data(as_text=True)


# -- each kind of key ------------------------------------------------------------------------


def test_classify_tells_the_four_keys_apart() -> None:
    assert sq.classify(f"  {CHEN} ", SEARCH_DAY) == sq.Query("id_number", CHEN)
    assert sq.classify("11010519491231002x", SEARCH_DAY).text == "11010519491231002X"
    assert sq.classify(f"44:{CHEN}", SEARCH_DAY).kind == "business_key"
    assert sq.classify(CHEN_CARD, SEARCH_DAY).kind == "card_number"
    assert (
        sq.classify("440604198003030051", SEARCH_DAY).kind == "card_number"
    )  # wrong check character
    assert (
        sq.classify("陈", SEARCH_DAY).kind == "name"
        and sq.classify("Chen Ming", SEARCH_DAY).kind == "name"
    )


def test_a_supervisor_finds_a_person_by_id_number(app: Flask) -> None:
    status, page = _search(client_for(app, "boss"), CHEN)
    person = _instance(app, "person", CHEN)
    assert status == 200 and 'data-kind="id_number"' in page
    assert _ids(page, "people-results") == {person}
    assert len(_ids(page, "card-results")) == 2
    assert len(_ids(page, "enrollment-results")) == 1
    assert len(_tasks(page)) == 2  # closing the lost card's account, activating the new one
    assert CHEN not in page and mask_id_number(CHEN) in page
    assert CHEN_CARD not in page and mask_id_number(CHEN_CARD) in page
    assert f'href="/people/{person}"' in page


def test_an_id_number_typed_in_full_width_digits_is_found(app: Flask) -> None:
    """A Chinese input method in full-width mode types ４４０６０４...: the search reads it as
    the ASCII number (it found nothing, taking it for a name), and the page shows it masked."""
    wide = CHEN.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert sq.classify(wide, SEARCH_DAY) == sq.Query("id_number", CHEN)
    status, page = _search(client_for(app, "boss"), f" {wide} ")
    assert status == 200 and 'data-kind="id_number"' in page
    assert _ids(page, "people-results") == {_instance(app, "person", CHEN)}
    assert wide not in page and CHEN not in page and mask_id_number(CHEN) in page


@pytest.mark.parametrize(
    ("query", "expects"),
    [
        (CHEN_CARD, {"card-results": 1}),
        (f"44:{CHEN}", {"card-results": 2}),
        (f"{CHEN}:foshan-2022", {"enrollment-results": 1}),
        ("陈", {"people-results": 1}),
        ("陈明", {"people-results": 1}),
        ("林", {"people-results": 1}),
    ],
)
def test_each_key_finds_its_records(app: Flask, query: str, expects: dict[str, int]) -> None:
    status, page = _search(client_for(app, "boss"), query)
    assert status == 200
    for table, count in expects.items():
        assert len(_ids(page, table)) == count, (table, page)
    assert CHEN not in page and LIN not in page


def test_a_card_number_searched_for_is_shown_masked(app: Flask) -> None:
    for who in ("boss", "wang"):
        status, page = _search(client_for(app, who), CHEN_CARD)
        assert status == 200 and len(_ids(page, "card-results")) == 1
        assert CHEN_CARD not in page and mask_id_number(CHEN_CARD) in page


def test_nothing_found_is_a_friendly_empty_result(app: Flask) -> None:
    boss = client_for(app, "boss")
    for query in ("王", "999999999999", "44:110105194912310021", "110105194912310021"):
        status, page = _search(boss, query)
        assert status == 200 and 'id="no-results"' in page


def test_the_page_answers_in_english_too(app: Flask) -> None:
    client = client_for(app, "boss")
    client.get("/search?lang=en")
    _, page = _search(client, CHEN)
    assert "Search results" in page and "by ID number" in page and "Cards" in page


# -- who sees what ---------------------------------------------------------------------------


def test_a_teller_finds_the_cards_of_their_bank_only(app: Flask) -> None:
    wang, chen = client_for(app, "wang"), client_for(app, "chen")
    _, page = _search(wang, CHEN)
    assert _ids(page, "people-results") == set() and _ids(page, "enrollment-results") == set()
    [card] = _ids(page, "card-results")
    assert queries.instance(engine_of(app).db, card)["variables"]["bank"] == "icbc"  # type: ignore[index]
    assert len(_tasks(page)) == 1  # closing the lost card's account (the activation is BOC's)
    _, theirs = _search(chen, CHEN)
    [boc_card] = _ids(theirs, "card-results")
    assert boc_card != card and len(_tasks(theirs)) == 1
    _, by_number = _search(chen, CHEN_CARD)  # the imported card is at ICBC
    assert 'id="no-results"' in by_number
    _, by_name = _search(wang, "陈")
    assert 'id="no-results"' in by_name  # tellers see no one's personal record
    assert wang.get(f"/people/{_instance(app, 'person', CHEN)}").status_code == 404
    assert chen.get(f"/records/{card}").status_code == 404  # as for an unknown record
    assert wang.get(f"/records/{card}").status_code == 200


def test_a_clerk_sees_the_people_of_their_region_only(app: Flask) -> None:
    foshan, huian = client_for(app, "mi_foshan"), client_for(app, "mi_huian")
    _, page = _search(foshan, "林")
    assert 'id="no-results"' in page
    _, page = _search(huian, "林")
    assert len(_ids(page, "people-results")) == 1
    _, page = _search(huian, CHEN)
    assert 'id="no-results"' in page
    _, page = _search(foshan, CHEN)
    assert len(_ids(page, "people-results")) == 1 and len(_ids(page, "card-results")) == 2
    assert _tasks(page) == set()  # bank tellers' tasks, not a clerk's
    person = _instance(app, "person", CHEN)
    assert huian.get(f"/people/{person}").status_code == 404
    assert foshan.get(f"/people/{person}").status_code == 200


def test_the_sql_visibility_agrees_with_may_see(app: Flask) -> None:
    """The name search filters in SQL; the other keys in Python: the two agree."""
    db, regions = engine_of(app).db, domain_of(app).regions
    for user in [
        Staff(1, "a", "a", "medical_insurance_clerk", "foshan"),
        Staff(2, "b", "b", "social_security_clerk", "huian"),
        Staff(3, "c", "c", "bank_teller", "icbc"),
        Staff(4, "d", "d", "supervisor", None),
    ]:
        for prefix in ("陈", "林"):
            by_name = {
                r["id"] for r in sq.search(db, regions, user, sq.Query("name", prefix)).people
            }
            with db.connect() as conn:
                rows = conn.execute(select(*sq._COLUMNS).where(st.instances.c.process == "person"))  # noqa: SLF001
                expected = {
                    r.id
                    for r in rows
                    if r.variables["name"].startswith(prefix)
                    and sq.sees_people(user)
                    and sq.may_see(user, "person", r.variables)
                }
            assert by_name == expected, (user, prefix)


# -- the person page -------------------------------------------------------------------------


def test_the_person_page_shows_cards_years_tasks_and_histories(app: Flask) -> None:
    person = _instance(app, "person", CHEN)
    answer = client_for(app, "boss").get(f"/people/{person}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "陈明" in page and mask_id_number(CHEN) in page and CHEN not in page
    assert len(_ids(page, "person-card-list")) == 2
    assert re.search(r'id="year-\d+"', page) and "2022" in page
    assert "元" in page  # the amount due of the unpaid year
    assert len(_tasks(page)) == 2
    assert page.count('class="history-of"') == 4  # the person, two cards, one year
    assert "工商银行" in page and "中国银行" in page


def test_a_record_page_links_to_its_person_for_those_who_see_people(app: Flask) -> None:
    year = _instance(app, "enrollment", f"{CHEN}:")
    person = _instance(app, "person", CHEN)
    page = client_for(app, "mi_foshan").get(f"/records/{year}").get_data(as_text=True)
    assert f'href="/people/{person}"' in page and CHEN not in page
    boss = client_for(app, "boss")
    assert boss.get(f"/records/{person}").location == f"/people/{person}"
    assert boss.get("/records/99999").status_code == 404
    assert boss.get("/people/99999").status_code == 404
    assert boss.get(f"/people/{year}").status_code == 404


# -- ID numbers stay out of URLs and logs ----------------------------------------------------


def test_no_id_number_in_a_url_a_link_or_a_log_line(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(app, "boss")
    caplog.set_level(logging.DEBUG)
    answer = client.post("/search", data={"q": CHEN})
    assert answer.status_code == 303 and CHEN not in answer.location  # an opaque token
    assert CHEN not in str(answer.headers)  # nor in a cookie
    page = client.get(answer.location).get_data(as_text=True)
    links = re.findall(r'(?:href|action|src)="([^"]*)"', page)
    assert links and not any(re.search(r"\d{17}[\dXx]", link) for link in links)
    assert 'value="' + CHEN not in page  # the box is not refilled with the number
    for link in {link for link in links if link.startswith(("/people/", "/records/"))}:
        followed = client.get(link)
        assert CHEN not in followed.get_data(as_text=True) and CHEN not in (followed.location or "")
    assert CHEN not in caplog.text
    with engine_of(app).db.connect() as conn:
        audit = conn.execute(select(events.c.detail).where(events.c.kind == "staff_search")).all()
    assert audit and all(CHEN not in str(row.detail) for row in audit)


# -- post/redirect/get ----------------------------------------------------------------------


def _kept(app: Flask) -> list[Any]:
    with engine_of(app).db.connect() as conn:
        return list(conn.execute(select(SearchQuery.__table__)).all())


def test_a_search_redirects_to_its_results_which_open_again_by_get(app: Flask) -> None:
    boss = client_for(app, "boss")
    answer = boss.post("/search", data={"q": CHEN})
    assert answer.status_code == 303
    token = answer.location.removeprefix("/search/results/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    first, again = boss.get(answer.location), boss.get(answer.location)  # Back, reload
    assert first.status_code == again.status_code == 200
    page = again.get_data(as_text=True)
    assert _ids(page, "people-results") == {_instance(app, "person", CHEN)}
    assert CHEN not in page and 'data-kind="id_number"' in page
    [kept] = _kept(app)
    assert kept.token == token and kept.query == CHEN  # server-side, not in a URL or cookie


def test_a_results_page_opens_only_in_the_login_that_searched_and_not_for_ever(
    app: Flask,
) -> None:
    clerk = client_for(app, "mi_foshan")
    location = clerk.post("/search", data={"q": CHEN}).location
    assert clerk.get(location).status_code == 200
    for other in (client_for(app, "mi_foshan"), client_for(app, "boss")):  # another login
        answer = other.get(location)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 404 and "请重新查询" in page and 'id="search-box"' in page
        assert _ids(page, "people-results") == set() and mask_id_number(CHEN) not in page
    assert clerk.get("/search/results/not-a-token").status_code == 404
    clock = engine_of(app).clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(hours=13))  # longer than any login session lives
    fresh = client_for(app, "ss_foshan")
    assert fresh.post("/search", data={"q": "陈"}).status_code == 303
    assert [k.query for k in _kept(app)] == ["陈"]  # the old query is gone


def test_a_logins_searches_end_with_it(app: Flask) -> None:
    """The query (a full ID number) lives no longer than the login that made it: logging out,
    changing the password or ending other sessions deletes it, without anyone searching again."""
    boss, clerk = client_for(app, "boss"), client_for(app, "mi_foshan")
    location = boss.post("/search", data={"q": CHEN}).location
    clerk.post("/search", data={"q": LIN})
    assert sorted(k.query for k in _kept(app)) == sorted([CHEN, LIN])
    assert boss.post("/logout").status_code == 302
    assert [k.query for k in _kept(app)] == [LIN]  # the clerk's login is still live
    assert boss.get(location).status_code == 302  # logged out: to the login page
    other = client_for(app, "mi_foshan")  # the clerk's second login ends the first one
    assert other.post("/account/sessions/end-others").status_code == 302
    assert _kept(app) == []
    other.post("/search", data={"q": CHEN})
    answer = other.post(
        "/account/password",
        data={
            "current_password": "pw",
            "new_password": "N3w-pass-phrase!",
            "repeat_password": "N3w-pass-phrase!",
        },
    )
    assert answer.status_code == 302
    assert _kept(app) == []  # the password change ended the login that searched


def test_an_expired_logins_searches_go_at_the_next_login(app: Flask) -> None:
    clerk = client_for(app, "mi_foshan")
    clerk.post("/search", data={"q": CHEN})
    clock = engine_of(app).clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(minutes=31))  # idle longer than a login lives: ended, never logged out
    assert [k.query for k in _kept(app)] == [CHEN]
    client_for(app, "wang")  # anyone's login, no search
    assert _kept(app) == []


def test_a_login_keeps_its_latest_searches_only(app: Flask) -> None:
    from web.pages.search import KEPT_PER_SESSION

    boss = client_for(app, "boss")
    locations = [boss.post("/search", data={"q": f"陈{i}"}).location for i in range(25)]
    assert len(_kept(app)) == KEPT_PER_SESSION
    assert boss.get(locations[0]).status_code == 404
    assert boss.get(locations[-1]).status_code == 200


# -- bad input -------------------------------------------------------------------------------


def _counts(app: Flask) -> tuple[int, int, int]:
    with engine_of(app).db.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (st.instances, st.history, st.tasks)
        )


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "请输入要查询的内容"),
        ("   ", "请输入要查询的内容"),
        ("a" * 10_000, "查询内容过长"),
        ("陈" * 65, "查询内容过长"),
        ("陈\x00明", "不可打印的字符"),
        (f"{CHEN}\x00", "不可打印的字符"),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(app: Flask, query: str, says: str) -> None:
    before = _counts(app)
    status, page = _search(client_for(app, "boss"), query)
    assert status == 400 and says in page and 'id="search-problem"' in page
    assert CHEN not in page
    assert _counts(app) == before and _kept(app) == []  # nothing kept either


def test_a_missing_field_a_huge_body_and_a_get_are_harmless(app: Flask) -> None:
    client = client_for(app, "boss")
    before = _counts(app)
    assert client.post("/search", data={}).status_code == 400
    assert client.post("/search", data={"q": "陈" * 10_000}).status_code == 413  # > 64 KiB
    assert _counts(app) == before
    page = client.get("/search").get_data(as_text=True)
    assert 'id="search-box"' in page and "身份证号" in page


def test_strangers_and_forged_forms_are_refused(app: Flask) -> None:
    assert app.test_client().post("/search", data={"q": CHEN}).status_code == 401
    client = client_for(app, "mi_foshan")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/search", data={"q": CHEN}).status_code == 400  # no CSRF token
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_the_search_box_is_on_every_staff_page(app: Flask) -> None:
    client = client_for(app, "wang")
    for path in ("/inbox/", "/search", "/account/sessions"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        page = answer.get_data(as_text=True)
        assert 'id="search-form"' in page and 'method="post"' in page, path
    assert 'id="search-form"' not in app.test_client().get("/login").get_data(as_text=True)


def test_policy_years_are_named_by_region_and_year_not_by_key(app: Flask) -> None:
    boss = client_for(app, "boss")
    _, results = _search(boss, CHEN)
    table = results[results.index('id="enrollment-results"') :]
    table = table[: table.index("</table>")]
    assert "佛山市 2022年度" in table and "foshan-2022" not in table
    person = _instance(app, "person", CHEN)
    page = boss.get(f"/people/{person}").get_data(as_text=True)
    year = re.search(r'id="year-\d+".*?</tr>', page, re.S)
    assert year and "佛山市 2022年度" in year.group(0) and "foshan-2022" not in year.group(0)
    english = boss.get(f"/people/{person}?lang=en").get_data(as_text=True)
    year = re.search(r'id="year-\d+".*?</tr>', english, re.S)
    assert year and "Foshan 2022" in year.group(0) and "foshan-2022" not in year.group(0)
    record = boss.get(f"/records/{_instance(app, 'enrollment', f'{CHEN}:')}?lang=zh")
    facts = record.get_data(as_text=True)
    assert "佛山市 2022年度" in facts
