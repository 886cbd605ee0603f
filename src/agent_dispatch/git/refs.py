"""Refs, branches and commits: naming, comparing and moving them; tags and short logs."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch.git.runner import git


def current_branch(root: str | Path) -> str | None:
    """The checked-out branch name, or None when HEAD is detached or unborn."""
    result = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def branch_exists(root: str | Path, branch: str) -> bool:
    """True when ``refs/heads/<branch>`` exists."""
    ref = f"refs/heads/{branch}"
    return git("show-ref", "--verify", "--quiet", ref, cwd=root, check=False).ok


def branches_under(root: str | Path, prefix: str) -> list[str]:
    """Local branches named ``<prefix>/...`` (short names, sorted): a sprint's agent branches."""
    out = git("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}/", cwd=root).stdout
    return sorted(line for line in out.splitlines() if line)


def delete_branch(root: str | Path, branch: str) -> None:
    """Delete ``branch`` whatever it holds: the caller has decided its commits may go."""
    git("branch", "-D", branch, cwd=root)


def create_branch(root: str | Path, branch: str, start: str) -> None:
    """Create ``branch`` at ``start`` (fails when it exists)."""
    git("branch", "--no-track", branch, start, cwd=root)


def rev_parse(root: str | Path, rev: str) -> str:
    """The object id ``rev`` names (raises GitError when it names nothing)."""
    return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root).stdout.strip()


def try_rev_parse(root: str | Path, rev: str) -> str | None:
    """Like :func:`rev_parse` but None when ``rev`` does not exist."""
    result = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root, check=False)
    return result.stdout.strip() if result.ok else None


def tree_of(root: str | Path, rev: str) -> str:
    """The tree id of commit ``rev``."""
    return git("rev-parse", f"{rev}^{{tree}}", cwd=root).stdout.strip()


def is_ancestor(root: str | Path, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is reachable from ``descendant``."""
    return git("merge-base", "--is-ancestor", ancestor, descendant, cwd=root, check=False).ok


def merge_base(root: str | Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (None when they share no history)."""
    result = git("merge-base", a, b, cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def commits_between(root: str | Path, base: str, tip: str) -> list[str]:
    """Commit ids in ``base..tip``, oldest first."""
    out = git("rev-list", "--reverse", f"{base}..{tip}", cwd=root).stdout
    return out.split()


def commit_authors(root: str | Path, base: str, tip: str) -> list[tuple[str, str, str]]:
    """``(commit id, author name, author email)`` of each commit in ``base..tip``, oldest first."""
    out = git("log", "--reverse", "--format=%H%x00%an%x00%ae", f"{base}..{tip}", "--", cwd=root).stdout
    return [(sha, name, email) for sha, name, email in (line.split("\0") for line in out.splitlines() if line)]


def commit_subjects(root: str | Path, base: str, tip: str) -> list[tuple[str, str]]:
    """``(commit id, subject)`` of each commit in ``base..tip``, oldest first."""
    out = git("log", "--reverse", "--format=%H%x00%s", f"{base}..{tip}", "--", cwd=root).stdout
    return [(sha, subject) for sha, subject in (line.split("\0", 1) for line in out.splitlines() if line)]


def commits_and_boundary(root: str | Path, tip: str, exclude: str) -> tuple[list[str], list[str]]:
    """(commits reachable from ``tip`` but not ``exclude``, their parents that ``exclude`` reaches)."""
    out = git("rev-list", "--boundary", tip, f"^{exclude}", cwd=root).stdout.split()
    return [c for c in out if not c.startswith("-")], [c[1:] for c in out if c.startswith("-")]


def count_commits(root: str | Path, base: str, tip: str) -> int:
    """How many commits ``tip`` has that ``base`` has not."""
    return int(git("rev-list", "--count", f"{base}..{tip}", cwd=root).stdout.strip() or 0)


def last_commit_subject(root: str | Path, rev: str) -> str:
    """``<short id> <subject>`` of ``rev``."""
    return git("log", "-1", "--format=%h %s", rev, "--", cwd=root).stdout.strip()


def update_ref(root: str | Path, ref: str, new: str, old: str | None = None, *, reason: str = "agent-dispatch") -> None:
    """Move ``ref`` to ``new``, atomically checking it still points at ``old`` when given."""
    args = ["update-ref", "-m", reason, ref, new]
    if old is not None:
        args.append(old)
    git(*args, cwd=root)


def ref_values(root: str | Path, refs: list[str]) -> dict[str, str]:
    """Object id of each of the full ref names ``refs`` that exists (one process)."""
    if not refs:
        return {}
    out = git("for-each-ref", "--format=%(objectname) %(refname)", *refs, cwd=root).stdout
    wanted = set(refs)
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: oid for oid, ref in pairs if ref in wanted}


def recent_log(cwd: str | Path, count: int, *, rev: str | None = None, first_parent: bool = False) -> str:
    """``git log --oneline`` of the last ``count`` commits of ``rev`` (HEAD when None), for people and
    agents to read; ``first_parent`` follows only the first parent of merges."""
    args = ["log", "--oneline", *(["--first-parent"] if first_parent else []), f"-{count}", *([rev] if rev else [])]
    return git(*args, cwd=cwd).stdout


def create_tag(root: str | Path, name: str, commit: str, message: str) -> None:
    """Create the annotated tag ``name`` on ``commit`` (fails when it exists)."""
    git("tag", "-a", name, "-m", message, commit, cwd=root)
