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
    for agent in result.already:
        # The base already contains this branch (landed before a crash, or merged by hand): landed.
        record(EventType.MERGE_STEP, {"agent": agent, "ok": True, "already_landed": True})
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
    # ``validated`` is true only for a commit whose own validation run passed, never by assumption.
    move_base(root, base_branch, base, new, validated, record,
              agents=[link.candidate.agent for link in result.accepted], passed=validated in result.passed)
    return result


def move_base(root: Path, base_branch: str, old: str, new: str, validated: str, record: Record,
              agents: Sequence[str] = (), *, passed: bool = False) -> bool:
    """Move the base branch from ``old`` to ``new`` (whose tree is ``validated``'s), keeping any
    checkout of it in step; never under local changes. Returns True when it moved.

    ``passed`` says whether the validation run of the commit ``validated`` itself passed (the
    merge train's result for that exact commit). Records ``ref_updated`` either way, naming the
    ``agents`` whose work the move lands: with ``new`` the commit the base points to now and
    ``validated`` true only when ``passed`` and that commit's tree is ``validated``'s; when the base did not move, ``new`` is null, ``error`` says why
    and ``blocking`` lists the checkout's uncommitted files the landing would have overwritten:
    those agents did not land.
    """
    ref = f"refs/heads/{base_branch}"
    checkout = git.worktree_of_branch(root, base_branch)
    try:
        if checkout is not None:
            # Fast-forward the checkout so its files follow the branch; refuses to overwrite local changes.
            git.fast_forward_checkout(checkout, new)
        else:
            git.update_ref(root, ref, new, old, reason="agent-dispatch: land validated merge")
    except git.GitError as e:
        blocking = _blocking_files(root, checkout, old, new)
        record(EventType.REF_UPDATED, {"ref": ref, "old": old, "new": None, "validated": False,
                                       "validated_commit": validated, "agents": list(agents),
                                       "checkout": str(checkout or root), "blocking": blocking,
                                       "error": f"{e}\nhint: run `git merge --ff-only {new}` in {checkout or root} "
                                                "once it is clean"})
        return False
    moved_to = git.rev_parse(root, ref)
    # The base must now hold exactly what was validated: the same commit, or (batch mode) a commit
    # whose tree is the validated tip's.
    ok = passed and moved_to == new and git.tree_of(root, moved_to) == git.tree_of(root, validated)
    record(EventType.REF_UPDATED, {"ref": ref, "old": old, "new": moved_to, "validated": ok,
                                   "validated_commit": validated, "agents": list(agents)})
    return True


def _blocking_files(root: Path, checkout: Path | None, old: str, new: str) -> list[str]:
    """The checkout's uncommitted files that the move from ``old`` to ``new`` changes (in its way)."""
    if checkout is None:
        return []
    try:
        dirty = set(git.uncommitted_files(checkout))
        changed = {path for _, path in git.changed_files(root, old, new)}
    except git.GitError:
        return []
    return sorted(dirty & changed)
