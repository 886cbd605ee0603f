"""Per-agent workspace facts (the seed's status check script, as data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.workspace.layout import AgentSpace
from agent_dispatch.workspace.worktrees import run_bounded


@dataclass(frozen=True)
class SpaceStatus:
    """One agent's branch and worktree as git sees them now."""

    agent: str
    branch: str
    worktree: str
    branch_exists: bool
    worktree_exists: bool
    checked_out: str | None  # branch checked out in the worktree (None: detached or no worktree)
    ahead: int  # commits on the branch that the base does not have
    uncommitted: tuple[str, ...]  # changed or untracked files in the worktree
    report: str | None  # repository-relative completion report path
    report_present: bool  # in the worktree or committed on the branch
    last_commit: str | None

    @property
    def state(self) -> str:
        """``NOT DISPATCHED``, ``DONE`` (report present) or ``WORKING``, as the seed's monitor says."""
        if not self.worktree_exists and not self.branch_exists:
            return "NOT DISPATCHED"
        return "DONE" if self.report_present else "WORKING"

    def as_data(self) -> dict:
        """JSON-ready form, with ``uncommitted`` as a count plus the file list."""
        data = asdict(self)
        data["uncommitted_files"] = list(self.uncommitted)
        data["uncommitted"] = len(self.uncommitted)
        data["state"] = self.state
        return data


def space_status(root: Path, space: AgentSpace, *, base: str, report: str | None = None) -> SpaceStatus:
    """Collect the facts about ``space`` (about five git calls)."""
    branch_exists = git.branch_exists(root, space.branch)
    worktree_exists = (space.worktree / ".git").exists()
    ref = f"refs/heads/{space.branch}"
    uncommitted = tuple(git.uncommitted_files(space.worktree)) if worktree_exists else ()
    present = False
    if report:
        present = (worktree_exists and (space.worktree / report).is_file()) or (
            branch_exists and git.has_path(root, ref, report))
    return SpaceStatus(
        agent=space.agent, branch=space.branch, worktree=str(space.worktree),
        branch_exists=branch_exists, worktree_exists=worktree_exists,
        checked_out=git.current_branch(space.worktree) if worktree_exists else None,
        ahead=git.count_commits(root, f"refs/heads/{base}", ref) if branch_exists else 0,
        uncommitted=uncommitted, report=report, report_present=present,
        last_commit=git.last_commit_subject(root, ref) if branch_exists else None,
    )


def statuses(root: Path, spaces: Sequence[AgentSpace], *, base: str, reports: Mapping[str, str] | None = None,
             jobs: int = 2) -> list[SpaceStatus]:
    """:func:`space_status` for every space, ``jobs`` at a time, in input order."""
    reports = reports or {}
    return run_bounded(lambda s: space_status(root, s, base=base, report=reports.get(s.agent)), spaces, jobs=jobs)
