"""Territory ownership, the one implementation: which agent may change which file.

An agent's territory is a :class:`Claim` (gitignore patterns, annotations already stripped); a
path is owned when an include pattern matches and no exclude pattern does. :class:`TerritoryRules`
adds the shared-file policies and the sprint files an agent may always write, and judges changed
paths. ``plan.territory`` builds these from a plan (gate 3, RED TEAM checks, validation), and
``workspace.rules`` stores them as JSON for the installed hooks.

Kept light on purpose: the Claude Code edit hook imports this module before every file edit, so it
imports only ``pathspec`` (no pydantic, no plan, no git).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pathspec

RULES_VERSION = 3  # 3: dependency manifests shared add-only (``manifests``)

# Dependency manifests and lockfiles (REQ-1.25): when a plan lists no ``shared_files``, these are
# shared by every agent, additions only (gitignore patterns: any directory). The prompt names them
# from this tuple, so what agents are told and what the hooks and gate 3 enforce cannot drift apart.
DEPENDENCY_MANIFESTS = (
    "pyproject.toml", "requirements*.txt", "constraints*.txt", "Pipfile", "Pipfile.lock", "poetry.lock",
    "uv.lock", "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.mod", "go.sum",
    "go.work", "Cargo.toml", "Cargo.lock", "Gemfile", "Gemfile.lock", "composer.json", "composer.lock",
    "Makefile",
)


@dataclass(frozen=True)
class Claim:
    """One agent's include/exclude patterns (annotations already stripped)."""

    name: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    @cached_property
    def _include(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.include)

    @cached_property
    def _exclude(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.exclude)

    def owns(self, path: str) -> bool:
        """True when ``path`` is included and not excluded (exclude beats include)."""
        return self._include.match_file(path) and not self._exclude.match_file(path)

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "include": list(self.include), "exclude": list(self.exclude)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Claim:
        """Inverse of :meth:`as_data`."""
        return cls(data["name"], tuple(data["include"]), tuple(data.get("exclude", ())))


@dataclass(frozen=True)
class SharedRule:
    """A shared file: its owner and policy (``add-only``, ``owner-only`` or ``any``)."""

    path: str
    owner: str
    policy: str = "add-only"


def owner_of(path: str, shared: Sequence[SharedRule], claimants: Sequence[Claim]) -> str | None:
    """The owner of a shared file, else the first of ``claimants`` owning ``path``, else None."""
    for rule in shared:
        if rule.path == path:
            return rule.owner
    return next((c.name for c in claimants if c.owns(path)), None)


@dataclass(frozen=True)
class Violation:
    """A changed path outside the agent's territory, with the agent that owns it (if any)."""

    path: str
    owner: str | None
    reason: str = "outside territory"

    def describe(self) -> str:
        """``owned by backend; outside territory``."""
        return f"{f'owned by {self.owner}' if self.owner else 'no owner'}; {self.reason}"

    def __str__(self) -> str:
        return f"{self.path} ({self.describe()})"


@dataclass(frozen=True)
class TerritoryRules:
    """Everything needed to judge one agent's changes, with no plan loaded."""

    sprint: str
    agent: str
    branch: str
    own: Claim
    claimants: tuple[Claim, ...]  # every agent whose territory counts for ownership, plan order
    shared: tuple[SharedRule, ...] = ()
    allowed: tuple[str, ...] = ()  # sprint files this agent is asked to write: always writable
    worktree: str = ""  # absolute worktree path (for tool hooks that get absolute file paths)
    foreign_roots: tuple[str, ...] = field(default=())  # other checkouts of the repo: never writable
    manifests: tuple[str, ...] = ()  # patterns of files shared add-only outside ``shared`` (DEPENDENCY_MANIFESTS)

    @cached_property
    def _manifests(self) -> Claim:
        return Claim("", self.manifests)

    def owner_of(self, path: str) -> str | None:
        """The shared-file owner for shared files, else the first claimant owning ``path``."""
        return owner_of(path, self.shared, self.claimants)

    def judge(self, path: str, removed_lines: int | None = None) -> Violation | None:
        """Why ``path`` may not be changed by this agent, or None when it may.

        ``removed_lines`` is what the change deletes from the file (None: unknown, as before an
        edit happens); an ``add-only`` shared file then passes and the commit hook decides.
        """
        if path in self.allowed:
            return None
        shared = next((s for s in self.shared if s.path == path), None)
        if shared is not None:
            if shared.owner == self.agent or shared.policy == "any":
                return None
            if shared.policy == "add-only" and (removed_lines is None or removed_lines == 0):
                return None
            why = "shared file, owner only" if shared.policy == "owner-only" else "shared file, additions only"
            return Violation(path, shared.owner, why)
        if self.own.owns(path):
            return None
        if self.manifests and self._manifests.owns(path):
            if removed_lines is None or removed_lines == 0:
                return None
            return Violation(path, self.owner_of(path), "shared dependency file, additions only")
        return Violation(path, self.owner_of(path))

    def violations(self, paths: Iterable[str], removed: Mapping[str, int] | None = None) -> list[Violation]:
        """Judge every path; ``removed`` gives lines removed per path when known."""
        out = []
        for path in paths:
            verdict = self.judge(path, None if removed is None else removed.get(path, 0))
            if verdict is not None:
                out.append(verdict)
        return out

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form (what ``rules_path`` holds)."""
        return {
            "version": RULES_VERSION, "sprint": self.sprint, "agent": self.agent, "branch": self.branch,
            "own": self.own.as_data(), "claimants": [c.as_data() for c in self.claimants],
            "shared": [{"path": s.path, "owner": s.owner, "policy": s.policy} for s in self.shared],
            "allowed": list(self.allowed), "worktree": self.worktree,
            "foreign_roots": list(self.foreign_roots), "manifests": list(self.manifests),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TerritoryRules:
        """Inverse of :meth:`as_data`."""
        return cls(
            sprint=data["sprint"], agent=data["agent"], branch=data["branch"], own=Claim.from_data(data["own"]),
            claimants=tuple(Claim.from_data(c) for c in data["claimants"]),
            shared=tuple(SharedRule(s["path"], s["owner"], s.get("policy", "add-only")) for s in data.get("shared", ())),
            allowed=tuple(data.get("allowed", ())), worktree=data.get("worktree", ""),
            foreign_roots=tuple(data.get("foreign_roots", ())), manifests=tuple(data.get("manifests", ())),
        )
