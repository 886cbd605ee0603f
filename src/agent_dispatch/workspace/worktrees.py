"""Agent worktrees: repository hygiene, parallel idempotent creation, parking and removal.

Creating a checkout is CPU-bound (inflating blobs) plus file creation, so the levers are process
parallelism (one worktree per thread, ``jobs`` at a time) and doing less: many new worktrees are
filled from a template archive (:mod:`~agent_dispatch.workspace.template`), freed ones are
recycled from the pool (:mod:`~agent_dispatch.workspace.pool`). Every step is idempotent: a
re-run after a partial failure, or after the process was killed halfway, finishes what is missing
and leaves finished worktrees alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from agent_dispatch import git, proc
from agent_dispatch.checkrun import CHECK_ENV
from agent_dispatch.errors import FatalError
from agent_dispatch.workspace import pool, template
from agent_dispatch.workspace.layout import AgentSpace

Action = Literal["created", "recycled", "exists", "parked", "removed", "absent", "failed"]
Install = Callable[[AgentSpace], list[str]]  # installs guards; returns notes for the operator
Done = Callable[["Outcome"], None]
Source = tuple[Path, str]  # a template checkout and the commit its archive holds
SETUP_MARKER = "setup-done"
POPULATING_MARKER = "populating"  # present from registration until every file is written

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome:
    """What happened to one agent's worktree."""

    agent: str
    action: Action
    worktree: Path
    seconds: float = 0.0
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.action != "failed"


