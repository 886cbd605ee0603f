"""Build an integration chain of merges with plumbing only: no worktree, nothing half-merged.

Each link is ``merge(previous link, agent branch)``, made with ``merge-tree --write-tree`` and
``commit-tree``. Conflicts only in shared dependency files are resolved additively; any other
conflict drops the later branch (the earlier merge order wins, R-11).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_dispatch import git
from agent_dispatch.merge.resolve import is_dependency_file, resolve_additive


@dataclass(frozen=True)
class Candidate:
    """An agent branch waiting to land."""

    agent: str
    role: str
    branch: str


@dataclass(frozen=True)
class Link:
    candidate: Candidate
    tip: str  # the branch commit merged
    commit: str  # the merge commit (prefix of the chain up to and including this branch)


@dataclass
class Chain:
    links: list[Link] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)  # agent → conflicted files (dropped)
    resolved: dict[str, list[str]] = field(default_factory=dict)  # agent → files resolved additively
    already: list[str] = field(default_factory=list)  # agents whose branch the start already contains


def _resolve(root: str, ours: str, theirs: str, tree: str, files: Sequence[str]) -> str | None:
    if not all(is_dependency_file(f) for f in files):
        return None
    base = git.merge_base(root, ours, theirs)
    blobs = {}
    for path in files:
        mine, other = git.show_file(root, ours, path), git.show_file(root, theirs, path)
        if mine is None or other is None:
            return None  # added on one side and deleted on the other: not additive
        merged = resolve_additive(path, git.show_file(root, base, path) if base else None, mine, other)
        if merged is None:
            return None
        blobs[path] = git.hash_blob(root, merged)
    return git.replace_in_tree(root, tree, blobs)


def build_chain(root: str, start: str, candidates: Sequence[Candidate], *, sprint: str) -> Chain:
    """Chain ``candidates`` (in order) on top of commit ``start``."""
    chain = Chain()
    current = start
    for candidate in candidates:
        tip = git.rev_parse(root, f"refs/heads/{candidate.branch}")
        if git.is_ancestor(root, tip, current):
            chain.already.append(candidate.agent)
            continue
        tree, conflicts = git.merge_tree(root, current, tip)
        if conflicts:
            resolved = _resolve(root, current, tip, tree, conflicts)
            if resolved is None:
                chain.conflicts[candidate.agent] = conflicts
                continue
            tree = resolved
            chain.resolved[candidate.agent] = conflicts
        message = f"{sprint}: {candidate.role} — merge {candidate.branch}"
        current = git.commit_tree(root, tree, [current, tip], message)
        chain.links.append(Link(candidate, tip, current))
    return chain
