"""Give each agent of a wave its branch and worktree before its first session.

The work is done by :mod:`agent_dispatch.workspace`, as ``dispatch workspaces up`` does it:
worktrees are created in parallel (bounded by the cores) or recycled from the pool, and each gets
the territory pre-commit hook, the ref guard and, for Claude Code agents, the edit hook, all in
its own git directory and per-worktree config (the main checkout gets none). Before a wave
starts, the worktrees of agents whose work already landed on the base are parked in the pool, so
the new wave recycles them instead of checking out the whole tree again.

The tool's own git operations are not blocked by these hooks: the WIP auto-save
(``git.commit_all``) commits with ``--no-verify`` and moves only the agent's own branch, which the
ref guard allows; landing and validation run in the main checkout and in validation worktrees,
which have no hooks. See docs/workspaces.md.
"""

from __future__ import annotations

from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.errors import FatalError
from agent_dispatch.store.events import EventType
from agent_dispatch.naming.context import sprint_documents
from agent_dispatch.workspace import worktrees
from agent_dispatch.workspace.documents import place_documents
from agent_dispatch.workspace.install import plan_file, sprint_installer
from agent_dispatch.workspace.layout import AgentSpace


def agent_spaces(rt: Runtime, names: list[str]) -> list[AgentSpace]:
    """The branch and worktree of each agent in ``names``, as the engine's context names them."""
    return [AgentSpace(n, rt.context.agent(n).branch, rt.context.agent(n).worktree) for n in names]


def free_finished(rt: Runtime, keep: list[str]) -> list[str]:
    """Park the worktrees of agents (not in ``keep``) of completed waves whose work landed; returns
    their names. A worktree with uncommitted changes is left alone."""
    state = rt.state()
    finished = [n for w in rt.plan.waves if w.number in state.waves_done for n in w.agents
                if n in state.landed and n not in keep]
    if not finished:
        return []
    outcomes = worktrees.free_landed(rt.root, agent_spaces(rt, finished), base=rt.plan.sprint.base_branch)
    return [o.agent for o in outcomes if o.action == "parked"]


def prepare_worktrees(rt: Runtime, names: list[str]) -> None:
    """Create (idempotently) the branch and worktree of every agent in ``names``, guards installed,
    ``setup_command`` run in new ones. Raises :class:`FatalError` naming every agent that failed,
    after the others are ready (``dispatch resume`` finishes the rest)."""
    spaces = agent_spaces(rt, names)
    parked = free_finished(rt, names)
    if parked:
        rt.say(f"worktrees of {', '.join(parked)} (landed) parked for reuse")
    install = sprint_installer(rt.plan, rt.plan_path, rt.root, rt.context)
    outcomes = worktrees.bring_up(rt.root, spaces, base=rt.plan.sprint.base_branch,
                                  setup_command=rt.plan.sprint.setup_command, install=install)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        details = "\n".join(f"[{o.agent}] {o.error}" for o in failed)
        raise FatalError(f"could not prepare the worktree of {', '.join(o.agent for o in failed)}:\n{details}\n"
                         f"hint: fix the cause, then `dispatch resume {rt.plan_path}`")
    for outcome, space in zip(outcomes, spaces):
        rt.record(EventType.AGENT_STARTED, agent=space.agent, branch=space.branch, worktree=str(space.worktree),
                  workspace=outcome.action)
        for note in outcome.notes:
            rt.say(f"{space.agent}: {note}")


def place_sprint_documents(rt: Runtime, name: str) -> list[str]:
    """Copy the sprint documents into agent ``name``'s worktree before its session starts, so every
    path its prompt names exists where it runs (re-rendered documents reach it on resume too)."""
    documents = sprint_documents(rt.context, plan_file(rt.plan_path, rt.root))
    return place_documents(rt.root, rt.context.agent(name).worktree, documents)
