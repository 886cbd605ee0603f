"""Where agent worktrees and pooled worktrees live (pure path functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.naming import paths
from agent_dispatch.plan.model import Plan
from agent_dispatch.plan.roster import base_role
from agent_dispatch.plan.validate import dispatched_agents

_POOL_NAME = re.compile(r"^(?P<project>.+)-pool-(?P<n>\d+)$")


@dataclass(frozen=True)
class AgentSpace:
    """One agent's branch and worktree."""

    agent: str
    branch: str
    worktree: Path


def worktree_path(root: Path, sprint: str, agent: str, template: str | None = None) -> Path:
    """The agent's worktree: the plan's ``sprint.worktree_dir`` template or the default
    ``<parent>/<project>-<sprint>-<agent>`` (the engine's context uses the same function)."""
    return paths.worktree_path(root, sprint, agent, template)


def pool_slot(directory: Path, project: str, taken: set[Path]) -> Path:
    """The first free pool path ``<directory>/<project>-pool-<n>`` not in ``taken`` nor on disk."""
    n = 1
    while (path := directory / f"{project}-pool-{n}") in taken or path.exists():
        n += 1
    return path


def is_pool_path(path: Path, project: str) -> bool:
    """True when ``path`` is named like a pooled worktree of ``project``."""
    match = _POOL_NAME.match(path.name)
    return match is not None and match["project"] == project


def spaces_for(plan: Plan, root: Path) -> list[AgentSpace]:
    """The spaces of the plan's dispatched agents in wave order (ORCHESTRATOR gets none)."""
    sid = plan.sprint.id
    names = [n for n in dispatched_agents(plan) if base_role(plan.agent(n).role) != "ORCHESTRATOR"]
    return [AgentSpace(n, paths.branch_name(sid, n), worktree_path(root, sid, n, plan.sprint.worktree_dir))
            for n in names]
