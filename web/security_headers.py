"""The security headers of every answer, in one place.

Pages: a Content-Security-Policy that allows this site's own scripts, styles and images only (no
inline script or ``style``; the inlined Graphviz diagrams use presentation attributes, which CSP
does not govern), no framing (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), forms and
``<base>`` pinned. Everything: ``nosniff``, ``Referrer-Policy: same-origin`` (not ``no-referrer``:
Flask-WTF checks the Referer of form posts over HTTPS), ``Cache-Control: no-store`` on all but
static files (pages and API answers carry personal data), and HSTS when ``SHEBAO_TLS=1``.
"""

from __future__ import annotations

from flask import Flask, Response, request

from web.sessions import tls_enabled

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""JSON answers are never rendered as documents: nothing may load from them."""
HSTS = "max-age=31536000; includeSubDomains"


def headers_for(path: str, endpoint: str | None, tls: bool) -> dict[str, str]:
    """The headers an answer to ``path`` gets (unless the view set its own)."""
    found = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": API_CSP if path.startswith("/api/") else PAGE_CSP,
    }
    if endpoint != "static":
        found["Cache-Control"] = "no-store"
    if tls:
        found["Strict-Transport-Security"] = HSTS
    return found


def init_app(app: Flask) -> None:
    """Add the headers to every answer of ``app``.

    There are four sets (API or page, static file or not), each made once: the answer gets
    those of its set that its view did not set (~10 us instead of the ~25 us of building and
    setting them one by one on every request)."""
    tls = tls_enabled(app.config)
    sets = {
        (api, static): tuple(
            (name.lower(), name, value)
            for name, value in headers_for(
                "/api/" if api else "/", "static" if static else None, tls
            ).items()
        )
        for api in (True, False)
        for static in (True, False)
    }

    def add_headers(response: Response) -> Response:
        wanted = sets[request.path.startswith("/api/"), request.endpoint == "static"]
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        headers.extend([(name, value) for key, name, value in wanted if key not in present])
        return response

    app.after_request(add_headers)
