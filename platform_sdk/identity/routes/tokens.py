"""``/api/tokens``: list, create (the raw token is in that one response only), read, revoke.

Responses that carry a credential say ``Cache-Control: no-store``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from platform_sdk.core.pagination import Page
from platform_sdk.identity.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut, Username
from platform_sdk.identity.services import tokens
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.get("", summary="Your tokens (or a user's: your agent's, or anyone's for admins)")
def list_tokens(
    actor: ActorDep,
    plat: PlatformDep,
    page: PageDep,
    user: Annotated[Username | None, Query(description="Whose tokens (default: yours)")] = None,
    include_revoked: Annotated[bool, Query(description="Include revoked tokens")] = False,
) -> Page[ApiTokenOut]:
    return call(
        plat,
        tokens.list_tokens,
        actor=actor,
        page=page,
        user=user,
        include_revoked=include_revoked,
    )


@router.post("", status_code=201, summary="Create a token; its value is shown only here")
def create_token(
    body: ApiTokenCreate, response: Response, actor: ActorDep, plat: PlatformDep
) -> ApiTokenCreated:
    response.headers["Cache-Control"] = "no-store"
    return call(plat, tokens.create_token, actor=actor, body=body)


@router.get("/{token_id}", summary="One token (never its value)")
def get_token(token_id: uuid.UUID, actor: ActorDep, plat: PlatformDep) -> ApiTokenOut:
    return call(plat, tokens.get_token, actor=actor, token_id=token_id)


@router.delete("/{token_id}", status_code=204, summary="Revoke a token at once")
def revoke_token(token_id: uuid.UUID, actor: ActorDep, plat: PlatformDep) -> None:
    call(plat, tokens.revoke_token, actor=actor, token_id=token_id)
