"""Plumbing merges used by the landing step and the merge train: merges without a worktree,
blobs, trees and commit objects."""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent_dispatch.errors import GitError
from agent_dispatch.git.runner import git


def merge_tree(root: str | Path, ours: str, theirs: str) -> tuple[str, list[str]]:
    """Merge two commits without a worktree: (tree id, conflicted paths).

    With conflicts the tree holds the conflicted files with conflict markers; callers either
    resolve them (see :func:`replace_in_tree`) or drop the merge.
    """
    result = git("merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs, cwd=root, check=False)
    lines = result.stdout.splitlines()
    if result.returncode in (0, 1) and lines:
        return lines[0].strip(), sorted({ln for ln in lines[1:] if ln.strip()})
    raise GitError(f"git merge-tree {ours} {theirs} failed: {result.stderr.strip()}")


def merge_tree_many(root: str | Path, pairs: list[tuple[str, str]]) -> list[list[str] | None]:
    """Merge each (ours, theirs) pair without a worktree, all in one ``merge-tree --stdin`` process.

    Per pair: None when it merges cleanly, else the conflicted paths. Pass commit ids, not names:
    one unknown name ends the whole batch.
    """
    if not pairs:
        return []
    lines = "".join(f"{a} {b}\n" for a, b in pairs)
    result = git("merge-tree", "--stdin", "--name-only", "--no-messages", cwd=root, check=False, input=lines)
    items = result.stdout.split("\0")
    out: list[list[str] | None] = []
    i = 0
    while i + 1 < len(items) and items[i] in ("0", "1"):
        clean, i = items[i] == "1", i + 2  # status, tree id
        files: list[str] = []
        while i < len(items) and items[i]:
            files.append(items[i])
            i += 1
        i += 1  # the empty item ending this merge
        out.append(None if clean else sorted(set(files)))
    if len(out) != len(pairs):
        raise GitError(f"git merge-tree --stdin answered {len(out)} of {len(pairs)} merges: {result.stderr.strip()}")
    return out


def hash_blob(root: str | Path, content: str) -> str:
    """Store ``content`` as a blob and return its id."""
    return git("hash-object", "-w", "--stdin", cwd=root, input=content).stdout.strip()


def replace_in_tree(root: str | Path, tree: str, blobs: dict[str, str]) -> str:
    """A new tree: ``tree`` with each path's content replaced by the given blob id."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}  # a scratch index: the worktree's stays untouched
        steps = [["read-tree", tree]] + [["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"]
                                          for path, blob in blobs.items()]
        for args in steps:
            git(*args, cwd=root, env=env)
        return git("write-tree", cwd=root, env=env).stdout.strip()


def commit_tree(root: str | Path, tree: str, parents: list[str], message: str) -> str:
    """Create a commit object for ``tree`` with ``parents``; returns its id."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(*args, "-m", message, cwd=root).stdout.strip()
