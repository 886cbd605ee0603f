"""Projections: the sprint's status computed from its events, and nothing else.

The fold is pure: ``apply(state, event)`` updates a plain JSON-able dict, `to_status` turns that
dict into the immutable `Status` that the board, ``dispatch status --json`` and the gates read.
``project(events)`` is the whole thing from scratch. Because the state is plain JSON it can be
snapshotted and folded on from there (`EventLog.status`), which gives the same answer as a full
replay -- the tests check exactly that -- at a cost that does not grow with the log.

Bump `PROJECTION_VERSION` whenever the state's shape or the meaning of a fold changes: stale
snapshots are then ignored and rebuilt from the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_dispatch.store.events import WORKING_CHAIN_STATES, Event, EventType, WaveState
from agent_dispatch.store.status import Status, to_status

__all__ = ["PROJECTION_VERSION", "Status", "apply", "chain_key", "fold", "gate_name", "new_state",
           "project", "to_status"]

PROJECTION_VERSION = 4  # 4: an agent-parked chain's park_reason carries the agent's words
OUTPUT_TAIL_CHARS = 2000  # of verification output kept in the status
MAX_DECISIONS = 50

State = dict[str, Any]


def new_state() -> State:
    """The state before any event."""
    return {"sprint": None, "seq": 0, "events": 0, "unknown_events": 0, "started_ts": None,
            "last_ts": None, "finished": None, "agents": {}, "chains": {}, "waves": {}, "gates": {},
            "p0": {}, "merges": {}, "refs": {}, "decisions": []}


def _agent(state: State, name: str) -> dict[str, Any]:
    agents = state["agents"]
    if name not in agents:
        agents[name] = {"role": None, "wave": None, "state": "IDLE", "reason": None, "attempts": 0,
                        "session": None, "last_session": None, "current_chain": None, "retries": 0,
                        "interventions": 0, "violations": [], "verifications": {}, "report": None,
                        "last_ts": None, "tokens": 0, "cost_usd": 0.0, "budget_exceeded": None}
    agent: dict[str, Any] = agents[name]
    return agent


def chain_key(agent: str | None, chain: str) -> str:
    """Chain ids are per agent (two agents may both have ``chain-1``): key ``agent/chain``."""
    return f"{agent}/{chain}" if agent else chain


def _chain(state: State, agent: str | None, chain: str) -> dict[str, Any]:
    key = chain_key(agent, chain)
    if key not in state["chains"]:
        state["chains"][key] = {"agent": agent, "chain": chain, "state": "QUEUED", "park_reason": None,
                                "duplicate_of": None, "retries": 0, "verification": None,
                                "last_ts": None}
    chain_state: dict[str, Any] = state["chains"][key]
    return chain_state


def wave_number(value: object) -> object:
    """Waves are numbered; JSON object keys turn numbers into strings, so turn them back."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _wave(state: State, number: object) -> dict[str, Any]:
    wave: dict[str, Any] = state["waves"].setdefault(str(number), {"state": "WAITING", "agents": []})
    return wave


def gate_name(value: object) -> str:
    """``2``, ``"2"``, ``"gate2"`` and ``"Gate 2"`` all name gate ``"2"``."""
    text = str(value).strip().lower()
    if text.startswith("gate"):
        text = text[4:].strip(" -_")
    return text or str(value)


# -- one handler per event type -------------------------------------------------------------------

def _sprint_started(state: State, event: Event) -> None:
    data = event.data
    state["sprint"], state["started_ts"] = event.sprint, event.ts
    for item in data.get("agents") or ():
        info = item if isinstance(item, Mapping) else {"name": item}
        agent = _agent(state, str(info["name"]))
        agent["role"] = info.get("role", agent["role"])
        agent["wave"] = wave_number(info.get("wave", agent["wave"]))
    waves = data.get("waves") or {}
    items = waves.items() if isinstance(waves, Mapping) else ((w["number"], w.get("agents", ())) for w in waves)
    for number, names in items:
        _wave(state, number)["agents"] = [str(n) for n in names]
        for name in names:
            agent = _agent(state, str(name))
            agent["wave"] = agent["wave"] if agent["wave"] is not None else wave_number(number)
    for agent, chains in (data.get("chains") or {}).items():
        for chain in chains:
            _chain(state, agent, str(chain))


