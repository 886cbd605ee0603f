"""What one agent session may write when it runs sandboxed (`executors.base.Sandbox`).

An agent commits on its own branch from its own linked worktree. For that git writes, besides the
worktree itself: the worktree's private git directory (``.git/worktrees/<name>``: index and its
lock, ``HEAD``'s reflog, ``COMMIT_EDITMSG``), new objects in the shared object store
(``.git/objects``), and the branch's loose ref and reflog with their ``.lock`` files, renamed into
place -- so the *directory* holding the ref must be writable, not just the ref file
(``refs/heads/<sprint>/`` and ``logs/refs/heads/<sprint>/``). ``packed-refs``, the config and
the hooks are only read, and our guards in the worktree's git directory stay read-only. The
agent's CLI also needs its isolated home (``.dispatch/<sprint>/homes/<agent>/<tool>``), and its
``dispatch chain`` / ``dispatch p0`` calls write to its own claims inbox (``DISPATCH_INBOX``,
`store.inbox`), which the orchestrator ingests; the event log itself stays read-only unless a
caller passes it (`event_log_access`).

Everything else stays read-only, the host's ``/tmp`` included: the session gets an empty one of
its own, into which the paths it must read (its repository, interpreter, scripts, PATH) are
bound read-only.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import agent_dispatch
from agent_dispatch import git
from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.executors.base import Sandbox
from agent_dispatch.store.inbox import INBOX_VAR

# In a worktree's git directory: our guards (`workspace.hooks`) and its own config, which names them.
_GUARD_FILES = ("dispatch", "config.worktree")
# An absolute path inside a command line or a variable: up to whitespace, a quote or a shell or
# PATH separator.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/[^\s'\"`;:|&<>()$]+")
# The SQLite files of an event log: the database and, in WAL mode, its write-ahead log and index.
_LOG_SUFFIXES = ("", "-wal", "-shm")


def _paths_named(argv: Sequence[str], env: Mapping[str, str]) -> Iterable[Path]:
    """Absolute paths that exist, named anywhere in the arguments (also inside a ``sh -c`` script)
    or the values of ``env`` (PATH-like lists too): what the session will read (scripts, scenario
    files, tools), so it stays visible."""
    for value in [*argv, *env.values()]:
        for part in _ABSOLUTE_PATH.findall(value):
            try:
                if len(part) < 4096 and Path(part).exists():
                    yield Path(part)
            except OSError:
                continue


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)  # a bind mount needs its source to exist
    return path


def event_log_access(db: Path) -> tuple[list[Path], list[Path]]:
    """(writable, protected) for appending to the SQLite event log ``db`` from inside a sandbox.

    SQLite deletes and re-creates the ``-wal`` and ``-shm`` files next to the database when the
    last connection closes and the next one opens; a bind mount of those files would keep the
    deleted ones, so the directory itself is writable, the database is bound onto itself (so it
    cannot be deleted or replaced) and every other entry already in the directory is read-only.
    """
    directory = db.parent.resolve()
    log_names = {db.name + suffix for suffix in _LOG_SUFFIXES}
    protected = [entry for entry in sorted(directory.iterdir()) if entry.name not in log_names]
    return [directory, directory / db.name], protected


def session_sandbox(request: SessionRequest, argv: Sequence[str], env: Mapping[str, str], *,
                    event_log: Path | None = None) -> Sandbox:
    """The sandbox of ``request``'s session: writable only what committing on its branch and its
    CLI home need, and ``event_log`` (the sprint's log, for ``dispatch chain`` / ``dispatch p0``).

    A branch ``<sprint>/<agent>`` has its ref in ``refs/heads/<sprint>/``, a directory shared by
    the sprint's other branches: the ref guard hook, not the sandbox, keeps those from moving.
    """
    worktree = request.worktree.resolve()
    common = git.common_dir(worktree).resolve()
    git_dir = git.worktree_git_dir(worktree).resolve()
    ref_dir = Path(*Path(request.branch).parts[:-1]) if "/" in request.branch else Path()
    writable = [worktree, git_dir, common / "objects",
                _ensure_dir(common / "refs" / "heads" / ref_dir),
                _ensure_dir(common / "logs" / "refs" / "heads" / ref_dir)]
    # The worktree's guards (hooks, territory rules, core.hooksPath) live in its git directory:
    # committing does not write them, so the agent cannot switch them off.
    guards = [git_dir / name for name in _GUARD_FILES if (git_dir / name).exists()]
    if request.state_home is not None:  # made first: `event_log_access` protects what exists
        writable.append(_ensure_dir(request.state_home).resolve())
    inbox = request.extra_env.get(INBOX_VAR)
    if inbox:  # its claims (`dispatch chain`, `dispatch p0`) go there; the orchestrator ingests them
        writable.append(_ensure_dir(Path(inbox)).resolve())
    protected = guards
    if event_log is not None:
        log_writable, log_protected = event_log_access(event_log)
        writable += log_writable
        protected += log_protected
    package = Path(agent_dispatch.__file__).resolve().parent
    visible = [common.parent, request.prompt_file, *([request.message_file] if request.message_file else []),
               Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, package.parent,
               *_paths_named(argv, env)]
    return Sandbox(writable=tuple(dict.fromkeys(str(p) for p in writable)),
                   visible=tuple(dict.fromkeys(str(p) for p in visible)),
                   protected=tuple(str(p) for p in protected))
