"""``dispatch territory check``: every changed file outside an agent's territory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.commands.workspaces import Sprint, load_sprint
from agent_dispatch.errors import FatalError
from agent_dispatch.naming import paths
from agent_dispatch.ownership import Violation
from agent_dispatch.workspace.territory import Changes, agent_changes, check, rules_from_plan


def _from_worktree(cwd: Path) -> tuple[str | None, str | None]:
    """(plan path, agent) that ``workspaces up`` recorded in this worktree's config, if any."""
    if not git.is_repo(cwd):
        return None, None
    return git.get_config(cwd, "dispatch.plan"), git.get_config(cwd, "dispatch.agent")


def _resolve(agent: str | None, plan_path: Path | None, repo: Path | None, cwd: Path) -> tuple[Sprint, str, Path | None]:
    """(sprint, agent, worktree or None) from the arguments, this worktree's config, or the env."""
    recorded_plan, recorded_agent = _from_worktree(cwd)
    plan_path = plan_path or (Path(recorded_plan) if recorded_plan else None)
    if plan_path is None:
        raise FatalError("no plan: this is not an agent worktree made by `dispatch workspaces up`\n"
                         "hint: dispatch territory check AGENT --plan <dispatch.yaml>")
    sprint = load_sprint(plan_path, repo)
    agent = agent or recorded_agent or os.environ.get("DISPATCH_AGENT")
    names = [a.name for a in sprint.plan.agents]
    if agent not in names:
        raise FatalError(f"unknown agent {agent!r}; agents are: {', '.join(names)}" if agent else
                         f"which agent? pass one of: {', '.join(names)}")
    branch = paths.branch_name(sprint.plan.sprint.id, agent)
    worktree = git.get_root(cwd) if recorded_agent == agent else git.worktree_of_branch(sprint.root, branch)
    if worktree is None and not git.branch_exists(sprint.root, branch):
        raise FatalError(f"agent {agent!r} has no branch {branch!r} yet\nhint: dispatch workspaces up {plan_path}")
    return sprint, agent, worktree


@dataclass(frozen=True)
class TerritoryReport:
    """An agent's changed files (committed or not) and those outside its territory."""

    agent: str
    branch: str
    worktree: Path | None  # None: only the branch's commits were inspected
    changes: Changes
    violations: tuple[Violation, ...]

    @property
    def exit_code(self) -> int:
        """1 when any changed file is outside the territory."""
        return 1 if self.violations else 0

    def as_data(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "agent": self.agent, "branch": self.branch, "worktree": str(self.worktree) if self.worktree else None,
            "fork_point": self.changes.fork_point, "changed": list(self.changes.paths), "ok": not self.violations,
            "violations": [{"path": v.path, "owner": v.owner, "reason": v.reason} for v in self.violations],
        }


def territory_check(agent: str | None = None, *, plan_path: Path | None = None, repo: Path | None = None,
                    cwd: Path | None = None) -> TerritoryReport:
    """The agent's changed files (committed or not) outside its territory.

    Inside an agent worktree the plan and agent come from the worktree's config; elsewhere pass
    ``plan_path`` and ``agent``.
    """
    sprint, agent, worktree = _resolve(agent, plan_path, repo, (cwd or Path.cwd()).resolve())
    branch = paths.branch_name(sprint.plan.sprint.id, agent)
    rules = rules_from_plan(sprint.plan, agent, sprint_dir=sprint.context.sprint_dir)
    changes = agent_changes(sprint.root, base=sprint.plan.sprint.base_branch, branch=branch, worktree=worktree)
    return TerritoryReport(agent, branch, worktree, changes, tuple(check(rules, changes)))
