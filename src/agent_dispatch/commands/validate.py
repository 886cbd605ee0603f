"""``dispatch validate``: load a plan and report every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch.commands.common import load_checked
from agent_dispatch.errors import PlanError, Problem
from agent_dispatch.plan.validate import dispatched_agents

EXIT_INVALID = 2


@dataclass(frozen=True)
class PlanValidation:
    """The verdict on a plan: valid (with its warnings and a summary) or not (with every problem)."""

    valid: bool
    problems: tuple[Problem, ...]  # warnings only when valid
    plan: str = ""
    sprint: str = ""
    agents: int = 0
    dispatched: int = 0
    waves: int = 0
    chains: int = 0
    territory_checked: bool = False

    @property
    def exit_code(self) -> int:
        """0 when valid (warnings allowed), 2 when the plan has errors."""
        return 0 if self.valid else EXIT_INVALID

    def as_data(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        problems = [_as_dict(p) for p in self.problems]
        if not self.valid:
            return {"valid": False, "problems": problems}
        return {"valid": True, "plan": self.plan, "sprint": self.sprint, "agents": self.agents,
                "dispatched": self.dispatched, "waves": self.waves, "chains": self.chains,
                "territory_checked": self.territory_checked, "problems": problems}


def validate_plan(plan_path: Path, *, repo: Path | None = None) -> PlanValidation:
    """Validate ``plan_path``: every problem at once (a plan that fails to load is invalid too)."""
    try:
        loaded, warnings, root = load_checked(plan_path, repo)
    except PlanError as e:
        return PlanValidation(valid=False, problems=tuple(e.problems))
    plan = loaded.plan
    return PlanValidation(
        valid=True, problems=tuple(warnings), plan=str(plan_path), sprint=plan.sprint.id, agents=len(plan.agents),
        dispatched=len(dispatched_agents(plan)), waves=len(plan.waves), chains=sum(len(a.chains) for a in plan.agents),
        territory_checked=root is not None,
    )


def _as_dict(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path, "line": problem.line, "col": problem.col,
        "field": problem.field, "severity": problem.severity, "message": problem.message,
    }