def default_jobs() -> int:
    """Parallel git processes: twice the cores (a checkout also waits on file creation), at most 8."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


def run_bounded(fn: Callable[[T], R], items: Sequence[T], *, jobs: int, on_done: Callable[[R], None] | None = None) -> list[R]:
    """``fn`` over ``items`` with at most ``jobs`` at a time, results in input order.

    ``fn`` must not raise (each item reports its own failure); ``jobs=1`` runs in order in this
    thread, which keeps debugging deterministic.
    """
    results: dict[int, R] = {}
    if jobs <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item)
            if on_done:
                on_done(results[i])
    else:
        with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as executor:
            futures = {executor.submit(fn, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_done:
                    on_done(results[futures[future]])
    return [results[i] for i in range(len(items))]


def prepare_repo(root: Path) -> None:
    """Repository hygiene before creating worktrees: forget deleted worktrees, allow per-worktree
    config, turn the untracked cache on, and write a commit-graph if there is none."""
    git.prune_worktrees(root)
    for key in ("extensions.worktreeConfig", "core.untrackedCache"):
        if git.get_config(root, key) != "true":
            git.set_config(root, key, "true")
    ensure_commit_graph(root)


def ensure_commit_graph(root: Path) -> None:
    """Write a commit-graph when the repository has none (merge-base walks get 6-30x cheaper)."""
    if not git.has_commit_graph(root):
        git.write_commit_graph(root)


def _marker(worktree: Path) -> Path:
    return git.worktree_git_dir(worktree) / "dispatch" / SETUP_MARKER


def run_setup(space: AgentSpace, command: str) -> None:
    """Run the plan's ``setup_command`` once in ``space``'s worktree (remembered when it passes)."""
    marker = _marker(space.worktree)
    if marker.exists():
        return
    env = {**CHECK_ENV, "DISPATCH_AGENT": space.agent, "DISPATCH_BRANCH": space.branch, "DISPATCH_WORKTREE": str(space.worktree)}
    result = proc.run_shell_command(command, cwd=space.worktree, env=env)
    if not result.ok:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise FatalError(f"setup_command `{command}` exited {result.returncode}: {tail}")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(command + "\n", encoding="utf-8")


def _populating(worktree: Path) -> Path:
    return git.worktree_git_dir(worktree) / "dispatch" / POPULATING_MARKER


def _create(root: Path, space: AgentSpace, base: str, source: Source | None) -> None:
    if space.worktree.exists() and any(space.worktree.iterdir()):
        raise FatalError(f"{space.worktree} exists and is not a worktree of this repository\n"
                         "hint: move it away, or set sprint.worktree_dir to put worktrees elsewhere")
    start = None if git.branch_exists(root, space.branch) else base
    # Registering is serialized inside git (its worktree lock) and quick; writing the files is not.
    git.add_worktree_unpopulated(root, space.worktree, space.branch, start=start)
    marker = _populating(space.worktree)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    _populate(space, source if start is not None else None)


def _populate(space: AgentSpace, source: Source | None = None) -> None:
    if source is not None:
        template.copy_into(source[0], space.worktree, source[1])
    else:
        git.populate_worktree(space.worktree)
    _populating(space.worktree).unlink(missing_ok=True)


def _finish_interrupted(space: AgentSpace, *, keep_ignored: bool) -> None:
    """Complete what an earlier run started in this worktree and died in the middle of."""
    if _populating(space.worktree).exists() or not git.index_file(space.worktree).exists():
        _populate(space)  # registered (`--no-checkout`: no index yet) but not every file written
    elif pool.is_recycling(space.worktree):
        pool.finish_recycle(space, keep_ignored=keep_ignored)


def _bring_up(root: Path, space: AgentSpace, *, base: str, action: Action, pooled: Path | None,
              source: Source | None, setup_command: str | None, install: Install | None,
              keep_ignored: bool) -> Outcome:
    started = time.perf_counter()
    try:
        if action == "created":
            _create(root, space, base, source)
        elif action == "exists":
            _finish_interrupted(space, keep_ignored=keep_ignored)
        elif action == "recycled" and pooled is not None:
            pool.recycle(root, pooled, space, base=base, keep_ignored=keep_ignored)
        notes = tuple(install(space)) if install else ()
        if setup_command:
            run_setup(space, setup_command)
    except (FatalError, proc.CalledProcessError, OSError) as e:
        return Outcome(space.agent, "failed", space.worktree, time.perf_counter() - started, str(e))
    return Outcome(space.agent, action, space.worktree, time.perf_counter() - started, notes=notes)


def _plan_actions(root: Path, spaces: Sequence[AgentSpace], recycle: bool) -> tuple[dict[str, Action], dict[str, Path], list[Outcome]]:
    registered = git.list_worktrees(root)
    by_path = {w.path.resolve(): w for w in registered}
    actions: dict[str, Action] = {}
    failed: list[Outcome] = []
    checked_out = {w.branch: w.path for w in registered if w.branch}
    for space in spaces:
        current = by_path.get(space.worktree.resolve())
        elsewhere = checked_out.get(space.branch)
        if current is None and elsewhere is not None:
            failed.append(Outcome(space.agent, "failed", space.worktree, error=(
                f"{space.branch} is checked out in {elsewhere}\n"
                f"hint: `git worktree move {elsewhere} {space.worktree}` to use it here")))
        elif current is None:
            actions[space.agent] = "created"
        elif current.branch == space.branch or (current.branch is None and pool.is_recycling(space.worktree)):
            actions[space.agent] = "exists"
        else:
            failed.append(Outcome(space.agent, "failed", space.worktree, error=(
                f"{space.worktree} is a worktree on {current.branch or 'a detached HEAD'}, not {space.branch}\n"
                f"hint: `git worktree remove {space.worktree}` if it is not needed")))
    wanted = [s for s in spaces if actions.get(s.agent) == "created"]
    chosen = pool.assign(wanted, pool.parked(registered, root.name)) if recycle else {}
    actions.update({agent: "recycled" for agent in chosen})
    return actions, chosen, failed


def _templates(root: Path, new: Sequence[AgentSpace], base: str, copy: bool | None) -> dict[Path, Source]:
    """A ready template for each directory getting enough new branches to pay for it (``copy``
    None: by :func:`template.worth_it`; True: for any; False: never)."""
    if copy is False:
        return {}
    by_dir: dict[Path, int] = {}
    for space in new:
        if not git.branch_exists(root, space.branch):
            by_dir[space.worktree.resolve().parent] = by_dir.get(space.worktree.resolve().parent, 0) + 1
    files = len(git.list_tracked_files(root)) if by_dir and copy is None else 0
    commit = git.rev_parse(root, f"refs/heads/{base}")
    sources: dict[Path, Source] = {}
    for directory, count in by_dir.items():
        if copy or template.worth_it(count, files):
            path = template.template_path(directory, root.name)
            try:
                template.ensure(root, path, commit)
            except (FatalError, proc.CalledProcessError, OSError):
                continue  # plain checkouts still work
            sources[directory] = (path, commit)
    return sources


def bring_up(
    root: Path,
    spaces: Sequence[AgentSpace],
    *,
    base: str,
    jobs: int | None = None,
    setup_command: str | None = None,
    install: Install | None = None,
    recycle: bool = True,
    keep_ignored: bool = False,
    copy: bool | None = None,
    on_done: Done | None = None,
) -> list[Outcome]:
    """Give every space its branch and worktree (recycled from the pool when one is parked),
    install its guards and run ``setup_command`` in new ones, ``jobs`` at a time.

    New branches' worktrees are copied from a template checkout when that pays off (``copy``
    None), always (True) or never (False); see :mod:`~agent_dispatch.workspace.template`. Idempotent; a failure is reported
    in its :class:`Outcome` and does not stop the others.
    """
    if not git.branch_exists(root, base):
        raise FatalError(f"base branch {base!r} does not exist in {root}\nhint: check sprint.base_branch in the plan")
    prepare_repo(root)
    actions, chosen, failed = _plan_actions(root, spaces, recycle)
    for outcome in failed:
        if on_done:
            on_done(outcome)
    todo = [s for s in spaces if s.agent in actions]
    sources = _templates(root, [s for s in todo if actions[s.agent] == "created"], base, copy)

    def one(space: AgentSpace) -> Outcome:
        return _bring_up(root, space, base=base, action=actions[space.agent], pooled=chosen.get(space.agent),
                         source=sources.get(space.worktree.resolve().parent), setup_command=setup_command,
                         install=install, keep_ignored=keep_ignored)

    done = run_bounded(one, todo, jobs=jobs or default_jobs(), on_done=on_done)
    order = {s.agent: i for i, s in enumerate(spaces)}
    return sorted(failed + done, key=lambda o: order[o.agent])


def _take_down(root: Path, space: AgentSpace, *, remove: bool, force: bool, taken: set[Path]) -> Outcome:
    started = time.perf_counter()
    try:
        if remove:
            git.remove_worktree(root, space.worktree, force=force)
            return Outcome(space.agent, "removed", space.worktree, time.perf_counter() - started)
        parked_at = pool.release(root, space.worktree, force=force, taken=taken)
        return Outcome(space.agent, "parked", parked_at, time.perf_counter() - started)
    except (FatalError, proc.CalledProcessError, OSError) as e:
        return Outcome(space.agent, "failed", space.worktree, time.perf_counter() - started, str(e))


def _is_agents(root: Path, current: git.Worktree, space: AgentSpace) -> bool:
    """True when the worktree at ``space``'s path is on its branch, or detached at the branch's
    tip (where a release interrupted between detaching and moving leaves it)."""
    if current.branch is not None:
        return current.branch == space.branch
    return current.head is not None and current.head == git.try_rev_parse(root, f"refs/heads/{space.branch}")


def take_down(root: Path, spaces: Iterable[AgentSpace], *, remove: bool = False, force: bool = False,
              on_done: Done | None = None) -> list[Outcome]:
    """Park each space's worktree in the pool (or delete it with ``remove``); branches are kept.

    Sequential: each step is a rename or a small delete, and pool slots are numbered in order.
    """
    registered = {w.path.resolve(): w for w in git.list_worktrees(root)}
    taken: set[Path] = set()
    outcomes = []
    for space in spaces:
        current = registered.get(space.worktree.resolve())
        if current is None or not _is_agents(root, current, space):
            outcome = Outcome(space.agent, "absent", space.worktree)
        else:
            outcome = _take_down(root, space, remove=remove, force=force, taken=taken)
            taken.add(outcome.worktree)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    return outcomes


def free_landed(root: Path, spaces: Iterable[AgentSpace], *, base: str) -> list[Outcome]:
    """Park the worktrees of ``spaces`` whose branch is entirely in ``base`` (their work landed),
    so the next agents recycle them. Worktrees with uncommitted changes, or detached anywhere but
    at their branch's tip (where an interrupted release leaves them), stay where they are."""
    registered = {w.path.resolve(): w for w in git.list_worktrees(root)}
    done = []
    for space in spaces:
        current = registered.get(space.worktree.resolve())
        if current is None or not _is_agents(root, current, space):
            continue
        landed = git.is_ancestor(root, f"refs/heads/{space.branch}", f"refs/heads/{base}")
        if landed and not git.uncommitted_files(space.worktree):
            done.append(space)
    return take_down(root, done)
