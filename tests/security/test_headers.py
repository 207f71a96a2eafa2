"""Security headers: CSP and the others on every page, HSTS only over TLS, no-store on pages and
API answers; nothing in the templates or the inlined diagrams that the CSP would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from staff_helpers import add_staff, card_task, log_in, make_app

from web.security_headers import PAGE_CSP

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    app = make_app(sqlite_url)
    add_staff(app, "wang")
    add_staff(app, "boss", "supervisor")
    return app


def assert_page_headers(headers: object) -> None:
    h = headers  # a werkzeug Headers
    assert h["Content-Security-Policy"] == EXPECTED_CSP  # type: ignore[index]
    assert h["X-Frame-Options"] == "DENY"  # type: ignore[index]
    assert h["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]
    assert h["Referrer-Policy"] in ("no-referrer", "same-origin")  # type: ignore[index]


def test_pages_carry_the_security_headers(app: Flask) -> None:
    assert PAGE_CSP == EXPECTED_CSP
    anonymous = app.test_client()
    login = anonymous.get("/login")
    assert_page_headers(login.headers)
    assert "Strict-Transport-Security" not in login.headers
    assert_page_headers(anonymous.get("/inbox/").headers)  # the redirect too
    client = log_in(app, "wang")
    for path in ("/inbox/", "/account/sessions", "/inbox/999999"):
        answer = client.get(path)
        assert_page_headers(answer.headers)
        assert "Strict-Transport-Security" not in answer.headers


def test_hsts_only_with_tls(sqlite_url: str) -> None:
    app = make_app(sqlite_url, SHEBAO_TLS="1")
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    answer = client.get("/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert_page_headers(answer.headers)
    assert "Strict-Transport-Security" in client.get("/healthz").headers


def test_inbox_pages_and_api_answers_are_not_stored(app: Flask) -> None:
    task = card_task(app)
    client = log_in(app, "wang")
    for path in ("/inbox/", f"/inbox/{task}", "/account/sessions"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store", path
    api = app.test_client().get("/api/v1/openapi.json")
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in api.headers["Content-Security-Policy"]
    refused = app.test_client().get("/api/v1/cards/1")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_but_not_sniffed(app: Flask) -> None:
    answer = app.test_client().get("/static/style.css")
    assert answer.status_code == 200
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers.get("Cache-Control") != "no-store"
    answer.close()


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline script"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def inline_code(html: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(html)]


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_nothing_inline_the_csp_blocks(path: Path) -> None:
    assert inline_code(path.read_text(encoding="utf-8")) == []


def test_pages_with_diagrams_have_nothing_inline_the_csp_blocks(app: Flask) -> None:
    """The diagrams are Graphviz SVG put inside the pages: presentation attributes only."""
    task = card_task(app)
    client = log_in(app, "boss")
    for path in (f"/inbox/{task}", "/processes/", "/processes/card", "/processes/instances/1"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        html = answer.get_data(as_text=True)
        assert "<svg" in html, path
        assert inline_code(html) == [], path
