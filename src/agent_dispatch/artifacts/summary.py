"""LEAD's output: SPRINT-SUMMARY.md with the ship decision SHIPPED / PARTIAL / NO-SHIP (REQ-9.08/9.09).

Everything in it comes from the event log and git, not from what agents said about themselves.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from agent_dispatch.files import write_atomic
from agent_dispatch.naming import paths
from agent_dispatch.plan.model import Plan
from agent_dispatch.plan.roster import NON_MERGING_ROLES, base_role
from agent_dispatch.redact import redact
from agent_dispatch.store.status import Status

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("agent_dispatch.artifacts", "templates"),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)

SUMMARY_FILENAME = "SPRINT-SUMMARY.md"


@dataclass(frozen=True)
class ShipDecision:
    decision: str  # SHIPPED | PARTIAL | NO-SHIP
    checklist: tuple[tuple[str, bool], ...]


def criteria_check(plan: Plan, criteria: Mapping[str, str]) -> tuple[str, bool] | None:
    """The checklist line for the sprint's success criteria, or None when the plan has none.

    ``criteria`` maps a criterion's text to its result (``PASS (...)`` / ``FAIL (...)``); a criterion
    without a result was not evaluated (no command), and only a PASS counts: a sprint whose goals are
    unproven is not SHIPPED."""
    texts = [c.text for c in plan.sprint.success_criteria]
    if not texts:
        return None
    failing = [t for t in texts if t in criteria and not criteria[t].startswith("PASS")]
    unevaluated = [t for t in texts if t not in criteria]
    passed = len(texts) - len(failing) - len(unevaluated)
    line = f"every success criterion passes ({passed}/{len(texts)})"
    notes = [f"failing: {'; '.join(failing)}"] if failing else []
    if unevaluated:
        notes.append(f"not evaluated (no command): {'; '.join(unevaluated)}")
    return line + (f": {' — '.join(notes)}" if notes else ""), not failing and not unevaluated


def ship_decision(plan: Plan, status: Status, *, landed: set[str], base_ok: bool,
                  open_critical: int, landing_problem: str | None = None,
                  criteria: Mapping[str, str] | None = None) -> ShipDecision:
    """SHIPPED when every merging agent landed on a validated base with nothing critical open and
    every success criterion passed; NO-SHIP when nothing landed or the base is broken; PARTIAL otherwise.

    ``landed`` counts only work the base branch moved to; ``landing_problem`` (why validated work
    did not land, and the fix) is named in the checklist. ``criteria``: each success criterion's
    result by its text (see `criteria_check`)."""
    mergers = [n for n in status.agents if n in {a.name for a in plan.agents}
               and base_role(plan.agent(n).role) not in NON_MERGING_ROLES]
    parked = [k for k, c in status.chains.items() if c.state == "PARKED"]
    untriaged = [p for p in status.p0 if not p.triaged]
    checklist: tuple[tuple[str, bool], ...] = (
        (f"every agent's work landed ({len(landed & set(mergers))}/{len(mergers)})"
         + (f": {landing_problem}" if landing_problem else ""), set(mergers) <= landed and not landing_problem),
        (f"build and test pass on {plan.sprint.base_branch} (validated before every move)", base_ok),
        ("no unresolved CRITICAL finding", open_critical == 0),
        ("no P0 discovery left untriaged", not untriaged),
        (f"no chain parked ({len(parked)} parked)", not parked),
    )
    goals = criteria_check(plan, criteria or {})
    if goals is not None:
        checklist += (goals,)
    if not (landed & set(mergers)) or not base_ok:
        return ShipDecision("NO-SHIP", checklist)
    return ShipDecision("SHIPPED" if all(ok for _, ok in checklist) else "PARTIAL", checklist)


def render_summary(plan: Plan, status: Status, *, decision: ShipDecision, merge_log: list[dict],
                   facts: dict[str, dict], accepted: list[dict], overrides: dict[str, str],
                   base_commit: str | None, criteria: dict[str, str] | None = None,
                   today: datetime.date | None = None) -> str:
    """The SPRINT-SUMMARY.md text."""
    performance, next_sprint, criteria = [], [], criteria or {}
    for agent in plan.agents:
        if agent.name not in status.agents:
            continue
        chains = [c for c in status.chains.values() if c.agent == agent.name]
        fact = facts.get(agent.name, {})
        performance.append({"name": agent.name, "chains": len(agent.chains),
                            "completed": sum(c.state == "COMPLETE" for c in chains),
                            "parked": sum(c.state == "PARKED" for c in chains),
                            "files": len(fact.get("files", [])), "added": fact.get("lines_added", 0),
                            "removed": fact.get("lines_removed", 0)})
        for chain in chains:
            if chain.state == "PARKED":
                next_sprint.append(f"{agent.name} {chain.chain}: parked ({chain.park_reason or 'no reason'}), carry forward")
        if status.agents[agent.name].state == "FAILED":
            next_sprint.append(f"{agent.name}: {status.agents[agent.name].reason or 'failed gate 3'}")
    totals = {k: sum(r[k] for r in performance) for k in ("chains", "completed", "parked", "files", "added", "removed")}
    results = [{"goal": c.text, "status": criteria.get(c.text, "not machine-checkable (no command)")}
               for c in plan.sprint.success_criteria]
    return _ENV.get_template("sprint-summary.md.j2").render(
        label=paths.sprint_label(plan.sprint.id), theme=plan.sprint.theme, goal=plan.sprint.goal,
        decision=decision.decision, date=(today or datetime.date.today()).isoformat(),
        agents=performance, base_branch=plan.sprint.base_branch, base_commit=base_commit,
        checklist=[{"text": t, "ok": ok} for t, ok in decision.checklist], results=results,
        merge_log=merge_log, performance=performance, totals=totals, accepted=accepted, overrides=overrides,
        p0s=status.p0, next_sprint=next_sprint,
    )


def write_summary(directory: Path, text: str) -> Path:
    """Write SPRINT-SUMMARY.md into the sprint folder (atomically)."""
    path = directory / SUMMARY_FILENAME
    write_atomic(path, redact(text))
    return path
