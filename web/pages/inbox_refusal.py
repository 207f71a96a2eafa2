"""How the inbox's team work refuses a request: ``Refused``, an HTTP status and the words that
say why (an ``i18n`` key and the values its placeholders name). Shared by the team operations
(``inbox_team``) and the bulk form (``inbox_bulk``)."""

from __future__ import annotations

from typing import Any

from web import i18n


class Refused(Exception):
    """The request is refused: ``status`` (400, 403, 409, 422) and an ``i18n`` word, with the
    ``values`` its placeholders name."""

    def __init__(self, status: int, word: str, **values: Any) -> None:
        super().__init__(word)
        self.status = status
        self.word = word
        self.values = values

    def text(self) -> str:
        """The refusal in the user's language."""
        words = i18n.t(self.word)
        return words.format(**self.values) if self.values else words
