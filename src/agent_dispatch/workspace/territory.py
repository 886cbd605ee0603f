"""Territory for workspaces: rules from a plan, an agent's changed files, and the check itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.artifacts.summary import SUMMARY_FILENAME
from agent_dispatch.naming import paths
from agent_dispatch.naming.context import assign_letters
from agent_dispatch.ownership import TerritoryRules, Violation
from agent_dispatch.plan.model import Plan
from agent_dispatch.plan.roster import base_role
from agent_dispatch.plan.territory import territory_rules


def sprint_files(plan: Plan, agent: str, sprint_dir: str | None = None) -> tuple[str, ...]:
    """The sprint files ``agent`` is asked to write, whatever its territory: its completion report,
    plus the findings for a RED TEAM agent and SPRINT-SUMMARY.md for LEAD (and ORCHESTRATOR)."""
    sid = plan.sprint.id
    letter = assign_letters(plan)[0][agent]
    files = [paths.report_path(sid, letter, directory=sprint_dir)]
    role = base_role(plan.agent(agent).role)
    if role == "RED TEAM":
        files.append(paths.findings_path(sid, directory=sprint_dir))
    if role in ("LEAD", "ORCHESTRATOR"):
        files.append(f"{sprint_dir or paths.sprint_dir(sid)}/{SUMMARY_FILENAME}")
    return tuple(files)


def rules_from_plan(
    plan: Plan,
    agent: str,
    *,
    sprint_dir: str | None = None,
    worktree: Path | None = None,
    foreign_roots: Sequence[Path] = (),
) -> TerritoryRules:
    """The snapshot of ``agent``'s territory that hooks and ``territory check`` evaluate.

    ``sprint_dir`` is the repository-relative folder holding the plan, where the agent's own
    sprint files go (:func:`sprint_files`).
    """
    return territory_rules(plan, agent, branch=paths.branch_name(plan.sprint.id, agent),
                           allowed=sprint_files(plan, agent, sprint_dir), worktree=str(worktree or ""),
                           foreign_roots=[str(p) for p in foreign_roots])


@dataclass(frozen=True)
class Changes:
    """What an agent changed relative to where its branch left the base."""

    fork_point: str
    paths: tuple[str, ...]  # committed or not, tracked or untracked, sorted
    removed: dict[str, int]  # lines removed per tracked path (-1: binary)
    worktree: Path | None  # None: only the branch was inspected (no worktree)


def agent_changes(root: Path, *, base: str, branch: str, worktree: Path | None) -> Changes:
    """Every file the agent changed since its fork point, committed or not.

    With a worktree: the working tree against the fork point (committed and uncommitted changes
    of tracked files at once) plus untracked files. Without one: the branch's commits only.
    """
    tip = "HEAD" if worktree is not None else f"refs/heads/{branch}"
    where = worktree if worktree is not None else root
    fork = git.merge_base(where, f"refs/heads/{base}", tip)
    if fork is None:
        raise git.GitError(f"{branch!r} shares no history with the base branch {base!r}")
    if worktree is not None:
        removed = git.numstat_removed(worktree, fork)
        changed = set(removed) | set(git.untracked_files(worktree))
    else:
        removed = git.numstat_removed(root, fork, tip)
        changed = set(removed)
    return Changes(fork, tuple(sorted(changed)), removed, worktree)


def check(rules: TerritoryRules, changes: Changes) -> list[Violation]:
    """The changed files ``rules`` does not allow, in path order."""
    return rules.violations(changes.paths, changes.removed)
