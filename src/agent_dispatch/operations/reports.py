"""What agents report from inside their sessions: progress on a chain, a P0 discovery.

These are claims: the tool verifies chain states itself after the session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.errors import FatalError
from agent_dispatch.operations.caller import check_claimant
from agent_dispatch.operations.sprint import opened
from agent_dispatch.store.events import ChainState, EventType, ParkReason
from agent_dispatch.store.inbox import INBOX_VAR, post_claim
from agent_dispatch.store.log import EventLog

P0_NEEDS_TEXT = "a P0 needs a description"
PARK_NEEDS_REASON = "parking a chain needs a reason: dispatch chain CHAIN PARKED --reason 'why, and what to try next'"


def claims_inbox() -> Path | None:
    """The session's inbox (``DISPATCH_INBOX``) when the sprint's state cannot be written from
    here (the sandbox mounts it read-only): claims then go through the inbox, attributed by the
    orchestrator to the inbox's agent (`store.inbox`). None: append to the log directly."""
    given = os.environ.get(INBOX_VAR)
    if not given:
        return None
    inbox = Path(given)
    state_dir = inbox.parent.parent  # .dispatch/<sprint>/inbox/<agent>
    return None if os.access(state_dir, os.W_OK) else inbox


def _inbox_owner(inbox: Path, agent: str) -> None:
    if agent != inbox.name:  # the orchestrator would record it for the inbox's agent anyway
        raise FatalError(f"agent {inbox.name} cannot report for agent {agent!r}\nhint: drop --agent; "
                         "a session reports for its own agent")


@dataclass(frozen=True)
class ChainReported:
    """An agent's claim about one of its chains, recorded in the sprint's log."""

    sprint: str
    agent: str
    chain: str
    state: ChainState
    note: str | None
    seq: int


@dataclass(frozen=True)
class P0Reported:
    """A P0 discovery (something critical outside the agent's chains), recorded in the log."""

    sprint: str
    agent: str
    description: str
    file: str | None
    line: int | None
    seq: int


def parse_chain_state(state: str) -> ChainState:
    """The `ChainState` named by ``state`` (any case); FatalError listing the states otherwise."""
    name = state.upper()
    if name not in ChainState.__members__:
        raise FatalError(f"unknown chain state {name!r}; use one of: {', '.join(ChainState.__members__)}")
    return ChainState[name]


def report_chain(agent: str, chain_id: str, state: str, *, note: str | None = None,
                 park_reason: str | None = None, log: EventLog | None = None, sprint: str | None = None,
                 start: Path = Path(".")) -> ChainReported:
    """Record ``agent``'s claim that chain ``chain_id`` is in ``state`` (the tool verifies it
    independently after the session).

    PARKED needs ``park_reason``: one of `ParkReason`, or the agent's own words, kept as the
    ``note`` of park reason ``agent``; the tool then parks the chain with it after the session."""
    chain_state = parse_chain_state(state)
    data: dict[str, str] = {"state": chain_state.value, "source": "agent"}
    if chain_state == ChainState.PARKED and not (park_reason or "").strip():
        raise FatalError(PARK_NEEDS_REASON)
    if park_reason and park_reason not in {r.value for r in ParkReason}:
        note = "; ".join(t for t in (park_reason.strip(), note) if t)
        park_reason = ParkReason.AGENT.value
    if note:
        data["note"] = note
    if park_reason:
        data["park_reason"] = park_reason
    inbox = claims_inbox() if log is None else None
    if inbox is not None:
        _inbox_owner(inbox, agent)
        post_claim(inbox, EventType.CHAIN_STATE, chain=chain_id, data=data)
        return ChainReported(sprint or "", inbox.name, chain_id, chain_state, note, 0)
    with opened(log, sprint=sprint, start=start) as events:
        check_claimant(agent, events, start)
        seq = events.append(EventType.CHAIN_STATE, agent=agent, chain=chain_id, data=data)
        return ChainReported(events.sprint, agent, chain_id, chain_state, note, seq)


def report_p0(agent: str, text: str, *, file: str | None = None, line: int | None = None,
              log: EventLog | None = None, sprint: str | None = None, start: Path = Path(".")) -> P0Reported:
    """Record a P0 discovery by ``agent``: the operator is alerted (the board turns RED)."""
    if not text.strip():
        raise FatalError(P0_NEEDS_TEXT)
    data = {k: v for k, v in {"description": text.strip(), "file": file, "line": line}.items() if v is not None}
    inbox = claims_inbox() if log is None else None
    if inbox is not None:
        _inbox_owner(inbox, agent)
        post_claim(inbox, EventType.P0_DISCOVERED, chain=None, data=data)
        return P0Reported(sprint or "", inbox.name, text.strip(), file, line, 0)
    with opened(log, sprint=sprint, start=start) as events:
        check_claimant(agent, events, start)
        seq = events.append(EventType.P0_DISCOVERED, agent=agent, data=data)
        return P0Reported(events.sprint, agent, text.strip(), file, line, seq)
