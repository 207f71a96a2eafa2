"""What a request carries that must go no further: a resident ID number in the ``next`` of a
login or a language switch (it would land in the redirect's URL: browser history, access logs,
the Referer), and a NUL character anywhere in a request's text (PostgreSQL refuses it: a login
with ``mi_fs%00`` answered 500)."""

from __future__ import annotations

from staff_helpers import PASSWORD, PERSON, add_staff, log_in, make_app, post_form, token

from web.login_throttle import MAX_PER_ACCOUNT


def test_a_next_carrying_an_id_number_is_not_followed(db_url: str) -> None:
    app = make_app(db_url)
    add_staff(app, "wang")
    for target in (
        f"/inbox/?q={PERSON}",
        f"/search/results/{PERSON.lower()}",
        "/inbox/?q=%31" + PERSON[1:],
    ):
        client = app.test_client()
        form = {"username": "wang", "password": PASSWORD, "csrf_token": token(client)}
        answer = client.post(f"/login?next={target}", data=form)
        assert answer.status_code == 302 and answer.location == "/inbox/", target
        switched = app.test_client().get(f"/lang/en?next={target}")
        assert switched.status_code == 302 and PERSON[6:14] not in switched.location, target
        assert switched.location.startswith("/?lang=en") or switched.location.startswith(
            "/inbox"
        ), switched.location
    # a next without one is followed as before
    client = app.test_client()
    form = {"username": "wang", "password": PASSWORD, "csrf_token": token(client)}
    assert client.post("/login?next=/inbox/?q=wang", data=form).location == "/inbox/?q=wang"
    assert app.test_client().get("/lang/en?next=/inbox/").location == "/inbox/?lang=en"


def test_a_nul_in_a_login_is_a_plain_refusal_and_gets_no_guess_past_the_lock(db_url: str) -> None:
    app = make_app(db_url)
    add_staff(app, "wang")
    client = app.test_client()
    form = {"username": "wang\x00", "password": PASSWORD, "csrf_token": token(client)}
    refused = client.post("/login", data=form)
    assert refused.status_code == 400
    assert "空字符" in refused.get_data(as_text=True)
    english = client.post("/login?lang=en", data=form)
    assert english.status_code == 400 and "NUL character" in english.get_data(as_text=True)
    for _ in range(MAX_PER_ACCOUNT):
        form = {"username": "wang", "password": "wrong-wrong-wrong", "csrf_token": token(client)}
        assert client.post("/login", data=form).status_code == 401
    # locked: neither the right password nor a NUL-spelt username gets a check
    form = {"username": "wang", "password": PASSWORD, "csrf_token": token(client)}
    assert client.post("/login", data=form).status_code == 429
    for name in ("wang\x00", "\x00wang"):
        form = {"username": name, "password": PASSWORD, "csrf_token": token(client)}
        assert client.post("/login", data=form).status_code == 400


def test_a_nul_in_a_page_form_a_query_or_an_api_parameter_is_refused_in_words(
    db_url: str,
) -> None:
    app = make_app(db_url)
    add_staff(app, "wang")
    client = log_in(app, "wang")
    search = post_form(client, "/search", {"q": "张\x00"})  # its page says so by the field
    assert search.status_code == 400 and "不可打印的字符" in search.get_data(as_text=True)
    assert client.get("/inbox/?q=a%00b").status_code == 400
    assert client.get("/search/results/a%00b").status_code == 400
    password = post_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "kettle\x00river-lake-42",
            "repeat_password": "kettle\x00river-lake-42",
        },
    )
    assert password.status_code == 400
    assert log_in(app, "wang").get("/inbox/").status_code == 200  # the password is unchanged
    api = app.test_client().get("/api/v1/tasks?process=card%00")
    assert api.status_code == 400 and api.json["code"] == "nul_character"
    assert "空字符" in api.json["message_zh"] and "NUL" in api.json["message_en"]
