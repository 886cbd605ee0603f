"""Land verified agent branches on the base branch through the merge train.

The base branch only ever moves to a validated result: in ``batch`` mode the accepted branches
land as one merge commit whose parents are the old base and every accepted branch and whose tree
is the validated tip's; in ``strict``/``serial`` mode the base fast-forwards to the chain of
individually validated merges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.merge.chain import Candidate
from agent_dispatch.merge.train import Mode, Train, TrainResult
from agent_dispatch.merge.validation import ValidationPool
from agent_dispatch.store.events import EventType

Record = Callable[[EventType, dict[str, Any]], object]  # (event type, data) → appended to the event log

__all__ = ["Candidate", "land", "move_base"]


def land(
    root: Path,
    *,
    base_branch: str,
    sprint: str,
    candidates: Sequence[Candidate],
    build_command: str,
    test_command: str,
    validation_dir: Path,
    record: Record,
    mode: Mode = "batch",
    slots: int = 1,
    timeout: float | None = None,
) -> TrainResult:
    """Run the train over ``candidates`` (in merge order) and move the base to the validated result."""
    base = git.rev_parse(root, f"refs/heads/{base_branch}")
    pool = ValidationPool(root, validation_dir, build=build_command, test=test_command, slots=slots, timeout=timeout)
    result = Train(str(root), pool, sprint=sprint, record=record).run(base, candidates, mode)
    if not result.accepted:
        return result
    validated = result.tip
    if mode == "batch":
        names = ", ".join(link.candidate.agent for link in result.accepted)
        message = f"{sprint}: land {len(result.accepted)} validated branch(es): {names}"
        parents = [base] + [link.tip for link in result.accepted]
        new = git.commit_tree(root, git.tree_of(root, validated), parents, message)
    else:
        new = validated
    move_base(root, base_branch, base, new, validated, record)
    return result


def move_base(root: Path, base_branch: str, old: str, new: str, validated: str, record: Record) -> bool:
    """Move the base branch from ``old`` to ``new`` (whose tree is ``validated``'s), keeping any
    checkout of it in step; never under local changes. Returns True when it moved."""
    ref = f"refs/heads/{base_branch}"
    checkout = git.worktree_of_branch(root, base_branch)
    try:
        if checkout is not None:
            # Fast-forward the checkout so its files follow the branch; refuses to overwrite local changes.
            git.fast_forward_checkout(checkout, new)
        else:
            git.update_ref(root, ref, new, old, reason="agent-dispatch: land validated merge")
    except git.GitError as e:
        record(EventType.REF_UPDATED, {"ref": ref, "old": old, "new": None, "validated": True, "validated_commit": validated,
                               "error": f"{e}\nhint: run `git merge --ff-only {new}` in {checkout or root} once it is clean"})
        return False
    record(EventType.REF_UPDATED, {"ref": ref, "old": old, "new": new, "validated": True, "validated_commit": validated})
    return True
