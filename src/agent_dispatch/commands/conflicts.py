"""``dispatch conflicts``: which agent branches conflict with which, and the planned overlaps."""

from __future__ import annotations

import time
from pathlib import Path

from agent_dispatch import git, output
from agent_dispatch.commands.workspaces import Sprint, load_sprint
from agent_dispatch.workspace.conflicts import conflict_matrix
from agent_dispatch.workspace.overlap import planned_overlaps
from agent_dispatch.workspace.worktrees import ensure_commit_graph


def show_conflicts(plan_path: Path, *, repo: Path | None = None, as_json: bool = False, prefilter: bool = True,
                   planned: bool = False) -> int:
    """Print the all-pairs conflict matrix of the agents' branches (``planned``: the overlaps the
    plan predicts, before any branch exists). Exit 0 either way: this is a report, not a gate."""
    sprint = load_sprint(plan_path, repo)
    if planned:
        return _show_planned(sprint, as_json=as_json)
    ensure_commit_graph(sprint.root)
    started = time.perf_counter()
    by_branch = {s.branch: s.agent for s in sprint.spaces}
    matrix = conflict_matrix(str(sprint.root), list(by_branch), base=sprint.plan.sprint.base_branch,
                             prefilter=prefilter)
    seconds = time.perf_counter() - started
    if as_json:
        data = matrix.as_data()
        data["agents"] = {branch: agent for branch, agent in by_branch.items()}
        data["seconds"] = round(seconds, 3)
        output.write_json(data)
        return 0
    merged = sum(p.method == "merge-tree" for p in matrix.pairs)
    output.write(f"{len(matrix.branches)} branches, {len(matrix.pairs)} pairs ({merged} merged, "
                 f"{len(matrix.pairs) - merged} proved clean by touched paths) in {seconds:.2f} s")
    if matrix.missing:
        output.write(f"not created yet: {', '.join(matrix.missing)} (dispatch workspaces up {plan_path})")
    for pair in matrix.conflicts:
        output.write(f"CONFLICT  {by_branch[pair.a]} × {by_branch[pair.b]}: {', '.join(pair.files)}")
    output.write(f"{len(matrix.conflicts)} conflicting pair(s)" if matrix.conflicts else "no conflicts")
    return 0


def _show_planned(sprint: Sprint, *, as_json: bool) -> int:
    overlaps = planned_overlaps(sprint.plan, git.list_tracked_files(sprint.root), [s.agent for s in sprint.spaces])
    if as_json:
        output.write_json([o.as_data() for o in overlaps])
        return 0
    for o in overlaps:
        other = o.b or "(no owner)"
        wave = "same wave" if o.same_wave else "different waves"
        chains = f" [{', '.join(o.chains)}]" if o.chains else ""
        output.write(f"{o.kind:<27} {o.a} × {other} ({wave}): {', '.join(o.files)}{chains}")
    output.write(f"{len(overlaps)} planned overlap(s)" if overlaps else "no planned overlaps")
    return 0
