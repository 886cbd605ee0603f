"""Who is acting: the operator, or an agent from inside one of its sessions.

Operator decisions (approve, override, accept, message, run, resume) are refused from an agent
session of the same repository, and an agent's claims (``dispatch chain``, ``dispatch p0``) are
recorded for that agent only. An agent controls its own shell, so no single sign is trusted alone;
a process counts as an agent session when either holds:

1. its own environment has a ``DISPATCH_*`` session variable (the contract the runner sets, or the
   local executor's session marker);
2. an ancestor process was started with one (``/proc/<pid>/environ`` is the environment a process
   was started with: ``unset`` or ``env -u`` in the agent's shell does not change its parent's).
   Every process of a local session descends from the session's first process, which carries
   them: in a PID namespace orphans re-parent to it, without one it is their child subreaper.

A third sign only names the agent when the variables were unset (``dispatch chain`` from inside a
session): the directory it acts from is an agent worktree of a sprint of this repository, a
linked worktree on branch ``<sprint>/<agent>`` whose main checkout has ``.dispatch/<sprint>/``.
It never refuses: the operator may work from an agent's worktree, and an agent can ``cd`` out.

Limits (docs/security.md): a process the agent gets started outside its session tree (a system
service, cron, ssh to the same user) and run from the main checkout carries none of these signs.
Only the sandbox, under which agents cannot write the sprint's state at all, closes that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.errors import FatalError, GitError
from agent_dispatch.store.log import EventLog

# The contract variables (agents/base.contract_env) and the local executor's session marker.
SESSION_VARS = ("DISPATCH_AGENT", "DISPATCH_SPRINT", "DISPATCH_WORKTREE", "DISPATCH_EXECUTOR_SESSION")
MAX_ANCESTORS = 64  # a guard against a cycle in a racing /proc walk, far above real depths


@dataclass(frozen=True)
class AgentSession:
    """An agent session the current process belongs to, and how that was recognised."""

    sprint: str | None
    agent: str | None
    worktree: Path | None
    evidence: str  # one clause, for the refusal message


def _from_env(env: Mapping[str, str], evidence: str) -> AgentSession | None:
    if not any(env.get(name) for name in SESSION_VARS):
        return None
    worktree = env.get("DISPATCH_WORKTREE")
    return AgentSession(env.get("DISPATCH_SPRINT") or None, env.get("DISPATCH_AGENT") or None,
                        Path(worktree) if worktree else None, evidence)


def _proc_environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with ({} when unreadable or gone)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def _ppid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    # Field 2 (the command name) is in parentheses and may itself hold spaces or ')'.
    return int(text[text.rindex(")") + 2:].split()[1])


def _ancestors(pid: int) -> Iterator[int]:
    """The parent of ``pid``, its parent, ... up to and including PID 1 of our namespace."""
    current = _ppid(pid)
    for _ in range(MAX_ANCESTORS):
        if not current:
            return
        yield current
        if current == 1:
            return
        current = _ppid(current)


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _worktree_session(directory: Path) -> AgentSession | None:
    """The agent whose worktree ``directory`` is in, if it is one of a sprint of its repository."""
    try:
        common = git.common_dir(directory)
        if common.name != ".git":
            return None
        root = git.get_root(directory)
        if root == common.parent:  # the main checkout itself
            return None
        branch = git.current_branch(root)
    except (GitError, OSError):
        return None
    if not branch or branch.count("/") != 1:
        return None
    sprint, agent = branch.split("/")
    if not (common.parent / ".dispatch" / sprint).is_dir():
        return None
    return AgentSession(sprint, agent, root, f"{root} is agent {agent}'s worktree (branch {branch})")


def agent_session(start: Path = Path("."), *, env: Mapping[str, str] | None = None, pid: int | None = None,
                  by_directory: bool = False) -> AgentSession | None:
    """The agent session the process ``pid`` (default: this one, with ``env``, default
    ``os.environ``) belongs to, or None for the operator; ``by_directory`` also asks whether
    ``start`` or the cwd is an agent worktree (to name the agent, never to refuse)."""
    found = _signed_session(env, pid)
    if not by_directory or (found is not None and found.agent is not None):
        return found
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the directory it runs in was deleted
        cwd = Path(start).resolve()
    for directory in dict.fromkeys((Path(start).resolve(), cwd)):
        named = _worktree_session(directory)
        if named is not None:
            return named if found is None else replace(found, agent=named.agent, sprint=found.sprint or named.sprint)
    return found


def _signed_session(env: Mapping[str, str] | None, pid: int | None) -> AgentSession | None:
    """The session named by this process's environment or an ancestor's (signs 1 and 2)."""
    if pid is None:
        found = _from_env(os.environ if env is None else env, "DISPATCH_* variables are set in its environment")
        if found is not None:
            return found
    for ancestor in _ancestors(os.getpid() if pid is None else pid):
        found = _from_env(_proc_environ(ancestor),
                          f"its ancestor process {_name(ancestor)} (pid {ancestor}) was started by an agent session")
        if found is not None:
            return found
    return None


def _main_checkout_of_log(log: EventLog) -> Path:
    return log.path.resolve().parent.parent.parent  # <main>/.dispatch/<sprint>/events.db


def _same_repository(session: AgentSession, log: EventLog) -> bool:
    """True when ``session`` works on the repository ``log`` belongs to (an agent running the
    tool's own tests against a scratch repository is not deciding for its operator)."""
    if session.worktree is not None:
        try:
            return git.common_dir(session.worktree).parent.resolve() == _main_checkout_of_log(log)
        except (GitError, OSError):
            pass  # its worktree is gone or unreadable: judge by the sprint's name
    return session.sprint is None or session.sprint == log.sprint


def refuse_agent_session(action: str, log: EventLog, start: Path = Path(".")) -> None:
    """FatalError when ``action`` (an operator decision on ``log``'s sprint) is attempted from an
    agent session of the same repository."""
    session = agent_session(start)
    if session is None or not _same_repository(session, log):
        return
    who = f"agent {session.agent}" if session.agent else "an agent"
    raise FatalError(f"{action} is the operator's decision: refused from {who}'s session "
                     f"({session.evidence})\nhint: agents report with `dispatch chain` and `dispatch p0`; "
                     f"the operator runs this from the main checkout {_main_checkout_of_log(log)}, "
                     "outside any agent session")


def check_claimant(agent: str, log: EventLog, start: Path = Path(".")) -> None:
    """FatalError when an agent session claims for another agent or another sprint than its own
    (its claims are attributed to it; the operator may record a claim for any agent)."""
    session = agent_session(start)
    if session is None or not _same_repository(session, log):
        return
    if session.agent is not None and session.agent != agent:
        raise FatalError(f"agent {session.agent} cannot report for agent {agent!r} "
                         f"({session.evidence})\nhint: drop --agent; a session reports for its own agent")
    if session.sprint is not None and session.sprint != log.sprint:
        raise FatalError(f"agent {session.agent or '?'} of sprint {session.sprint} cannot report into sprint "
                         f"{log.sprint}\nhint: drop --sprint; a session reports to its own sprint")
