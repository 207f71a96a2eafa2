"""The WSGI entry point for production servers: ``gunicorn 'web.wsgi:app'``.

Web workers never start a scheduler; run ``shebao scheduler`` as processes of its own (any number,
on any hosts: they share the due timers through the database's row locks).
"""

from __future__ import annotations

from web.app import create_app

app = create_app()
