"""Small verbs that append to a running sprint's log: chain, p0 (from agents), approve, override."""

from __future__ import annotations

import os
from pathlib import Path

from agent_dispatch import git, output
from agent_dispatch.errors import FatalError
from agent_dispatch.store.events import ChainState
from agent_dispatch.store.log import EventLog

GATES = ("gate-1", "gate-2", "gate-3", "gate-4", "gate-5")


def main_checkout(start: Path) -> Path:
    """The main checkout of the repository containing ``start`` (also from inside a worktree)."""
    common = git.common_dir(start)
    if common.name != ".git":
        raise FatalError(f"cannot find the main checkout of {start} (bare repository?)")
    return common.parent


def find_log(*, sprint: str | None, start: Path) -> EventLog:
    """The event log of ``sprint`` (default: the only sprint with a log) in the main checkout."""
    root = main_checkout(start)
    base = root / ".dispatch"
    if sprint:
        path = base / sprint / "events.db"
        if not path.exists():
            raise FatalError(f"no event log for sprint {sprint!r} at {path}\nhint: dispatch run <plan> starts it")
        return EventLog(path)
    logs = sorted(base.glob("*/events.db")) if base.is_dir() else []
    if len(logs) != 1:
        found = ", ".join(p.parent.name for p in logs) or "none"
        raise FatalError(f"cannot tell which sprint you mean (sprints with a log: {found})\nhint: pass --sprint")
    return EventLog(logs[0])


def _agent_env(agent: str | None, sprint: str | None) -> tuple[str, str | None]:
    agent = agent or os.environ.get("DISPATCH_AGENT")
    if not agent:
        raise FatalError("no agent given and DISPATCH_AGENT is not set\nhint: run this inside an agent "
                         "session, or pass --agent")
    return agent, sprint or os.environ.get("DISPATCH_SPRINT")


def report_chain(chain_id: str, state: str, *, agent: str | None = None, sprint: str | None = None,
                 note: str | None = None, park_reason: str | None = None, start: Path = Path(".")) -> int:
    """Record an agent's claim about one of its chains (the tool verifies it independently)."""
    state = state.upper()
    if state not in ChainState.__members__:
        raise FatalError(f"unknown chain state {state!r}; use one of: {', '.join(ChainState.__members__)}")
    agent, sprint = _agent_env(agent, sprint)
    log = find_log(sprint=sprint, start=start)
    data = {"state": state, "source": "agent"}
    if note:
        data["note"] = note
    if park_reason:
        data["park_reason"] = park_reason
    log.append("chain_state", agent=agent, chain=chain_id, data=data)
    output.write(f"{agent}: chain {chain_id} → {state} (recorded; the tool verifies it after your session)")
    return 0


def report_p0(text: str, *, file: str | None = None, line: int | None = None, agent: str | None = None,
              sprint: str | None = None, start: Path = Path(".")) -> int:
    """Record a P0 discovery: something critical outside the agent's chains."""
    if not text.strip():
        raise FatalError("a P0 needs a description")
    agent, sprint = _agent_env(agent, sprint)
    log = find_log(sprint=sprint, start=start)
    data = {"description": text.strip(), "file": file, "line": line}
    log.append("p0_discovered", agent=agent, data={k: v for k, v in data.items() if v is not None})
    output.write(f"{agent}: P0 recorded — the operator is alerted; do not fix it outside your territory")
    return 0


def _check_gate(gate: str) -> str:
    family = gate.split(":", 1)[0]
    if family not in GATES:
        raise FatalError(f"unknown gate {gate!r}; gates are {', '.join(GATES)} (e.g. gate-2:wave-1)")
    return gate


def approve(gate: str, *, sprint: str | None = None, by: str | None = None, start: Path = Path(".")) -> int:
    """Record the operator's approval of ``gate`` (``gate-2`` approves every wave's gate 2)."""
    log = find_log(sprint=sprint, start=start)
    log.append("gate_approved", data={"gate": _check_gate(gate), "by": by or os.environ.get("USER", "operator")})
    output.write(f"approved {gate}; continue with `dispatch resume <plan>`")
    return 0


def override(gate: str, *, reason: str, sprint: str | None = None, start: Path = Path(".")) -> int:
    """Record an operator override of a failed ``gate``, with the reason (kept for the assessment)."""
    if not reason.strip():
        raise FatalError("an override needs a reason: --reason \"why it is safe to continue\"")
    log = find_log(sprint=sprint, start=start)
    log.append("gate_overridden", data={"gate": _check_gate(gate), "reason": reason.strip(),
                                        "by": os.environ.get("USER", "operator")})
    output.write(f"overrode {gate} ({reason.strip()}); continue with `dispatch resume <plan>`")
    return 0
