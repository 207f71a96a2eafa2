"""A JSON API caller for tests: tokens by name, each call's status checked, and no personal
data the test names in any answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask

from web.api.tokens import create_token
from web.app import engine_of

Call = Callable[[str, str, str, Any, int], dict[str, Any]]


def api_caller(app: Flask, scopes: Mapping[str, list[str]], never: Iterable[str] = ()) -> Call:
    """``call(method, path, who, body, expect)``: the answer's JSON, with a token of ``who``'s
    scopes; its status must be ``expect`` and its text hold none of ``never`` (ID numbers)."""
    db = engine_of(app).db
    tokens = {who: create_token(db, who, list(found)) for who, found in scopes.items()}
    hidden = tuple(never)
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any, expect: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        answer = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        text = answer.get_data(as_text=True)
        assert answer.status_code == expect, (path, answer.status_code, text)
        assert not any(n in text for n in hidden), text  # no ID number, in no detail
        return dict(answer.json)

    return call
