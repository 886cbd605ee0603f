"""Helpers shared by commands: locating the repository and loading a checked plan."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch import git
from agent_dispatch.errors import PlanError, Problem
from agent_dispatch.plan.loader import LoadedPlan, load_plan
from agent_dispatch.plan.validate import errors_only, validate


def repo_root_for(plan_path: str | Path, repo: str | Path | None = None) -> Path | None:
    """The project a plan belongs to: ``repo`` if given; else the directory holding
    ``docs/agent-dispatch/`` above the plan; else the git work tree containing the plan."""
    if repo is not None:
        git.get_root(repo)  # fail clearly when it is not a repository
        return Path(repo).resolve()
    directory = Path(plan_path).resolve().parent
    for parent in (directory, *directory.parents):
        if parent.name == "agent-dispatch" and parent.parent.name == "docs":
            project = parent.parent.parent
            return project if git.is_repo(project) else None
    return git.get_root(directory) if git.is_repo(directory) else None


def load_checked(plan_path: str | Path, repo: str | Path | None = None) -> tuple[LoadedPlan, list[Problem], Path | None]:
    """Load and validate a plan; raise :class:`PlanError` when it has errors.

    Returns the plan, its warnings, and the repository root (None outside a repository, in
    which case territory checks against tracked files are skipped).
    """
    loaded = load_plan(plan_path)
    root = repo_root_for(plan_path, repo)
    files = git.list_tracked_files(root) if root else None
    problems = validate(loaded, files) + list(loaded.warnings)
    if errors_only(problems):
        raise PlanError(problems)
    return loaded, sorted(set(problems)), root
