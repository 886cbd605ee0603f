"""Validation slots: P detached worktrees in which merge results are built and tested in parallel."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.checkrun import CheckResult, run_check


@dataclass(frozen=True)
class Validation:
    commit: str
    ok: bool
    checks: tuple[CheckResult, ...]


class ValidationPool:
    """Runs build, then test (two separate checks) on commits, up to ``slots`` at a time."""

    def __init__(self, root: Path, directory: Path, *, build: str, test: str, slots: int = 1,
                 timeout: float | None = None) -> None:
        self.root, self.build, self.test, self.timeout = root, build, test, timeout
        self.paths = [directory / f"slot-{i}" for i in range(max(1, slots))]
        self.runs = 0

    @property
    def slots(self) -> int:
        return len(self.paths)

    def _worktree(self, path: Path, commit: str) -> Path:
        if (path / ".git").exists():
            git.checkout_detach(path, commit)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            git.add_detached_worktree(self.root, path, commit)  # serialized by the git package's lock
        return path

    def _validate(self, path: Path, commit: str) -> Validation:
        worktree = self._worktree(path, commit)
        checks = [run_check("build", "build", self.build, worktree, timeout=self.timeout)]
        if checks[0].ok:
            checks.append(run_check("test", "test", self.test, worktree, timeout=self.timeout))
        return Validation(commit, len(checks) == 2 and all(c.ok for c in checks), tuple(checks))

    def validate(self, commits: Sequence[str]) -> list[Validation]:
        """Validate up to ``slots`` commits concurrently (one round); results in input order."""
        if len(commits) > self.slots:
            raise ValueError(f"{len(commits)} commits for {self.slots} validation slots")
        self.runs += len(commits)
        if len(commits) == 1:
            return [self._validate(self.paths[0], commits[0])]
        with ThreadPoolExecutor(len(commits)) as pool:
            return list(pool.map(self._validate, self.paths[: len(commits)], commits))
