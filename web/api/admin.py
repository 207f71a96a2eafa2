"""API endpoints for the service's administrator (scope ``admin``): list and revoke API tokens.

Tokens are made with ``shebao tokens create`` only (printed once on the operator's terminal): an
admin token can take a token away, never mint one.
"""

from __future__ import annotations

from typing import Any

from web.api.answer_models import TokenList, TokenOut
from web.api.common import answer, bp, caller, not_found
from web.api.spec import endpoint
from web.api.tokens import list_tokens, revoke_token
from web.extensions import engine_of

NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
}


@endpoint(
    bp,
    "GET",
    "/admin/tokens",
    summary="Every API token: name, prefix, scopes, created, expires, last used, revoked",
    scopes=("admin",),
    response=TokenList,
    links={"RevokeToken": ("admin_revoke_token", {"name": "$response.body#/tokens/0/name"})},
)
def admin_tokens() -> Any:
    return answer(TokenList(tokens=[TokenOut(**t) for t in list_tokens(engine_of().db)]))


@endpoint(
    bp,
    "POST",
    "/admin/tokens/{name}/revoke",
    summary="Revoke a token: refused from the next request on (revoking twice keeps the first time)",
    scopes=("admin",),
    response=TokenOut,
    parameters=(NAME_PARAM,),
    idempotent=False,
)
def admin_revoke_token(name: str) -> Any:
    found = revoke_token(engine_of().db, name, actor=f"api:{caller().name}")
    if found is None:
        raise not_found("token")
    return answer(TokenOut(**found))
