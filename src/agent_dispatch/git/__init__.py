"""All git knowledge lives here: one small function per question, machine-readable flags.

No other module of agent-dispatch starts git (``tests/test_git_home.py`` checks it): callers use
``from agent_dispatch import git`` and the named functions below.

    runner     the one raw runner (``git``, package-internal) and the environment git runs with
    repo       creating a repository, its root and git directories, local excludes, commit-graph
    config     shared and per-worktree config, where hooks live
    refs       branches, commits, refs, tags and short logs
    worktrees  listing, adding (one lock for the whole process), moving and resetting worktrees
    status     tracked, untracked and uncommitted files; committing everything
    diffs      changed files and line counts between commits, blob sizes, file contents
    patches    patches parsed into added and removed lines (RED TEAM checks)
    merge      plumbing merges: merge-tree, blobs, trees, commit objects
"""

from __future__ import annotations

from agent_dispatch.errors import GitError
from agent_dispatch.git.config import (
    drop_empty_worktree_config,
    get_config,
    hooks_dir,
    set_config,
    set_worktree_configs,
    unset_config,
)
from agent_dispatch.git.diffs import (
    added_symlinks,
    blob_sizes,
    changed_files,
    diff_many,
    diff_stat,
    has_path,
    numstat,
    numstat_removed,
    shortstat,
    show_file,
)
from agent_dispatch.git.merge import commit_tree, hash_blob, merge_tree, merge_tree_many, replace_in_tree
from agent_dispatch.git.patches import FileDiff, commit_diffs, diff_lines, diff_patch, parse_diff
from agent_dispatch.git.refs import (
    branch_exists,
    branches_under,
    commit_authors,
    commit_subjects,
    commits_and_boundary,
    commits_between,
    count_commits,
    create_branch,
    create_tag,
    current_branch,
    delete_branch,
    is_ancestor,
    last_commit_subject,
    merge_base,
    recent_log,
    ref_values,
    rev_parse,
    tree_of,
    try_rev_parse,
    update_ref,
)
from agent_dispatch.git.repo import (
    add_info_exclude,
    common_dir,
    create_repo,
    get_root,
    has_commit_graph,
    index_file,
    is_repo,
    worktree_git_dir,
    write_commit_graph,
)
# `git` is the raw runner, re-exported for the package's own use and older callers; code outside
# the package calls the named functions (tests/test_git_home.py refuses raw calls there).
from agent_dispatch.git.runner import git, no_git_env
from agent_dispatch.git.status import (
    commit_all,
    files_at,
    held_locks,
    is_merging,
    is_pristine,
    is_tracked,
    list_tracked_files,
    remove_locks,
    skip_worktree,
    uncommitted_files,
    untracked_files,
)
from agent_dispatch.git.worktrees import (
    Worktree,
    add_detached_worktree,
    add_detached_worktree_unpopulated,
    add_worktree_unpopulated,
    checkout_detach,
    clean_untracked,
    detach_head,
    fast_forward_checkout,
    list_worktrees,
    move_worktree,
    point_head,
    populate_worktree,
    prune_worktrees,
    remove_worktree,
    reset_hard,
    reset_soft,
    rewrite_index,
    worktree_of_branch,
)

__all__ = [
    "FileDiff", "GitError", "Worktree", "add_detached_worktree", "add_detached_worktree_unpopulated",
    "add_info_exclude", "added_symlinks", "add_worktree_unpopulated", "blob_sizes", "branch_exists", "branches_under",
    "changed_files", "checkout_detach", "clean_untracked", "commit_all", "commit_authors", "commit_diffs",
    "commit_subjects", "commit_tree", "commits_and_boundary",
    "commits_between", "common_dir", "count_commits", "create_branch", "create_repo", "create_tag",
    "current_branch", "delete_branch", "detach_head", "diff_lines", "diff_many", "diff_patch", "diff_stat",
    "drop_empty_worktree_config", "fast_forward_checkout", "files_at", "get_config", "get_root", "git", "has_commit_graph",
    "has_path", "hash_blob", "held_locks", "hooks_dir", "index_file", "is_ancestor", "is_merging", "is_pristine", "is_repo",
    "is_tracked", "last_commit_subject", "list_tracked_files", "list_worktrees", "merge_base", "merge_tree",
    "merge_tree_many", "move_worktree", "no_git_env", "numstat", "numstat_removed", "parse_diff", "point_head",
    "populate_worktree", "prune_worktrees", "recent_log", "ref_values", "remove_locks", "remove_worktree", "replace_in_tree",
    "reset_hard", "reset_soft", "rev_parse", "rewrite_index", "set_config", "set_worktree_configs", "shortstat",
    "show_file", "skip_worktree", "tree_of", "try_rev_parse", "uncommitted_files", "untracked_files", "unset_config",
    "update_ref", "worktree_git_dir", "worktree_of_branch", "write_commit_graph",
]
