"""Events a job emits while it runs; the TUI renders them, the CLI prints them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Progress:
    entity: str  # "users", "cohorts", "roles", "diffusion", ...
    done: int
    total: int | None  # None while unknown


@dataclass(frozen=True, slots=True)
class Trace:
    level: str  # "info" | "detail" | "change" | "warning" | "error"
    entity: str
    text: str


@dataclass(frozen=True, slots=True)
class Phase:
    entity: str
    label: str  # French, e.g. "Lecture de l'annuaire"


Event = Progress | Trace | Phase


class EventSink(Protocol):
    def __call__(self, event: Event) -> None: ...


def null_sink(event: Event) -> None:
    """A sink that drops everything."""


class CollectingSink:
    """Keeps every event (tests, summaries)."""

    def __init__(self, forward: Callable[[Event], None] | None = None) -> None:
        self.events: list[Event] = []
        self._forward = forward

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self._forward is not None:
            self._forward(event)

    def traces(self, level: str | None = None) -> list[Trace]:
        return [e for e in self.events if isinstance(e, Trace) and (level is None or e.level == level)]
