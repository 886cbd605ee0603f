"""What the engine needs to know to continue a sprint, folded from the event log.

Only facts the tool itself recorded count here (sessions, its own verification runs, gates,
landings); agents' own chain claims are kept apart as claims.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AgentProgress:
    attempts: int = 0  # sessions started so far
    open_session: dict[str, Any] | None = None  # executor record of a session not known to have ended
    pending_message: dict[str, Any] | None = None  # message queued for the next session
    state: str = "IDLE"
    chain_state: dict[str, str] = field(default_factory=dict)  # tool-verified
    claimed: dict[str, str] = field(default_factory=dict)  # what the agent said
    failures: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))  # chain → failure rounds
    nudges: int = 0
    gate3: bool | None = None
    returns: int = 0  # times its branch came back from the merge train
    last_checks: list[dict] = field(default_factory=list)
    cli_session: str | None = None  # the agent CLI's own session id, for resuming it
    cli_tool: str | None = None  # the tool that session ran with (no resuming across tools)
    tokens: int = 0
    cost_usd: float = 0.0
    fallback: dict[str, Any] | None = None  # tool/model/command the next sessions use
    over_budget: bool = False


@dataclass
class EngineState:
    started: bool = False
    finished: bool = False
    agents: dict[str, AgentProgress] = field(default_factory=lambda: defaultdict(AgentProgress))
    waves_started: set[int] = field(default_factory=set)
    waves_done: set[int] = field(default_factory=set)
    gates_passed: set[str] = field(default_factory=set)
    approvals: dict[str, str] = field(default_factory=dict)  # gate → how (yes flag / approve / override reason)
    overrides: dict[str, str] = field(default_factory=dict)
    landed: set[str] = field(default_factory=set)
    over_budget: bool = False  # the sprint-wide budget is spent

    @property
    def tokens(self) -> int:
        return sum(a.tokens for a in self.agents.values())

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.agents.values())

    def approved(self, gate: str) -> bool:
        """True when the operator approved or overrode ``gate`` (or its whole family, e.g. gate-2)."""
        family = gate.split(":", 1)[0]
        return any(g in self.approvals or g in self.overrides for g in (gate, family))


def fold(events: Iterable[Any]) -> EngineState:
    """Replay ``events`` (objects with ``type``, ``agent``, ``chain``, ``data``) into an EngineState."""
    state = EngineState()
    for event in events:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(state, event)
    return state


def _session_started(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    a.attempts = max(a.attempts, int(e.data.get("attempt", a.attempts + 1)))
    a.open_session = e.data.get("record")
    a.pending_message = None
    a.state = "ACTIVE"


def _session_ended(s: EngineState, e) -> None:
    s.agents[e.agent].open_session = None


def _message_queued(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    a.pending_message = dict(e.data)
    if e.data.get("kind") in {"missing_report", "uncommitted"}:
        a.nudges += 1


def _chain_state(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    if e.data.get("source") == "tool":
        a.chain_state[e.chain] = e.data["state"]
    else:
        a.claimed[e.chain] = e.data["state"]


def _chain_failed(s: EngineState, e) -> None:
    s.agents[e.agent].failures[e.chain].append(dict(e.data))


def _verification(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    if a.last_checks and a.last_checks[0].get("round") != e.data.get("round"):
        a.last_checks = []
    a.last_checks.append(dict(e.data))


def _session_outcome(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    if e.data.get("cli_session"):
        a.cli_session, a.cli_tool = e.data["cli_session"], e.data.get("tool")
    a.tokens += int(e.data.get("input_tokens") or 0) + int(e.data.get("output_tokens") or 0)
    a.cost_usd += float(e.data.get("cost_usd") or 0.0)


def _fallback(s: EngineState, e) -> None:
    s.agents[e.agent].fallback = dict(e.data)


def _budget(s: EngineState, e) -> None:
    if e.agent:
        s.agents[e.agent].over_budget = True
    else:
        s.over_budget = True


def _agent_state(s: EngineState, e) -> None:
    s.agents[e.agent].state = e.data["state"]


def _gate(s: EngineState, e) -> None:
    gate = e.data["gate"]
    if e.type == "gate_passed":
        s.gates_passed.add(gate)
        if gate.startswith("gate-3:"):
            s.agents[gate.split(":", 1)[1]].gate3 = True
    elif e.type == "gate_failed" and gate.startswith("gate-3:"):
        s.agents[gate.split(":", 1)[1]].gate3 = False
    elif e.type == "gate_approved":
        s.approvals[gate] = e.data.get("by", "operator")
    elif e.type == "gate_overridden":
        s.overrides[gate] = e.data.get("reason", "")


def _wave(s: EngineState, e) -> None:
    (s.waves_started if e.type == "wave_started" else s.waves_done).add(int(e.data["wave"]))


def _merge_step(s: EngineState, e) -> None:
    if e.data.get("ok"):
        s.landed.add(e.agent)


def _returned(s: EngineState, e) -> None:
    a = s.agents[e.agent]
    a.gate3, a.returns, a.state = None, a.returns + 1, "ACTIVE"
    s.landed.discard(e.agent)


def _sprint(s: EngineState, e) -> None:
    if e.type == "sprint_started":
        s.started = True
    else:
        s.finished = True


_HANDLERS = {
    "agent_session_started": _session_started,
    "agent_session_ended": _session_ended,
    "message_queued": _message_queued,
    "chain_state": _chain_state,
    "chain_failed": _chain_failed,
    "verification": _verification,
    "agent_state": _agent_state,
    "session_outcome": _session_outcome,
    "agent_fallback": _fallback,
    "budget_exceeded": _budget,
    "gate_passed": _gate,
    "gate_failed": _gate,
    "gate_approved": _gate,
    "gate_overridden": _gate,
    "wave_started": _wave,
    "wave_completed": _wave,
    "merge_step": _merge_step,
    "agent_returned": _returned,
    "sprint_started": _sprint,
    "sprint_finished": _sprint,
}
