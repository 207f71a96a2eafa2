"""What a ``shebao`` command says when the database fails it: one line, not a traceback.

``web.cli.main.ShebaoGroup`` asks ``unavailable_line`` about every database error a command
meets. When the database cannot be reached or cannot serve now (``engine.db.is_unavailable``:
PostgreSQL down, refusing connections, a database that does not exist, a statement cancelled at
its timeout; an SQLite file that is missing or locked), the line names the database, its URL
without the password, and the cause in the server's own first words; a service manager that
restarts ``shebao run`` or ``shebao scheduler`` during an outage logs this one line per attempt.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from engine.db import is_unavailable, sqlite_file
from web.log_masking import mask_text

UNREACHABLE = "无法连接数据库 / cannot reach the database"
UNAVAILABLE = "数据库暂时无法服务 / the database cannot serve now"
NO_FILE = "数据库文件不存在 / no such database file"

# How the drivers say that a connection could not be made (psycopg, libpq, SQLite).
_CONNECTING = ("connection failed", "connection timeout", "connection refused", "unable to open")


def safe_url(url: str) -> str:
    """``url`` with its password masked (``***``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: say nothing of it
        return "(SHEBAO_DATABASE_URL)"


def unavailable_line(url: str, exc: BaseException) -> str | None:
    """The one line for ``exc`` if it means the database at ``url`` is unavailable, else None
    (an error in the SQL or the schema: the caller's to judge)."""
    if not is_unavailable(exc):
        return None
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return f"{NO_FILE}: {path} (`shebao db upgrade` creates it; check SHEBAO_DATABASE_URL)"
    cause = _cause(exc)
    what = UNREACHABLE if cause.lower().startswith(_CONNECTING) else UNAVAILABLE
    return f"{what}: {safe_url(url)} ({_short(cause)})"


def _cause(exc: BaseException) -> str:
    """The driver's first line (SQLAlchemy's wrapper adds its SQL and a link, not the cause)."""
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    first = next(iter(str(orig).strip().splitlines()), "") or type(orig).__name__
    return mask_text(" ".join(first.split()))


def _short(cause: str) -> str:
    """The words after libpq's ``FATAL:`` or the last ``... failed:``: ``database "x" does not
    exist``, ``Connection refused``."""
    for marker in ("FATAL:", " failed: "):
        if marker in cause:
            return cause.rsplit(marker, 1)[1].strip() or cause
    return cause
