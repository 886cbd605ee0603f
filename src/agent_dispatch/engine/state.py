"""What the engine needs to know to continue a sprint, folded from the event log.

Only facts the tool itself recorded count here (sessions, its own verification runs, gates,
landings); agents' own chain claims are kept apart as claims.

The fold is incremental (`ENGINE` is a `store.live.Projection`): the engine keeps one live state
that advances event by event and is snapshotted, instead of replaying the log for each decision.
Readers get a copy (`view`) that later events never change: the fold replaces an agent's
`AgentProgress` (and each container it changes) instead of mutating it, so that copy costs one
shallow copy per agent, whatever the length of the log.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from agent_dispatch.store.events import Event, EventType

ENGINE_STATE_VERSION = 5  # bump when the state's shape or the fold's meaning changes (5: prose_claim nudges)


@dataclass(frozen=True)
class AgentProgress:
    attempts: int = 0  # sessions started so far
    open_session: dict[str, Any] | None = None  # executor record of a session not known to have ended
    pending_message: dict[str, Any] | None = None  # message queued for the next session
    state: str = "IDLE"
    chain_state: dict[str, str] = field(default_factory=dict)  # tool-verified
    claimed: dict[str, str] = field(default_factory=dict)  # what the agent said
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # chain → failure rounds
    nudges: int = 0
    gate3: bool | None = None
    returns: int = 0  # times its branch came back from the merge train
    last_checks: list[dict[str, Any]] = field(default_factory=list)
    cli_session: str | None = None  # the agent CLI's own session id, for resuming it
    cli_tool: str | None = None  # the tool that session ran with (no resuming across tools)
    tokens: int = 0
    cost_usd: float = 0.0
    fallback: dict[str, Any] | None = None  # tool/model/command the next sessions use
    over_budget: bool = False
    last_end: dict[str, Any] | None = None  # how the latest session ended (its agent_session_ended data)
    last_outcome: dict[str, Any] | None = None  # attempt and reason of the latest session_outcome


NUDGE_KINDS = {"missing_report", "uncommitted", "territory", "prose_claim"}  # follow-ups limited by max_nudges


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
    landed: set[str] = field(default_factory=set)  # on the base branch: the base moved to include them
    merging: set[str] = field(default_factory=set)  # accepted by the merge train, the base not moved yet
    landing_error: dict[str, Any] | None = None  # the last move of the base that failed (ref_updated data)
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

    def copy(self) -> EngineState:
        """A copy that later folding does not change (agents' progress records are never mutated)."""
        return EngineState(
            started=self.started, finished=self.finished, agents=defaultdict(AgentProgress, self.agents),
            waves_started=set(self.waves_started), waves_done=set(self.waves_done),
            gates_passed=set(self.gates_passed), approvals=dict(self.approvals),
            overrides=dict(self.overrides), landed=set(self.landed), merging=set(self.merging),
            landing_error=self.landing_error, over_budget=self.over_budget)


def apply(state: EngineState, event: Event) -> None:
    """Fold one event into ``state`` (events of types the engine does not use are ignored)."""
    handler = _HANDLERS.get(str(event.type))
    if handler is not None:
        handler(state, event)


def fold(events: Iterable[Event]) -> EngineState:
    """Replay ``events`` into a new EngineState (the reference the live state is tested against)."""
    state = EngineState()
    for event in events:
        apply(state, event)
    return state


def _update(s: EngineState, name: str | None, **changes: Any) -> None:
    agent = name or ""
    s.agents[agent] = replace(s.agents.get(agent) or AgentProgress(), **changes)


def _progress(s: EngineState, name: str | None) -> AgentProgress:
    return s.agents.get(name or "") or AgentProgress()


def _session_started(s: EngineState, e: Event) -> None:
    a = _progress(s, e.agent)
    _update(s, e.agent, attempts=max(a.attempts, int(e.data.get("attempt", a.attempts + 1))),
            open_session=e.data.get("record"), pending_message=None, state="ACTIVE")


def _session_ended(s: EngineState, e: Event) -> None:
    _update(s, e.agent, open_session=None, last_end=dict(e.data))


def _message_queued(s: EngineState, e: Event) -> None:
    a = _progress(s, e.agent)
    nudge = e.data.get("kind") in NUDGE_KINDS
    _update(s, e.agent, pending_message={**e.data, "chain": e.chain}, nudges=a.nudges + nudge)


def _chain_state(s: EngineState, e: Event) -> None:
    a, chain = _progress(s, e.agent), e.chain or ""
    if e.data.get("source") == "tool":
        _update(s, e.agent, chain_state={**a.chain_state, chain: e.data["state"]})
    else:
        _update(s, e.agent, claimed={**a.claimed, chain: e.data["state"]})


def _chain_failed(s: EngineState, e: Event) -> None:
    a, chain = _progress(s, e.agent), e.chain or ""
    _update(s, e.agent, failures={**a.failures, chain: [*a.failures.get(chain, []), dict(e.data)]})


def _verification(s: EngineState, e: Event) -> None:
    a = _progress(s, e.agent)
    same_round = a.last_checks and a.last_checks[0].get("round") == e.data.get("round")
    _update(s, e.agent, last_checks=[*(a.last_checks if same_round else []), dict(e.data)])


def _session_outcome(s: EngineState, e: Event) -> None:
    a = _progress(s, e.agent)
    changes: dict[str, Any] = {
        "tokens": a.tokens + int(e.data.get("input_tokens") or 0) + int(e.data.get("output_tokens") or 0),
        "cost_usd": a.cost_usd + float(e.data.get("cost_usd") or 0.0),
        "last_outcome": {"attempt": e.data.get("attempt"), "reason": e.data.get("reason")}}
    if e.data.get("cli_session"):
        changes.update(cli_session=e.data["cli_session"], cli_tool=e.data.get("tool"))
    _update(s, e.agent, **changes)


def _fallback(s: EngineState, e: Event) -> None:
    _update(s, e.agent, fallback=dict(e.data))


def _budget(s: EngineState, e: Event) -> None:
    if e.agent:
        _update(s, e.agent, over_budget=True)
    else:
        s.over_budget = True


def _agent_state(s: EngineState, e: Event) -> None:
    _update(s, e.agent, state=e.data["state"])


def _gate(s: EngineState, e: Event) -> None:
    gate = str(e.data["gate"])
    if e.type == EventType.GATE_PASSED:
        s.gates_passed.add(gate)
        if gate.startswith("gate-3:"):
            _update(s, gate.split(":", 1)[1], gate3=True)
    elif e.type == EventType.GATE_FAILED and gate.startswith("gate-3:"):
        _update(s, gate.split(":", 1)[1], gate3=False)
    elif e.type == EventType.GATE_APPROVED:
        s.approvals[gate] = e.data.get("by", "operator")
    elif e.type == EventType.GATE_OVERRIDDEN:
        s.overrides[gate] = e.data.get("reason", "")


def _wave(s: EngineState, e: Event) -> None:
    (s.waves_started if e.type == EventType.WAVE_STARTED else s.waves_done).add(int(e.data["wave"]))


def _merge_step(s: EngineState, e: Event) -> None:
    if e.data.get("ok") and e.agent:
        # A validated merge lands only when the base branch moves to it (ref_updated); a branch the
        # base already contains has landed.
        (s.landed if e.data.get("already_landed") else s.merging).add(e.agent)


def _ref_updated(s: EngineState, e: Event) -> None:
    agents = set(e.data.get("agents") or s.merging)  # logs written before `agents` was recorded
    s.merging -= agents
    if e.data.get("new") is None:
        s.landing_error = dict(e.data)
    else:
        s.landed |= agents
        s.landing_error = None


def _returned(s: EngineState, e: Event) -> None:
    a = _progress(s, e.agent)
    _update(s, e.agent, gate3=None, returns=a.returns + 1, state="ACTIVE")
    s.landed.discard(e.agent or "")
    s.merging.discard(e.agent or "")


def _sprint(s: EngineState, e: Event) -> None:
    if e.type == EventType.SPRINT_STARTED:
        s.started = True
    else:
        s.finished = True


_HANDLERS: dict[str, Callable[[EngineState, Event], None]] = {
    EventType.AGENT_SESSION_STARTED: _session_started,
    EventType.AGENT_SESSION_ENDED: _session_ended,
    EventType.MESSAGE_QUEUED: _message_queued,
    EventType.CHAIN_STATE: _chain_state,
    EventType.CHAIN_FAILED: _chain_failed,
    EventType.VERIFICATION: _verification,
    EventType.AGENT_STATE: _agent_state,
    EventType.SESSION_OUTCOME: _session_outcome,
    EventType.AGENT_FALLBACK: _fallback,
    EventType.BUDGET_EXCEEDED: _budget,
    EventType.GATE_PASSED: _gate,
    EventType.GATE_FAILED: _gate,
    EventType.GATE_APPROVED: _gate,
    EventType.GATE_OVERRIDDEN: _gate,
    EventType.WAVE_STARTED: _wave,
    EventType.WAVE_COMPLETED: _wave,
    EventType.MERGE_STEP: _merge_step,
    EventType.REF_UPDATED: _ref_updated,
    EventType.AGENT_RETURNED: _returned,
    EventType.SPRINT_STARTED: _sprint,
    EventType.SPRINT_FINISHED: _sprint,
}


class EngineProjection:
    """The engine's fold as a `store.live.Projection` (snapshot name ``engine``)."""

    name = "engine"
    version = ENGINE_STATE_VERSION

    def new(self) -> EngineState:
        return EngineState()

    def apply(self, state: EngineState, event: Event) -> None:
        apply(state, event)

    def view(self, state: EngineState) -> EngineState:
        return state.copy()

    def dump(self, state: EngineState) -> dict[str, Any]:
        return {"started": state.started, "finished": state.finished, "over_budget": state.over_budget,
                "agents": {name: dataclasses.asdict(a) for name, a in state.agents.items()},
                "waves_started": sorted(state.waves_started), "waves_done": sorted(state.waves_done),
                "gates_passed": sorted(state.gates_passed), "approvals": state.approvals,
                "overrides": state.overrides, "landed": sorted(state.landed),
                "merging": sorted(state.merging), "landing_error": state.landing_error}

    def load(self, data: Any) -> EngineState:
        return EngineState(
            started=data["started"], finished=data["finished"], over_budget=data["over_budget"],
            agents=defaultdict(AgentProgress, {name: AgentProgress(**a) for name, a in data["agents"].items()}),
            waves_started=set(data["waves_started"]), waves_done=set(data["waves_done"]),
            gates_passed=set(data["gates_passed"]), approvals=dict(data["approvals"]),
            overrides=dict(data["overrides"]), landed=set(data["landed"]), merging=set(data["merging"]),
            landing_error=data["landing_error"])


ENGINE = EngineProjection()
