"""The operator accepts the risk of a RED TEAM finding, so gate 4 lets its branch merge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.errors import FatalError
from agent_dispatch.operations.caller import refuse_agent_session
from agent_dispatch.operations.sprint import opened, operator_name
from agent_dispatch.review import gate4
from agent_dispatch.review.findings import Finding, is_finding_id
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

ACCEPT_NEEDS_REASON = "an acceptance needs a reason: --reason \"why the risk is acceptable\""


@dataclass(frozen=True)
class FindingAccepted:
    """An accepted finding recorded in the sprint's log; ``finding`` is what was accepted."""

    sprint: str
    finding: Finding
    reason: str
    by: str
    override: bool
    seq: int

    @property
    def effect(self) -> str:
        """What the acceptance changes for the finding's branch, in one clause."""
        if self.finding.blocking:
            return f"it no longer blocks {self.finding.branch}"
        return f"{self.finding.severity} findings never block; the reason is recorded"


def parse_finding_id(given: str) -> str:
    """The canonical id (``RT-01-003``) of ``given`` (``rt-01-003`` works too); FatalError otherwise."""
    finding_id = "RT" + given.strip()[2:]
    if not is_finding_id(finding_id):
        raise FatalError(f"{given!r} is not a finding id\nhint: ids look like RT-01-003 (see `dispatch review`)")
    return finding_id


def accept_finding(finding_id: str, *, reason: str, override: bool = False, by: str | None = None,
                   log: EventLog | None = None, sprint: str | None = None,
                   start: Path = Path(".")) -> FindingAccepted:
    """Record that the operator accepts the risk of finding ``finding_id`` with ``reason``.

    A HIGH finding then no longer blocks its branch at gate 4; a CRITICAL one needs ``override``.
    """
    finding_id = parse_finding_id(finding_id)
    if not reason.strip():
        raise FatalError(ACCEPT_NEEDS_REASON)
    with opened(log, sprint=sprint, start=start) as events:
        refuse_agent_session(f"accepting {finding_id}", events, start)
        findings = {f.id: f for f in gate4.findings_from_events(events.read(types=[EventType.FINDING]))}
        finding = findings.get(finding_id)
        if finding is None:
            known = ", ".join(sorted(findings)) or "none"
            raise FatalError(f"no finding {finding_id} is recorded for sprint {events.sprint} (recorded: {known})\n"
                             "hint: run `dispatch review <plan>` first, or wait for the RED TEAM wave")
        if finding.severity == "CRITICAL" and not override:
            raise FatalError(f"{finding_id} is CRITICAL ({finding.title}); CRITICAL findings block their branch\n"
                             f"hint: fix it on {finding.branch}, or, as the operator, "
                             f"`dispatch accept {finding_id} --override --reason \"...\" --sprint {events.sprint}`")
        who = operator_name(by)
        seq = events.append(EventType.FINDING_ACCEPTED, agent=finding.agent or None,
                            data={"id": finding_id, "reason": reason.strip(), "by": who, "override": override,
                                  "severity": finding.severity, "fingerprint": finding.fingerprint})
        return FindingAccepted(events.sprint, finding, reason.strip(), who, override, seq)
