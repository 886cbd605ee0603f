"""Operator decisions on gates: approve one that waits for a human, override one that failed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.errors import FatalError
from agent_dispatch.operations.caller import refuse_agent_session
from agent_dispatch.operations.sprint import opened, operator_name
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

GATES = ("gate-1", "gate-2", "gate-3", "gate-4", "gate-5")
OVERRIDE_NEEDS_REASON = "an override needs a reason: --reason \"why it is safe to continue\""


@dataclass(frozen=True)
class GateApproved:
    """An approval recorded in the sprint's log (``gate-2`` approves every wave's gate 2)."""

    sprint: str
    gate: str
    by: str
    seq: int
    plan: str | None = None  # the plan the sprint runs from, for the resume command

    @property
    def resume(self) -> str:
        """The command that continues the sprint past the gate, runnable as printed."""
        return resume_command(self.plan)


@dataclass(frozen=True)
class GateOverridden:
    """An override of a failed gate recorded in the sprint's log, with the operator's reason."""

    sprint: str
    gate: str
    reason: str
    by: str
    seq: int
    plan: str | None = None  # the plan the sprint runs from, for the resume command

    @property
    def resume(self) -> str:
        """The command that continues the sprint past the gate, runnable as printed."""
        return resume_command(self.plan)


def resume_command(plan: str | None) -> str:
    """``dispatch resume <plan>`` with the sprint's own plan when its log knows it."""
    return f"dispatch resume {plan or '<plan>'}"


def sprint_plan(log: EventLog) -> str | None:
    """The plan path the sprint was started with (its ``sprint_started`` event), if any."""
    started = next(iter(log.read(types=[EventType.SPRINT_STARTED])), None)
    plan = started.data.get("plan") if started is not None else None
    return str(plan) if plan else None


def check_gate(gate: str) -> str:
    """``gate`` when its family (``gate-2`` of ``gate-2:wave-1``) is a known gate; else FatalError."""
    family = gate.split(":", 1)[0]
    if family not in GATES:
        raise FatalError(f"unknown gate {gate!r}; gates are {', '.join(GATES)} (e.g. gate-2:wave-1)")
    return gate


def approve(gate: str, *, by: str | None = None, log: EventLog | None = None, sprint: str | None = None,
            start: Path = Path(".")) -> GateApproved:
    """Record the operator's approval of ``gate`` in ``log`` (or the log of ``sprint`` found from
    ``start``); the engine continues past it on `dispatch resume`."""
    with opened(log, sprint=sprint, start=start) as events:
        refuse_agent_session(f"approving {gate}", events, start)
        who = operator_name(by)
        seq = events.append(EventType.GATE_APPROVED, data={"gate": check_gate(gate), "by": who})
        return GateApproved(events.sprint, gate, who, seq, sprint_plan(events))


def override(gate: str, *, reason: str, by: str | None = None, log: EventLog | None = None,
             sprint: str | None = None, start: Path = Path(".")) -> GateOverridden:
    """Record an operator override of a failed ``gate`` with ``reason`` (kept for the assessment);
    failed agents are then skipped, not landed."""
    if not reason.strip():
        raise FatalError(OVERRIDE_NEEDS_REASON)
    with opened(log, sprint=sprint, start=start) as events:
        refuse_agent_session(f"overriding {gate}", events, start)
        who = operator_name(by)
        seq = events.append(EventType.GATE_OVERRIDDEN,
                            data={"gate": check_gate(gate), "reason": reason.strip(), "by": who})
        return GateOverridden(events.sprint, gate, reason.strip(), who, seq, sprint_plan(events))
