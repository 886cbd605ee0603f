"""The typed event model: every fact the tool learns is one `Event` in the sprint's log.

An event is ``(seq, ts, sprint, agent?, chain?, type, data)``. ``type`` comes from a closed set
(`EventType`); each type lists the ``data`` keys it requires (`REQUIRED`) and, for enumerated
fields, the values allowed (`ALLOWED`). Extra keys are always allowed, so the engine can record
more detail without a schema change. `validate` is applied on append; events read back are never
rejected: a type this version does not know (written by a newer one) loads as a plain string.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EventType(enum.StrEnum):
    """Every kind of fact the tool records. Adding one is backwards compatible; renaming is not."""

    SPRINT_STARTED = "sprint_started"  # plan facts: agents, waves, chains (all optional)
    SPRINT_FINISHED = "sprint_finished"
    GATE_PASSED = "gate_passed"
    GATE_FAILED = "gate_failed"
    GATE_APPROVED = "gate_approved"  # an operator approved a gate that needs a human
    GATE_OVERRIDDEN = "gate_overridden"  # an operator overrode a failed gate, with a reason
    WAVE_STARTED = "wave_started"
    WAVE_COMPLETED = "wave_completed"
    AGENT_STARTED = "agent_started"  # dispatched: worktree and branch exist
    AGENT_SESSION_STARTED = "agent_session_started"  # one process run; data has the executor record
    AGENT_SESSION_ENDED = "agent_session_ended"
    AGENT_STATE = "agent_state"
    CHAIN_STATE = "chain_state"
    VERIFICATION = "verification"  # the tool's own build/test/verify run
    P0_DISCOVERED = "p0_discovered"
    P0_TRIAGED = "p0_triaged"
    RETRY_SCHEDULED = "retry_scheduled"
    INTERVENTION_SENT = "intervention_sent"
    REPORT_PARSED = "report_parsed"
    TERRITORY_VIOLATION = "territory_violation"
    MERGE_STEP = "merge_step"
    REF_UPDATED = "ref_updated"
    OPERATOR_DECISION = "operator_decision"
    MESSAGE_QUEUED = "message_queued"  # a follow-up message waits for the agent's next session
    CHAIN_FAILED = "chain_failed"  # the tool's verification of a chain failed (one retry-ladder rung)
    WIP_COMMITTED = "wip_committed"  # the tool saved a dead session's uncommitted work
    MERGE_VALIDATION = "merge_validation"  # build + test of one merge result in the train
    AGENT_RETURNED = "agent_returned"  # a branch that failed to land goes back to its agent
    FINDING = "finding"  # a RED TEAM finding (automated check or reviewer agent); data is the Finding
    FINDING_ACCEPTED = "finding_accepted"  # an operator accepted a finding's risk, with the reason
    SESSION_OUTCOME = "session_outcome"  # the adapter's reading of a session: CLI session id, usage, denials
    BUDGET_EXCEEDED = "budget_exceeded"  # an agent (or the sprint) spent past its token/cost budget
    AGENT_FALLBACK = "agent_fallback"  # the agent's next sessions use a fallback CLI or model


class AgentState(enum.StrEnum):
    """REQ-5.10: IDLE → ACTIVE ⇄ BLOCKED → REVIEW → COMPLETE; any → FAILED → ACTIVE."""

    IDLE = "IDLE"
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    REVIEW = "REVIEW"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class ChainState(enum.StrEnum):
    """REQ-1.20: the union of the chain states the methodology uses."""

    QUEUED = "QUEUED"
    TRACING = "TRACING"
    DIAGNOSING = "DIAGNOSING"
    FIXING = "FIXING"
    VERIFYING = "VERIFYING"
    DOCUMENTING = "DOCUMENTING"
    COMPLETE = "COMPLETE"
    BLOCKED = "BLOCKED"
    PARKED = "PARKED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class ParkReason(enum.StrEnum):
    """SI-07: why a chain was parked."""

    BLOCKED = "blocked"
    PREEMPTED = "preempted"
    RETRY_EXHAUSTED = "retry_exhausted"
    DUPLICATE = "duplicate"
    OUT_OF_TERRITORY = "out_of_territory"
    DESCOPED = "descoped"


class WaveState(enum.StrEnum):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    COMPLETE = "COMPLETE"


class Health(enum.StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


WORKING_CHAIN_STATES = frozenset({"TRACING", "DIAGNOSING", "FIXING", "VERIFYING", "DOCUMENTING"})
SETTLED_CHAIN_STATES = frozenset({"COMPLETE", "PARKED", "FAILED", "SKIPPED"})

# data keys each type must carry; extra keys are welcome.
REQUIRED: dict[EventType, tuple[str, ...]] = {
    EventType.SPRINT_STARTED: (),
    EventType.SPRINT_FINISHED: ("outcome",),
    EventType.GATE_PASSED: ("gate",),
    EventType.GATE_FAILED: ("gate",),
    EventType.GATE_APPROVED: ("gate",),
    EventType.GATE_OVERRIDDEN: ("gate", "reason"),
    EventType.WAVE_STARTED: ("wave",),
    EventType.WAVE_COMPLETED: ("wave",),
    EventType.AGENT_STARTED: (),
    EventType.AGENT_SESSION_STARTED: ("attempt", "pid", "session_id"),
    EventType.AGENT_SESSION_ENDED: ("exit_code", "reason"),
    EventType.AGENT_STATE: ("state",),
    EventType.CHAIN_STATE: ("state",),
    EventType.VERIFICATION: ("kind", "ok"),  # usually also command, returncode, output tail
    EventType.P0_DISCOVERED: ("description",),
    EventType.P0_TRIAGED: ("p0", "decision"),
    EventType.RETRY_SCHEDULED: ("tier",),
    EventType.INTERVENTION_SENT: ("intervention",),
    EventType.REPORT_PARSED: (),
    EventType.TERRITORY_VIOLATION: ("paths",),
    EventType.MERGE_STEP: ("ok",),
    EventType.REF_UPDATED: ("ref", "old", "new", "validated"),
    EventType.OPERATOR_DECISION: ("decision",),
    EventType.MESSAGE_QUEUED: ("kind", "file"),
    EventType.CHAIN_FAILED: ("tier",),
    EventType.WIP_COMMITTED: ("commit",),
    EventType.MERGE_VALIDATION: ("commit", "ok"),
    EventType.AGENT_RETURNED: ("kind",),
    EventType.FINDING: ("id", "severity", "file"),
    EventType.FINDING_ACCEPTED: ("id", "reason"),
    EventType.SESSION_OUTCOME: ("reason",),
    EventType.BUDGET_EXCEEDED: ("scope",),
    EventType.AGENT_FALLBACK: ("tool",),
}

# Types that describe one agent (or one of its chains) must name it.
NEEDS_AGENT = frozenset({
    EventType.AGENT_STARTED, EventType.AGENT_SESSION_STARTED, EventType.AGENT_SESSION_ENDED,
    EventType.AGENT_STATE, EventType.TERRITORY_VIOLATION,
})
NEEDS_CHAIN = frozenset({EventType.CHAIN_STATE})

ALLOWED: dict[tuple[EventType, str], frozenset[str]] = {
    (EventType.AGENT_STATE, "state"): frozenset(AgentState),
    (EventType.CHAIN_STATE, "state"): frozenset(ChainState),
    (EventType.CHAIN_STATE, "park_reason"): frozenset(ParkReason),
    (EventType.VERIFICATION, "kind"): frozenset({"build", "test", "verify", "lint"}),
    (EventType.FINDING, "severity"): frozenset({"CRITICAL", "HIGH", "MEDIUM", "LOW"}),
}


def parse_type(value: str) -> EventType | str:
    """The `EventType` for ``value``, or ``value`` itself when this version does not know it."""
    try:
        return EventType(value)
    except ValueError:
        return value


def validate(type_: str, *, agent: str | None, chain: str | None, data: Mapping[str, Any]) -> EventType:
    """Check an event before it is appended; raises ValueError naming what is wrong."""
    try:
        known = EventType(type_)
    except ValueError:
        allowed = ", ".join(t.value for t in EventType)
        raise ValueError(f"unknown event type {type_!r}; expected one of: {allowed}") from None
    missing = [key for key in REQUIRED[known] if key not in data]
    if missing:
        raise ValueError(f"{known} event is missing data key(s): {', '.join(missing)}")
    if known in NEEDS_AGENT and not agent:
        raise ValueError(f"{known} event needs an agent")
    if known in NEEDS_CHAIN and not chain:
        raise ValueError(f"{known} event needs a chain")
    for (event_type, key), values in ALLOWED.items():
        if event_type == known and data.get(key) is not None and data[key] not in values:
            raise ValueError(f"{known} event: {key}={data[key]!r} is not one of: "
                             f"{', '.join(sorted(values))}")
    return known


@dataclass(frozen=True)
class NewEvent:
    """An event not yet appended (no seq yet); input to `EventLog.append_many`."""

    type: str
    agent: str | None = None
    chain: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    ts: float | None = None  # defaults to the time of the append


@dataclass(frozen=True)
class Event:
    """One fact from the log. ``type`` is a plain ``str`` when written by a newer version."""

    seq: int
    ts: float
    sprint: str
    agent: str | None
    chain: str | None
    type: EventType | str
    data: dict[str, Any]

    @property
    def is_known(self) -> bool:
        """False for a type this version does not know (it is kept, and ignored by projections)."""
        return isinstance(self.type, EventType)

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict, e.g. for ``dispatch log --json``."""
        return {"seq": self.seq, "ts": self.ts, "sprint": self.sprint, "agent": self.agent,
                "chain": self.chain, "type": str(self.type), "data": self.data}
