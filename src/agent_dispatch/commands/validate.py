"""``dispatch validate``: load a plan and report every problem at once."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch import output
from agent_dispatch.commands.common import load_checked
from agent_dispatch.errors import PlanError
from agent_dispatch.plan.validate import dispatched_agents


def validate_plan(plan_path: Path, *, repo: Path | None = None, as_json: bool = False) -> int:
    """Validate ``plan_path``; 0 when valid (warnings allowed), 2 when it has errors."""
    try:
        loaded, warnings, root = load_checked(plan_path, repo)
    except PlanError as e:
        if not as_json:
            raise
        output.write_json({"valid": False, "problems": [_as_dict(p) for p in e.problems]})
        return 2
    plan = loaded.plan
    summary = {
        "valid": True,
        "plan": str(plan_path),
        "sprint": plan.sprint.id,
        "agents": len(plan.agents),
        "dispatched": len(dispatched_agents(plan)),
        "waves": len(plan.waves),
        "chains": sum(len(a.chains) for a in plan.agents),
        "territory_checked": root is not None,
        "problems": [_as_dict(p) for p in warnings],
    }
    if as_json:
        output.write_json(summary)
        return 0
    for warning in warnings:
        output.write_err(str(warning))
    checked = "" if root else " (not in a git repository: territory overlap not checked)"
    output.write(
        f"{plan_path}: valid — sprint {plan.sprint.id}, {summary['agents']} agents in "
        f"{summary['waves']} waves, {summary['chains']} chains, {len(warnings)} warning(s){checked}"
    )
    return 0


def _as_dict(problem) -> dict:
    return {
        "path": problem.path, "line": problem.line, "col": problem.col,
        "field": problem.field, "severity": problem.severity, "message": problem.message,
    }
