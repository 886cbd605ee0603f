"""Git workspaces for agents: worktrees (parallel, pooled), territory and ref guards installed per
worktree, the all-pairs conflict matrix and a status snapshot.

    layout      names and paths (agent branch, worktree template, pool slots), registry lock
    worktrees   repo hygiene, parallel idempotent creation, removal
    pool        park a freed worktree, hand it to the next agent
    rules       an agent's territory as a self-contained snapshot (what hooks evaluate)
    territory   rules from a plan; changed files of an agent; the territory check
    guard       the reference-transaction hook script (only the agent's branch may move)
    hooks       install/remove the per-worktree hooks, config and Claude Code settings
    hook_entry  what the installed hooks run (``python -m agent_dispatch.workspace.hook_entry``)
    conflicts   all-pairs merge-tree matrix (one process, touched-path prefilter)
    overlap     the planned overlap report: territories and fix sites, before any agent runs
    status      per-agent facts: branch, ahead, uncommitted, report present
"""
