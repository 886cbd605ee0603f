"""The status board: agents, wave tracker and health, rendered with rich from a `Status`."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent_dispatch.store.log import EventLog
from agent_dispatch.store.status import Status

STATE_ICONS = {"IDLE": "⏸", "ACTIVE": "▶", "BLOCKED": "🔴", "REVIEW": "👀", "COMPLETE": "✅", "FAILED": "❌"}
HEALTH_STYLE = {"GREEN": "bold green", "YELLOW": "bold yellow", "RED": "bold red"}


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "—"
    seconds = int(now - ts)
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def agent_table(status: Status, now: float | None = None) -> Table:
    """The agent status board (REQ-5.05 columns)."""
    now = time.time() if now is None else now
    stopped = status.orchestrator is not None and not status.orchestrator["running"] and not status.finished
    table = Table(title=f"Sprint {status.sprint or '?'} — agents", title_justify="left", expand=False)
    for column in ("Agent", "Wave", "Status", "Current chain", "Done", "Left", "Sessions", "Blockers", "Last event"):
        table.add_column(column)
    for name, agent in sorted(status.agents.items(), key=lambda kv: (str(kv[1].wave), kv[0])):
        current = agent.current_chain or "—"
        chain = status.chains.get(f"{name}/{agent.current_chain}") if agent.current_chain else None
        if chain is not None:
            current = f"{chain.chain} ({chain.state})"
        blockers = agent.reason or (", ".join(agent.violations) if agent.violations else "None")
        shown = f"{STATE_ICONS.get(agent.state, '')} {agent.state}"
        if agent.state == "ACTIVE" and stopped:
            shown = "⏹ ACTIVE (no orchestrator)"  # nobody evaluates its sessions until a resume
        table.add_row(name, str(agent.wave if agent.wave is not None else "—"), shown, current,
                      f"{agent.chains_done}/{agent.chains_total}"
                      + (f" +{agent.chains_parked} parked" if agent.chains_parked else ""), str(agent.chains_left),
                      str(agent.attempts), blockers, _ago(agent.last_ts, now))
    return table


def wave_lines(status: Status) -> list[str]:
    """``Wave N: [STATE] agent(done/total ✅) ...`` per wave."""
    lines = []
    for number, wave in status.waves.items():
        parts = []
        for name in wave.agents:
            agent = status.agents.get(name)
            if agent is None:
                parts.append(name)
                continue
            mark = " ✅" if agent.state == "COMPLETE" else " ❌" if agent.state == "FAILED" else ""
            parked = f", {agent.chains_parked} parked" if agent.chains_parked else ""
            parts.append(f"{name}({agent.chains_done}/{agent.chains_total}{parked}{mark})")
        lines.append(f"Wave {number}: [{wave.state}] " + " ".join(parts))
    return lines


def parked_lines(status: Status) -> list[str]:
    """``PARKED agent/chain: reason`` per parked chain (not done, not left: set aside with a reason)."""
    return [f"PARKED {key}: {chain.park_reason or 'no reason recorded'}"
            for key, chain in sorted(status.chains.items()) if chain.state == "PARKED"]


def orchestrator_line(status: Status, now: float | None = None) -> Text:
    """Whether an orchestrator runs the sprint: ``running (pid, heartbeat)``, or plainly that none
    does since when and why (`resume_line` has the command). Empty when unknown or finished."""
    info = status.orchestrator
    if info is None or status.finished:
        return Text("")
    now = time.time() if now is None else now
    if info["running"]:
        return Text(f"Orchestrator: running (pid {info['pid']}, heartbeat {_ago(info.get('heartbeat'), now)})",
                    style="green")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"])) if info.get("since") else "?"
    detail = f": {info['detail']}" if info.get("detail") and info["state"] in {"failed", "blocked"} else ""
    return Text(f"Orchestrator: not running since {since}, {info['meaning']}{detail}", style="bold yellow")


def resume_line(status: Status) -> str | None:
    """``resume: <command>`` when no orchestrator runs an unfinished sprint; printed unwrapped
    (`output.write`) so that it runs as printed."""
    info = status.orchestrator
    if info is None or info["running"] or status.finished or not info.get("resume"):
        return None
    return f"resume: {info['resume']}"


def board(status: Status) -> Group:
    """Health line, orchestrator line, agent table, parked chains and wave tracker as one renderable."""
    health = Text(f"Health: {status.health}", style=HEALTH_STYLE.get(status.health, ""))
    if status.health_reasons:
        health.append("  (" + "; ".join(status.health_reasons[:4]) + ")", style="dim")
    finished = Text(f"Finished: {status.finished['outcome']}", style="bold") if status.finished else Text("")
    parked = [Text("\n".join(lines), style="yellow")] if (lines := parked_lines(status)) else []
    return Group(health, orchestrator_line(status), agent_table(status), *parked,
                 Text("\n".join(wave_lines(status))), finished)


@contextlib.contextmanager
def live_board(log: EventLog, console: Console, *, interval: float = 0.5) -> Iterator[None]:
    """Keep the board on screen, refreshed from ``log``, while the body runs (terminals only)."""
    if not console.is_terminal:
        yield
        return
    stop = threading.Event()
    with Live(board(log.status()), console=console, refresh_per_second=4, transient=False) as live:

        def refresh() -> None:
            while not stop.wait(interval):
                live.update(board(log.status()))

        thread = threading.Thread(target=refresh, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            live.update(board(log.status()))
