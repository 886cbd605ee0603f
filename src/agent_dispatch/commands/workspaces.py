"""``dispatch workspaces up|list|down``: a branch and a guarded worktree per dispatched agent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import Any

from agent_dispatch import output
from agent_dispatch.commands.common import load_checked
from agent_dispatch.errors import FatalError
from agent_dispatch.naming.context import SprintContext, build_context, sprint_dir_for
from agent_dispatch.plan.model import Plan
from agent_dispatch.ui.progress import progress_bar
from agent_dispatch.workspace import layout, status, template, worktrees
from agent_dispatch.workspace.install import sprint_installer
from agent_dispatch.workspace.layout import AgentSpace
from agent_dispatch.workspace.status import SpaceStatus
from agent_dispatch.workspace.worktrees import Outcome


@dataclass(frozen=True)
class Sprint:
    """A loaded plan with its repository, names and agent spaces."""

    plan_path: Path
    plan: Plan
    root: Path
    context: SprintContext
    spaces: list[AgentSpace]


def load_sprint(plan_path: Path, repo: Path | None = None) -> Sprint:
    """Load and check the plan; fail when it is not inside a git repository."""
    loaded, _warnings, root = load_checked(plan_path, repo)  # warnings are `dispatch validate`'s job
    if root is None:
        raise FatalError(f"{plan_path} is not inside a git repository\nhint: pass --repo <repository root>")
    root = root.resolve()
    plan = loaded.plan
    context = build_context(plan, root, sprint_dir=sprint_dir_for(plan_path, root, plan.sprint.id))
    return Sprint(Path(plan_path).resolve(), plan, root, context, layout.spaces_for(plan, root))


def guard_installer(sprint: Sprint) -> Callable[[AgentSpace], list[str]]:
    """The per-worktree install step of ``up``: territory rules, hooks, Claude Code settings."""
    return sprint_installer(sprint.plan, sprint.plan_path, sprint.root, sprint.context, sprint.spaces)


def _report(outcomes: list[Outcome], verb: str, *, as_json: bool) -> int:
    if as_json:
        output.write_json([{"agent": o.agent, "action": o.action, "worktree": str(o.worktree),
                            "seconds": round(o.seconds, 3), "error": o.error, "notes": list(o.notes)}
                           for o in outcomes])
    else:
        width = max((len(o.agent) for o in outcomes), default=5)
        for o in outcomes:
            if o.ok:
                output.write(f"{o.agent:<{width}}  {o.action:<8}  {o.worktree}  ({o.seconds:.2f} s)")
            for note in o.notes:
                output.write_err(f"[{o.agent}] note: {note}")
        for o in outcomes:
            if not o.ok:
                output.write_err(f"[{o.agent}] {o.error}")
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.action] = counts.get(o.action, 0) + 1
        summary = ", ".join(f"{n} {action}" for action, n in counts.items())
        output.write(f"{verb}: {summary or 'nothing to do'}")
    return 0 if all(o.ok for o in outcomes) else 1


def workspaces_up(plan_path: Path, *, repo: Path | None = None, jobs: int | None = None, recycle: bool = True,
                  keep_ignored: bool = False, copy: bool | None = None, as_json: bool = False) -> int:
    """Create (or recycle) every dispatched agent's branch and worktree, install its guards and run
    the plan's ``setup_command`` in new ones; 1 when any agent failed (re-run to finish)."""
    sprint = load_sprint(plan_path, repo)
    with progress_bar("worktrees", len(sprint.spaces), enabled=not as_json) as advance:
        outcomes = worktrees.bring_up(
            sprint.root, sprint.spaces, base=sprint.plan.sprint.base_branch, jobs=jobs,
            setup_command=sprint.plan.sprint.setup_command, install=guard_installer(sprint),
            recycle=recycle, keep_ignored=keep_ignored, copy=copy, on_done=advance)
    return _report(outcomes, "workspaces up", as_json=as_json)


def workspaces_down(plan_path: Path, *, repo: Path | None = None, agents: Sequence[str] = (), remove: bool = False,
                    force: bool = False, as_json: bool = False) -> int:
    """Park every agent worktree (or only those of ``agents``, e.g. finished ones) in the pool for
    reuse (``remove``: delete them, and the template checkout when all go); branches stay."""
    sprint = load_sprint(plan_path, repo)
    known = [s.agent for s in sprint.spaces]
    unknown = [a for a in agents if a not in known]
    if unknown:
        raise FatalError(f"no worktree for agent(s) {', '.join(map(repr, unknown))}; agents with one: {', '.join(known)}")
    spaces = [s for s in sprint.spaces if not agents or s.agent in agents]
    outcomes = worktrees.take_down(sprint.root, spaces, remove=remove, force=force)
    if remove and not agents:
        for directory in {s.worktree.resolve().parent for s in sprint.spaces}:
            template.remove(sprint.root, template.template_path(directory, sprint.root.name))
    return _report(outcomes, "workspaces down", as_json=as_json)


@dataclass(frozen=True)
class WorkspaceList:
    """``dispatch workspaces list``: one row per agent space."""

    rows: tuple[SpaceStatus, ...]

    def as_data(self) -> list[dict[str, Any]]:
        """The ``--json`` shape: one object per agent."""
        return [row.as_data() for row in self.rows]


def list_workspaces(plan_path: Path, *, repo: Path | None = None) -> WorkspaceList:
    """Per agent: branch, worktree, commits ahead of the base, uncommitted files, report present."""
    sprint = load_sprint(plan_path, repo)
    reports = {a.name: a.report for a in sprint.context.agents}
    rows = status.statuses(sprint.root, sprint.spaces, base=sprint.plan.sprint.base_branch, reports=reports)
    return WorkspaceList(tuple(rows))
