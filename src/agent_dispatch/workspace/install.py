"""The install step for a sprint's agent worktrees, shared by ``dispatch workspaces up`` and
``dispatch run``: each agent's territory rules from the plan, its hooks and ref guard, and the
Claude Code edit hook when the agent (or its fallback) runs Claude Code, its own git identity."""

from __future__ import annotations

from pathlib import Path

from agent_dispatch import git
from agent_dispatch.naming.context import SprintContext, git_identity, sprint_documents
from agent_dispatch.plan.model import Plan
from agent_dispatch.store.log import events_path
from agent_dispatch.workspace import guard, hooks
from agent_dispatch.workspace.layout import AgentSpace
from agent_dispatch.workspace.territory import rules_from_plan
from agent_dispatch.workspace.worktrees import Install

CLAUDE_TOOL = "claude"


def uses_claude(plan: Plan, context: SprintContext, agent: str) -> bool:
    """True when ``agent`` runs Claude Code, now or on its tier-3 fallback."""
    fallbacks = {f.tool for f in plan.agent(agent).fallbacks if f.tool}
    return CLAUDE_TOOL in {context.agent(agent).tool, *fallbacks}


def sprint_installer(plan: Plan, plan_path: Path, root: Path, context: SprintContext,
                     spaces: list[AgentSpace] | None = None) -> Install:
    """The per-worktree install function for ``worktrees.bring_up``.

    Repository-wide facts (the ref-guard token, the repository's own hooks directory, the user's
    excludes file) are read once here, not once per worktree. ``spaces`` are the agent worktrees
    as placed (default: the context's); every other one, and the main checkout, is off limits to
    the Claude Code edit hook.
    """
    token = guard.repo_token(root)
    original = git.hooks_dir(root)
    excludes = hooks.global_excludes(root)
    worktrees = [s.worktree for s in spaces] if spaces is not None else [a.worktree for a in context.agents]
    everyone = [root, *worktrees]
    documents = sprint_documents(context, plan_file(plan_path, root))

    def install(space: AgentSpace) -> list[str]:
        rules = rules_from_plan(plan, space.agent, sprint_dir=context.sprint_dir, worktree=space.worktree,
                                foreign_roots=[p for p in everyone if p != space.worktree])
        spec = hooks.GuardSpec(rules=rules, plan_path=plan_path, token=token, original_hooks=original,
                               claude=uses_claude(plan, context, space.agent), global_excludes=excludes,
                               identity=git_identity(plan, space.agent), documents=documents,
                               event_log=events_path(root, plan.sprint.id))
        return hooks.install(space.worktree, spec)

    return install


def plan_file(plan_path: Path, root: Path) -> str | None:
    """``plan_path`` relative to the repository ``root``, None when it lies outside it."""
    try:
        return Path(plan_path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
