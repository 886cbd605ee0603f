"""Git workspaces for agents: worktrees (parallel, pooled), territory and ref guards installed per
worktree, the all-pairs conflict matrix and a status snapshot.

    layout      names and paths (agent branch, worktree template, pool slots)
    worktrees   repo hygiene, parallel idempotent creation, parking, freeing landed agents' worktrees
    pool        park a freed worktree, hand it to the next agent
    template    fill new worktrees by copying a pristine template checkout
    rules       an agent's territory as a self-contained snapshot (what hooks evaluate)
    territory   rules from a plan; changed files of an agent; the territory check
    guard       the ref guard hook scripts: reference-transaction and pre-push (only the agent's
                branch may move)
    hooks       install/remove the per-worktree hooks, config and Claude Code settings
    install     the install step for a sprint's worktrees (used by `workspaces up` and `dispatch run`)
    hook_entry  what the installed hooks run (``python -m agent_dispatch.workspace.hook_entry``)
    conflicts   all-pairs merge-tree matrix (one process, touched-path prefilter)
    overlap     the planned overlap report: territories and fix sites, before any agent runs
    status      per-agent facts: branch, ahead, uncommitted, report present
"""
