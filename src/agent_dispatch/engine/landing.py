"""Land verified agent branches on the base branch, validating build + test after every merge.

Merges are built with plumbing (``merge-tree --write-tree`` + ``commit-tree``), so nothing is
half-merged if the tool dies mid-way; each merge result is checked out (detached) in one
validation worktree and validated there. The base branch only ever moves to a validated commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.engine.verify import CheckResult, run_check


@dataclass(frozen=True)
class Candidate:
    agent: str
    role: str
    branch: str


@dataclass
class LandingResult:
    base_before: str
    validated: str  # the last validated commit (== base_before when nothing landed)
    landed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already on the base branch
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[CheckResult]] = field(default_factory=dict)
    base_moved: bool = False
    note: str = ""


Record = Callable[[str, dict], None]  # (event type, data) → appended to the event log


def validation_worktree(root: Path, path: Path, commit: str) -> Path:
    """A detached worktree at ``path`` used only by the tool to validate merge results."""
    if not (path / ".git").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        git.git("worktree", "prune", cwd=root)
        git.git("worktree", "add", "--detach", "--force", str(path), commit, cwd=root)
    else:
        git.checkout_detach(path, commit)
    return path


def validate_commit(worktree: Path, commit: str, build: str, test: str, *, timeout: float | None) -> list[CheckResult]:
    """Check out ``commit`` in ``worktree`` and run build, then test (two separate checks)."""
    git.checkout_detach(worktree, commit)
    results = [run_check("build", "build", build, worktree, timeout=timeout)]
    if results[0].ok:
        results.append(run_check("test", "test", test, worktree, timeout=timeout))
    return results


def land(
    root: Path,
    *,
    base_branch: str,
    sprint: str,
    candidates: Sequence[Candidate],
    build_command: str,
    test_command: str,
    validation_path: Path,
    record: Record,
    timeout: float | None = None,
) -> LandingResult:
    """Merge ``candidates`` in order onto ``base_branch``, validating after every merge."""
    base = git.rev_parse(root, f"refs/heads/{base_branch}")
    result = LandingResult(base_before=base, validated=base)
    worktree = validation_worktree(root, validation_path, base)
    for candidate in candidates:
        tip = git.rev_parse(root, f"refs/heads/{candidate.branch}")
        if git.is_ancestor(root, tip, result.validated):
            result.skipped.append(candidate.agent)
            record("merge_step", {"agent": candidate.agent, "branch": candidate.branch, "ok": True,
                                  "already_landed": True})
            continue
        tree, conflicts = git.merge_tree(root, result.validated, tip)
        if conflicts:
            result.conflicts[candidate.agent] = conflicts
            record("merge_step", {"agent": candidate.agent, "branch": candidate.branch, "ok": False,
                                  "conflicts": conflicts})
            continue
        message = f"{sprint}: {candidate.role} — merge {candidate.branch}"
        merged = git.commit_tree(root, tree, [result.validated, tip], message)
        checks = validate_commit(worktree, merged, build_command, test_command, timeout=timeout)
        ok = all(c.ok for c in checks) and len(checks) == 2
        record("merge_step", {"agent": candidate.agent, "branch": candidate.branch, "ok": ok, "commit": merged,
                              "checks": [c.as_data() for c in checks]})
        if ok:
            result.validated = merged
            result.landed.append(candidate.agent)
        else:
            result.failed[candidate.agent] = checks
    if result.validated != base:
        move_base(root, base_branch, base, result, record)
    return result


def move_base(root: Path, base_branch: str, old: str, result: LandingResult, record: Record) -> None:
    """Move the base branch from ``old`` to the validated commit, keeping any checkout of it in step."""
    new = result.validated
    checkout = git.worktree_of_branch(root, base_branch)
    try:
        if checkout is not None:
            # Fast-forward the checkout so its files follow the branch; refuses if that would
            # overwrite local changes, in which case the branch is left where it was.
            git.fast_forward_checkout(checkout, new)
        else:
            git.update_ref(root, f"refs/heads/{base_branch}", new, old, reason="agent-dispatch: land validated merge")
    except git.GitError as e:
        result.note = (f"{base_branch} was not moved: {e}\nhint: the validated result is {new}; "
                       f"run `git merge --ff-only {new}` in {checkout or root} once it is clean")
        record("ref_updated", {"ref": f"refs/heads/{base_branch}", "old": old, "new": None, "validated": True,
                               "error": str(e)})
        return
    result.base_moved = True
    record("ref_updated", {"ref": f"refs/heads/{base_branch}", "old": old, "new": new, "validated": True})
