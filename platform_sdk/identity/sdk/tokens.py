"""``p.tokens`` and ``user.tokens``: API tokens as SDK objects.

``create`` returns a :class:`Token` whose ``.token`` holds the raw value: that object is the only
place it ever appears, so keep it then. ``repr`` never shows it, and neither does the notebook
table (saved notebook outputs end up in repositories). ``p.tokens`` manages the platform actor's
own tokens; ``user.tokens`` those of that user (one's agent, or anyone for an admin).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from platform_sdk.core.types import utcnow
from platform_sdk.errors import ValidationFailed
from platform_sdk.identity.schemas import ApiTokenCreate, ApiTokenOut
from platform_sdk.identity.services import tokens as service
from platform_sdk.sdkbase import Listing, Manager, Resource, html_table

__all__ = ["Token", "TokenManager", "validated"]

M = TypeVar("M", bound=BaseModel)


def validated(schema: type[M], **fields: Any) -> M:
    """``schema(**fields)``, raising :class:`ValidationFailed` (as the server would answer
    422) instead of pydantic's error, so local and remote SDK callers catch one class."""
    try:
        return schema(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValidationFailed(
            f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg")),
            details={"field": where},
        ) from None


class Token(Resource[ApiTokenOut]):
    """One API token. ``.token`` holds the raw value only on the object ``create`` returned."""

    _label = "name"

    def __repr__(self) -> str:
        state = " revoked" if self._data.revoked_at is not None else ""
        return f"<Token {self._data.name!r} plat_{self._data.prefix}… of {self._data.user}{state}>"

    def _repr_html_(self) -> str:
        shown = {
            k: "(hidden: read .token)" if k == "token" else v for k, v in self.to_dict().items()
        }
        return html_table(shown, caption=repr(self))

    def revoke(self) -> Token:
        """Revoke this token at once (``Conflict`` if it already was)."""
        self._data = self._manager._call(service.revoke_token, token_id=self._data.id)
        return self


class TokenManager(Manager[Token]):
    """Tokens of the platform's actor, or of the parent user (``user.tokens``)."""

    resource = Token

    @property
    def _user(self) -> str | None:
        return None if self.parent is None else str(self.parent.username)

    def list(self, *, include_revoked: bool = False, per_page: int = 100) -> Listing[Token]:
        """Tokens, newest first; revoked ones only with ``include_revoked``."""
        return self._listing(
            service.list_tokens, per_page, user=self._user, include_revoked=include_revoked
        )

    def get(self, token_id: uuid.UUID | str) -> Token:
        return self._wrap(self._call(service.get_token, token_id=token_id))

    def create(
        self,
        name: str,
        *,
        expires_at: datetime | timedelta | None = None,
        scopes: Sequence[str] | None = None,
        project: str | uuid.UUID | None = None,
    ) -> Token:
        """A new token; read its raw value from ``.token`` now, it is never shown again.

        ``expires_at`` is an aware datetime or a lifetime (``timedelta(days=30)``); ``scopes``
        permission names; ``project`` (``owner/name`` or UUID) bounds it to that project.
        """
        when = utcnow() + expires_at if isinstance(expires_at, timedelta) else expires_at
        body = validated(
            ApiTokenCreate,
            name=name,
            user=self._user,
            expires_at=when,
            scopes=None if scopes is None else list(scopes),
            project=None if project is None else str(project),
        )
        return self._wrap(self._call(service.create_token, body=body))

    def revoke(self, token_id: uuid.UUID | str) -> Token:
        return self._wrap(self._call(service.revoke_token, token_id=token_id))

    def __repr__(self) -> str:
        return f"<TokenManager of {self._user or self.platform.actor.username}>"
