"""RED TEAM before every landing: a review session of the plan's reviewer agent over the branches
about to land whose tips it has not reviewed yet (REQ-8.01, REQ-8.07, REQ-8.08).

With ``wave_base: merged`` each wave lands before the reviewer's own wave runs, so without this
the reviewer would only ever see what had not landed. The pass is one more session of the RED TEAM
agent, in its own worktree (brought up early when needed), with a context file of just those
branches and a message that names them; its ``red-team-findings.md`` then feeds gate 4 like the
findings of its own wave. A branch that comes back fixed has a new tip and is reviewed again.
"""

from __future__ import annotations

import asyncio
import dataclasses

from agent_dispatch.engine import messages, review_gate
from agent_dispatch.engine.agent_loop import CRASH_REASONS, SETUP_REASONS, message_values, session_request, session_tool
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.engine.workspaces import prepare_worktrees
from agent_dispatch.naming.paths import FINDINGS_FILENAME
from agent_dispatch.sessions.runner import run_session
from agent_dispatch.store.events import EventType


def review_before_landing(rt: Runtime, names: list[str]) -> list[str]:
    """Run a review session over those of ``names`` whose branch tip no reviewer session covered;
    returns the agents it reviewed (empty: nothing to do, or no reviewer agent in the plan)."""
    todo = review_gate.unreviewed(rt, names)
    reviewers = review_gate.reviewer_agents(rt)
    if not todo or not reviewers:
        return []
    reviewer = reviewers[0]
    ctx = rt.context.agent(reviewer)
    if not ctx.worktree.is_dir():  # its wave has not started yet: bring up its worktree now
        prepare_worktrees(rt, [reviewer])
    number = 1 + sum(1 for e in rt.log.read(types=[EventType.REVIEW_PASS], agent=reviewer)
                     if e.data["phase"] == "started")
    progress = rt.state().agents[reviewer]
    tool, request = session_request(rt, reviewer, progress, review_for=todo)
    findings = ctx.worktree / rt.context.sprint_dir / FINDINGS_FILENAME
    text = messages.render_message(
        "review-pass.md.j2", **message_values(rt, reviewer), number=number,
        base_branch=rt.plan.sprint.base_branch, branches=[rt.context.agent(n).branch for n in todo],
        context_path=request.extra_env["DISPATCH_REVIEW_CONTEXT"], findings_path=findings)
    message = rt.state_dir / "messages" / f"{reviewer}-review-{number}.md"
    message.parent.mkdir(parents=True, exist_ok=True)
    message.write_text(text, encoding="utf-8")
    # Its own thread of work: never resumes the CLI session of the agent's wave, never counts as one of its attempts.
    request = dataclasses.replace(request, message_file=message, resume_session=None)
    rt.say(f"{reviewer}: review pass {number} before landing {', '.join(todo)}")
    run = asyncio.run(run_session(session_tool(progress, ctx.tool), request, rt.executor,
                                  log_path=rt.state_dir / "logs" / f"{reviewer}-review-{number}.log",
                                  session_id=f"{rt.plan.sprint.id}-{reviewer}-review-{number}",
                                  timeout_s=rt.options.session_timeout))
    outcome = run.outcome
    ok = outcome.reason not in CRASH_REASONS | SETUP_REASONS | {"failed"}
    usage = run.usage
    review_gate.close_review(rt, reviewer, ok=ok, reason=outcome.reason, detail=outcome.detail, tool=tool,
                             input_tokens=usage.input_tokens if usage else 0,
                             output_tokens=usage.output_tokens if usage else 0)
    if not ok:
        rt.say(f"{reviewer}: review pass {number} did not finish ({outcome.reason}): {outcome.detail}")
    return todo
