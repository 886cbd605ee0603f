"""Territory patterns: gitignore-style include/exclude lists, who owns which file.

Patterns may carry an annotation in parentheses, as plans written by hand do:
``Cargo.toml (deps only)``, ``internal/x.go (CREATE — new file)``. The annotation is kept as
metadata and never takes part in matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import pathspec

from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.plan.roster import base_role

_ANNOTATION = re.compile(r"^(?P<pattern>.*?)\s+\((?P<note>[^()]*)\)\s*$")

# Files every agent may write whatever its territory: its own completion report and the
# sprint folder's agent-written artefacts.
SPRINT_DOCS_ROOTS = ("docs/agent-dispatch/sprints/", "docs/agent-dispatch/")


@dataclass(frozen=True)
class Pattern:
    text: str  # as written in the plan
    pattern: str  # without annotation
    note: str | None

    @property
    def creates(self) -> bool:
        """True when the annotation says the path is new (so it need not exist yet)."""
        return bool(self.note) and "CREATE" in self.note.upper()


def parse_pattern(text: str) -> Pattern:
    """Split ``text`` into its gitignore pattern and optional parenthesised note."""
    match = _ANNOTATION.match(text.strip())
    if match:
        return Pattern(text, match["pattern"].strip(), match["note"].strip())
    return Pattern(text, text.strip(), None)


def unsafe_reason(pattern: str) -> str | None:
    """Why ``pattern`` could reach outside the repository, or None when it is safe."""
    stripped = pattern.lstrip("!")
    if stripped.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", stripped):
        return (f"absolute path {pattern!r} is not allowed; territory patterns are relative to "
                f"the repository root (write {stripped.lstrip('/~').lstrip(chr(92))!r})")
    if any(part == ".." for part in re.split(r"[\\/]", stripped)):
        return f"path {pattern!r} escapes the repository with '..'; use a path inside the repo"
    return None


def _spec(patterns: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(parse_pattern(p).pattern for p in patterns)


@dataclass(frozen=True)
class TerritoryMatcher:
    """Decides whether a repo-relative path belongs to one agent's territory."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]

    @cached_property
    def _include(self) -> pathspec.PathSpec:
        return _spec(self.include)

    @cached_property
    def _exclude(self) -> pathspec.PathSpec:
        return _spec(self.exclude)

    def owns(self, path: str) -> bool:
        """True when ``path`` is included and not excluded (exclude beats include)."""
        return self._include.match_file(path) and not self._exclude.match_file(path)

    def outside(self, paths: Iterable[str]) -> list[str]:
        """The paths from ``paths`` this territory does not cover, in input order."""
        return [p for p in paths if not self.owns(p)]

    @classmethod
    def for_agent(cls, agent: Agent) -> TerritoryMatcher:
        return cls(tuple(agent.territory.include), tuple(agent.territory.exclude))


def is_claimant(agent: Agent) -> bool:
    """Agents whose territory counts for ownership (RED TEAM owns nothing)."""
    return base_role(agent.role) != "RED TEAM"


def owners_by_file(plan: Plan, files: Sequence[str]) -> dict[str, list[str]]:
    """Map every file in ``files`` to the names of the agents that claim it (maybe none)."""
    matchers = [(a.name, TerritoryMatcher.for_agent(a)) for a in plan.agents if is_claimant(a)]
    return {f: [name for name, m in matchers if m.owns(f)] for f in files}


def owner_of(plan: Plan, path: str) -> str | None:
    """The agent owning ``path`` (the shared-file owner for shared files), else None."""
    for shared in plan.shared_files:
        if shared.path == path:
            return shared.owner
    owners = owners_by_file(plan, [path])[path]
    return owners[0] if owners else None


def matches_any(patterns: Iterable[str], files: Iterable[str]) -> bool:
    """True when at least one of ``files`` matches the gitignore-style ``patterns``."""
    spec = _spec(patterns)
    return any(spec.match_file(f) for f in files)
