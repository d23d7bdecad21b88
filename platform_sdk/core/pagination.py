"""One pagination convention for every list: services, HTTP and the SDK.

Lists take ``page`` (from 1) and ``per_page`` (1 to 200, default 50) and return a :class:`Page`:
``{"items": [...], "page": 1, "per_page": 50, "total": 123, "next_page": 2}``;
``next_page`` is ``null`` on the last page. Items are ordered by a stable key (newest first
unless the list says otherwise), so paging while rows are added never repeats an item within
one listing's order key. Out-of-range values are a 422 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from platform_sdk.errors import ValidationFailed

__all__ = ["DEFAULT_PER_PAGE", "MAX_PER_PAGE", "Page", "PageParams", "paginate"]

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200

T = TypeVar("T")


class PageParams(BaseModel):
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def model_post_init(self, _context: Any) -> None:
        if self.page < 1:
            raise ValidationFailed("page: must be 1 or more", details={"param": "page"})
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValidationFailed(
                f"per_page: must be between 1 and {MAX_PER_PAGE}", details={"param": "per_page"}
            )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    next_page: int | None


def paginate(
    db: Session,
    stmt: Select[Any],
    params: PageParams,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Run ``stmt`` (already filtered and ordered) for one page and convert each row."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.scalars(stmt.offset(params.offset).limit(params.per_page)).all()
    more = params.offset + len(rows) < total
    return Page[T](
        items=[convert(r) for r in rows],
        page=params.page,
        per_page=params.per_page,
        total=total,
        next_page=params.page + 1 if more else None,
    )
