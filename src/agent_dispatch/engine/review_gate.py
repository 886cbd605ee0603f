"""Gate 4 inside the engine: RED TEAM findings decide which branches may enter the merge train.

Before every landing `review.run.review_branches` (the same pass as ``dispatch review``) runs the
automated checks on the candidate branches (each against the commit it forked from), adds the
reviewer agent's findings (when a RED TEAM agent ran), and decides per branch from the findings and
the acceptances recorded in the log; this module records the decisions. Finding ids stay stable
across landings: a finding seen before keeps its id (matched by fingerprint), a new one gets the
next free number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.naming.paths import FINDINGS_FILENAME
from agent_dispatch.review import gate4
from agent_dispatch.review.findings import Finding
from agent_dispatch.review.report import agent_aliases, read_findings
from agent_dispatch.review.run import review_branches
from agent_dispatch.store.events import EventType


@dataclass(frozen=True)
class Gate4Result:
    allowed: list[str]
    blocked: dict[str, gate4.BranchDecision]
    decisions: dict[str, gate4.BranchDecision]


def recorded_findings(rt: Runtime) -> list[Finding]:
    """Every finding recorded in the sprint's log (latest version per id)."""
    return gate4.findings_from_events(rt.log.read(types=[gate4.FINDING_EVENT]))


def reviewer_findings(rt: Runtime) -> list[Finding]:
    """Findings the RED TEAM agent(s) wrote in ``red-team-findings.md`` on their branch (REQ-8.03)."""
    out: list[Finding] = []
    aliases = agent_aliases(rt.context.dispatched_agents())
    for ctx in rt.context.dispatched_agents():
        if ctx.base_role != "RED TEAM":
            continue
        parsed = read_findings(ctx.worktree / rt.context.sprint_dir / FINDINGS_FILENAME,
                               sprint_id=rt.plan.sprint.id, agents=aliases)
        if parsed is not None:
            out += [dataclasses.replace(f, source="reviewer") for f in parsed.findings]
    return out


def check_candidates(rt: Runtime, names: Sequence[str]) -> Gate4Result:
    """Run the automated checks on ``names``' branches, record new findings, decide gate 4 for each."""
    decisions = review_branches(rt.root, rt.plan, rt.context, rt.log, agents=list(names),
                                reviewer=reviewer_findings(rt)).decisions
    allowed, blocked = [], {}
    for name in names:
        decision = decisions[name]
        gate = f"{gate4.GATE}:{name}"
        if decision.allowed:
            allowed.append(name)
            rt.record(EventType.GATE_PASSED, gate=gate, **decision.as_data())
        else:
            blocked[name] = decision
            rt.record(EventType.GATE_FAILED, gate=gate, **decision.as_data())
    return Gate4Result(allowed, blocked, decisions)


def latest_decisions(rt: Runtime) -> dict[str, dict[str, Any]]:
    """The last gate-4 decision recorded per agent (as data)."""
    out: dict[str, dict[str, Any]] = {}
    for event in rt.log.read(types=[EventType.GATE_PASSED, EventType.GATE_FAILED]):
        gate = str(event.data.get("gate", ""))
        if gate.startswith(f"{gate4.GATE}:"):
            out[gate.split(":", 1)[1]] = dict(event.data)
    return out


def summary_inputs(rt: Runtime, landed: set[str]) -> tuple[int, list[dict[str, Any]]]:
    """(open CRITICAL findings, accepted risks) for the ship decision and SPRINT-SUMMARY.md.

    Open CRITICAL: blocking CRITICAL findings of branches that did not land, plus CRITICAL findings
    the reviewer raised about work that had already landed (they must be fixed before shipping).
    """
    by_id = {f.id: f for f in recorded_findings(rt)}
    latest = latest_decisions(rt)
    open_critical: set[str] = set()
    accepted: list[dict[str, Any]] = []
    for agent, data in latest.items():
        if agent not in landed:
            open_critical |= {i for i in data.get("blocking", []) if by_id.get(i) and by_id[i].severity == "CRITICAL"}
        else:
            for item in data.get("accepted", []):
                finding = by_id.get(item["id"])
                accepted.append({"id": item["id"], "severity": item["severity"], "agent": agent,
                                 "title": finding.title if finding else "", "reason": item["reason"]})
    acceptances = gate4.acceptances_from_events(rt.log.read(types=[gate4.ACCEPTED_EVENT]))
    for finding in reviewer_findings(rt):
        if finding.severity != "CRITICAL" or finding.agent not in landed:
            continue
        known = next((f for f in by_id.values() if f.fingerprint == finding.fingerprint), None)
        acceptance = acceptances.get(known.id) if known else None
        if not (acceptance and acceptance.override):
            open_critical.add(known.id if known else finding.fingerprint)
    return len(open_critical), accepted


def open_review(rt: Runtime, reviewer: str, agents: Sequence[str] | None = None) -> Path:
    """Write the RED TEAM agent's input (REQ-8.01/8.05) for a session of ``reviewer`` and record
    which branch tips it shows (``review_pass``, phase started); returns the file's path (outside
    worktrees). ``agents``: the branches to show (None: every reviewable branch not yet landed)."""
    from agent_dispatch.review.context import REVIEW_CONTEXT_FILENAME, write_review_context

    if agents is None:
        review = review_branches(rt.root, rt.plan, rt.context, rt.log, skip=rt.state().landed, record=False)
    else:
        review = review_branches(rt.root, rt.plan, rt.context, rt.log, agents=list(agents), record=False)
    path = rt.state_dir / "review" / REVIEW_CONTEXT_FILENAME
    write_review_context(rt.root, rt.context, review.branches, review.findings, path,
                         findings_file=f"{rt.context.sprint_dir}/{FINDINGS_FILENAME}")
    rt.record(EventType.REVIEW_PASS, agent=reviewer, phase="started",
              tips={b.agent.name: b.tip for b in review.branches})
    return path


def close_review(rt: Runtime, reviewer: str, *, ok: bool, **data: Any) -> None:
    """Record that ``reviewer``'s latest review session ended: with ``ok``, the tips it was shown
    count as reviewed (its findings file speaks for them)."""
    started = [e for e in rt.log.read(types=[EventType.REVIEW_PASS], agent=reviewer) if e.data["phase"] == "started"]
    if started:
        rt.record(EventType.REVIEW_PASS, agent=reviewer, phase="ended", tips=dict(started[-1].data["tips"]), ok=ok,
                  **data)


def reviewed_tips(rt: Runtime) -> dict[str, set[str]]:
    """Agent → every tip of its branch that a review session of a RED TEAM agent covered."""
    covered: dict[str, set[str]] = {}
    for event in rt.log.read(types=[EventType.REVIEW_PASS]):
        if event.data["phase"] == "ended" and event.data.get("ok"):
            for agent, tip in event.data["tips"].items():
                covered.setdefault(agent, set()).add(tip)
    return covered


def reviewer_agents(rt: Runtime) -> list[str]:
    """The dispatched RED TEAM agents (the plan's reviewers), in plan order."""
    return [ctx.name for ctx in rt.context.dispatched_agents() if ctx.base_role == "RED TEAM"]


def unreviewed(rt: Runtime, names: Sequence[str]) -> list[str]:
    """The agents among ``names`` whose current branch tip no reviewer session has covered yet
    (none when the plan has no reviewer agent)."""
    if not reviewer_agents(rt):
        return []
    from agent_dispatch import git

    covered = reviewed_tips(rt)
    return [n for n in names
            if git.try_rev_parse(rt.root, f"refs/heads/{rt.context.agent(n).branch}") not in covered.get(n, set())]

