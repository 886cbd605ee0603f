"""Linked worktrees: listing, adding, moving, removing, and pointing a worktree's HEAD, index and
files at a commit."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.git.runner import git

# Held while adding, moving or pruning worktrees, by every thread of the process (agent
# worktrees, the template, the merge train's validation slots): git 2.39 reads every worktree's
# admin directory during `worktree add` and dies on one another thread is still creating
# ("failed to read .../commondir"), and `worktree prune` can delete a half-written one.
_REGISTRY_LOCK = threading.Lock()


@dataclass(frozen=True)
class Worktree:
    """One entry of ``git worktree list --porcelain``."""

    path: Path
    head: str | None
    branch: str | None  # short name (``sprint-01/data``); None when detached
    locked: bool = False
    prunable: bool = False


def list_worktrees(root: str | Path) -> list[Worktree]:
    """Every worktree of the repository, the main checkout first."""
    out = git("worktree", "list", "--porcelain", "-z", cwd=root).stdout
    result: list[Worktree] = []
    for block in out.split("\0\0"):
        fields: dict[str, str] = {}
        for item in block.split("\0"):
            key, _, value = item.partition(" ")
            if key:
                fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch", "")
        result.append(Worktree(
            path=Path(fields["worktree"]), head=fields.get("HEAD") or None,
            branch=branch.removeprefix("refs/heads/") or None,
            locked="locked" in fields, prunable="prunable" in fields,
        ))
    return result


def worktree_of_branch(root: str | Path, branch: str) -> Path | None:
    """The work tree that has ``branch`` checked out, if any (main checkout included)."""
    return next((w.path for w in list_worktrees(root) if w.branch == branch), None)


def prune_worktrees(root: str | Path) -> None:
    """Forget worktrees whose directories were deleted by hand."""
    with _REGISTRY_LOCK:
        git("worktree", "prune", cwd=root)


def add_worktree_unpopulated(root: str | Path, path: str | Path, branch: str, *, start: str | None = None) -> None:
    """Register a worktree at ``path`` on ``branch`` without writing its files (see
    :func:`populate_worktree`); with ``start``, create the branch there."""
    args = ["-b", branch, str(path), start] if start is not None else [str(path), branch]
    with _REGISTRY_LOCK:  # registering is quick; writing the files happens outside the lock
        git("worktree", "add", "-q", "--no-checkout", *args, cwd=root)


def add_detached_worktree_unpopulated(root: str | Path, path: str | Path, commit: str) -> None:
    """Register a worktree at ``path`` with a detached HEAD at ``commit``, without writing its files."""
    with _REGISTRY_LOCK:
        git("worktree", "add", "-q", "--no-checkout", "--detach", str(path), commit, cwd=root)


def add_detached_worktree(root: str | Path, path: str | Path, commit: str) -> None:
    """Check out ``commit`` (detached) in a new worktree at ``path``.

    Worktrees whose directories were deleted by hand are forgotten first, and ``--force`` lets
    ``path`` be one of them: a validation slot deleted by hand is created again in place.
    """
    with _REGISTRY_LOCK:
        git("worktree", "prune", cwd=root)
        git("worktree", "add", "-q", "--detach", "--force", str(path), commit, cwd=root)


def move_worktree(root: str | Path, source: str | Path, destination: str | Path) -> None:
    """Move a linked worktree (a rename, no files rewritten)."""
    with _REGISTRY_LOCK:
        git("worktree", "move", str(source), str(destination), cwd=root)


def remove_worktree(root: str | Path, path: str | Path, *, force: bool = False) -> None:
    """Delete a linked worktree and its administrative files (``force``: even with local changes)."""
    git("worktree", "remove", *(["--force"] if force else []), str(path), cwd=root)


def populate_worktree(worktree: str | Path) -> None:
    """Write every file of HEAD into ``worktree`` and its index, overwriting what is there."""
    git("read-tree", "-u", "--reset", "HEAD", cwd=worktree)


def point_head(worktree: str | Path, branch: str) -> None:
    """Make ``branch`` the checked-out branch of ``worktree`` without touching files or index."""
    git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=worktree)


def detach_head(worktree: str | Path) -> None:
    """Detach HEAD at its current commit, so the branch is free to be checked out elsewhere."""
    git("checkout", "-q", "--detach", cwd=worktree)


def checkout_detach(worktree: str | Path, commit: str) -> None:
    """Point ``worktree`` at ``commit`` (detached), discarding local changes and untracked files."""
    git("checkout", "-q", "--detach", "--force", commit, cwd=worktree)
    git("clean", "-q", "-fdx", cwd=worktree)


def fast_forward_checkout(worktree: str | Path, commit: str) -> None:
    """Fast-forward the branch checked out in ``worktree`` to ``commit``, updating its files."""
    git("merge", "-q", "--ff-only", commit, cwd=worktree)


def reset_hard(worktree: str | Path) -> None:
    """Make index and files of ``worktree`` match HEAD (rewrites only what differs)."""
    git("reset", "-q", "--hard", cwd=worktree)


def reset_soft(worktree: str | Path, commit: str) -> None:
    """Move the branch checked out in ``worktree`` to ``commit``, keeping index and files as they are."""
    git("reset", "-q", "--soft", commit, cwd=worktree)


def clean_untracked(worktree: str | Path, *, ignored: bool) -> None:
    """Delete untracked files and directories (and ignored ones too when ``ignored``)."""
    git("clean", "-q", "-fd" + ("x" if ignored else ""), cwd=worktree)


def rewrite_index(worktree: str | Path) -> None:
    """Refresh the index of ``worktree`` against its files and write it out even if nothing changed
    (a fresh index file mtime: entries older than it are no longer "racily clean")."""
    git("update-index", "-q", "--refresh", "--force-write-index", cwd=worktree, check=False)
