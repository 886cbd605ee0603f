"""End of the sprint: final verification of the base branch, success criteria, ship decision,
SPRINT-SUMMARY.md and the optional tag."""

from __future__ import annotations

from typing import Any

from agent_dispatch import git
from agent_dispatch.artifacts.summary import render_summary, ship_decision, write_summary
from agent_dispatch.checkrun import run_check
from agent_dispatch.engine import review_gate
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.merge.validation import ValidationPool
from agent_dispatch.plan.verify import BACKTICKED
from agent_dispatch.store.events import EventType


def _merge_log(rt: Runtime) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = []
    for event in rt.log.read(types=[EventType.MERGE_STEP, EventType.REF_UPDATED]):
        data = event.data
        if event.type == EventType.REF_UPDATED:
            if data.get("new") is None:  # validated, but the base did not move: those did not land
                for step in log:
                    if step["ok"] and step["agent"] in (data.get("agents") or []) and not step.get("lost"):
                        step.update(ok=False, lost=True, detail=f"validated, but {rt.plan.sprint.base_branch} "
                                                                "did not move: not landed")
            continue
        if data.get("already_landed"):
            continue
        if data.get("ok"):
            detail = "validated" + (f", {', '.join(data['resolved'])} resolved additively" if data.get("resolved") else "")
        elif data.get("conflicts"):
            detail = f"conflict in {', '.join(data['conflicts'])}: returned to the agent"
        else:
            detail = "build/test failed once merged: returned to the agent"
        log.append({"agent": event.agent, "ok": bool(data.get("ok")), "detail": detail})
    return log


def finish(rt: Runtime) -> str:
    """Verify the final base, write SPRINT-SUMMARY.md, tag when shipped; returns the decision."""
    sprint = rt.plan.sprint
    open_critical, accepted = review_gate.summary_inputs(rt, rt.state().landed)
    base = git.rev_parse(rt.root, f"refs/heads/{sprint.base_branch}")
    pool = ValidationPool(rt.root, rt.state_dir / "validate", build=sprint.build_command, test=sprint.test_command,
                          timeout=rt.options.check_timeout)
    final = pool.validate([base])[0]
    for check in final.checks:
        rt.record(EventType.VERIFICATION, agent=None, round="final", **check.as_data())
    criteria = {}
    for criterion in sprint.success_criteria:
        command = BACKTICKED.search(criterion.text)
        if command:
            check = run_check("verify", "criterion", command.group(1), pool.paths[0], timeout=rt.options.check_timeout)
            criteria[criterion.text] = f"{'PASS' if check.ok else 'FAIL'} (exit {check.returncode} on {base[:12]})"
    status = rt.log.status()
    state = rt.state()
    lost = [a for a in (state.landing_error or {}).get("agents") or [] if a not in state.landed]
    problem = None
    if state.landing_error is not None and lost:
        blocking = state.landing_error.get("blocking") or []
        problem = (f"{sprint.base_branch} did not move for {', '.join(lost)}"
                   + (f": uncommitted changes to {', '.join(blocking)} in the way" if blocking else "")
                   + f"; commit or stash them, then `dispatch merge {rt.plan_path}`")
    decision = ship_decision(rt.plan, status, landed=state.landed, base_ok=final.ok, open_critical=open_critical,
                             landing_problem=problem, criteria=criteria)
    facts = {e.agent: e.data.get("facts", {}) for e in rt.log.read(types=[EventType.REPORT_PARSED]) if e.agent}
    text = render_summary(rt.plan, status, decision=decision, merge_log=_merge_log(rt), facts=facts,
                          accepted=accepted or [], overrides=state.overrides, base_commit=base, criteria=criteria)
    path = write_summary(rt.root / rt.context.sprint_dir, text)
    rt.say(f"ship decision: {decision.decision} — {path}")
    if decision.decision == "SHIPPED" and sprint.tag_on_ship:
        tag = f"{sprint.id}-complete"
        if git.try_rev_parse(rt.root, f"refs/tags/{tag}") is None:
            git.create_tag(rt.root, tag, base, f"{sprint.id}: {sprint.theme}")
            rt.say(f"tagged {base[:12]} as {tag}")
    return decision.decision
