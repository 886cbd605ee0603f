"""All-pairs textual conflict matrix of agent branches, without any worktree.

Every candidate pair goes through one ``git merge-tree --stdin`` process (git 2.39 has the batch
mode; about 1 ms per merge with a commit-graph, against about 90 ms for a trial merge in a
worktree). The optional prefilter proves pairs clean without merging them: two branches that
left the base at the same commit, share no commits since, and touch no common path cannot
conflict textually. "Touch" is strict enough for merge-ort's rename handling: a path of one side
must not equal a path of the other or a directory above one of its paths (file/directory
conflicts), and a directory one side deleted files from must not hold a path of the other side
(directory-rename detection could move the other side's file onto a new path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import PurePosixPath

from agent_dispatch import git
from agent_dispatch.workspace.worktrees import run_bounded


@dataclass(frozen=True)
class PairResult:
    """One pair of branches: clean (``files`` empty) or the conflicting files."""

    a: str
    b: str
    files: tuple[str, ...]
    method: str  # "merge-tree" or "prefilter" (proved clean without merging)

    @property
    def clean(self) -> bool:
        return not self.files


@dataclass(frozen=True)
class Matrix:
    """The matrix over ``branches`` (those that exist); ``missing`` lists the others."""

    branches: tuple[str, ...]
    missing: tuple[str, ...]
    pairs: tuple[PairResult, ...]

    @property
    def conflicts(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.clean]

    def as_data(self) -> dict:
        """JSON-ready form."""
        return {
            "branches": list(self.branches), "missing": list(self.missing),
            "pairs": len(self.pairs), "merged": sum(p.method == "merge-tree" for p in self.pairs),
            "conflicts": [{"a": p.a, "b": p.b, "files": list(p.files)} for p in self.conflicts],
        }


@dataclass
class _Touch:
    fork: str | None  # the unique fork point from the base, None when not prefilterable
    commits: frozenset[str] = frozenset()
    paths: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)  # every directory above a path
    emptied: set[str] = field(default_factory=set)  # directories a file was deleted from


def _touch(root: str, tip: str, base_tip: str) -> _Touch:
    commits, boundary = git.commits_and_boundary(root, tip, base_tip)
    if not commits:
        return _Touch(fork=tip)  # already part of the base
    return _Touch(fork=boundary[0] if len(set(boundary)) == 1 else None, commits=frozenset(commits))


def _fill_paths(root: str, touches: dict[str, _Touch]) -> None:
    pairs = [(t.fork, tip) for tip, t in touches.items() if t.fork is not None and t.commits]
    for tip, changes in git.diff_many(root, pairs).items():
        touch = touches[tip]
        for status, path in changes:
            touch.paths.add(path)
            parents = [p.as_posix() for p in PurePosixPath(path).parents if p.as_posix() != "."]
            touch.dirs.update(parents)
            if status == "D" and parents:
                touch.emptied.add(parents[0])


def _provably_clean(a: _Touch, b: _Touch) -> bool:
    if a.fork is None or a.fork != b.fork or a.commits & b.commits:
        return False
    return not (a.paths & (b.paths | b.dirs) or b.paths & a.dirs
                or a.emptied & (b.dirs | b.paths) or b.emptied & (a.dirs | a.paths))


def conflict_matrix(root: str, branches: Sequence[str], *, base: str | None = None, prefilter: bool = True,
                    jobs: int = 2) -> Matrix:
    """Merge every pair of ``branches`` (names without ``refs/heads/``) and list the conflicts.

    ``base`` (a branch) enables the prefilter; without it, or with ``prefilter=False``, every
    pair is merged. Write a commit-graph first (``worktrees.prepare_repo``): without one every
    merge-base walk is several times slower.
    """
    tips = git.ref_values(root, [f"refs/heads/{b}" for b in branches])
    present = [b for b in branches if f"refs/heads/{b}" in tips]
    tip_of = {b: tips[f"refs/heads/{b}"] for b in present}
    touches: dict[str, _Touch] = {}
    if prefilter and base is not None:
        base_tip = git.rev_parse(root, f"refs/heads/{base}")
        distinct = sorted(set(tip_of.values()))
        touches = dict(zip(distinct, run_bounded(lambda t: _touch(root, t, base_tip), distinct, jobs=jobs)))
        _fill_paths(root, touches)
    results: dict[tuple[str, str], PairResult] = {}
    to_merge: list[tuple[str, str]] = []
    for a, b in combinations(present, 2):
        ta, tb = touches.get(tip_of[a]), touches.get(tip_of[b])
        if ta is not None and tb is not None and _provably_clean(ta, tb):
            results[(a, b)] = PairResult(a, b, (), "prefilter")
        else:
            to_merge.append((a, b))
    merged = git.merge_tree_many(root, [(tip_of[a], tip_of[b]) for a, b in to_merge])
    for (a, b), files in zip(to_merge, merged):
        # A file/directory conflict moves the file aside as "<path>~<commit id>": report <path>.
        aside = (f"~{tip_of[a]}", f"~{tip_of[b]}")
        named = sorted({f.removesuffix(aside[0]).removesuffix(aside[1]) for f in files or ()})
        results[(a, b)] = PairResult(a, b, tuple(named), "merge-tree")
    ordered = tuple(results[pair] for pair in combinations(present, 2))
    return Matrix(tuple(present), tuple(b for b in branches if b not in tip_of), ordered)
