"""Gate 4, the RED TEAM part (REQ-8.04, REQ-8.07): which agent branches may merge given the findings.

CRITICAL blocks its branch; only an operator override lets it through (``dispatch accept <id>
--override --reason ...``, or ``dispatch override gate-4:<agent> --reason ...`` for the whole
branch). HIGH blocks unless accepted with a recorded reason (``dispatch accept <id> --reason``).
MEDIUM and LOW never block. Findings and acceptances live in the event log (``finding`` and
``finding_accepted`` events), so the decision can be replayed at any time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_dispatch.review.findings import Finding
from agent_dispatch.store.events import EventType, NewEvent

FINDING_EVENT = EventType.FINDING
ACCEPTED_EVENT = EventType.FINDING_ACCEPTED
GATE = "gate-4"


@dataclass(frozen=True)
class Acceptance:
    """An operator's recorded decision to let one finding through."""

    finding_id: str
    reason: str
    by: str = "operator"
    override: bool = False  # an operator override: the only way past a CRITICAL
    fingerprint: str | None = None  # of the finding accepted; None: whatever has the id

    def matches(self, finding: Finding) -> bool:
        """True when this acceptance was recorded for ``finding`` (same id, same subject)."""
        return self.finding_id == finding.id and self.fingerprint in (None, finding.fingerprint)


@dataclass(frozen=True)
class BranchDecision:
    """Gate 4 for one agent branch: may it merge, what blocks it, what was accepted and why."""

    agent: str
    allowed: bool
    blocking: tuple[Finding, ...] = ()
    accepted: tuple[tuple[Finding, Acceptance], ...] = ()
    notes: tuple[str, ...] = ()  # e.g. an acceptance that cannot clear a CRITICAL

    def as_data(self) -> dict[str, Any]:
        """JSON-able form for events, ``--json`` output and the sprint summary."""
        return {"agent": self.agent, "allowed": self.allowed, "blocking": [f.id for f in self.blocking],
                "accepted": [{"id": f.id, "severity": f.severity, "reason": a.reason, "by": a.by,
                              "override": a.override} for f, a in self.accepted],
                "notes": list(self.notes)}


def findings_from_events(events: Iterable[Any]) -> list[Finding]:
    """The findings recorded in the log: the latest ``finding`` event per id, in id order."""
    latest: dict[str, Finding] = {}
    for event in events:
        if str(event.type) == FINDING_EVENT:
            finding = Finding.from_data(event.data)
            latest[finding.id] = finding
    return [latest[i] for i in sorted(latest)]


def finding_events(findings: Iterable[Finding], recorded: Iterable[Any] = ()) -> list[NewEvent]:
    """``finding`` events for the findings not already recorded with the same id and content."""
    known = {f.id: f for f in findings_from_events(recorded)}
    return [NewEvent(FINDING_EVENT, agent=f.agent or None, data=f.as_data())
            for f in findings if known.get(f.id) != f]


def acceptances_from_events(events: Iterable[Any]) -> dict[str, Acceptance]:
    """The latest ``finding_accepted`` event per finding id."""
    out: dict[str, Acceptance] = {}
    for event in events:
        if str(event.type) == ACCEPTED_EVENT:
            data = event.data
            out[data["id"]] = Acceptance(data["id"], data["reason"], data.get("by", "operator"),
                                         bool(data.get("override")), data.get("fingerprint"))
    return out


def overrides_from_events(events: Iterable[Any]) -> dict[str, str]:
    """agent → reason for every ``gate-4:<agent>`` override (a whole branch let through)."""
    out: dict[str, str] = {}
    for event in events:
        gate = str(event.data.get("gate", "")) if event.type == EventType.GATE_OVERRIDDEN else ""
        if gate.startswith(f"{GATE}:"):
            out[gate.split(":", 1)[1]] = event.data.get("reason", "")
    return out


def _judge(finding: Finding, acceptance: Acceptance | None,
           override: str | None) -> tuple[Acceptance | None, str | None]:
    """(the acceptance that clears ``finding``, or None; a note for the operator)."""
    if override is not None:
        return Acceptance(finding.id, override, "gate-4 override", True, finding.fingerprint), None
    if acceptance is None:
        return None, None
    if not acceptance.matches(finding):
        return None, (f"{finding.id}: the acceptance was recorded for a different finding that had this id "
                      f"(the findings changed); accept it again if the risk still stands")
    if finding.severity == "CRITICAL" and not acceptance.override:
        return None, (f"{finding.id} is CRITICAL: accepting is not enough; fix it, or "
                      f"`dispatch accept {finding.id} --override --reason \"...\"`")
    return acceptance, None


def decide(findings: Sequence[Finding], acceptances: Mapping[str, Acceptance], *, agents: Sequence[str] = (),
           overrides: Mapping[str, str] | None = None) -> dict[str, BranchDecision]:
    """Gate 4 per agent (``agents`` plus every agent with a finding), in that order."""
    overrides = overrides or {}
    names = list(dict.fromkeys([*agents, *(f.agent for f in findings)]))
    out = {}
    for name in names:
        blocking, accepted, notes = [], [], []
        for finding in (f for f in findings if f.agent == name):
            acceptance, note = _judge(finding, acceptances.get(finding.id), overrides.get(name))
            if note:
                notes.append(note)
            explicitly = finding.id in acceptances and acceptance is acceptances[finding.id]
            if acceptance is not None and (finding.blocking or explicitly):
                accepted.append((finding, acceptance))  # MEDIUM/LOW only when accepted one by one
            elif finding.blocking:
                blocking.append(finding)
        out[name] = BranchDecision(name, not blocking, tuple(blocking), tuple(accepted), tuple(notes))
    return out


def gate4(findings: Sequence[Finding], events: Sequence[Any], *,
          agents: Sequence[str] = ()) -> dict[str, BranchDecision]:
    """`decide` with the acceptances and overrides recorded in ``events`` (the sprint's log)."""
    return decide(findings, acceptances_from_events(events), agents=agents, overrides=overrides_from_events(events))

