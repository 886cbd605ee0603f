"""Finding a sprint's event log from any directory of its repository (main checkout or worktree)."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch import git
from agent_dispatch.errors import FatalError, GitError
from agent_dispatch.store.log import EventLog


def main_checkout(start: Path) -> Path:
    """The main checkout of the repository containing ``start`` (also from inside a worktree)."""
    try:
        common = git.common_dir(start)
    except GitError:  # git's own words ("rev-parse ... failed") do not tell the user what to do
        raise FatalError(f"{start} is not inside a git repository, so there is no sprint here\n"
                         "hint: run dispatch from the repository of the sprint (or one of its agent "
                         "worktrees), or pass the plan's path") from None
    if common.name != ".git":
        raise FatalError(f"cannot find the main checkout of {start} (bare repository?)")
    return common.parent


def find_log(*, sprint: str | None, start: Path) -> EventLog:
    """The event log of ``sprint`` (default: the only sprint with a log) in the main checkout."""
    root = main_checkout(start)
    base = root / ".dispatch"
    if sprint:
        path = base / sprint / "events.db"
        if not path.exists():
            raise FatalError(f"no event log for sprint {sprint!r} at {path}\nhint: dispatch run <plan> starts it")
        return EventLog(path)
    logs = sorted(base.glob("*/events.db")) if base.is_dir() else []
    if len(logs) != 1:
        found = ", ".join(p.parent.name for p in logs) or "none"
        choices = " or ".join(f"--sprint {p.parent.name}" for p in logs) or "--sprint <id>"
        raise FatalError(f"cannot tell which sprint you mean (sprints with a log: {found})\nhint: pass {choices}")
    return EventLog(logs[0])
