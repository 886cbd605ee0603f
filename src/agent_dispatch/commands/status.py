"""``dispatch status`` (the board, from the log) and ``dispatch events`` (the log itself)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch.operations.locate import find_log
from agent_dispatch.store.events import Event
from agent_dispatch.store.log import EventLog
from agent_dispatch.store import liveness
from agent_dispatch.store.status import Status, with_orchestrator


@dataclass(frozen=True)
class EventListing:
    """The events of ``dispatch events``; with ``follow`` an endless stream of new ones."""

    events: Iterable[Event]
    follow: bool = False

    def as_data(self) -> list[dict[str, Any]]:
        """Every event as JSON-able data (do not call on a followed, endless listing)."""
        return [e.as_data() for e in self.events]


def open_log(plan: Path | None, sprint: str | None) -> EventLog:
    """The event log of ``plan``'s sprint, or of ``sprint`` (default: the only one) found from here."""
    if plan is not None:
        from agent_dispatch.plan.loader import load_plan

        sprint = load_plan(plan).plan.sprint.id
        return find_log(sprint=sprint, start=Path(plan).resolve().parent)
    return find_log(sprint=sprint, start=Path.cwd())


def current_status(log: EventLog) -> Status:
    """The status folded from ``log``, with whether an orchestrator runs the sprint now (its
    liveness record next to the log)."""
    return with_orchestrator(log.status(), liveness.assess(liveness.read(log.path.parent)))


def show_status(plan: Path | None = None, *, sprint: str | None = None) -> Status:
    """The sprint's status (the board's data), folded from its event log, with its orchestrator."""
    return current_status(open_log(plan, sprint))


def status_feed(plan: Path | None = None, *, sprint: str | None = None) -> Callable[[], Status]:
    """A function returning the sprint's current status each time it is called (``status --watch``)."""
    log = open_log(plan, sprint)
    return lambda: current_status(log)


def show_events(plan: Path | None = None, *, sprint: str | None = None, follow: bool = False,
                since: int = 0) -> EventListing:
    """The event log after ``since``; with ``follow``, a stream that waits for new events."""
    log = open_log(plan, sprint)
    return EventListing(log.follow(since) if follow else log.read(since), follow=follow)
