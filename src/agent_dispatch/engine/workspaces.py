"""Give each agent of a wave its branch and worktree before its first session."""

from __future__ import annotations

from agent_dispatch import git, proc
from agent_dispatch.engine.runtime import Runtime


def prepare_worktrees(rt: Runtime, names: list[str]) -> None:
    """Create (idempotently) the branch and worktree of every agent in ``names``."""
    base = rt.plan.sprint.base_branch
    for name in names:
        ctx = rt.context.agent(name)
        if not git.branch_exists(rt.root, ctx.branch):
            git.git("branch", ctx.branch, base, cwd=rt.root)
        if not (ctx.worktree / ".git").exists():
            git.git("worktree", "prune", cwd=rt.root)
            git.git("worktree", "add", "-q", str(ctx.worktree), ctx.branch, cwd=rt.root)
            if rt.plan.sprint.setup_command:
                proc.run_shell_command(rt.plan.sprint.setup_command, cwd=ctx.worktree)
        rt.record("agent_started", agent=name, branch=ctx.branch, worktree=str(ctx.worktree))
