"""``dispatch conflicts``: which agent branches conflict with which, and the planned overlaps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.commands.workspaces import Sprint, load_sprint
from agent_dispatch.workspace.conflicts import Matrix, conflict_matrix
from agent_dispatch.workspace.overlap import PlannedOverlap, planned_overlaps
from agent_dispatch.workspace.worktrees import ensure_commit_graph


@dataclass(frozen=True)
class ConflictReport:
    """The all-pairs conflict matrix of the agents' branches (``agents``: branch → agent)."""

    plan_path: Path
    matrix: Matrix
    agents: dict[str, str]
    seconds: float

    def as_data(self) -> dict[str, Any]:
        """The ``--json`` shape: the matrix, plus who owns each branch and how long it took."""
        data = self.matrix.as_data()
        data["agents"] = dict(self.agents)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class PlannedOverlaps:
    """The overlaps the plan predicts from territories and fix sites, before any branch exists."""

    overlaps: tuple[PlannedOverlap, ...]

    def as_data(self) -> list[dict[str, Any]]:
        """The ``--json`` shape: one object per overlap."""
        return [o.as_data() for o in self.overlaps]


def show_conflicts(plan_path: Path, *, repo: Path | None = None, prefilter: bool = True,
                   planned: bool = False) -> ConflictReport | PlannedOverlaps:
    """The all-pairs conflict matrix of the agents' branches (``planned``: the overlaps the plan
    predicts, before any branch exists). Exit 0 either way: this is a report, not a gate."""
    sprint = load_sprint(plan_path, repo)
    if planned:
        return _planned(sprint)
    ensure_commit_graph(sprint.root)
    started = time.perf_counter()
    by_branch = {s.branch: s.agent for s in sprint.spaces}
    matrix = conflict_matrix(str(sprint.root), list(by_branch), base=sprint.plan.sprint.base_branch,
                             prefilter=prefilter)
    return ConflictReport(Path(plan_path), matrix, by_branch, time.perf_counter() - started)


def _planned(sprint: Sprint) -> PlannedOverlaps:
    overlaps = planned_overlaps(sprint.plan, git.list_tracked_files(sprint.root), [s.agent for s in sprint.spaces])
    return PlannedOverlaps(tuple(overlaps))
