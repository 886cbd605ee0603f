"""The repository as a whole: creating one, where it is, its git directories, its local excludes
and its commit-graph."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch.errors import GitError
from agent_dispatch.git.runner import git


def get_root(path: str | Path) -> Path:
    """Top level of the work tree containing ``path``."""
    result = git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not result.ok:
        raise GitError(f"{str(path)!r} is not inside a git repository\nhint: run `git init` first")
    return Path(result.stdout.strip())


def create_repo(path: str | Path, message: str, *, branch: str, name: str, email: str) -> None:
    """Make ``path`` a new repository on ``branch`` whose first commit (``message``) holds every
    file in it, made by ``name <email>``, who also becomes the repository's identity."""
    identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    git("init", "-q", "-b", branch, cwd=path, env=identity)
    git("add", "-A", cwd=path, env=identity)
    git("commit", "-q", "-m", message, cwd=path, env=identity)
    git("config", "user.name", name, cwd=path)
    git("config", "user.email", email, cwd=path)


def is_repo(path: str | Path) -> bool:
    """True when ``path`` is inside a git work tree."""
    return git("rev-parse", "--is-inside-work-tree", cwd=path, check=False).stdout.strip() == "true"


def common_dir(path: str | Path) -> Path:
    """The repository's shared git directory (the main checkout's ``.git``), from any worktree."""
    out = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=path).stdout.strip()
    return Path(out)


def worktree_git_dir(worktree: str | Path) -> Path:
    """The per-worktree git directory (``.git/worktrees/<name>`` for a linked worktree)."""
    dot_git = Path(worktree) / ".git"
    if dot_git.is_file():  # "gitdir: <path>", written by `git worktree add`
        target = Path(dot_git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        return target if target.is_absolute() else (Path(worktree) / target).resolve()
    return Path(git("rev-parse", "--absolute-git-dir", cwd=worktree).stdout.strip())


def index_file(worktree: str | Path) -> Path:
    """The index of ``worktree`` (in its own git directory)."""
    return worktree_git_dir(worktree) / "index"


def add_info_exclude(root: str | Path, pattern: str) -> None:
    """Ignore ``pattern`` in this clone only (``.git/info/exclude``), never touching tracked files."""
    exclude = common_dir(root) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if pattern not in current.splitlines():
        exclude.write_text(current + ("" if current.endswith("\n") or not current else "\n") + pattern + "\n",
                           encoding="utf-8")


def has_commit_graph(root: str | Path) -> bool:
    """True when the repository has a commit-graph file (merge-base walks are then cheap)."""
    info = common_dir(root) / "objects" / "info"
    return (info / "commit-graph").exists() or (info / "commit-graphs" / "commit-graph-chain").exists()


def write_commit_graph(root: str | Path) -> None:
    """Write a commit-graph for every reachable commit."""
    git("commit-graph", "write", "--reachable", cwd=root)
