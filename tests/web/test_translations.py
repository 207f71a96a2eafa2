"""Every staff page reads wholly in Chinese with ``?lang=zh`` and has no raw keys with ``?lang=en``.

Each kind of staff (supervisor, both clerks, a bank teller, and nobody logged in) opens every page
of the url_map (``staff_pages``) of a seeded demo in both languages. A page fails on a word the
i18n module does not know (it shows the key), an ISO 8601 duration, a raw state, event or task
name, or (Chinese) any English word outside the allow-list. Every page must render for someone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from staff_login import PASSWORD, client_for
from staff_pages import CJK, PageUrl, page_rules, page_urls, untranslated, visible_text
from support import counter_card

import web.i18n
from engine.clock import SimulatedClock
from engine.definition import Label
from engine.models import Instance
from web.app import create_app, domain_of, engine_of
from web.auth import create_user
from web.demo_accounts import demo_account_plan
from web.mfa import enroll
from web.staff import users
from workflows.demo import seed_demo
from workflows.demo.parameters import EVIDENCE

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = "11010519491231002X"
STAFF = [
    ("boss", "supervisor", None),
    ("su", "social_security_clerk", "foshan"),
    ("mi", "medical_insurance_clerk", "huian"),
    ("wang", "bank_teller", "icbc"),
]
LANGS = ("zh", "en")


class RecordingWords(dict[str, Label]):
    """``web.i18n.WORDS`` that remembers the keys asked for and missing (shown raw)."""

    def __init__(self, words: dict[str, Label]) -> None:
        super().__init__(words)
        self.missing: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            self.missing.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Label:
        if key not in self:
            self.missing.add(key)
        return super().__getitem__(key)


@dataclass
class Demo:
    app: Flask
    clients: dict[str, FlaskClient]
    urls: list[PageUrl]
    raw_names: set[str]
    allowed: set[str]
    words: RecordingWords
    rendered: dict[str, set[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any) -> Iterator[Demo]:
    import shutil

    path = tmp_path_factory.mktemp("translations") / "shebao.db"
    shutil.copy(sqlite_template, path)
    config = {"SHEBAO_DATABASE_URL": f"sqlite:///{path}", "TESTING": True}
    config["WTF_CSRF_ENABLED"] = False  # type: ignore[assignment]
    app = create_app(config, clock=SimulatedClock(NOW))
    engine = engine_of(app)
    seed_demo(engine, domain_of(app), people=60)
    counter_card(app, PERSON, events=("produce", "notify_holder"))
    for name, group, scope in STAFF:
        create_user(engine.db, name, PASSWORD, group, scope)
    enroll(engine.db, "boss")
    clients = {name: client_for(app, name) for name, _, _ in STAFF}
    clients["anonymous"] = app.test_client()
    halfway = app.test_client()  # the supervisor between password and code: /login/code
    halfway.post("/login", data={"username": "boss", "password": PASSWORD})
    clients["boss-code-step"] = halfway
    raw_names: set[str] = set()
    for definition in engine.all_definitions():
        for name, state in definition.states.items():
            if state.label.zh != name:
                raw_names.add(name)
            if state.task is not None and state.task.label.zh != state.task.name:
                raw_names.add(state.task.name)
        for name, event in definition.events.items():
            if event.label.zh != name:
                raw_names.add(name)
    words = RecordingWords(web.i18n.WORDS)
    original = web.i18n.WORDS
    web.i18n.WORDS = words
    try:
        yield Demo(
            app,
            clients,
            page_urls(app),
            raw_names,
            allowed=_data_words(engine.db, domain_of(app)),
            words=words,
        )
    finally:
        web.i18n.WORDS = original
        engine.db.dispose()


def _data_words(db: Any, domain: Any) -> set[str]:
    """Words that are data, not page text: usernames, people's names, what the demo's clerks
    typed."""
    with db.connect() as conn:
        usernames = set(conn.execute(select(users.c.username)).scalars())
    banks = {code for region in domain.regions for code in region.banks}
    demo_accounts = {plan[0] for plan in demo_account_plan(domain, banks)}
    with db.connect() as conn:
        people = conn.execute(select(Instance.variables).where(Instance.process == "person"))
        names = {str(v.get("name")) for (v,) in people if v and v.get("name")}
    typed = set(re.findall(r"[A-Za-z]+", EVIDENCE)) | set(CJK.findall(EVIDENCE))
    return usernames | demo_accounts | names | typed


def _check_page(demo: Demo, who: str, page: PageUrl, lang: str) -> list[str]:
    client = demo.clients[who]
    demo.words.missing.clear()
    answer = client.get(page.url, query_string={"lang": lang})
    missing = sorted(demo.words.missing)
    if answer.status_code in (301, 302, 303):
        return []
    if not (answer.mimetype or "").startswith("text/html"):
        return []
    if answer.status_code == 200:
        demo.rendered.setdefault(page.endpoint, set()).add(who)
    text = visible_text(answer.get_data(as_text=True))
    where = f"{who} {page.url}?lang={lang} ({answer.status_code})"
    return [f"{where}: i18n key without words {key!r}" for key in missing] + [
        f"{where}: {finding}"
        for finding in untranslated(text, lang, raw_names=demo.raw_names, allowed=demo.allowed)
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_every_staff_page_is_wholly_in_the_chosen_language(demo: Demo, lang: str) -> None:
    problems: list[str] = []
    for who in demo.clients:
        for page in demo.urls:
            problems.extend(_check_page(demo, who, page, lang))
    assert not problems, f"{len(problems)} untranslated:\n" + "\n".join(problems[:80])


def test_every_page_of_the_url_map_rendered_for_someone(demo: Demo) -> None:
    for who in ("boss", "wang", "anonymous", "boss-code-step"):
        for page in demo.urls:
            _check_page(demo, who, page, "zh")
    endpoints = {rule.endpoint for rule in page_rules(demo.app)}
    assert endpoints - set(demo.rendered) == set()
    assert {"inbox.detail", "processes.state", "search.person"} <= endpoints


def test_search_results_are_in_chinese(demo: Demo) -> None:
    client = demo.clients["boss"]
    for query in ("张", PERSON, "no-such-key"):
        answer = client.post("/search?lang=zh", data={"q": query}, follow_redirects=True)
        assert answer.status_code in (200, 422)
        found = untranslated(
            visible_text(answer.get_data(as_text=True)),
            "zh",
            raw_names=demo.raw_names,
            allowed=demo.allowed | {"no-such-key"},
        )
        assert found == [], [str(f) for f in found]


# -- the checker itself catches what it is for -----------------------------------------------


def test_the_checker_catches_an_untranslated_string_injected_into_a_page(demo: Demo) -> None:
    answer = demo.clients["boss"].get("/inbox/?lang=zh")
    page = answer.get_data(as_text=True)
    assert untranslated(visible_text(page), "zh", allowed=demo.allowed) == []
    leaks = {
        "<td>claimed</td>": "English 'claimed'",
        '<input placeholder="Search">': "English 'Search'",
        '<span title="Due date">到期</span>': "English 'Due'",
        "<p>期限 P30D</p>": "ISO 8601 duration",
        "<p>办理 PT1H</p>": "ISO 8601 duration",
        "<p>search_placeholder</p>": "raw key",
        "<td>awaiting_activation</td>": "raw process name 'awaiting_activation'",
        "<nav>着色依据: <a>实例数</a></nav>": "ASCII colon after Chinese words",
    }
    for leak, problem in leaks.items():
        injected = page.replace("</main>", f"{leak}</main>")
        found = untranslated(
            visible_text(injected),
            "zh",
            raw_names={"awaiting_activation"},
            allowed=demo.allowed,
        )
        assert any(str(f).startswith(problem) for f in found), (leak, [str(f) for f in found])


def test_the_checker_leaves_out_scripts_data_and_numbers() -> None:
    page = (
        "<html><head><title>任务箱</title><style>body{color:red}</style></head><body>"
        "<script>var open = 1;</script><p>卡号 A12345678 · 110105********002X</p>"
        '<span translate="no">wang@icbc</span><p>ICBC 工商银行</p></body></html>'
    )
    assert untranslated(visible_text(page), "zh") == []
    assert [str(f) for f in untranslated(["Task open"], "en")] == []
    assert untranslated(["任务 open"], "zh") != []
    assert [str(f) for f in untranslated(["Complete: Activate (cannot be undone)"], "en")] == []
    for text in ("Complete：Activate", "Activate（Cannot be undone）", "a，b"):
        assert [f.problem for f in untranslated([text], "en")] == [
            "Chinese punctuation in an English page"
        ], text
    english = '<html lang="en"><body><a lang="zh-CN">中文</a><p>Inbox 任务箱</p></body></html>'
    assert [str(f).split(":")[0] for f in untranslated(visible_text(english), "en")] == [
        "Chinese '任务箱' in an English page"
    ]


def test_a_page_using_a_key_without_words_is_caught(demo: Demo) -> None:
    inbox = next(page for page in demo.urls if page.endpoint == "inbox.index")
    label = demo.words.pop("inbox")
    try:
        problems = _check_page(demo, "wang", inbox, "en")
    finally:
        demo.words["inbox"] = label
    assert any("i18n key without words 'inbox'" in p for p in problems), problems
    assert _check_page(demo, "wang", inbox, "en") == []


@pytest.mark.parametrize(
    ("lang", "source", "shown"),
    [
        ("zh", "{{ 'P30D'|duration }}", "30 天"),
        ("en", "{{ 'P30D'|duration }}", "30 days"),
        ("zh", "{{ 'PT1H'|duration }}", "1 小时"),
        ("en", "{{ 'PT1H'|duration }}", "1 hour"),
        ("zh", "{{ 'P1Y2M'|duration }}", "1 年2 个月"),
        ("en", "{{ 'not a duration'|duration }}", "not a duration"),
        ("zh", "{{ task_status_label('claimed') }}", "已认领"),
        (
            "zh",
            "{{ actor_label('channel:wechat') }} {{ actor_label('tax_authority') }}",
            "渠道：微信 税务部门",
        ),
        (
            "en",
            "{{ actor_label('channel:wechat') }} {{ actor_label('wang') }}",
            "Channel: WeChat wang",
        ),
        ("zh", "{{ security_kind_label('login_failed') }}", "登录失败"),
    ],
)
def test_durations_statuses_and_actors_are_in_words(
    demo: Demo, lang: str, source: str, shown: str
) -> None:
    from flask import render_template_string

    with demo.app.test_request_context(f"/?lang={lang}"):
        demo.app.preprocess_request()
        assert render_template_string(source) == shown


def test_page_words_are_each_defined_once_across_their_modules() -> None:
    """``WORDS`` is merged from four data modules: a key written twice (in one dict literal or
    in two modules) would silently hide one of its texts."""
    import ast
    from pathlib import Path

    root = Path(web.i18n.__file__).parent
    keys: list[str] = []
    for name in ("words.py", "account_words.py", "search_words.py", "supervisor_words.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            target = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(target, ast.Name) and target.id.endswith("WORDS"):
                assert isinstance(node.value, ast.Dict)  # type: ignore[union-attr]
                keys += [k.value for k in node.value.keys if isinstance(k, ast.Constant)]  # type: ignore[union-attr]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert not twice, f"defined more than once: {twice}"
    assert len(keys) == len(web.i18n.WORDS) > 300


def test_the_inbox_has_one_name_in_chinese() -> None:
    """The page is 任务箱 (its heading, the menu): no word, page or message of the service calls
    it anything else (a 400 page once said "请返回收件箱")."""
    from pathlib import Path

    root = Path(web.i18n.__file__).parent
    sources = [p for p in root.rglob("*") if p.suffix in (".py", ".html", ".js")]
    assert web.i18n.WORDS["inbox"].zh == "任务箱" and len(sources) > 50
    named = [p.relative_to(root) for p in sources if "收件箱" in p.read_text(encoding="utf-8")]
    assert named == [], f"收件箱 in {named}"
