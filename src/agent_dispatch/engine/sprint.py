"""The sprint loop: gate 1, waves of agents, gate 2 per wave, landing, finish.

Each step first asks the event log whether it already happened, so ``dispatch resume`` after a
crash (or Ctrl-C) redoes nothing that finished and loses nothing that was committed.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from agent_dispatch.engine import landing, review_gate, review_pass
from agent_dispatch.engine.agent_loop import message_values, queue_message, run_agent
from agent_dispatch.engine.finish import finish
from agent_dispatch.engine.preflight import check_tools_and_commands
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.engine.workspaces import prepare_worktrees
from agent_dispatch.plan.model import Wave
from agent_dispatch.plan.roster import NON_MERGING_ROLES, base_role
from agent_dispatch.plan.validate import effective_merge_order
from agent_dispatch.store.events import EventType

PAUSED = "paused"  # waiting for an operator decision
BLOCKED = "blocked"  # a gate failed; needs `dispatch override` or a fix
FINISHED = "finished"


@dataclass
class SprintOutcome:
    status: str  # finished | paused | blocked
    message: str = ""
    failed: list[str] = field(default_factory=list)


def _approve(rt: Runtime, gate: str) -> bool:
    """True when ``gate`` may pass: approved before, or ``--yes`` (recorded now)."""
    state = rt.state()
    if state.approved(gate):
        return True
    if rt.options.yes:
        rt.record(EventType.GATE_APPROVED, gate=gate, by="--yes")
        return True
    return False


def resume_hint(rt: Runtime) -> str:
    """The command that continues this sprint, runnable as printed from anywhere in the repository."""
    return f"dispatch resume {rt.plan_path}"


def sprint_flag(rt: Runtime) -> str:
    """``--sprint <id>``: operator commands need it once a repository has more than one sprint."""
    return f"--sprint {rt.plan.sprint.id}"


def dirty_base_checkout(rt: Runtime) -> SprintOutcome | None:
    """Gate 1's check of the checkout of the base branch: landing fast-forwards it and never
    touches uncommitted edits, so an edited file a landing changes would stop the sprint midway.
    Tracked changes outside the sprint's own folder block the gate, with the choice spelled out;
    an override of gate 1 accepts the risk."""
    from agent_dispatch import git

    if "gate-1" in rt.state().overrides:
        return None
    base = rt.plan.sprint.base_branch
    checkout = git.worktree_of_branch(rt.root, base)
    if checkout is None:
        return None
    sprint_dir = str(rt.context.sprint_dir).rstrip("/") + "/"  # relative to the root
    untracked = set(git.untracked_files(checkout))
    dirty = sorted(p for p in git.uncommitted_files(checkout) if p not in untracked and not p.startswith(sprint_dir))
    if not dirty:
        return None
    listed = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
    rt.record(EventType.GATE_FAILED, gate="gate-1", reasons=[f"uncommitted changes in the checkout of {base}: {listed}"])
    return SprintOutcome(BLOCKED, (
        f"gate 1 (preflight): the checkout of {base} at {checkout} has uncommitted changes: {listed}\n"
        f"  Landing moves {base} and its checkout, and never touches your edits: a landing that changes one "
        "of these files would stop the sprint. Before any agent runs, either\n"
        f"  commit them:  git -C {checkout} commit -am \"wip\" && {resume_hint(rt)}\n"
        f"  or stash them:  git -C {checkout} stash && {resume_hint(rt)}\n"
        f"  or run anyway:  dispatch override gate-1 --reason \"my edits do not touch the sprint\" "
        f"{sprint_flag(rt)} && {resume_hint(rt)}"))


def gate1(rt: Runtime) -> SprintOutcome | None:
    """Preflight, before anything is created: every agent's tool and the sprint's commands
    installed, the checkout of the base branch without uncommitted changes; then documents rendered
    and prompts lint-clean (render refuses otherwise), and the operator's go."""
    state = rt.state()
    if "gate-1" in state.gates_passed:
        return None
    stop = _tools_and_commands(rt)
    if stop:
        return stop
    from agent_dispatch import git
    from agent_dispatch.artifacts.render import render_sprint, write_rendered

    stop = dirty_base_checkout(rt)
    if stop:
        return stop

    # The agents' worktrees are checked out from the base branch: their files are what prompts may name.
    files = git.files_at(rt.root, rt.plan.sprint.base_branch)
    rendered = render_sprint(rt.plan, rt.root, plan_path=rt.plan_path, repo_files=files)
    written = write_rendered(rendered)
    rt.record(EventType.OPERATOR_DECISION, decision="rendered", files=len(written))
    if not _approve(rt, "gate-1"):
        return SprintOutcome(PAUSED, "gate 1 (preflight) passed its checks and waits for you:\n"
                                     f"  dispatch approve gate-1 {sprint_flag(rt)} && {resume_hint(rt)}")
    rt.record(EventType.GATE_PASSED, gate="gate-1")
    return None


