"""``dispatch clean``: remove a sprint's agent worktrees and branches once nothing in them can be lost.

An agent branch ``<sprint>/<agent>`` goes (with its worktree) when its tip is on the base branch —
landed, or never given a commit of its own. Without ``--force`` nothing else is touched: a branch
with commits the base lacks (unlanded work), a worktree with uncommitted files, or any branch of a
sprint that has not finished (``dispatch resume`` may still need it). The event log stays: it is
the sprint's record. The merge train's detached validation worktrees of a finished sprint go too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.errors import FatalError, GitError
from agent_dispatch.operations.locate import find_log, main_checkout
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

EXIT_REFUSED = 1  # something was kept because dropping it would lose work


@dataclass(frozen=True)
class CleanItem:
    """One agent branch and what clean did with it."""

    branch: str
    worktree: str | None
    removed: bool
    reason: str  # landed | forced: ... | kept: why

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"branch": self.branch, "worktree": self.worktree, "removed": self.removed, "reason": self.reason}


@dataclass(frozen=True)
class CleanResult:
    """``dispatch clean``: every agent branch of the sprint, removed or kept with the reason."""

    sprint: str
    base_branch: str
    items: tuple[CleanItem, ...]
    scratch: tuple[str, ...] = ()  # the merge train's detached validation worktrees, removed

    @property
    def kept(self) -> list[CleanItem]:
        return [i for i in self.items if not i.removed]

    @property
    def exit_code(self) -> int:
        """0 when everything went, 1 when work was kept (``--force`` drops it)."""
        return EXIT_REFUSED if self.kept else 0

    def as_data(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"sprint": self.sprint, "base_branch": self.base_branch,
                "items": [i.as_data() for i in self.items], "kept": len(self.kept), "scratch": list(self.scratch)}


def _base_branch(log: EventLog, root: Path) -> str:
    """The sprint's base branch, from the plan its log started with."""
    from agent_dispatch.plan.loader import load_plan

    started = log.read(types=[EventType.SPRINT_STARTED], limit=1)
    plan = Path(started[0].data.get("plan", "")) if started else None
    if plan is None or not plan.is_file():
        raise FatalError(f"cannot find the plan of this sprint ({plan or 'no sprint_started event'}), so not "
                         "which branch its work lands on\nhint: restore the plan file, or remove the "
                         "branches by hand (`git worktree remove`, `git branch -D`)")
    return load_plan(plan).plan.sprint.base_branch


def _judge(root: Path, branch: str, base: str, worktree: Path | None, *, finished: bool) -> str | None:
    """Why ``branch`` must stay (None: it may go)."""
    if not finished:
        return "kept: the sprint has not finished (`dispatch resume` continues it)"
    if worktree is not None and worktree.is_dir():
        dirty = git.uncommitted_files(worktree)
        if dirty:
            return f"kept: {len(dirty)} uncommitted file(s) in {worktree} ({', '.join(dirty[:3])})"
    if not git.is_ancestor(root, branch, base):
        ahead = git.count_commits(root, base, branch)
        return f"kept: {ahead} commit(s) not on {base} (unlanded work)"
    return None


def clean_sprint(*, sprint: str | None = None, force: bool = False, start: Path | None = None) -> CleanResult:
    """Remove the agent worktrees and branches of ``sprint`` (default: the only sprint with a log)
    that are landed; with ``force`` also those holding unlanded or uncommitted work."""
    here = start or Path.cwd()
    root = main_checkout(here)
    log = find_log(sprint=sprint, start=here)
    sprint_id = log.path.parent.name
    base = _base_branch(log, root)
    finished = log.status().finished is not None
    git.prune_worktrees(root)  # forget worktrees deleted by hand
    worktrees = {w.branch: w.path for w in git.list_worktrees(root) if w.branch}
    items = []
    for branch in git.branches_under(root, sprint_id):
        worktree = worktrees.get(branch)
        if worktree is not None and worktree.resolve() == root.resolve():
            items.append(CleanItem(branch, str(worktree), False, "kept: checked out in the main checkout"))
            continue
        why = _judge(root, branch, base, worktree, finished=finished)
        if why and not force:
            items.append(CleanItem(branch, str(worktree) if worktree else None, False, why))
            continue
        try:
            if worktree is not None:
                git.remove_worktree(root, worktree, force=force)
            git.delete_branch(root, branch)
        except GitError as e:  # e.g. files git would not delete: say so, keep going
            items.append(CleanItem(branch, str(worktree) if worktree else None, False,
                                   f"kept: git refused ({str(e).splitlines()[0]})"))
            continue
        reason = f"forced, {why.removeprefix('kept: ')}" if why else "landed"
        items.append(CleanItem(branch, str(worktree) if worktree else None, True, reason))
    scratch = _remove_scratch(root, log.path.parent / "validate") if finished or force else ()
    return CleanResult(sprint_id, base, tuple(items), scratch)


def _remove_scratch(root: Path, folder: Path) -> tuple[str, ...]:
    """Remove the detached worktrees the merge train validated landings in (under ``folder``):
    they hold no branch and no work, only checkouts of commits that are on the base or discarded."""
    removed = []
    for worktree in git.list_worktrees(root):
        if worktree.branch is None and worktree.path.resolve().is_relative_to(folder.resolve()):
            git.remove_worktree(root, worktree.path, force=True)
            removed.append(str(worktree.path))
    return tuple(removed)
