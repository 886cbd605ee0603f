"""`Status`: the immutable view of a sprint that status, the board and the gates read.

Built by `to_status` from the folded projection state (see `projections`); the sprint health
rules of REQ-5.06 that can be decided from events alone live here too.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any

from agent_dispatch.store.events import SETTLED_CHAIN_STATES, Health


@dataclass(frozen=True)
class AgentStatus:
    """One agent on the board. ``session`` is the running session's executor record, if any."""

    name: str
    state: str  # AgentState value
    role: str | None
    wave: int | str | None
    reason: str | None  # why it is BLOCKED / FAILED, when the engine said
    attempts: int  # sessions started so far (DISPATCH_ATTEMPT of the latest)
    current_chain: str | None
    chains_done: int
    chains_total: int
    retries: int  # retry messages scheduled for this agent's chains
    interventions: int
    violations: tuple[str, ...]  # open territory violations (cleared by gate 3 or COMPLETE)
    session: dict[str, Any] | None
    last_session: dict[str, Any] | None  # how the previous session ended
    verifications: dict[str, dict[str, Any]]  # latest result per kind (build, test, verify:<chain>)
    report: dict[str, Any] | None
    last_ts: float | None
    tokens: int = 0  # input + output tokens reported by the agent's CLI, all sessions
    cost_usd: float = 0.0  # where the CLI reports cost
    budget_exceeded: str | None = None  # why the agent was stopped for its budget
    chains_parked: int = 0  # chains set aside (PARKED), each with its park_reason in `Status.chains`
    chains_left: int = 0  # chains not settled yet (not COMPLETE, PARKED, FAILED or SKIPPED)


@dataclass(frozen=True)
class ChainStatus:
    """One chain of one agent."""

    agent: str | None
    chain: str
    state: str  # ChainState value
    park_reason: str | None
    duplicate_of: str | None
    retries: int  # highest retry tier scheduled (0: still on the original attempt)
    attempts: int  # 1 + retries
    verification: dict[str, Any] | None  # the latest verification run tagged with this chain
    last_ts: float | None


@dataclass(frozen=True)
class WaveStatus:
    number: str
    state: str  # WaveState value
    agents: tuple[str, ...]


@dataclass(frozen=True)
class GateStatus:
    """The latest outcome of one gate (for one agent or wave, where it applies)."""

    gate: str
    agent: str | None
    wave: int | str | None
    result: str  # passed | failed | approved | overridden
    reason: str | None
    ts: float


@dataclass(frozen=True)
class P0Status:
    id: str
    agent: str | None
    chain: str | None
    description: str
    triaged: bool
    decision: str | None
    ts: float


@dataclass(frozen=True)
class Status:
    """Everything ``dispatch status`` shows; ``as_data()`` is what ``--json`` prints."""

    sprint: str | None
    seq: int  # the last event folded in
    events: int
    unknown_events: int  # events of types this version does not know (kept, not interpreted)
    started_ts: float | None
    last_ts: float | None
    finished: dict[str, Any] | None
    health: str  # Health value
    health_reasons: tuple[str, ...]
    agents: dict[str, AgentStatus]
    chains: dict[str, ChainStatus]  # key "agent/chain"
    waves: dict[str, WaveStatus]
    gates: tuple[GateStatus, ...]
    p0: tuple[P0Status, ...]
    merges: dict[str, dict[str, Any]]  # latest merge step per agent
    refs: dict[str, dict[str, Any]]  # latest update per ref
    decisions: tuple[dict[str, Any], ...]  # latest operator decisions
    # Whether an orchestrator runs the sprint now (`store.liveness.assess`); None: none ever ran,
    # or the status was not asked for it (the fold alone cannot know).
    orchestrator: dict[str, Any] | None = None

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    def chain_states(self, agent: str) -> dict[str, str]:
        """``{chain id: state}`` for one agent (what gate 3 needs)."""
        return {c.chain: c.state for c in self.chains.values() if c.agent == agent}


def with_orchestrator(status: Status, orchestrator: dict[str, Any] | None) -> Status:
    """``status`` with what is known about its orchestrator. A sprint that started, has not
    finished and has no orchestrator running is not GREEN: nothing moves until someone resumes it
    (interrupted, killed, failed: YELLOW; a pause for the operator or a failed gate already says so)."""
    if orchestrator is None:
        return status
    status = replace(status, orchestrator=orchestrator)
    if orchestrator["running"] or status.finished or status.started_ts is None:
        return status
    if orchestrator["state"] not in {"interrupted", "killed", "failed", "ended"}:
        return status
    reason = f"no orchestrator running ({orchestrator['meaning']}): nothing moves until `dispatch resume`"
    health = Health.YELLOW.value if status.health == Health.GREEN.value else status.health
    return replace(status, health=health, health_reasons=(*status.health_reasons, reason))