def _tools_and_commands(rt: Runtime) -> SprintOutcome | None:
    """Gate 1 fails, before any branch or worktree exists, when an agent's tool or a command is missing."""
    report = check_tools_and_commands(rt)
    for line in report.lines:
        rt.say(f"preflight: {line}")
    if not report.problems:
        return None
    rt.record(EventType.GATE_FAILED, gate="gate-1", reasons=report.problems)
    listing = "\n".join(f"  - {p}" for p in report.problems)
    return SprintOutcome(BLOCKED, f"gate 1 (preflight) failed; nothing was created:\n{listing}\n"
                                  f"  fix them, then `{resume_hint(rt)}`")


async def run_wave(rt: Runtime, wave: Wave) -> SprintOutcome | None:
    """Run one wave's agents concurrently (bounded by ``max_agents_per_wave``) and apply gate 2."""
    state = rt.state()
    gate = f"gate-2:wave-{wave.number}"
    if wave.number not in state.waves_started:
        await asyncio.to_thread(prepare_worktrees, rt, list(wave.agents))
        rt.record(EventType.WAVE_STARTED, wave=wave.number, agents=list(wave.agents))
        rt.say(f"wave {wave.number}: started {', '.join(wave.agents)}")
    limit = asyncio.Semaphore(rt.plan.scaling.max_agents_per_wave)

    async def one(name: str) -> str:
        async with limit:
            return await run_agent(rt, name)

    results = dict(zip(wave.agents, await asyncio.gather(*(one(n) for n in wave.agents))))
    failed = [n for n, r in results.items() if r != "COMPLETE"]
    state = rt.state()
    if failed and gate not in state.overrides:
        rt.record(EventType.GATE_FAILED, gate=gate, failed=failed)
        return SprintOutcome(BLOCKED, f"gate 2 of wave {wave.number} failed: {', '.join(failed)} did not pass gate 3.\n"
                                      f"  fix and `{resume_hint(rt)}`, or `dispatch override {gate} --reason \"...\" "
                                      f"{sprint_flag(rt)} && {resume_hint(rt)}` to continue without them", failed)
    if not _approve(rt, gate):
        return SprintOutcome(PAUSED, f"wave {wave.number} is done and waits for you:\n"
                                     f"  dispatch approve {gate} {sprint_flag(rt)} && {resume_hint(rt)}")
    rt.record(EventType.GATE_PASSED, gate=gate, skipped=failed)
    return None


