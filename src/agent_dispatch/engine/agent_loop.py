"""One agent's life in a wave: sessions, the tool's own checks, the retry ladder, gate 3.

Every step is decided from the event log, so a resumed run picks up exactly where the last one
stopped: a session still running is re-adopted, a session that ended is evaluated, a queued
message is delivered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.agents.base import SIGKILLED_DETAIL, SessionOutcome, SessionRequest
from agent_dispatch.artifacts.completion import CompletionReport, read_report
from agent_dispatch.checkrun import CheckResult, run_check
from agent_dispatch.engine import messages, review_gate, watch
from agent_dispatch.engine.commits import record_commit_signals
from agent_dispatch.engine.gates import SETTLED_STATES, gate3, removed_lines_by_file
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.engine.state import AgentProgress, EngineState
from agent_dispatch.engine.verify import run_chain_verify
from agent_dispatch.engine.workspaces import place_sprint_documents
from agent_dispatch.plan.model import Agent, Chain
from agent_dispatch.plan.territory import territory_rules
from agent_dispatch.plan.verify import verify_command
from agent_dispatch.prompts.chains import task_ids
from agent_dispatch.redact import redact
from agent_dispatch.sessions.activity import recent_activity
from agent_dispatch.sessions.runner import (
    RunningSession,
    SessionRun,
    adopt_session,
    ended_session,
    finish_session,
    start_session,
)
from agent_dispatch.store.events import WORKING_CHAIN_STATES, EventType, ParkReason
from agent_dispatch.store.inbox import INBOX_VAR, inbox_dir, ingest

PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
OPERATOR_MESSAGE = "operator"  # kind of the message `dispatch message` queues
INGEST_S = 1.0  # how often a running session's claims inbox is read
# Sessions that did not end on their own (stopped, timed out, lost): recovered, never judged as failures.
CRASH_REASONS = {"timeout", "killed", "lost"}
# The session could not work at all (its CLI offered the model no tools): a fault of the setup,
# not an attempt of the agent's, and every further session would end the same way.
SETUP_REASONS = {"no_tools"}
WIP_SUBJECT = "wip: auto-save before restart"
SAVED_FILES_SHOWN = 15  # files of a WIP commit the recovery message lists (then: "and N more")


@dataclass
class Evaluation:
    checks: list[CheckResult]
    failing: dict[str, list[CheckResult]]  # chain id → failed checks attributed to it
    completed: list[str]
    open_chains: list[Chain]
    uncommitted: list[str] = field(default_factory=list)  # when set, nothing was checked


def ordered_chains(agent: Agent) -> list[Chain]:
    """Chains in execution order: P0 → P3, then as listed."""
    return sorted(agent.chains, key=lambda c: PRIORITY_ORDER[c.priority])


async def run_agent(rt: Runtime, name: str) -> str:
    """Drive agent ``name`` until gate 3 decides; returns its final state (COMPLETE or FAILED)."""
    while True:
        progress = rt.state().agents[name]
        if progress.gate3 is not None:
            return "COMPLETE" if progress.gate3 else "FAILED"
        if progress.open_session is not None:
            run = await _adopt(rt, name, progress)
            await asyncio.to_thread(_after_session, rt, name, run)
        elif progress.attempts == 0 or progress.pending_message is not None:
            run = await _session(rt, name, progress)
            await asyncio.to_thread(_after_session, rt, name, run)
        else:
            await asyncio.to_thread(_after_session, rt, name, None)
        await asyncio.to_thread(watch.remember, rt, name)  # what other agents' sessions must leave alone


def session_tool(progress: AgentProgress, tool: str) -> str:
    """The CLI the agent's sessions run on now: its tier-3 fallback's, once switched, else ``tool``."""
    return (progress.fallback or {}).get("tool") or tool


def session_request(rt: Runtime, name: str, progress: AgentProgress, *,
                    review_for: list[str] | None = None) -> tuple[str, SessionRequest]:
    """(tool, request) for the agent's next session: its tool or fallback, the CLI session to resume.

    A RED TEAM agent's session gets its review context (``review_for``: those branches only, else
    every branch not yet landed), recorded as the start of a review pass."""
    agent, ctx = rt.agent(name)
    attempt = progress.attempts + 1
    message = progress.pending_message
    fallback = progress.fallback or {}
    tool = session_tool(progress, ctx.tool)
    # Where its claims go when the sandbox keeps it from writing the log (store.inbox).
    extra_env = {INBOX_VAR: str(inbox_dir(rt.state_dir, name))}
    if ctx.base_role == "RED TEAM":
        extra_env["DISPATCH_REVIEW_CONTEXT"] = str(review_gate.open_review(rt, name, review_for))
    resume = progress.cli_session if message and progress.cli_tool == tool else None
    request = SessionRequest(
        sprint=rt.plan.sprint.id, agent=name, role=agent.role, branch=ctx.branch,
        base_branch=rt.plan.sprint.base_branch, worktree=ctx.worktree,
        prompt_file=rt.root / ctx.prompt, report_path=ctx.report, attempt=attempt,
        message_file=Path(message["file"]) if message else None,
        command=tuple(fallback["command"]) if fallback.get("command") else agent.command,
        extra_env=extra_env, resume_session=resume, state_home=rt.state_dir / "homes" / name / tool,
        model=fallback.get("model") or agent.model or rt.plan.sprint.model or rt.options.default_models.get(tool),
        base_url=rt.options.base_url or agent.base_url or rt.plan.sprint.base_url,
        api_key=rt.options.api_key, test_command=rt.plan.sprint.test_command,
    )
    return tool, request


async def _session(rt: Runtime, name: str, progress: AgentProgress) -> SessionRun:
    tool, request = session_request(rt, name, progress)
    attempt, message = request.attempt, progress.pending_message
    await asyncio.to_thread(place_sprint_documents, rt, name)
    inbox_dir(rt.state_dir, name).mkdir(parents=True, exist_ok=True)
    before = await asyncio.to_thread(watch.snapshot, rt, name)
    running = start_session(tool, request, rt.executor, session_id=f"{rt.plan.sprint.id}-{name}-{attempt}",
                            log_path=rt.state_dir / "logs" / f"{name}-{attempt}.log",
                            timeout_s=rt.options.session_timeout, sandboxed=rt.sandboxed)
    handle, argv = running.handle, running.spec.argv if running.spec else ()
    rt.record(EventType.AGENT_SESSION_STARTED, agent=name, attempt=attempt, pid=handle.record.pid,
              session_id=handle.record.session_id, record=handle.record.as_data(),
              message=message["kind"] if message else None, tool=tool, resumed=request.resume_session,
              model=request.model, argv=[a if len(a) <= 200 else f"<{len(a)} chars>" for a in argv],
              sandbox="bwrap" if running.spec and running.spec.sandbox else "none")
    if message:  # the follow-up reaches the agent now: that is the intervention being sent (REQ-6.08)
        rt.record(EventType.INTERVENTION_SENT, agent=name, chain=message.get("chain"),
                  intervention=messages.intervention_id(message["kind"]), kind=message["kind"],
                  file=message["file"], attempt=attempt)
    rt.say(f"{name}: session {attempt} started" + (f" ({message['kind']})" if message else ""))
    run = await _wait(rt, name, attempt, running)
    await asyncio.to_thread(watch.check, rt, before, attempt)
    return run


async def _ingest_while_running(rt: Runtime, name: str) -> None:
    # A sandboxed session's claims wait in its inbox: append them while it works, so the board
    # shows its chain progress and P0s live, not only when the session ends.
    while True:
        await asyncio.sleep(INGEST_S)
        ingest(rt.log, rt.state_dir, name)


async def _wait(rt: Runtime, name: str, attempt: int, running: RunningSession, **extra: Any) -> SessionRun:
    poller = asyncio.create_task(_ingest_while_running(rt, name))
    try:
        run = await finish_session(running)
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Ctrl-C: the runner stopped the whole session tree; say so in the log; resume recovers it.
        ingest(rt.log, rt.state_dir, name)
        if running.result is not None:
            rt.record(EventType.AGENT_SESSION_ENDED, agent=name, attempt=attempt, interrupted=True, **extra,
                      **running.result.as_data())
        raise
    finally:
        poller.cancel()
    ingest(rt.log, rt.state_dir, name)  # the session's last claims come before its end
    rt.record(EventType.AGENT_SESSION_ENDED, agent=name, attempt=attempt, **extra, **run.result.as_data())
    return run


async def _adopt(rt: Runtime, name: str, progress: AgentProgress) -> SessionRun:
    assert progress.open_session is not None  # run_agent adopts only a session it knows is open
    running = adopt_session(session_tool(progress, rt.context.agent(name).tool), progress.open_session,
                            rt.executor)
    rt.say(f"{name}: re-adopted session {progress.attempts}")
    return await _wait(rt, name, progress.attempts, running, adopted=True)


def _unwatched(rt: Runtime, name: str) -> SessionRun | SessionOutcome:
    """The latest session, which ended while no controller waited for it (Ctrl-C, a dead controller).

    Its outcome when it was already read before the controller stopped; else the session as it ended
    (an interrupted one was stopped: ``killed``), for `_outcome` to read and record.
    """
    progress = rt.state().agents[name]
    read = progress.last_outcome
    if read is not None and read.get("attempt") == progress.attempts:
        return SessionOutcome(read["reason"], None)
    if progress.last_end is None or progress.last_end.get("attempt") != progress.attempts:
        # nothing recorded of how it ended: judge by the tool's checks
        return SessionOutcome("ended", None)
    return ended_session(session_tool(progress, rt.context.agent(name).tool), progress.last_end, rt.executor)


def _outcome(rt: Runtime, name: str, run: SessionRun | None) -> SessionOutcome:
    if run is None:
        unwatched = _unwatched(rt, name)
        if isinstance(unwatched, SessionOutcome):
            return unwatched
        run = unwatched
    progress = rt.state().agents[name]
    outcome, summary, spent = run.outcome, run.outcome.summary, run.usage
    usage: dict[str, Any] = {}
    if spent is not None:
        usage = {"input_tokens": spent.input_tokens, "output_tokens": spent.output_tokens, "cost_usd": spent.cost_usd}
    if spent is not None and spent.spans_resumes and spent.cli_session:
        # The CLI reports the thread's running total: record this session's share only.
        usage["thread_tokens"] = [spent.input_tokens, spent.output_tokens]
        earlier = [e.data.get("thread_tokens") for e in rt.log.read(types=[EventType.SESSION_OUTCOME])
                   if e.agent == name and e.data.get("cli_session") == spent.cli_session]
        if earlier and earlier[-1]:
            usage["input_tokens"], usage["output_tokens"] = spent.since(earlier[-1])
    rt.record(EventType.SESSION_OUTCOME, agent=name, attempt=progress.attempts, tool=run.tool, reason=outcome.reason,
              detail=outcome.detail, exit_code=outcome.exit_code, cli_session=outcome.cli_session, **usage,
              denied=summary.denied_tools if summary else [], errors=summary.errors if summary else [],
              failed_tools=len(summary.failed_tools) if summary else 0)
    if outcome.reason == "failed":
        rt.say(f"{name}: session {progress.attempts} failed: {outcome.detail}")
    return outcome


def _over_budget(rt: Runtime, name: str, state: EngineState) -> tuple[str, str] | None:
    """(scope, why) when the agent may not start another session (its or the sprint's budget is
    spent), else None."""
    agent, _ = rt.agent(name)
    progress = state.agents[name]
    for scope, budget, tokens, cost in (("agent", agent.budget, progress.tokens, progress.cost_usd),
                                        ("sprint", rt.plan.sprint.budget, state.tokens, state.cost_usd)):
        if budget is None:
            continue
        if budget.tokens is not None and tokens >= budget.tokens:
            return scope, f"{scope} token budget spent ({tokens} of {budget.tokens})"
        if budget.cost_usd is not None and cost >= budget.cost_usd:
            return scope, f"{scope} cost budget spent (${cost:.4f} of ${budget.cost_usd:.4f})"
    return None


def evaluate(rt: Runtime, agent: Agent, worktree: Path) -> Evaluation:
    """Run build, test and every open chain's verify in the worktree; attribute failures to chains.

    Only what will land is verified, the committed branch tip: with uncommitted changes in the
    worktree nothing is run and no chain counts as done (the agent is asked to commit first).
    A chain whose verify is prose completes on the agent's COMPLETE claim (`dispatch chain` or its
    report's Tasks Completed row) once build and test pass; a chain the agent parked (`dispatch
    chain ID PARKED --reason`, or its report's Parked Chains section) and that did not pass is
    parked with the agent's reason.
    """
    progress = rt.state().agents[agent.name]
    timeout = rt.options.check_timeout
    uncommitted = git.uncommitted_files(worktree)
    if uncommitted:
        still = [c for c in ordered_chains(agent) if progress.chain_state.get(c.id) not in SETTLED_STATES]
        return Evaluation([], {}, [], still, uncommitted)
    checks = [run_check("build", "build", rt.plan.sprint.build_command, worktree, timeout=timeout)]
    if checks[0].ok:
        checks.append(run_check("test", "test", rt.plan.sprint.test_command, worktree, timeout=timeout))
    open_chains = [c for c in ordered_chains(agent) if progress.chain_state.get(c.id) not in SETTLED_STATES]
    report = read_report(worktree / rt.context.agent(agent.name).report)
    reported, parked = agent_claims(rt, agent, report)
    parked = {c.id: parked[c.id] for c in open_chains if c.id in parked}  # a settled chain stays as it is
    failing: dict[str, list[CheckResult]] = {}
    base_failures = [c for c in checks if not c.ok]
    working = [c for c in open_chains if c.id not in parked]
    if base_failures and working:
        failing[working[0].id] = list(base_failures)  # build/test breakage goes to the chain in progress
    completed = []
    for chain in open_chains:
        verify = run_chain_verify(chain, worktree, timeout=timeout)
        if verify is not None:
            checks.append(verify)
            if not verify.ok:
                failing.setdefault(chain.id, []).append(verify)
        claimed = progress.claimed.get(chain.id) in {"VERIFYING", "DOCUMENTING", "COMPLETE"} or chain.id in reported
        if not base_failures and chain.id not in failing and (verify is not None or claimed):
            completed.append(chain.id)
    round_id = f"{progress.attempts}-{time.time_ns()}"
    for check in checks:
        rt.record(EventType.VERIFICATION, agent=agent.name, chain=check.name if check.kind == "verify" else None,
                  round=round_id, **check.as_data())
    for chain_id in completed:
        rt.record(EventType.CHAIN_STATE, agent=agent.name, chain=chain_id, state="COMPLETE", source="tool")
    for chain_id, (park_reason, note) in parked.items():
        if chain_id in completed:
            continue  # it passed after all: done beats parked
        failing.pop(chain_id, None)  # set aside by its agent: no retry tier for it
        rt.record(EventType.CHAIN_STATE, agent=agent.name, chain=chain_id, state="PARKED", park_reason=park_reason,
                  note=note, parked_by="agent", source="tool")
        rt.say(f"{agent.name}: chain {chain_id} parked by the agent: {note}")
    still_open = [c for c in open_chains if c.id not in completed and c.id not in parked]
    return Evaluation(checks, failing, completed, still_open)


def agent_claims(rt: Runtime, agent: Agent,
                 report: CompletionReport | None) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """(chains its report's Tasks Completed marks COMPLETE, chain → (park reason, the agent's words)
    for the chains it parked), from the report and its `dispatch chain ... PARKED` claims."""
    ids = task_ids(rt.context.agent(agent.name).letter, agent.chains)
    reported = report.completed_chains(ids) if report is not None else set()
    parked = {chain: (ParkReason.AGENT.value, why) for chain, why in
              (report.parked_chains(ids) if report is not None else {}).items()}
    progress = rt.state().agents[agent.name]
    if any(state == "PARKED" for state in progress.claimed.values()):
        # The reason is in the claim's event, not in the engine's state: read the agent's claims.
        for event in rt.log.read(types=[EventType.CHAIN_STATE]):
            if event.agent != agent.name or event.data.get("source") == "tool" or not event.chain:
                continue
            if progress.claimed.get(event.chain) == "PARKED" and event.data.get("state") == "PARKED":
                parked[event.chain] = (str(event.data.get("park_reason") or ParkReason.AGENT.value),
                                       str(event.data.get("note") or "parked by the agent"))
    return reported, parked


def _after_session(rt: Runtime, name: str, run: SessionRun | None) -> None:
    agent, ctx = rt.agent(name)
    outcome = _outcome(rt, name, run)
    if outcome.reason in SETUP_REASONS:
        _stop_for_setup(rt, name, outcome)
        return
    wip = None
    if outcome.reason in CRASH_REASONS:
        wip = _save_work(rt, name, ctx.worktree)
    if ctx.base_role == "RED TEAM":  # what it was shown counts as reviewed when the session ended on its own
        review_gate.close_review(rt, name, ok=outcome.reason not in CRASH_REASONS | SETUP_REASONS | {"failed"})
    record_commit_signals(rt, name)  # chain ids and "P0:" in its commit subjects, before the checks
    evaluation = evaluate(rt, agent, ctx.worktree)
    state = rt.state()
    progress = state.agents[name]
    if progress.attempts >= rt.options.max_sessions:
        _gate3(rt, name, evaluation)
        return
    spent = _over_budget(rt, name, state)
    if spent:  # stopped after its turn: what it did so far still goes through gate 3
        if not progress.over_budget:
            scope, why = spent
            rt.record(EventType.BUDGET_EXCEEDED, agent=name, scope=scope, detail=why)
            rt.say(f"{name}: stopped, {why}")
        _gate3(rt, name, evaluation)
        return
    values = message_values(rt, name)
    done = [c.id for c in agent.chains if c.id not in {o.id for o in evaluation.open_chains}]
    # A session that died, was stopped or ran out of context did not finish: continue it, never
    # judge it as a failed verification (no retry tier is spent on it).
    if outcome.reason in CRASH_REASONS and (evaluation.open_chains or _follow_up(rt, name, values)):
        # The chain it had claimed to be working on, else the first one still open.
        working = [c for c in evaluation.open_chains if progress.claimed.get(c.id) in WORKING_CHAIN_STATES]
        chain = (working or evaluation.open_chains)[0] if evaluation.open_chains else None
        log = git.recent_log(ctx.worktree, 5).strip()
        saved, more = _saved_files(ctx.worktree, wip) if wip else ([], 0)
        text = messages.render_message("recover.md.j2", **values, wip_commit=wip, recent_log=log, done=done,
                                       cause=_stop_cause(outcome, progress), resume_from=chain,
                                       resume_state=progress.claimed.get(chain.id, "QUEUED") if chain else None,
                                       resume_claimed=bool(working), saved_files=saved, saved_more=more,
                                       activity=_last_activity(rt, name, run))
        queue_message(rt, name, "recover", text)
    elif outcome.reason == "limit" and evaluation.open_chains:
        text = messages.render_message("continue.md.j2", **values, done=done, open_chains=evaluation.open_chains)
        queue_message(rt, name, "continue", text)
    elif _retry(rt, name, agent, evaluation, progress):
        return
    elif progress.nudges < rt.options.max_nudges and (follow_up := _follow_up(rt, name, values)):
        queue_message(rt, name, *follow_up)
    elif (progress.pending_message or {}).get("kind") == OPERATOR_MESSAGE:
        return  # the operator wrote while the session ran: the agent reads it before gate 3 decides
    else:
        _gate3(rt, name, evaluation)


def _save_work(rt: Runtime, name: str, worktree: Path) -> str | None:
    """Commit everything the session left uncommitted in ``worktree`` (a WIP commit); its id, or None.

    ``git add -A`` takes edited, deleted and untracked files, in new directories too; files the
    worktree's .gitignore ignores are not the agent's work and stay out. A session killed inside a
    git command leaves its lock behind (``index.lock``): removed once no process of the session is
    alive, which only then proves it stale.
    """
    removed: list[str] = []
    if git.held_locks(worktree):
        record = _last_record(rt, name)
        if record is not None and rt.executor.session_alive(record):
            rt.say(f"{name}: a process of its last session still runs and holds git's lock: work left uncommitted")
            return None
        removed = git.remove_locks(worktree)
    wip = git.commit_all(worktree, WIP_SUBJECT)
    if wip:
        extra: dict[str, Any] = {"stale_locks": removed} if removed else {}
        rt.record(EventType.WIP_COMMITTED, agent=name, commit=wip, **extra)
    return wip


def _last_record(rt: Runtime, name: str) -> dict[str, Any] | None:
    """The executor record of the agent's latest session (its ``agent_session_started``)."""
    started = [e for e in rt.log.read(types=[EventType.AGENT_SESSION_STARTED]) if e.agent == name]
    record = started[-1].data.get("record") if started else None
    return record if isinstance(record, dict) else None


def _saved_files(worktree: Path, wip: str) -> tuple[list[str], int]:
    """(``path | +added -removed`` per file of the WIP commit, at most `SAVED_FILES_SHOWN`; how many
    more), as the recovery message quotes them."""
    changes = git.changed_files(worktree, f"{wip}^", wip)
    counts = git.numstat(worktree, f"{wip}^", wip)
    lines = []
    for status, path in changes[:SAVED_FILES_SHOWN]:
        added, removed = counts.get(path, (None, None))
        stat = "binary" if added is None or removed is None else f"+{added} -{removed}"
        lines.append(f"{path} | {stat}" + {"A": " (new)", "D": " (deleted)"}.get(status, ""))
    return lines, max(0, len(changes) - SAVED_FILES_SHOWN)


def _last_activity(rt: Runtime, name: str, run: SessionRun | None) -> list[str]:
    """What the agent's latest session was last doing, from its output (sessions.activity)."""
    progress = rt.state().agents[name]
    tool = run.tool if run is not None else session_tool(progress, rt.context.agent(name).tool)
    if run is not None:
        output: bytes | Path = rt.executor.read_output(run.result)
    else:  # it ended while no controller waited: its log, where the executor put it
        record = _last_record(rt, name)
        if record is None or not record.get("log_path"):
            return []
        output = Path(record["log_path"])
    return recent_activity(tool, output)


def _stop_for_setup(rt: Runtime, name: str, outcome: SessionOutcome) -> None:
    """Stop the agent after a session that could not work: gate 3 fails with the outcome's own
    words (which name the fix), and its chains are not judged, so no retry tier is spent."""
    progress = rt.state().agents[name]
    why = f"session {progress.attempts} could not work ({outcome.reason}): {outcome.detail}"
    rt.record(EventType.GATE_FAILED, agent=name, gate=f"gate-3:{name}", reasons=[why])
    rt.record(EventType.AGENT_STATE, agent=name, state="FAILED", reason=why)
    rt.say(f"{name}: stopped, {why}")


def _stop_cause(outcome: SessionOutcome, progress: AgentProgress) -> str:
    """Why a session did not end on its own, as the recovery message tells the agent."""
    if (progress.last_end or {}).get("interrupted"):
        return "was interrupted: the orchestrator was stopped (Ctrl-C) while it ran"
    if outcome.reason == "killed" and outcome.detail == SIGKILLED_DETAIL:
        return "was killed (SIGKILL) from outside the orchestrator: it crashed, ran out of memory or was kill -9ed"
    return {"timeout": "ran out of time: the orchestrator's session timeout stopped it",
            "killed": "was stopped by the orchestrator"}.get(outcome.reason, "crashed or was lost")


def _follow_up(rt: Runtime, name: str, values: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, text) of what the agent must fix before gate 3 judges it, or None.

    Files outside its territory first (R-03: which file, whose, what to do), then a missing or empty
    report, then uncommitted work ("commit your work").
    """
    agent, ctx = rt.agent(name)
    base = rt.plan.sprint.base_branch
    uncommitted = git.uncommitted_files(ctx.worktree)
    committed = [p for _, p in git.changed_files(ctx.worktree, base, "HEAD")]
    rules = territory_rules(rt.plan, name, allowed=[ctx.report])
    violations = rules.violations(sorted(set(committed) | set(uncommitted)),
                                  removed_lines_by_file(ctx.worktree, base, "HEAD"))
    if violations:
        crossed = [{"path": v.path, "why": v.describe(), "uncommitted": v.path in uncommitted} for v in violations]
        owners = sorted({v.owner for v in violations if v.owner})
        outside = {v.path for v in violations}
        text = messages.render_message("territory.md.j2", **values, violations=crossed, owners=owners,
                                       base_branch=base, own_uncommitted=[p for p in uncommitted if p not in outside])
        return "territory", text
    report = read_report(ctx.worktree / ctx.report)
    report_ok = report is not None and report.is_substantive
    if report_ok and not uncommitted:
        unclaimed = unclaimed_prose_chains(rt, agent, report)
        if not unclaimed:
            return None
        ids = task_ids(ctx.letter, agent.chains)
        chains = [{"id": c.id, "task_id": ids[c.id], "priority": c.priority, "title": c.title, "verify": c.verify}
                  for c in unclaimed]
        return "prose_claim", messages.render_message("prose-claim.md.j2", **values, chains=chains)
    text = messages.render_message("missing-report.md.j2", **values, empty=report is not None, report_ok=report_ok,
                                   uncommitted=uncommitted, chain_ids=", ".join(c.id for c in agent.chains) or "none")
    return ("uncommitted" if report_ok else "missing_report"), text


def unclaimed_prose_chains(rt: Runtime, agent: Agent, report: CompletionReport | None) -> list[Chain]:
    """The P0/P1 chains gate 3 would block on because their verify is prose and the agent claimed
    neither COMPLETE nor PARKED, in `dispatch chain` or in its report (docs/engine.md, prose verify)."""
    progress = rt.state().agents[agent.name]
    reported, parked = agent_claims(rt, agent, report)
    return [c for c in ordered_chains(agent)
            if c.priority in {"P0", "P1"} and verify_command(c) is None
            and progress.chain_state.get(c.id) not in SETTLED_STATES
            and progress.claimed.get(c.id) not in {"VERIFYING", "DOCUMENTING", "COMPLETE", "PARKED"}
            and c.id not in reported and c.id not in parked]


def _retry(rt: Runtime, name: str, agent: Agent, evaluation: Evaluation, progress: AgentProgress) -> bool:
    """Queue the next retry tier for the first failing chain; park chains past tier 3."""
    for chain in ordered_chains(agent):
        failed = evaluation.failing.get(chain.id)
        if not failed:
            continue
        rounds = progress.failures.get(chain.id, [])
        # This session's round is already recorded when the orchestrator died after recording it and
        # before queueing its message: finish that rung, never spend the next one on the interrupt.
        again = bool(rounds) and rounds[-1].get("attempt") == progress.attempts
        earlier = rounds[:-1] if again else rounds
        tier = len(earlier) + 1
        if not again:
            rt.record(EventType.CHAIN_FAILED, agent=name, chain=chain.id, attempt=progress.attempts, tier=tier,
                      failures=[c.as_data() for c in failed])
        if tier > 3:
            rt.record(EventType.CHAIN_STATE, agent=name, chain=chain.id, state="PARKED", park_reason="retry_exhausted",
                      source="tool")
            rt.say(f"{name}: chain {chain.id} parked after 4 failed verifications")
            continue
        if tier == 3 and agent.fallbacks and progress.fallback is None:
            fallback = agent.fallbacks[0]
            rt.record(EventType.AGENT_FALLBACK, agent=name, tool=fallback.tool or rt.context.agent(name).tool,
                      model=fallback.model, command=list(fallback.command) if fallback.command else None)
            rt.say(f"{name}: tier 3 switches to fallback {fallback.tool or ''} {fallback.model or ''}".rstrip())
        history = [{"attempt": r["attempt"], "failures": r["failures"]} for r in earlier]
        history.append({"attempt": progress.attempts, "failures": [c.as_data() for c in failed]})
        text = messages.retry_message(tier, **message_values(rt, name), chain=chain, failures=failed,
                                      history=history, verify_command=verify_command(chain))
        if not (again and _retry_scheduled(rt, name, chain.id, tier)):
            rt.record(EventType.RETRY_SCHEDULED, agent=name, chain=chain.id, tier=tier)
        queue_message(rt, name, f"retry_{tier}", text, chain=chain.id)
        rt.say(f"{name}: chain {chain.id} failed verification, retry tier {tier}")
        return True
    return False


def _retry_scheduled(rt: Runtime, name: str, chain: str, tier: int) -> bool:
    """True when the log already has retry tier ``tier`` of ``name``'s ``chain`` scheduled."""
    return any(e.agent == name and e.chain == chain and e.data.get("tier") == tier
               for e in rt.log.read(types=[EventType.RETRY_SCHEDULED]))


def message_values(rt: Runtime, name: str) -> dict[str, Any]:
    """The values every follow-up message template gets for agent ``name``'s next session."""
    _, ctx = rt.agent(name)
    progress = rt.state().agents[name]
    return {"attempt": progress.attempts + 1, "codename": ctx.codename, "agent": name, "sprint": rt.plan.sprint.id,
            "branch": ctx.branch, "report_path": ctx.report, "build_command": rt.plan.sprint.build_command,
            "test_command": rt.plan.sprint.test_command}


def queue_message(rt: Runtime, name: str, kind: str, text: str, *, chain: str | None = None) -> None:
    """Queue ``text`` for agent ``name``'s next session: write it under ``messages/`` in the state
    directory and record ``message_queued``; the next session is started with it."""
    progress = rt.state().agents[name]
    attempt = progress.attempts + 1
    pending = progress.pending_message
    if pending and pending.get("kind") == OPERATOR_MESSAGE and Path(pending["file"]).is_file():
        # One message per session: the operator's words, sent while the session ran, go first.
        text = Path(pending["file"]).read_text(encoding="utf-8").rstrip("\n") + "\n\n---\n\n" + text
    path = rt.state_dir / "messages" / f"{name}-{attempt}-{kind}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text), encoding="utf-8")  # check output may print the environment
    rt.record(EventType.MESSAGE_QUEUED, agent=name, chain=chain, kind=kind, file=str(path), attempt=attempt)


def _gate3(rt: Runtime, name: str, evaluation: Evaluation) -> None:
    agent, ctx = rt.agent(name)
    progress = rt.state().agents[name]
    result = gate3(plan=rt.plan, agent=agent, worktree=ctx.worktree, base=rt.plan.sprint.base_branch,
                   report_path=ctx.report, chain_states=progress.chain_state, checks=evaluation.checks)
    report = read_report(ctx.worktree / ctx.report)
    rt.record(EventType.REPORT_PARSED, agent=name, present=report is not None,
              status=report.status if report else None, mismatches=result.mismatches, facts=result.facts)
    if result.facts.get("violations"):
        rt.record(EventType.TERRITORY_VIOLATION, agent=name, paths=result.facts["violations"])
    gate = f"gate-3:{name}"
    if result.ok:
        rt.record(EventType.GATE_PASSED, agent=name, gate=gate)
        rt.record(EventType.AGENT_STATE, agent=name, state="COMPLETE")
        rt.say(f"{name}: gate 3 passed")
    else:
        rt.record(EventType.GATE_FAILED, agent=name, gate=gate, reasons=result.failures)
        rt.record(EventType.AGENT_STATE, agent=name, state="FAILED", reasons=result.failures)
        rt.say(f"{name}: gate 3 failed: " + "; ".join(result.failures))

