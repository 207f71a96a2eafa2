"""The staff pages' own answer to a 4xx from Flask or Werkzeug (a bad query, a URL no rule
matches, a body too large): the service's error page in the user's language, with a way back,
never Werkzeug's English one. The JSON API answers its own bodies (``web.api.errors``)."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template
from werkzeug.exceptions import HTTPException

from web import i18n

_PAGE_WORDS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def staff_error_page(error: HTTPException) -> Any:
    """A page's 4xx in the user's language, on the service's own page with a way back (never
    Werkzeug's English one); redirects and 5xx pass through as they are."""
    status = error.code or 500
    if not 400 <= status < 500 or status in (401, 403):
        return error  # 401/403 have their own pages (login, the blueprints' 403)
    word = _PAGE_WORDS.get(status, "request_failed")
    response = make_response(
        render_template("error.html", message=i18n.t(word), code=status), status
    )
    for name, value in error.get_headers():
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    return response
