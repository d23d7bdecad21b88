"""Status enums that know their legal transitions.

Each status machine is a ``StatusEnum`` whose transitions are declared right after it, next to
the model that uses it::

    class RunStatus(StatusEnum):
        PENDING = "pending"
        RUNNING = "running"
        SUCCESS = "success"

    RunStatus.allow({
        RunStatus.PENDING: {RunStatus.RUNNING},
        RunStatus.RUNNING: {RunStatus.SUCCESS},
    })

``status.transition(new)`` returns ``new`` or raises
:class:`~platform_sdk.errors.IllegalTransition`; states without outgoing moves are terminal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Self

from platform_sdk.errors import IllegalTransition

__all__ = ["StatusEnum"]

_TRANSITIONS: dict[type[StatusEnum], dict[StatusEnum, frozenset[StatusEnum]]] = {}


class StatusEnum(enum.StrEnum):
    """A string enum with a declared set of legal transitions between its members."""

    @classmethod
    def allow(cls, moves: Mapping[Self, Iterable[Self]]) -> None:
        """Declare the legal transitions (states missing from ``moves`` are terminal)."""
        table: dict[StatusEnum, frozenset[StatusEnum]] = {m: frozenset() for m in cls}
        for src, targets in moves.items():
            if not isinstance(src, cls) or not all(isinstance(t, cls) for t in targets):
                raise TypeError(f"{cls.__name__}.allow takes members of {cls.__name__} only")
            table[src] = frozenset(targets)
        _TRANSITIONS[cls] = table

    @classmethod
    def transitions(cls) -> Mapping[StatusEnum, frozenset[StatusEnum]]:
        try:
            return _TRANSITIONS[cls]
        except KeyError:
            raise TypeError(f"{cls.__name__} declares no transitions; call allow()") from None

    @property
    def next_states(self) -> frozenset[Self]:
        return self.transitions()[self]  # type: ignore[return-value]

    @property
    def is_terminal(self) -> bool:
        return not self.next_states

    def can_transition(self, new: Self) -> bool:
        return new in self.next_states

    def transition(self, new: Self) -> Self:
        """``new`` if the move is legal; otherwise ``IllegalTransition``."""
        if not self.can_transition(new):
            allowed = ", ".join(sorted(s.value for s in self.next_states)) or "none (terminal)"
            raise IllegalTransition(
                f"{type(self).__name__} cannot go from {self.value} to {new.value}; "
                f"allowed: {allowed}",
                details={"from": self.value, "to": new.value},
            )
        return new

    @classmethod
    def declared(cls) -> list[type[StatusEnum]]:
        """Every status machine that has declared its transitions (for meta-tests)."""
        return list(_TRANSITIONS)
