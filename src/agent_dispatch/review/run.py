"""One RED TEAM pass over agent branches: the same sequence for the engine's gate 4 and for
``dispatch review``.

Load the branches → run the automated checks (plus the reviewer agent's findings, when given) →
give every finding its stable id (a finding seen before keeps its id, matched by fingerprint) →
record ``finding`` events for what is new or changed → decide gate 4 per branch from the findings
and the acceptances and overrides in the log. It takes the event log and plain values, not the
engine's ``Runtime``; recording the decision (``gate_passed``/``gate_failed``) is the caller's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.naming.context import SprintContext
from agent_dispatch.plan.model import Plan
from agent_dispatch.review import checks, gate4
from agent_dispatch.review.findings import Finding, stable_ids
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog


@dataclass(frozen=True)
class ReviewPass:
    """What one pass found and decided."""

    branches: list[checks.BranchDiff]  # the branches reviewed, in merge order
    findings: list[Finding]  # with their stable ids
    decisions: dict[str, gate4.BranchDecision]  # gate 4 per agent, in the order decided


def review_branches(
    root: Path,
    plan: Plan,
    context: SprintContext,
    log: EventLog,
    *,
    base: str | None = None,
    agents: Sequence[str] | None = None,
    skip: Collection[str] = (),
    reviewer: Sequence[Finding] = (),
    record: bool = True,
) -> ReviewPass:
    """Review the agent branches of ``plan`` in the repository at ``root`` and decide gate 4.

    ``agents``: the agents to review and decide (None: every reviewable branch that exists);
    ``skip``: agents left out (e.g. already landed); ``base``: as in ``checks.load_branches``;
    ``reviewer``: findings the RED TEAM agent wrote, kept for the agents reviewed; ``record``:
    append ``finding`` events for new or changed findings (False: ids only, nothing written).
    """
    branches = checks.load_branches(root, plan, context, base=base)
    if agents is not None:
        wanted = set(agents)
        branches = [b for b in branches if b.agent.name in wanted]
    branches = [b for b in branches if b.agent.name not in skip]
    decided = list(agents) if agents is not None else [b.agent.name for b in branches]
    drafts = checks.run_checks(root, plan, context, branches=branches)
    drafts += [f for f in reviewer if f.agent in decided]
    recorded = log.read(types=[gate4.FINDING_EVENT])
    findings = stable_ids([dataclasses.replace(f, id="") for f in drafts], gate4.findings_from_events(recorded),
                          plan.sprint.id)
    if record:
        new = gate4.finding_events(findings, recorded)
        if new:
            log.append_many(new)
    decisions = gate4.gate4(findings, log.read(types=[gate4.ACCEPTED_EVENT, EventType.GATE_OVERRIDDEN]), agents=decided)
    return ReviewPass(branches, findings, decisions)
