"""The sprint an operation acts on: an event log the caller opened, or one found from a directory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from agent_dispatch.operations.locate import find_log
from agent_dispatch.store.log import EventLog


@contextlib.contextmanager
def opened(log: EventLog | None, *, sprint: str | None, start: Path) -> Iterator[EventLog]:
    """``log`` itself (left open: it is the caller's), or the log of ``sprint`` found from ``start``
    (closed afterwards)."""
    if log is not None:
        yield log
        return
    found = find_log(sprint=sprint, start=start)
    try:
        yield found
    finally:
        found.close()


def operator_name(by: str | None = None) -> str:
    """Who to record as the operator: ``by``, else the login name."""
    return by or os.environ.get("USER", "operator")