def land_agents(rt: Runtime, names: list[str], *, returns: bool = True) -> list[str]:
    """Land the COMPLETE, not yet landed agents among ``names`` in merge order through the merge
    train; returns the agents whose branch went back to them (culprits, conflicts, gate-4 blocks).
    With ``returns=False`` (``dispatch merge`` outside a run) nothing goes back to an agent."""
    state = rt.state()
    order = [n for n in effective_merge_order(rt.plan) if n in names]
    candidates = [
        landing.Candidate(n, rt.plan.agent(n).role, rt.context.agent(n).branch)
        for n in order
        if state.agents[n].gate3 and n not in state.landed
        and base_role(rt.plan.agent(n).role) not in NON_MERGING_ROLES
    ]
    if not candidates:
        return []
    # The plan's reviewer agent sees every branch before it lands, in every wave_base mode.
    review_pass.review_before_landing(rt, [c.agent for c in candidates])
    unseen = review_gate.unreviewed(rt, [c.agent for c in candidates])
    for agent in unseen:  # its review session did not finish: not the agent's fault, nothing goes back
        rt.record(EventType.GATE_FAILED, gate=f"gate-4:{agent}", blocking=[],
                  reasons=["not reviewed: the RED TEAM agent's review session did not finish"])
        rt.say(f"{agent}: not landed, the RED TEAM agent has not reviewed it")
    candidates = [c for c in candidates if c.agent not in unseen]
    if not candidates:
        return []
    # Gate 4: RED TEAM findings (automated checks + reviewer agent) per branch, before the train.
    verdict = review_gate.check_candidates(rt, [c.agent for c in candidates])
    returned = []
    for agent, decision in verdict.blocked.items():
        findings = sorted(decision.blocking, key=lambda f: f.id)
        if returns and _return(rt, agent, "red-team-fix.md.j2", findings=findings, notes=list(decision.notes),
                               kind="red_team_fix"):
            returned.append(agent)
        rt.say(f"{agent}: gate 4 blocks the branch ({', '.join(f'{f.id} {f.severity}' for f in decision.blocking)})")
    candidates = [c for c in candidates if c.agent in verdict.allowed]
    if not candidates:
        return returned
    sprint = rt.plan.sprint
    result = landing.land(
        rt.root, base_branch=sprint.base_branch, sprint=sprint.id, candidates=candidates,
        build_command=sprint.build_command, test_command=sprint.test_command,
        validation_dir=rt.state_dir / "validate", mode=sprint.merge_mode, slots=sprint.merge_slots,
        timeout=rt.options.check_timeout,
        record=lambda type_, data: rt.record(type_, agent=data.get("agent"),
                                             **{k: v for k, v in data.items() if k != "agent"}),
    )
    landed = [link.candidate.agent for link in result.accepted]
    if landed and rt.state().landing_error is not None:
        rt.say(f"merge train ({sprint.merge_mode}): validated {', '.join(landed)}, but {sprint.base_branch} did not "
               "move: nothing landed")
        landed = []
    else:
        rt.say(f"merge train ({sprint.merge_mode}): landed {', '.join(landed) or 'nothing'} on {sprint.base_branch} "
               f"after {result.runs} validation run(s)")
    for agent, validation in result.culprits.items():
        if returns and _return(rt, agent, "merge-failed.md.j2", failures=[c for c in validation.checks if not c.ok],
                   landed=landed):
            returned.append(agent)
    for agent, files in result.conflicts.items():
        if returns and _return(rt, agent, "merge-conflict.md.j2", files=files):
            returned.append(agent)
    return returned


def _return(rt: Runtime, agent: str, template: str, kind: str | None = None, **values: Any) -> bool:
    """Send a branch that failed to land back to its agent (R-05 / INT-13 / REQ-8.08), while returns remain."""
    progress = rt.state().agents[agent]
    kind = kind or ("merge_failed" if template.startswith("merge-failed") else "merge_conflict")
    if progress.returns >= rt.plan.sprint.max_returns:
        rt.record(EventType.AGENT_STATE, agent=agent, state="FAILED", reason=f"not landed ({kind.replace('_', ' ')})")
        rt.say(f"{agent}: not landed ({kind.replace('_', ' ')}), no returns left")
        return False
    from agent_dispatch.engine import messages

    rt.record(EventType.AGENT_RETURNED, agent=agent, kind=kind)
    text = messages.render_message(template, **message_values(rt, agent),
                                   base_branch=rt.plan.sprint.base_branch, **values)
    queue_message(rt, agent, kind, text)
    rt.say(f"{agent}: branch returned to the agent ({kind.replace('_', ' ')})")
    return True


