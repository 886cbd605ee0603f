"""``dispatch status`` (the board, from the log) and ``dispatch events`` (the log itself)."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from rich.live import Live

from agent_dispatch import output
from agent_dispatch.commands.operate import find_log
from agent_dispatch.store.log import EventLog
from agent_dispatch.ui.board import board


def _log_for(plan: Path | None, sprint: str | None) -> EventLog:
    if plan is not None:
        from agent_dispatch.plan.loader import load_plan

        sprint = load_plan(plan).plan.sprint.id
        return find_log(sprint=sprint, start=Path(plan).resolve().parent)
    return find_log(sprint=sprint, start=Path.cwd())


def show_status(plan: Path | None = None, *, sprint: str | None = None, as_json: bool = False,
                watch: bool = False, interval: float = 1.0) -> int:
    """Print the board (or its JSON); with ``watch``, keep it updated until the sprint finishes."""
    log = _log_for(plan, sprint)
    if as_json:
        output.write_json(log.status().as_data())
        return 0
    if not watch:
        output.console.print(board(log.status()))
        return 0
    with Live(board(log.status()), console=output.console, refresh_per_second=2) as live:
        while True:
            status = log.status()
            live.update(board(status))
            if status.finished:
                return 0
            time.sleep(interval)


def _line(event) -> str:
    when = datetime.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
    who = "/".join(x for x in (event.agent, event.chain) if x) or "-"
    data = ", ".join(f"{k}={v!r}" for k, v in event.data.items() if k not in {"output", "record", "checks"})
    return f"{event.seq:>6} {when} {str(event.type):<22} {who:<22} {data}"


def show_events(plan: Path | None = None, *, sprint: str | None = None, as_json: bool = False,
                follow: bool = False, since: int = 0) -> int:
    """Print the event log (JSON lines with ``as_json``); with ``follow``, wait for new events."""
    log = _log_for(plan, sprint)
    events = log.follow(since) if follow else log.read(since)
    if as_json and not follow:
        output.write_json([e.as_data() for e in events])
        return 0
    for event in events:
        if as_json:
            output.write_json_line(event.as_data())
        else:
            output.write(_line(event))
    return 0
