"""Numbers that name rows, as they come in from URLs, queries and forms.

A row id is ASCII digits from 1 to 2**53: what every table here can hold (SQLite's and
PostgreSQL's 64-bit integers) and what JSON carries exactly. Anything else names no row: a page
answers 404 (``<int:...>`` in a URL rule is ``BoundedInt``) or 400, never a database error.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**53
_DIGITS = re.compile(r"[0-9]{1,16}")


def parse_id(text: str | None) -> int | None:
    """The id ``text`` names, or None: not ASCII digits, 0, or past ``MAX_ID``."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class BoundedInt(IntegerConverter):
    """``<int:...>`` in URL rules: ASCII digits up to ``MAX_ID`` (a larger number matches no
    rule: 404), so no page hands the database a number it cannot bind."""

    regex = r"[0-9]{1,16}"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)
