"""Repository and per-worktree configuration, and where hooks live."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch.errors import GitError
from agent_dispatch.git.repo import common_dir, worktree_git_dir
from agent_dispatch.git.runner import git


def get_config(cwd: str | Path, key: str) -> str | None:
    """The effective value of ``key`` seen from ``cwd`` (per-worktree config included), or None."""
    result = git("config", "--get", key, cwd=cwd, check=False)
    return result.stdout.strip() if result.ok else None


def set_config(cwd: str | Path, key: str, value: str, *, worktree: bool = False) -> None:
    """Set ``key`` in the shared config, or only for the worktree at ``cwd`` when ``worktree``."""
    git("config", *(["--worktree"] if worktree else []), key, value, cwd=cwd)


def unset_config(cwd: str | Path, key: str, *, worktree: bool = False) -> None:
    """Remove ``key`` (no error when it is not set)."""
    result = git("config", *(["--worktree"] if worktree else []), "--unset-all", key, cwd=cwd, check=False)
    if result.returncode not in (0, 5):  # 5: the key was not set
        raise GitError(f"git config --unset-all {key} failed in {cwd}: {result.stderr.strip()}")


def _config_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def set_worktree_configs(worktree: str | Path, values: dict[str, str]) -> None:
    """Set several ``section.key`` values in the per-worktree config of ``worktree`` at once.

    ``config.worktree`` is rewritten in one go (one small file instead of one process per key),
    keeping what is already there; settings git would write with subsections fall back to
    ``git config --worktree`` per key.
    """
    path = worktree_git_dir(worktree) / "config.worktree"
    listed = git("config", "--worktree", "--list", cwd=worktree, check=False).stdout.splitlines() if path.exists() else []
    existing = [line.split("=", 1) for line in listed if "=" in line]
    keys = [key for key, _ in existing] + [key.lower() for key in values]
    if len(existing) != len(listed) or len({k for k, _ in existing}) != len(existing) or any(
            key.count(".") != 1 for key in keys):
        for key, value in values.items():  # subsections, multi-valued or bare keys: let git edit
            set_config(worktree, key, value, worktree=True)
        return
    merged = dict(existing) | {key.lower(): value for key, value in values.items()}
    sections: dict[str, list[str]] = {}
    for key, value in merged.items():
        section, name = key.split(".")
        sections.setdefault(section, []).append(f"\t{name} = {_config_quote(value)}\n")
    tmp = path.with_name("config.worktree.dispatch-tmp")
    tmp.write_text("".join(f"[{s}]\n" + "".join(lines) for s, lines in sections.items()), encoding="utf-8")
    tmp.replace(path)


def drop_empty_worktree_config(worktree: str | Path) -> None:
    """Delete ``config.worktree`` of ``worktree`` when no setting is left in it."""
    path = worktree_git_dir(worktree) / "config.worktree"
    if path.exists() and not git("config", "--worktree", "--list", cwd=worktree, check=False).stdout.strip():
        path.unlink()


def hooks_dir(root: str | Path) -> Path:
    """Where hooks of ``root`` live without our override: ``core.hooksPath`` or ``.git/hooks``."""
    configured = get_config(root, "core.hooksPath")
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else Path(root) / path
    return common_dir(root) / "hooks"
