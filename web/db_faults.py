"""Requests while the database is unavailable: 503 with ``Retry-After``, never a 500.

When PostgreSQL cannot be reached, drops the connection, is restarting, or cancels a statement at
the statement or lock timeout, or when SQLite stays locked past its busy timeout, the request
answers ``503 Service Unavailable`` with ``Retry-After`` (``SHEBAO_RETRY_AFTER_S``, 5 s by
default): the API's JSON error body (``code: database_unavailable``) under ``/api/``, a plain page
elsewhere. A transaction the fault interrupted committed nothing, so a client may repeat the
request (state-changing API calls with the same ``Idempotency-Key``). A database without the
schema (never migrated, or behind: ``web.migrate.schema_fault``) answers the same 503, and the
log says to run ``shebao db upgrade``.

The page is standalone on purpose: ``error.html`` extends ``base.html``, which reads the signed-in
user and the service clock from the database, the very thing that is unavailable.
"""

from __future__ import annotations

import sqlite3

import psycopg
from flask import Flask, Response, jsonify, render_template_string, request
from sqlalchemy import exc as sa_exc

from engine.db import is_unavailable
from web.api.errors import ApiError
from web.config import retry_after_seconds
from web.extensions import engine_of
from web.migrate import schema_fault

CODE = "database_unavailable"
MESSAGE_ZH = "数据库暂时不可用，请稍后重试。"
MESSAGE_EN = "The database is unavailable for the moment; please try again shortly."

# The forms a database fault arrives in: SQLAlchemy's wrappers (and its pool's timeout), and the
# drivers' own errors from the engine's raw connections. Which of them mean "unavailable" is
# ``engine.db.is_unavailable``'s call; the others go on to be the 500 they were.
FAULTS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    psycopg.Error,
    sqlite3.Error,
)

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>503</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}">
</head>
<body>
<main>
<section class="card error-page">
  <h1>503</h1>
  <p lang="zh-CN">{{ message_zh }}</p>
  <p lang="en">{{ message_en }}</p>
  <p><a href="{{ request.full_path.rstrip('?') if request.method == 'GET' else '/' }}">重试 · Try again</a></p>
</section>
</main>
</body>
</html>
"""


def unavailable_response(retry_after: int) -> Response:
    """The 503 of the current request: JSON under ``/api/``, the page elsewhere."""
    if request.path.startswith("/api/"):
        error = ApiError(503, CODE, MESSAGE_ZH, MESSAGE_EN)
        response = jsonify(error.body)
        response.status_code = error.status
    else:
        html = render_template_string(PAGE, message_zh=MESSAGE_ZH, message_en=MESSAGE_EN)
        response = Response(html, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Answer database faults with 503 and ``Retry-After`` (``SHEBAO_RETRY_AFTER_S``)."""
    retry_after = retry_after_seconds(app.config)

    def database_fault(error: Exception) -> Response:
        if not is_unavailable(error):
            fault = schema_fault(engine_of(app).db)
            if fault is None:
                raise error  # not an outage: the 500 it always was
            app.logger.error("%s %s answered 503: %s", request.method, request.path, fault)
            return unavailable_response(retry_after)
        first_line = next(iter(str(error).strip().splitlines()), "")
        app.logger.warning(
            "database unavailable: %s %s answered 503 (%s: %s)",
            request.method,
            request.path,
            type(error).__name__,
            first_line,
        )
        return unavailable_response(retry_after)

    for fault in FAULTS:
        app.register_error_handler(fault, database_fault)
