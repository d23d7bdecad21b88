"""The shape every SDK object shares (python-gitlab's managers and objects, over services).

A :class:`Manager` is reached from the platform or a parent object (``p.users``,
``project.secrets``) and calls service functions as the platform's actor; a :class:`Resource`
wraps one schema instance with attribute access, a readable ``repr`` and an HTML table for
notebooks. ``list()`` returns a lazy :class:`Listing` that fetches pages as it is iterated.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from platform_sdk.core.pagination import Page, PageParams

if TYPE_CHECKING:
    from platform_sdk.sdk import Platform

__all__ = ["Listing", "Manager", "Resource", "html_table"]

S = TypeVar("S", bound=BaseModel)
R = TypeVar("R", bound="Resource[Any]")


def html_table(fields: dict[str, Any], *, caption: str) -> str:
    """A two-column HTML table of ``fields`` (escaped), for notebooks."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in fields.items()
    )
    return f"<table><caption>{html.escape(caption)}</caption>{rows}</table>"


class Resource(Generic[S]):
    """One object: its schema's fields as attributes, plus the verbs of its class."""

    _label: ClassVar[str] = "id"  # the field shown in repr

    def __init__(self, manager: Manager[Any], data: S) -> None:
        self._manager = manager
        self._data = data

    @property
    def platform(self) -> Platform:
        return self._manager.platform

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return getattr(self._data, name)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}") from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(type(self._data).model_fields))

    def to_dict(self) -> dict[str, Any]:
        return self._data.model_dump(mode="json")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Resource) and type(other) is type(self) and other._data == self._data
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, getattr(self._data, "id", None)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self._data, self._label, '?')}>"

    def _repr_html_(self) -> str:
        return html_table(self.to_dict(), caption=repr(self))


class Manager(Generic[R]):
    """Calls services as the platform's actor; subclasses add ``get``/``create``/verbs."""

    resource: ClassVar[type[Resource[Any]]]

    def __init__(self, platform: Platform, parent: Resource[Any] | None = None) -> None:
        self.platform = platform
        self.parent = parent

    def _call(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        with self.platform.session() as db:
            return fn(db, actor=self.platform.actor, **kwargs)

    def _wrap(self, data: BaseModel) -> R:
        return self.resource(self, data)  # type: ignore[return-value]

    def _listing(
        self, fn: Callable[..., Page[Any]], per_page: int = 100, **filters: Any
    ) -> Listing[R]:
        def fetch(page: int) -> Page[Any]:
            result: Page[Any] = self._call(
                fn, page=PageParams(page=page, per_page=per_page), **filters
            )
            return result

        return Listing(fetch, self._wrap)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Listing(Generic[R]):
    """A lazy list: iterating fetches page after page; ``total`` asks for the first page."""

    def __init__(self, fetch: Callable[[int], Page[Any]], wrap: Callable[[Any], R]) -> None:
        self._fetch = fetch
        self.wrap = wrap
        self._first: Page[Any] | None = None

    def page(self, n: int) -> Page[Any]:
        """Page ``n`` as the service answers it (one call; ``wrap`` turns its items into
        objects) — what a paged table needs, without fetching the pages before it."""
        if n == 1:
            if self._first is None:
                self._first = self._fetch(1)
            return self._first
        return self._fetch(n)

    @property
    def total(self) -> int:
        return self.page(1).total

    def __iter__(self) -> Iterator[R]:
        n: int | None = 1
        while n is not None:
            page = self.page(n)
            yield from (self.wrap(item) for item in page.items)
            n = page.next_page

    def __len__(self) -> int:
        return self.total

    def __repr__(self) -> str:
        return f"<Listing of {self.total}>"

    def _repr_html_(self) -> str:
        items = list(self)[:50]
        if not items:
            return "<em>(none)</em>"
        cols = list(items[0].to_dict())
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(i.to_dict()[c]))}</td>" for c in cols) + "</tr>"
            for i in items
        )
        more = f"<caption>{len(items)} of {self.total}</caption>"
        return f"<table>{more}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
