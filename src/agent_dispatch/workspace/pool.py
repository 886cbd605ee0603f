"""The worktree pool: a freed worktree is parked, then handed to the next agent.

Recycling rewrites only what the previous agent changed (``checkout --force`` to the new branch,
then ``clean``), instead of deleting a whole checkout and writing it again. That is several times
faster, keeps build outputs warm when asked to, and avoids the slow path of filesystems that
allocate new inodes slowly right after a mass delete (see docs/workspaces.md).

A parked worktree is a linked worktree named ``<project>-pool-<n>`` in the directory its agent
used, with a detached HEAD and no guards installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.errors import FatalError
from agent_dispatch.workspace import hooks, layout
from agent_dispatch.workspace.layout import AgentSpace

RECYCLING_MARKER = "recycling"  # in the worktree's git directory while a recycle is under way


def parked(worktrees: Iterable[git.Worktree], project: str) -> list[Path]:
    """Pooled worktrees ready for reuse, in name order."""
    return sorted((w.path.resolve() for w in worktrees
                   if w.branch is None and not w.locked and not w.prunable and w.path.is_dir()
                   and layout.is_pool_path(w.path, project)), key=lambda p: (len(p.name), p.name))


def assign(spaces: Sequence[AgentSpace], pool: Sequence[Path]) -> dict[str, Path]:
    """Pick a pooled worktree for each space, preferring one in the same directory (a rename)."""
    free = list(pool)
    chosen: dict[str, Path] = {}
    for space in spaces:
        match = next((p for p in free if p.parent == space.worktree.resolve().parent), None)
        if match is not None:
            chosen[space.agent] = match
            free.remove(match)
    return chosen


def release(root: Path, worktree: Path, *, force: bool = False, taken: set[Path] | None = None) -> Path:
    """Park ``worktree`` in the pool and return its new path. Its branch (the agent's work) stays.

    Uncommitted changes are refused unless ``force``; they are discarded when it is recycled.
    """
    dirty = git.uncommitted_files(worktree)
    if dirty and not force:
        shown = ", ".join(dirty[:5]) + (f" (+{len(dirty) - 5} more)" if len(dirty) > 5 else "")
        raise FatalError(f"{worktree} has uncommitted changes: {shown}\n"
                         "hint: commit them on the agent's branch, or pass --force to discard them")
    hooks.uninstall(worktree)
    git.detach_head(worktree)
    destination = layout.pool_slot(worktree.parent, root.name, taken or set())
    git.move_worktree(root, worktree, destination)
    return destination


def _recycling(worktree: Path) -> Path:
    return git.worktree_git_dir(worktree) / "dispatch" / RECYCLING_MARKER


def is_recycling(worktree: Path) -> bool:
    """True when a recycle of ``worktree`` was started and did not finish (the process died)."""
    return _recycling(worktree).exists()


def recycle(root: Path, pooled: Path, space: AgentSpace, *, base: str, keep_ignored: bool = False) -> None:
    """Turn the parked worktree ``pooled`` into ``space``: its path, its branch, no leftovers.

    The branch is created from ``base`` when it does not exist yet. Only files that differ are
    rewritten. Ignored files (build outputs) are deleted too unless ``keep_ignored``. A marker in
    the worktree's git directory lets a later run finish a recycle that was interrupted.
    """
    if not git.branch_exists(root, space.branch):
        git.create_branch(root, space.branch, base)
    marker = _recycling(pooled)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    git.move_worktree(root, pooled, space.worktree)
    finish_recycle(space, keep_ignored=keep_ignored)


def finish_recycle(space: AgentSpace, *, keep_ignored: bool = False) -> None:
    """Check out ``space``'s branch in its (moved) worktree and drop everything else."""
    git.point_head(space.worktree, space.branch)  # the caller made sure no other worktree has it
    git.reset_hard(space.worktree)
    git.clean_untracked(space.worktree, ignored=not keep_ignored)
    _recycling(space.worktree).unlink(missing_ok=True)
