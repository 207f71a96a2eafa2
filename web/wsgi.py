"""The WSGI entry point for production servers: ``gunicorn 'web.wsgi:app'``.

Web workers never start a scheduler; run ``shebao scheduler`` as processes of its own (any number,
on any hosts: they share the due timers through the database's row locks).
"""

from __future__ import annotations

import logging

from web import log_format
from web.app import create_app

log_format.configure(logging.WARNING)  # SHEBAO_LOG_FORMAT=json: one JSON object per line
app = create_app()
