"""All git knowledge lives here: one small function per question, machine-readable flags."""

from __future__ import annotations

import os
from pathlib import Path

from agent_dispatch import proc
from agent_dispatch.errors import GitError


def no_git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without GIT_* variables that would redirect git (hooks set them)."""
    keep = {"GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
            "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
            "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL",
            "GIT_TEMPLATE_DIR"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}
    if extra:
        env.update(extra)
    return env


def git(*args: str, cwd: str | Path, check: bool = True, input: str | None = None) -> proc.Result:
    """Run ``git args`` in ``cwd``; a failure becomes :class:`GitError` with git's own words."""
    result = proc.run("git", *args, cwd=cwd, env=no_git_env(), check=False, input=input)
    if check and not result.ok:
        detail = (result.stderr or result.stdout).strip()
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {detail}")
    return result


def get_root(path: str | Path) -> Path:
    """Top level of the work tree containing ``path``."""
    result = git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not result.ok:
        raise GitError(f"{str(path)!r} is not inside a git repository\nhint: run `git init` first")
    return Path(result.stdout.strip())


def is_repo(path: str | Path) -> bool:
    """True when ``path`` is inside a git work tree."""
    return git("rev-parse", "--is-inside-work-tree", cwd=path, check=False).stdout.strip() == "true"


def list_tracked_files(root: str | Path) -> list[str]:
    """Every tracked file under ``root``, relative to ``root``, with forward slashes."""
    out = git("ls-files", "-z", "--cached", cwd=root).stdout
    return [p for p in out.split("\0") if p]


def current_branch(root: str | Path) -> str | None:
    """The checked-out branch name, or None when HEAD is detached or unborn."""
    result = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def branch_exists(root: str | Path, branch: str) -> bool:
    """True when ``refs/heads/<branch>`` exists."""
    ref = f"refs/heads/{branch}"
    return git("show-ref", "--verify", "--quiet", ref, cwd=root, check=False).ok


# --- commits, diffs and plumbing merges used by the engine and the landing step -------------


def rev_parse(root: str | Path, rev: str) -> str:
    """The object id ``rev`` names (raises GitError when it names nothing)."""
    return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root).stdout.strip()


def try_rev_parse(root: str | Path, rev: str) -> str | None:
    """Like :func:`rev_parse` but None when ``rev`` does not exist."""
    result = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root, check=False)
    return result.stdout.strip() if result.ok else None


def is_ancestor(root: str | Path, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is reachable from ``descendant``."""
    return git("merge-base", "--is-ancestor", ancestor, descendant, cwd=root, check=False).ok


def commits_between(root: str | Path, base: str, tip: str) -> list[str]:
    """Commit ids in ``base..tip``, oldest first."""
    out = git("rev-list", "--reverse", f"{base}..{tip}", cwd=root).stdout
    return out.split()


def changed_files(root: str | Path, base: str, tip: str) -> list[tuple[str, str]]:
    """(status letter, path) for files changed between ``base`` and ``tip`` (renames as add+delete)."""
    out = git("diff", "--no-ext-diff", "--no-renames", "--name-status", "-z", f"{base}...{tip}", cwd=root).stdout
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def shortstat(root: str | Path, base: str, tip: str) -> tuple[int, int]:
    """(lines added, lines removed) between ``base`` and ``tip``."""
    out = git("diff", "--no-ext-diff", "--numstat", f"{base}...{tip}", cwd=root).stdout
    added = removed = 0
    for line in out.splitlines():
        a, r, _ = line.split("\t", 2)
        added += int(a) if a.isdigit() else 0
        removed += int(r) if r.isdigit() else 0
    return added, removed


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


def commit_all(worktree: str | Path, message: str) -> str | None:
    """Stage everything and commit with ``message``; None when there was nothing to commit.

    Hooks are skipped (``--no-verify``): this is the tool saving an agent's work, which gate 3
    audits anyway.
    """
    git("add", "-A", cwd=worktree)
    if git("diff", "--cached", "--quiet", cwd=worktree, check=False).ok:
        return None
    git("commit", "-q", "--no-verify", "-m", message, cwd=worktree)
    return rev_parse(worktree, "HEAD")


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


def merge_base(root: str | Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (None when they share no history)."""
    result = git("merge-base", a, b, cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def hash_blob(root: str | Path, content: str) -> str:
    """Store ``content`` as a blob and return its id."""
    return git("hash-object", "-w", "--stdin", cwd=root, input=content).stdout.strip()


def replace_in_tree(root: str | Path, tree: str, blobs: dict[str, str]) -> str:
    """A new tree: ``tree`` with each path's content replaced by the given blob id."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = no_git_env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
        steps = [["read-tree", tree]] + [["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"]
                                          for path, blob in blobs.items()]
        for args in steps:
            result = proc.run("git", *args, cwd=root, env=env, check=False)
            if not result.ok:
                raise GitError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return proc.run("git", "write-tree", cwd=root, env=env).stdout.strip()


def commit_tree(root: str | Path, tree: str, parents: list[str], message: str) -> str:
    """Create a commit object for ``tree`` with ``parents``; returns its id."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(*args, "-m", message, cwd=root).stdout.strip()


def tree_of(root: str | Path, rev: str) -> str:
    """The tree id of commit ``rev``."""
    return git("rev-parse", f"{rev}^{{tree}}", cwd=root).stdout.strip()


def update_ref(root: str | Path, ref: str, new: str, old: str | None = None, *, reason: str = "agent-dispatch") -> None:
    """Move ``ref`` to ``new``, atomically checking it still points at ``old`` when given."""
    args = ["update-ref", "-m", reason, ref, new]
    if old is not None:
        args.append(old)
    git(*args, cwd=root)


def checkout_detach(worktree: str | Path, commit: str) -> None:
    """Point ``worktree`` at ``commit`` (detached), discarding local changes and untracked files."""
    git("checkout", "-q", "--detach", "--force", commit, cwd=worktree)
    git("clean", "-q", "-fdx", cwd=worktree)


def fast_forward_checkout(worktree: str | Path, commit: str) -> None:
    """Fast-forward the branch checked out in ``worktree`` to ``commit``, updating its files."""
    git("merge", "-q", "--ff-only", commit, cwd=worktree)


def show_file(root: str | Path, rev: str, path: str) -> str | None:
    """Contents of ``path`` at ``rev``, or None when it does not exist there."""
    result = git("show", f"{rev}:{path}", cwd=root, check=False)
    return result.stdout if result.ok else None


def common_dir(path: str | Path) -> Path:
    """The repository's shared git directory (the main checkout's ``.git``), from any worktree."""
    out = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=path).stdout.strip()
    return Path(out)


def add_info_exclude(root: str | Path, pattern: str) -> None:
    """Ignore ``pattern`` in this clone only (``.git/info/exclude``), never touching tracked files."""
    exclude = common_dir(root) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if pattern not in current.splitlines():
        exclude.write_text(current + ("" if current.endswith("\n") or not current else "\n") + pattern + "\n",
                           encoding="utf-8")


def worktree_of_branch(root: str | Path, branch: str) -> Path | None:
    """The work tree that has ``branch`` checked out, if any (main checkout included)."""
    out = git("worktree", "list", "--porcelain", cwd=root).stdout
    path: Path | None = None
    for line in out.splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree "):])
        elif line == f"branch refs/heads/{branch}" and path is not None:
            return path
    return None
