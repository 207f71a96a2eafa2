"""No NUL character in the text of a request: one check at the door for every page and API call.

PostgreSQL refuses a NUL in a text or JSON value (``DataError``): a username, a search, a form
field or a query parameter holding one (``mi_fs%00``) failed with a 500 wherever it reached the
database first (the login throttle's ``INSERT INTO web_login_attempt``). No text the service
takes means anything with a NUL in it, so every request whose query string, form fields (names
and values) or URL path parameters hold one is refused here with 400, in words, before any
view, the CSRF check or the login requirement reads it: forms and parameters added later are
covered too. A refused login never reaches the password check, so there is nothing to throttle:
adding a NUL to a username gets no guess past the per-account lock.

The API's JSON bodies are checked by ``web.api.bodies`` (422 for any control character, with where);
this guard covers their query strings and paths. The CLI reads files and standard input, whose
rows are checked by the operations themselves (names, evidence and import cells must be printable).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue

from web import i18n

NUL = "\x00"
CHECKED_BY_THE_PAGE = frozenset({"search.search"})
"""Form posts whose page refuses control characters itself, showing the form again with the
problem by the field (kinder than an error page): their form fields are left to it."""
WORDS = (
    "请求中含有空字符（NUL），请删除后重新提交",
    "the request holds a NUL character: remove it",
)


def _texts() -> Iterable[str]:
    yield request.path
    for key, value in request.args.items(multi=True):
        yield key
        yield value
    if request.endpoint in CHECKED_BY_THE_PAGE:
        return
    if request.method not in ("GET", "HEAD") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for key, value in request.form.items(multi=True):
            yield key
            yield value


def refuse_nul() -> ResponseReturnValue | None:
    """``before_request``: 400 for a request with a NUL in its text (see the module docstring)."""
    if not any(NUL in text for text in _texts()):
        return None
    if request.path.startswith("/api/"):
        from web.api.errors import ApiError

        raise ApiError(400, "nul_character", *WORDS)
    message = i18n.message(*WORDS)
    return render_template("error.html", message=message, code=400), 400


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
