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