def _wave_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def assess_health(state: dict[str, Any]) -> tuple[Health, list[str]]:
    """Sprint health per REQ-5.06, with the reasons (RED ones first)."""
    red, yellow = [], []
    agents = state["agents"]
    red += [f"agent {name} FAILED" for name, a in agents.items() if a["state"] == "FAILED"]
    blocked = sorted(name for name, a in agents.items() if a["state"] == "BLOCKED")
    if len(blocked) >= 2:
        red.append(f"{len(blocked)} agents BLOCKED: {', '.join(blocked)}")
    elif blocked:
        yellow.append(f"agent {blocked[0]} BLOCKED")
    red += [f"P0 {p0_id} not triaged" for p0_id, p in state["p0"].items() if not p.get("triaged")]
    for agent, merge in state["merges"].items():
        if merge["validation_failed"]:
            red.append(f"merge of {agent} failed validation")
        elif merge["conflict"]:
            yellow.append(f"merge of {agent} conflicts")
    for ref, update in state["refs"].items():
        if update["new"] is not None and not update["validated"]:
            red.append(f"{ref} moved to an unvalidated commit")
        elif update["error"]:
            # Validated work that did not reach the base has not landed: as bad as a failed merge.
            red.append(f"{ref} was not moved (work validated for it did not land): {update['error'].splitlines()[0]}")
    for gate in state["gates"].values():
        if gate["result"] == "failed":
            where = gate["agent"] or (f"wave {gate['wave']}" if gate["wave"] is not None else "")
            text = f"gate {gate['gate']} failed" + (f" ({where})" if where else "")
            (red if gate["gate"] == "2" else yellow).append(text)  # gate 2 = wave transition
    for key, chain in state["chains"].items():
        if chain["state"] == "BLOCKED":
            yellow.append(f"chain {key} BLOCKED")
        elif chain["retries"] and chain["state"] not in SETTLED_CHAIN_STATES:
            yellow.append(f"chain {key} on retry {chain['retries']}")
    yellow += [f"agent {name} over budget: {a['budget_exceeded']}" for name, a in agents.items()
               if a.get("budget_exceeded")]
    yellow += [f"agent {name} territory violation: {', '.join(a['violations'][:3])}"
               for name, a in agents.items() if a["violations"]]
    if red:
        return Health.RED, red + yellow
    return (Health.YELLOW, yellow) if yellow else (Health.GREEN, [])


def to_status(state: dict[str, Any]) -> Status:
    """The immutable `Status` for a folded state (which is copied, never shared)."""
    state = copy.deepcopy(state)
    health, reasons = assess_health(state)
    chains = {key: ChainStatus(attempts=1 + c["retries"], **c) for key, c in state["chains"].items()}
    agents = {}
    for name, a in state["agents"].items():
        own = [c for c in chains.values() if c.agent == name]
        agents[name] = AgentStatus(
            name=name, chains_done=sum(c.state == "COMPLETE" for c in own), chains_total=len(own),
            chains_parked=sum(c.state == "PARKED" for c in own),
            chains_left=sum(c.state not in SETTLED_CHAIN_STATES for c in own),
            **{**a, "violations": tuple(a["violations"])})
    waves = {key: WaveStatus(key, w["state"], tuple(w["agents"]))
             for key, w in sorted(state["waves"].items(), key=lambda kv: _wave_order(kv[0]))}
    gates = tuple(GateStatus(**{k: v for k, v in g.items() if k != "seq"})
                  for g in sorted(state["gates"].values(), key=lambda g: g["seq"]))
    p0 = tuple(P0Status(id=p0_id, decision=p.get("decision"), **{k: v for k, v in p.items() if k != "decision"})
               for p0_id, p in state["p0"].items())
    return Status(
        sprint=state["sprint"], seq=state["seq"], events=state["events"],
        unknown_events=state["unknown_events"], started_ts=state["started_ts"],
        last_ts=state["last_ts"], finished=state["finished"], health=health.value,
        health_reasons=tuple(reasons), agents=agents, chains=chains, waves=waves, gates=gates,
        p0=p0, merges=state["merges"], refs=state["refs"], decisions=tuple(state["decisions"]),
    )
