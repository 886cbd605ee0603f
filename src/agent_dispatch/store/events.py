"""The typed event model: every fact the tool learns is one `Event` in the sprint's log.

An event is ``(seq, ts, sprint, agent?, chain?, type, data)``. ``type`` comes from a closed set
(`EventType`); each type has a typed payload model (`PAYLOADS`: the keys it requires, the values
its enumerated fields allow). Extra keys are always allowed, so the engine can record more detail
without a schema change. `validate` is applied on append; events read back are never rejected: a
type this version does not know (written by a newer one) loads as a plain string.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


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
    REVIEW_PASS = "review_pass"  # the RED TEAM agent reviewed these branch tips (phase started / ended)
    TERRITORY_REJECTED = "territory_rejected"  # a territory hook in the agent's worktree refused a commit or an edit
    OUTSIDE_WRITE = "outside_write"  # something outside the agent's worktree changed during its session


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
    AGENT = "agent"  # parked by its agent, the agent's own words in the event's ``note``


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



# -- typed payloads ---------------------------------------------------------------------------------
# One pydantic model per event type: the keys a type must carry are fields without a default, the
# enumerated ones are typed by their enum. Extra keys are always allowed (``extra="allow"``), so the
# engine can record more detail without a schema change and events of a newer version still load.
# What is stored is the data as given (JSON), so ``dispatch events --json`` keeps its shape.

Scalar = str | int  # gates, waves and ids are names or numbers


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="allow", frozen=True)


class SprintStarted(Payload):
    plan: str | None = None
    plan_sha: str | None = None
    agents: list[Any] = Field(default_factory=list)  # names or {name, role, wave}
    waves: Any = None  # [{number, agents}] or {number: [agents]}
    chains: dict[str, list[str]] = Field(default_factory=dict)


class SprintFinished(Payload):
    outcome: str
    failed: list[str] = Field(default_factory=list)
    not_landed: list[str] = Field(default_factory=list)
    decision: str | None = None


class GateEvent(Payload):
    gate: Scalar
    wave: Scalar | None = None
    reason: str | None = None


class GatePassed(GateEvent):
    skipped: list[str] = Field(default_factory=list)


class GateFailed(GateEvent):
    failed: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class GateApproved(GateEvent):
    by: str | None = None


class GateOverridden(GateEvent):
    reason: str
    by: str | None = None


class WaveStarted(Payload):
    wave: Scalar
    agents: list[str] = Field(default_factory=list)


class WaveCompleted(Payload):
    wave: Scalar


class AgentStarted(Payload):
    branch: str | None = None
    worktree: str | None = None
    role: str | None = None
    wave: Scalar | None = None


class AgentSessionStarted(Payload):
    attempt: int
    pid: int
    session_id: str
    record: dict[str, Any] | None = None  # the executor's record, for re-adoption after a restart
    message: str | None = None  # kind of follow-up message the session delivers
    tool: str | None = None
    model: str | None = None
    resumed: str | None = None  # the CLI session id resumed
    argv: list[str] = Field(default_factory=list)


class AgentSessionEnded(Payload):
    exit_code: int | None
    reason: str
    attempt: int | None = None
    adopted: bool = False


class AgentStateChanged(Payload):
    state: AgentState
    reason: str | None = None


class ChainStateChanged(Payload):
    state: ChainState
    park_reason: ParkReason | None = None
    source: str | None = None  # "tool" (verified) or "agent" (a claim)
    note: str | None = None
    duplicate_of: str | None = None


class Verification(Payload):
    kind: Literal["build", "test", "verify", "lint"]
    ok: bool
    name: str | None = None
    command: str | None = None
    returncode: int | None = None
    round: str | None = None


class P0Discovered(Payload):
    description: str
    file: str | None = None
    line: int | None = None


class P0Triaged(Payload):
    p0: Scalar
    decision: str


class RetryScheduled(Payload):
    tier: int


class InterventionSent(Payload):
    intervention: str


class ReportParsed(Payload):
    present: bool | None = None
    status: str | None = None


class TerritoryViolation(Payload):
    paths: list[str] | str


class OutsideWrite(Payload):
    place: str  # "main checkout", "worktree <path>", "event log"
    paths: list[str]
    attempt: int


class MergeStep(Payload):
    ok: bool
    commit: str | None = None
    conflicts: list[str] | None = None
    culprit: bool = False


class RefUpdated(Payload):
    ref: str
    old: str | None
    new: str | None  # null: the base did not move (``error`` says why) and ``agents`` did not land
    validated: bool  # the commit the base moved to holds exactly the validated tree
    error: str | None = None
    agents: list[str] = Field(default_factory=list)  # whose work this move lands


class OperatorDecision(Payload):
    decision: str


class MessageQueued(Payload):
    kind: str
    file: str
    attempt: int | None = None


class ChainFailed(Payload):
    tier: int
    attempt: int | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list)


class WipCommitted(Payload):
    commit: str
    stale_locks: list[str] = []  # git's locks a killed session left, removed before the commit


class MergeValidation(Payload):
    commit: str
    ok: bool
    checks: list[dict[str, Any]] = Field(default_factory=list)


class AgentReturned(Payload):
    kind: str


class FindingRecorded(Payload):
    id: str
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    file: str | None


class FindingAccepted(Payload):
    id: str
    reason: str


class SessionOutcomeRead(Payload):
    reason: str
    tool: str | None = None
    attempt: int | None = None
    cli_session: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


class BudgetExceeded(Payload):
    scope: str
    detail: str | None = None


class AgentFallback(Payload):
    tool: str
    model: str | None = None
    command: list[str] | None = None


class ReviewPassRecorded(Payload):
    phase: Literal["started", "ended"]
    tips: dict[str, str]  # agent → the branch tip the reviewer was shown
    ok: bool | None = None  # ended: the session ended on its own (its findings file counts)


class TerritoryRejected(Payload):
    hook: Literal["pre-commit", "claude"]
    paths: list[str]


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.SPRINT_STARTED: SprintStarted,
    EventType.SPRINT_FINISHED: SprintFinished,
    EventType.GATE_PASSED: GatePassed,
    EventType.GATE_FAILED: GateFailed,
    EventType.GATE_APPROVED: GateApproved,
    EventType.GATE_OVERRIDDEN: GateOverridden,
    EventType.WAVE_STARTED: WaveStarted,
    EventType.WAVE_COMPLETED: WaveCompleted,
    EventType.AGENT_STARTED: AgentStarted,
    EventType.AGENT_SESSION_STARTED: AgentSessionStarted,
    EventType.AGENT_SESSION_ENDED: AgentSessionEnded,
    EventType.AGENT_STATE: AgentStateChanged,
    EventType.CHAIN_STATE: ChainStateChanged,
    EventType.VERIFICATION: Verification,
    EventType.P0_DISCOVERED: P0Discovered,
    EventType.P0_TRIAGED: P0Triaged,
    EventType.RETRY_SCHEDULED: RetryScheduled,
    EventType.INTERVENTION_SENT: InterventionSent,
    EventType.REPORT_PARSED: ReportParsed,
    EventType.TERRITORY_VIOLATION: TerritoryViolation,
    EventType.MERGE_STEP: MergeStep,
    EventType.OUTSIDE_WRITE: OutsideWrite,
    EventType.REF_UPDATED: RefUpdated,
    EventType.OPERATOR_DECISION: OperatorDecision,
    EventType.MESSAGE_QUEUED: MessageQueued,
    EventType.CHAIN_FAILED: ChainFailed,
    EventType.WIP_COMMITTED: WipCommitted,
    EventType.MERGE_VALIDATION: MergeValidation,
    EventType.AGENT_RETURNED: AgentReturned,
    EventType.FINDING: FindingRecorded,
    EventType.FINDING_ACCEPTED: FindingAccepted,
    EventType.SESSION_OUTCOME: SessionOutcomeRead,
    EventType.BUDGET_EXCEEDED: BudgetExceeded,
    EventType.AGENT_FALLBACK: AgentFallback,
    EventType.TERRITORY_REJECTED: TerritoryRejected,
    EventType.REVIEW_PASS: ReviewPassRecorded,
}

# Types that describe one agent (or one of its chains) must name it.
NEEDS_AGENT = frozenset({
    EventType.AGENT_STARTED, EventType.AGENT_SESSION_STARTED, EventType.AGENT_SESSION_ENDED,
    EventType.AGENT_STATE, EventType.TERRITORY_VIOLATION, EventType.TERRITORY_REJECTED,
    EventType.REVIEW_PASS, EventType.OUTSIDE_WRITE,
})
NEEDS_CHAIN = frozenset({EventType.CHAIN_STATE})


def parse_type(value: str) -> EventType | str:
    """The `EventType` for ``value``, or ``value`` itself when this version does not know it."""
    try:
        return EventType(value)
    except ValueError:
        return value


def encode(data: Mapping[str, Any]) -> str:
    """The stored JSON of an event's data (paths and other objects become strings)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def validate(type_: str, *, agent: str | None, chain: str | None, data: Mapping[str, Any] | str) -> EventType:
    """Check an event before it is appended; raises ValueError naming what is wrong.

    ``data`` is checked as it will be stored: its JSON (`encode`), which may be passed instead.
    """
    try:
        known = EventType(type_)
    except ValueError:
        allowed = ", ".join(t.value for t in EventType)
        raise ValueError(f"unknown event type {type_!r}; expected one of: {allowed}") from None
    if known in NEEDS_AGENT and not agent:
        raise ValueError(f"{known} event needs an agent")
    if known in NEEDS_CHAIN and not chain:
        raise ValueError(f"{known} event needs a chain")
    try:
        PAYLOADS[known].model_validate_json(data if isinstance(data, str) else encode(data))
    except ValidationError as exc:
        raise ValueError(_explain(known, exc)) from None
    return known


def _explain(known: EventType, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing"]
    if missing:
        return f"{known} event is missing data key(s): {', '.join(missing)}"
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"])
    return f"{known} event: {key}={first.get('input')!r}: {first['msg']}"


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

    @property
    def payload(self) -> Payload | None:
        """The typed payload (None for a type this version does not know)."""
        if not isinstance(self.type, EventType):
            return None
        return PAYLOADS[self.type].model_validate(self.data)

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict, e.g. for ``dispatch events --json``."""
        return {"seq": self.seq, "ts": self.ts, "sprint": self.sprint, "agent": self.agent,
                "chain": self.chain, "type": str(self.type), "data": self.data}