def landing_failed(rt: Runtime) -> SprintOutcome | None:
    """A BLOCKED outcome when the last move of the base branch failed: those agents did not land,
    and nothing later may land on (or branch from) a base that lacks them."""
    state = rt.state()
    error = state.landing_error
    lost = [a for a in (error or {}).get("agents") or [] if a not in state.landed]
    if error is None or not lost:  # none, or the operator merged them by hand since
        return None
    base = rt.plan.sprint.base_branch
    agents = ", ".join(lost)
    checkout = error.get("checkout") or str(rt.root)
    cause = str(error.get("error") or "").splitlines()[0] if error.get("error") else "unknown"
    blocking = error.get("blocking") or []
    why = (f"your uncommitted changes to {', '.join(blocking)} in {checkout} are in the way"
           if blocking else f"git refused: {cause}")
    return SprintOutcome(BLOCKED, (
        f"landing failed: {base} did not move, so {agents} did not land ({why}).\n"
        f"  Nothing later lands on a base that lacks them; your uncommitted changes were not touched.\n"
        f"  fix: commit or stash them (git -C {checkout} stash), then {resume_hint(rt)}"), lost)


async def run_sprint(rt: Runtime) -> SprintOutcome:
    """Run (or continue) the whole sprint from whatever the log says happened already."""
    state = rt.state()
    if state.finished:
        return SprintOutcome(FINISHED, "sprint already finished")
    _ = rt.sandboxed  # decided (and warned about, or refused) before anything starts
    if not state.started:
        digest = hashlib.sha256(rt.plan_path.read_bytes()).hexdigest()[:16]
        rt.record(EventType.SPRINT_STARTED, plan=str(rt.plan_path), plan_sha=digest,
                  agents=[{"name": a.name, "role": a.role, "wave": rt.context.agent(a.name).wave}
                          for a in rt.plan.agents if a.name in rt.context.dispatched],
                  waves=[{"number": w.number, "agents": list(w.agents)} for w in rt.plan.waves],
                  chains={a.name: [c.id for c in a.chains] for a in rt.plan.agents})
    stop = gate1(rt)
    if stop:
        return stop
    merged_waves = rt.plan.sprint.wave_base == "merged"
    for wave in sorted(rt.plan.waves, key=lambda w: w.number):
        if wave.number in rt.state().waves_done:
            continue
        while True:  # returned branches re-run their agent, then try to land again
            stop = await run_wave(rt, wave)
            if stop:
                return stop
            if not merged_waves:
                break
            returned = await asyncio.to_thread(land_agents, rt, list(wave.agents))
            stop = landing_failed(rt)
            if stop:
                return stop
            if not returned:
                break
        rt.record(EventType.WAVE_COMPLETED, wave=wave.number)
    if not merged_waves:
        everyone = list(rt.context.dispatched)
        while True:
            returned = await asyncio.to_thread(land_agents, rt, everyone)
            stop = landing_failed(rt)
            if stop:
                return stop
            if not returned:
                break
            await asyncio.gather(*(run_agent(rt, name) for name in returned))
    return await asyncio.to_thread(close_sprint, rt)


def close_sprint(rt: Runtime) -> SprintOutcome:
    """Final verification, SPRINT-SUMMARY.md and the ship decision; records ``sprint_finished``."""
    state = rt.state()
    failed = [n for n in rt.context.dispatched if state.agents[n].gate3 is False]
    not_landed = [n for n in rt.context.dispatched if state.agents[n].gate3 and n not in state.landed
                  and base_role(rt.plan.agent(n).role) not in NON_MERGING_ROLES]
    outcome = "complete" if not failed and not not_landed else "partial"
    decision = finish(rt)
    rt.record(EventType.SPRINT_FINISHED, outcome=outcome, failed=failed, not_landed=not_landed, decision=decision)
    detail = f" ({', '.join(not_landed)} not landed)" if not_landed else ""
    return SprintOutcome(FINISHED, f"sprint {rt.plan.sprint.id} finished: {outcome}{detail}", failed + not_landed)
