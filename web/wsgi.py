"""The WSGI entry point for production servers: ``gunicorn 'web.wsgi:app'``.

An SQLite database file others could read is tightened to its owner only (0600, its ``-wal`` and
``-shm`` too), as ``shebao run`` does, in one log line (``web.wiring.owner_only``).

Web workers never start a scheduler; run ``shebao scheduler`` as processes of its own (any number,
on any hosts: they share the due timers through the database's row locks).

Once the app is made, its objects (modules, definitions, compiled statements, the app itself:
~130,000, kept for the worker's life) are frozen out of the garbage collector's reach
(``gc.freeze``): a full collection, which the requests' allocations set off now and then, walks
only what requests made since, instead of ~50 ms spent walking the app's own objects each time.
"""

from __future__ import annotations

import gc
import logging

from web import log_format
from web.app import create_app
from web.wiring import NothingToRunOn, owner_only
from workflows.policy import PolicyError

log_format.configure(logging.WARNING)  # SHEBAO_LOG_FORMAT=json: one JSON object per line
try:
    app = create_app()
except PolicyError as exc:  # a broken policy file: refuse to start, one line, no traceback
    logging.getLogger(__name__).critical("invalid: %s", exc)
    raise SystemExit(3) from None  # gunicorn's "worker failed to boot": the arbiter stops
except NothingToRunOn as exc:  # a broken definition file and no deployed version instead
    logging.getLogger(__name__).critical("%s", exc)
    raise SystemExit(3) from None
owner_only(app.config["SHEBAO_DATABASE_URL"], logging.getLogger(__name__))  # as `shebao run`
gc.collect()  # what starting left behind goes now; the rest is the app, kept for good
gc.freeze()