def _agent_started(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    agent["state"], agent["reason"] = "ACTIVE", None
    if event.data.get("role") is not None:
        agent["role"] = event.data["role"]
    if event.data.get("wave") is not None:
        agent["wave"] = wave_number(event.data["wave"])


def _session_started(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    agent["attempts"] = max(agent["attempts"], int(event.data["attempt"]))
    agent["session"] = dict(event.data, ts=event.ts)


def _session_ended(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    agent["last_session"] = dict(event.data, ts=event.ts)
    agent["session"] = None


def _session_outcome(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    agent["tokens"] += int(event.data.get("input_tokens") or 0) + int(event.data.get("output_tokens") or 0)
    agent["cost_usd"] += float(event.data.get("cost_usd") or 0.0)


def _budget_exceeded(state: State, event: Event) -> None:
    if event.agent:
        _agent(state, event.agent)["budget_exceeded"] = event.data.get("detail") or event.data["scope"]


def _agent_state(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    agent["state"], agent["reason"] = event.data["state"], event.data.get("reason")
    if agent["state"] == "COMPLETE":
        agent["violations"] = []


def _chain_state(state: State, event: Event) -> None:
    chain = _chain(state, event.agent, event.chain or "")
    chain["state"] = event.data["state"]
    chain["park_reason"] = event.data.get("park_reason")
    if chain["park_reason"] == "agent" and event.data.get("note"):
        chain["park_reason"] = f"agent: {event.data['note']}"  # the board and the summary show the agent's why
    chain["duplicate_of"] = event.data.get("duplicate_of")
    if event.agent:
        agent = _agent(state, event.agent)
        if chain["state"] in WORKING_CHAIN_STATES:
            agent["current_chain"] = chain["chain"]
        elif agent["current_chain"] == chain["chain"]:
            agent["current_chain"] = None


def _verification(state: State, event: Event) -> None:
    data = event.data
    output = str(data.get("output_tail", data.get("output", "")))[-OUTPUT_TAIL_CHARS:]
    record = {"kind": data["kind"], "name": data.get("name"), "command": data.get("command"),
              "ok": bool(data["ok"]), "returncode": data.get("returncode"), "output_tail": output,
              "seq": event.seq, "ts": event.ts}
    if event.agent:
        key = data["kind"] if data.get("name") in (None, data["kind"]) else f"{data['kind']}:{data['name']}"
        _agent(state, event.agent)["verifications"][key] = record
    if event.chain:
        _chain(state, event.agent, event.chain)["verification"] = record


def _gate(result: str) -> Callable[[State, Event], None]:
    def handler(state: State, event: Event) -> None:
        gate = gate_name(event.data["gate"])
        wave = event.data.get("wave")
        key = "|".join((gate, event.agent or "", "" if wave is None else str(wave)))
        state["gates"][key] = {"gate": gate, "agent": event.agent, "wave": wave, "result": result,
                               "reason": event.data.get("reason"), "seq": event.seq, "ts": event.ts}
        if result == "passed" and gate == "3" and event.agent:
            _agent(state, event.agent)["violations"] = []
    return handler


def _wave_state(value: str) -> Callable[[State, Event], None]:
    def handler(state: State, event: Event) -> None:
        _wave(state, event.data["wave"])["state"] = value
    return handler


def _p0_discovered(state: State, event: Event) -> None:
    p0_id = str(event.data.get("id") or f"P0-{event.seq}")
    state["p0"][p0_id] = {"agent": event.agent, "chain": event.chain,
                          "description": event.data["description"], "triaged": False,
                          "decision": None, "ts": event.ts}


def _p0_triaged(state: State, event: Event) -> None:
    entry = state["p0"].setdefault(str(event.data["p0"]), {"agent": None, "chain": None,
                                                           "description": "", "ts": event.ts})
    entry["triaged"], entry["decision"] = True, event.data["decision"]


def _retry_scheduled(state: State, event: Event) -> None:
    if event.agent:
        _agent(state, event.agent)["retries"] += 1
    if event.chain:
        chain = _chain(state, event.agent, event.chain)
        chain["retries"] = max(chain["retries"], int(event.data["tier"]))


def _intervention(state: State, event: Event) -> None:
    if event.agent:
        _agent(state, event.agent)["interventions"] += 1


def _report_parsed(state: State, event: Event) -> None:
    if event.agent:
        keep = ("path", "ok", "status", "substantive")
        _agent(state, event.agent)["report"] = {k: event.data[k] for k in keep if k in event.data}


def _territory_violation(state: State, event: Event) -> None:
    agent = _agent(state, event.agent or "")
    paths = event.data["paths"]
    paths = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    agent["violations"] = sorted(set(agent["violations"]) | set(paths)) if paths else []


def _merge_step(state: State, event: Event) -> None:
    data = event.data
    conflict = bool(data.get("conflicts"))
    state["merges"][event.agent or data.get("agent") or "-"] = {
        "ok": bool(data["ok"]), "conflict": conflict and not data["ok"],
        "validation_failed": not data["ok"] and not conflict, "step": data.get("step"),
        "commit": data.get("commit"), "seq": event.seq, "ts": event.ts}


def _ref_updated(state: State, event: Event) -> None:
    data = event.data
    state["refs"][str(data["ref"])] = {"old": data["old"], "new": data["new"],
                                       "validated": bool(data["validated"]),
                                       "error": data.get("error"), "ts": event.ts}


def _operator_decision(state: State, event: Event) -> None:
    decisions = state["decisions"]
    decisions.append({"seq": event.seq, "ts": event.ts, "agent": event.agent, **event.data})
    del decisions[:-MAX_DECISIONS]


def _sprint_finished(state: State, event: Event) -> None:
    state["finished"] = {"outcome": event.data["outcome"], "ts": event.ts}


_HANDLERS: dict[str, Callable[[State, Event], None]] = {
    EventType.SPRINT_STARTED: _sprint_started,
    EventType.SPRINT_FINISHED: _sprint_finished,
    EventType.GATE_PASSED: _gate("passed"),
    EventType.GATE_FAILED: _gate("failed"),
    EventType.GATE_APPROVED: _gate("approved"),
    EventType.GATE_OVERRIDDEN: _gate("overridden"),
    EventType.WAVE_STARTED: _wave_state(WaveState.ACTIVE),
    EventType.WAVE_COMPLETED: _wave_state(WaveState.COMPLETE),
    EventType.AGENT_STARTED: _agent_started,
    EventType.AGENT_SESSION_STARTED: _session_started,
    EventType.AGENT_SESSION_ENDED: _session_ended,
    EventType.AGENT_STATE: _agent_state,
    EventType.SESSION_OUTCOME: _session_outcome,
    EventType.BUDGET_EXCEEDED: _budget_exceeded,
    EventType.CHAIN_STATE: _chain_state,
    EventType.VERIFICATION: _verification,
    EventType.P0_DISCOVERED: _p0_discovered,
    EventType.P0_TRIAGED: _p0_triaged,
    EventType.RETRY_SCHEDULED: _retry_scheduled,
    EventType.INTERVENTION_SENT: _intervention,
    EventType.REPORT_PARSED: _report_parsed,
    EventType.TERRITORY_VIOLATION: _territory_violation,
    EventType.MERGE_STEP: _merge_step,
    EventType.REF_UPDATED: _ref_updated,
    EventType.OPERATOR_DECISION: _operator_decision,
}


def apply(state: State, event: Event) -> State:
    """Fold one event into ``state`` (in place) and return it. Unknown types are only counted;
    known types the board does not show (``chain_failed``, ``finding``, ...) are not unknown."""
    state["seq"], state["last_ts"], state["events"] = event.seq, event.ts, state["events"] + 1
    state["sprint"] = state["sprint"] or event.sprint
    handler = _HANDLERS.get(str(event.type)) if event.is_known else None
    if handler is None:
        state["unknown_events"] += 0 if event.is_known else 1
        return state
    if event.agent:
        _agent(state, event.agent)["last_ts"] = event.ts
    if event.chain:
        _chain(state, event.agent, event.chain)["last_ts"] = event.ts
    handler(state, event)
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    """Fold ``events`` into ``state`` (a fresh one by default)."""
    state = new_state() if state is None else state
    for event in events:
        apply(state, event)
    return state


def project(events: Iterable[Event]) -> Status:
    """The status after ``events``, computed from scratch (the reference for the fast path)."""
    return to_status(fold(events))



class StatusProjection:
    """The status fold as a `live.Projection`: the state is the plain JSON dict, the view a `Status`."""

    name = "status"
    version = PROJECTION_VERSION

    def new(self) -> State:
        return new_state()

    def apply(self, state: State, event: Event) -> None:
        apply(state, event)

    def dump(self, state: State) -> State:
        return state

    def load(self, data: Any) -> State:
        return dict(data)

    def view(self, state: State) -> Status:
        return to_status(state)


STATUS = StatusProjection()
