"""How ``shebao run`` serves the app with waitress: the options it passes.

Waitress reads a request's whole body before the app sees it, so a request announcing a huge
``Content-Length`` would hold a channel until that many bytes came (or the client gave up) and
only then meet the app's 413. With ``max_request_body_size`` just above the largest body any
endpoint takes (the app's ``MAX_CONTENT_LENGTH``, an import's own limit), waitress answers such a
request 413 as soon as its headers are read, and closes the connection. Bodies up to that size
still reach the app, which answers its own JSON 413 for an endpoint with a smaller limit.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from web.api.spec import BODY_LIMITS


def largest_body(app: Flask) -> int:
    """The largest request body, in bytes, that some endpoint of ``app`` takes."""
    return max([int(app.config.get("MAX_CONTENT_LENGTH") or 0), *BODY_LIMITS])


def waitress_options(app: Flask) -> dict[str, Any]:
    """Keyword arguments for ``waitress.serve(app, ...)`` besides host and port."""
    # waitress refuses a Content-Length >= its limit: one byte above the largest body taken
    return {"max_request_body_size": largest_body(app) + 1}
