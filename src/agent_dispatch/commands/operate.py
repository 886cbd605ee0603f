"""Small verbs that append to a running sprint's log: chain, p0 (from agents), approve, override,
message (from the operator). The actions themselves are in `agent_dispatch.operations`; these add
what only a command line has (the DISPATCH_* environment of an agent session, ``--file``)."""

from __future__ import annotations

import os
from pathlib import Path

from agent_dispatch import operations
from agent_dispatch.errors import FatalError
from agent_dispatch.operations import (ChainReported, GateApproved, GateOverridden, MessageQueued,
                                       P0Reported)
from agent_dispatch.operations.caller import agent_session
from agent_dispatch.operations.gates import GATES, OVERRIDE_NEEDS_REASON
from agent_dispatch.operations.locate import find_log, main_checkout
from agent_dispatch.operations.reports import P0_NEEDS_TEXT

# Re-exported: other commands (run's --rehearse) locate the main checkout through this module.
__all__ = ["GATES", "approve", "find_log", "main_checkout", "override", "report_chain", "report_p0", "send_message"]


def _agent_env(agent: str | None, sprint: str | None, start: Path) -> tuple[str, str | None]:
    agent = agent or os.environ.get("DISPATCH_AGENT")
    if not agent:  # the variable may have been unset inside the session: ask the other signs
        session = agent_session(start, by_directory=True)
        agent, sprint = (session.agent, sprint or session.sprint) if session else (None, sprint)
    if not agent:
        raise FatalError("no agent given and DISPATCH_AGENT is not set\nhint: run this inside an agent "
                         "session, or pass --agent")
    return agent, sprint or os.environ.get("DISPATCH_SPRINT")


def report_chain(chain_id: str, state: str, *, agent: str | None = None, sprint: str | None = None,
                 note: str | None = None, park_reason: str | None = None, start: Path = Path(".")) -> ChainReported:
    """Record an agent's claim about one of its chains (the tool verifies it independently)."""
    operations.parse_chain_state(state)  # a bad state is the first thing to report
    agent, sprint = _agent_env(agent, sprint, start)
    return operations.report_chain(agent, chain_id, state, note=note, park_reason=park_reason, sprint=sprint,
                                   start=start)


def report_p0(text: str, *, file: str | None = None, line: int | None = None, agent: str | None = None,
              sprint: str | None = None, start: Path = Path(".")) -> P0Reported:
    """Record a P0 discovery: something critical outside the agent's chains."""
    if not text.strip():
        raise FatalError(P0_NEEDS_TEXT)
    agent, sprint = _agent_env(agent, sprint, start)
    return operations.report_p0(agent, text, file=file, line=line, sprint=sprint, start=start)


def approve(gate: str, *, sprint: str | None = None, by: str | None = None, start: Path = Path(".")) -> GateApproved:
    """Record the operator's approval of ``gate`` (``gate-2`` approves every wave's gate 2)."""
    return operations.approve(gate, by=by, sprint=sprint, start=start)


def override(gate: str, *, reason: str, sprint: str | None = None, start: Path = Path(".")) -> GateOverridden:
    """Record an operator override of a failed ``gate``, with the reason (kept for the assessment)."""
    if not reason.strip():
        raise FatalError(OVERRIDE_NEEDS_REASON)
    return operations.override(gate, reason=reason, sprint=sprint, start=start)


def send_message(agent: str, text: str | None = None, *, file: Path | None = None, sprint: str | None = None,
                 start: Path = Path(".")) -> MessageQueued:
    """Queue the operator's message (``text``, or the contents of ``file``) for ``agent``'s next session."""
    if (text is None) == (file is None):
        raise FatalError("give the message as TEXT or with --file F (one of them)")
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as e:
            raise FatalError(f"cannot read {file}: {e.strerror or e}") from None
    return operations.send_message(agent, text or "", sprint=sprint, start=start)
