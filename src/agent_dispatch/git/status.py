"""What is in a working tree: tracked, untracked and uncommitted files, a merge in progress;
committing all of it."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch.git.refs import rev_parse
from agent_dispatch.git.repo import worktree_git_dir
from agent_dispatch.git.runner import git


def list_tracked_files(root: str | Path) -> list[str]:
    """Every tracked file under ``root``, relative to ``root``, with forward slashes."""
    out = git("ls-files", "-z", "--cached", cwd=root).stdout
    return [p for p in out.split("\0") if p]


def files_at(root: str | Path, rev: str) -> list[str]:
    """Every file in the tree of ``rev`` (what a worktree checked out at ``rev`` holds)."""
    out = git("ls-tree", "-r", "-z", "--name-only", rev, cwd=root).stdout
    return [p for p in out.split("\0") if p]


def skip_worktree(worktree: str | Path, paths: list[str]) -> None:
    """Mark tracked ``paths`` skip-worktree in ``worktree``'s own index: git ignores their local
    content, so ``git add -A`` and ``git status`` leave them out."""
    if paths:
        git("update-index", "--skip-worktree", "--", *paths, cwd=worktree)


def is_tracked(worktree: str | Path, path: str) -> bool:
    """True when ``path`` is in the index of ``worktree``."""
    return bool(git("ls-files", "-z", "--", path, cwd=worktree).stdout.strip("\0"))


def untracked_files(worktree: str | Path) -> list[str]:
    """Untracked, not ignored files in ``worktree``."""
    out = git("ls-files", "-z", "--others", "--exclude-standard", cwd=worktree).stdout
    return [p for p in out.split("\0") if p]


def uncommitted_files(worktree: str | Path) -> list[str]:
    """Paths with uncommitted changes (tracked or untracked, not ignored) in ``worktree``."""
    out = git("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=worktree).stdout
    entries = out.split("\0")
    paths, i = [], 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":
                i += 1  # the rename source follows
        i += 1
    return paths


# Lock files git leaves in a worktree's own git directory when it is killed mid-command (`git add`,
# `git commit`, a checkout): while one exists every later command that writes there fails.
WORKTREE_LOCKS = ("index.lock", "HEAD.lock")


def held_locks(worktree: str | Path) -> list[str]:
    """The names of `WORKTREE_LOCKS` present in ``worktree``'s git directory (read, no git process)."""
    gitdir = worktree_git_dir(worktree)
    return [name for name in WORKTREE_LOCKS if (gitdir / name).exists()]


def remove_locks(worktree: str | Path) -> list[str]:
    """Remove the `WORKTREE_LOCKS` of ``worktree``; the names removed.

    Only for locks known to be stale: no process that could hold them (the session that worked
    there, any git it started) is alive. Removing a live lock lets two writers corrupt the index.
    """
    gitdir = worktree_git_dir(worktree)
    removed = []
    for name in WORKTREE_LOCKS:
        try:
            (gitdir / name).unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    return removed


def is_pristine(worktree: str | Path) -> bool:
    """True when ``worktree`` has no changes and no untracked or ignored files at all."""
    out = git("status", "--porcelain", "--untracked-files=all", "--ignored", cwd=worktree, check=False)
    return out.ok and not out.stdout.strip()


def is_merging(worktree: str | Path) -> bool:
    """True while a merge is in progress (``MERGE_HEAD`` exists; read, no git process)."""
    return (worktree_git_dir(worktree) / "MERGE_HEAD").is_file()


def commit_all(worktree: str | Path, message: str, *, run_hooks: bool = False,
               allow_empty: bool = False) -> str | None:
    """Stage everything and commit with ``message``; None when there was nothing to commit
    (``allow_empty``: commit anyway).

    Hooks are skipped (``--no-verify``) unless ``run_hooks``: the tool saving an agent's work
    skips them, gate 3 audits it anyway; scripted agents commit like an agent, through the hooks.
    """
    git("add", "-A", cwd=worktree)
    if not allow_empty and git("diff", "--cached", "--quiet", cwd=worktree, check=False).ok:
        return None
    flags = [*([] if run_hooks else ["--no-verify"]), *(["--allow-empty"] if allow_empty else [])]
    git("commit", "-q", *flags, "-m", message, cwd=worktree)
    return rev_parse(worktree, "HEAD")
