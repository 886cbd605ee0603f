"""Territory patterns: gitignore-style include/exclude lists, who owns which file.

Patterns may carry an annotation in parentheses, as plans written by hand do:
``Cargo.toml (deps only)``, ``internal/x.go (CREATE — new file)``. The annotation is kept as
metadata and never takes part in matching. Matching itself is ``agent_dispatch.ownership`` (the
same code the installed hooks run); this module turns a plan into its claims and rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from agent_dispatch import ownership
from agent_dispatch.ownership import Claim, SharedRule, TerritoryRules
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
        return self.note is not None and "CREATE" in self.note.upper()


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


def stripped(patterns: Iterable[str]) -> tuple[str, ...]:
    """``patterns`` without their annotations, ready for matching."""
    return tuple(parse_pattern(p).pattern for p in patterns)


@dataclass(frozen=True)
class TerritoryMatcher:
    """Decides whether a repo-relative path belongs to one territory given as plan patterns
    (annotations allowed); the matching is :class:`ownership.Claim`'s."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]

    @cached_property
    def claim(self) -> Claim:
        """The territory as an ownership claim (annotations stripped)."""
        return Claim("", stripped(self.include), stripped(self.exclude))

    def owns(self, path: str) -> bool:
        """True when ``path`` is included and not excluded (exclude beats include)."""
        return self.claim.owns(path)

    def outside(self, paths: Iterable[str]) -> list[str]:
        """The paths from ``paths`` this territory does not cover, in input order."""
        return [p for p in paths if not self.owns(p)]

    @classmethod
    def for_agent(cls, agent: Agent) -> TerritoryMatcher:
        """The matcher of ``agent``'s territory."""
        return cls(tuple(agent.territory.include), tuple(agent.territory.exclude))


def claim_for(agent: Agent) -> Claim:
    """``agent``'s territory as an ownership claim (annotations stripped)."""
    return Claim(agent.name, stripped(agent.territory.include), stripped(agent.territory.exclude))


def is_claimant(agent: Agent) -> bool:
    """Agents whose territory counts for ownership (RED TEAM owns nothing)."""
    return base_role(agent.role) != "RED TEAM"


def claimants(plan: Plan) -> tuple[Claim, ...]:
    """The claims that count for ownership, in plan order (RED TEAM owns nothing)."""
    return tuple(claim_for(a) for a in plan.agents if is_claimant(a))


def shared_rules(plan: Plan) -> tuple[SharedRule, ...]:
    """The plan's shared files with their owners and policies."""
    return tuple(SharedRule(s.path, s.owner, s.policy) for s in plan.shared_files)


def owners_by_file(plan: Plan, files: Sequence[str]) -> dict[str, list[str]]:
    """Map every file in ``files`` to the names of the agents that claim it (maybe none)."""
    claims = claimants(plan)
    return {f: [c.name for c in claims if c.owns(f)] for f in files}


def owner_of(plan: Plan, path: str) -> str | None:
    """The agent owning ``path`` (the shared-file owner for shared files), else None."""
    return ownership.owner_of(path, shared_rules(plan), claimants(plan))


def shared_manifests(plan: Plan) -> tuple[str, ...]:
    """Patterns of the dependency manifests every agent may add to: all of them when the plan lists
    no ``shared_files`` (REQ-1.25's default), none when it does (its list is the whole policy)."""
    return () if plan.shared_files else ownership.DEPENDENCY_MANIFESTS


def territory_rules(plan: Plan, agent: str, *, branch: str = "", allowed: Sequence[str] = (),
                    worktree: str = "", foreign_roots: Sequence[str] = ()) -> TerritoryRules:
    """The rules that judge ``agent``'s changes: its claim, every claimant, the shared files (or the
    default add-only dependency manifests), and ``allowed`` paths it may always write."""
    return TerritoryRules(
        sprint=plan.sprint.id, agent=agent, branch=branch, own=claim_for(plan.agent(agent)),
        claimants=claimants(plan), shared=shared_rules(plan), allowed=tuple(allowed),
        worktree=worktree, foreign_roots=tuple(foreign_roots), manifests=shared_manifests(plan),
    )


def territory_violations(plan: Plan, agent: Agent, paths: Sequence[str], *, allowed: Sequence[str] = (),
                         removed_lines: Mapping[str, int]) -> list[tuple[str, str | None]]:
    """(path, owning agent) for each path ``agent`` may not change; ``allowed`` paths always pass.

    Shared files follow their policy: ``any`` passes, ``add-only`` passes when the change removes
    no lines (``removed_lines``: lines removed per path, 0 when absent), ``owner-only`` passes for
    the owner alone.
    """
    rules = territory_rules(plan, agent.name, allowed=allowed)
    return [(v.path, v.owner) for v in rules.violations(paths, removed_lines)]


def matches_any(patterns: Iterable[str], files: Iterable[str]) -> bool:
    """True when at least one of ``files`` matches the gitignore-style ``patterns``."""
    claim = Claim("", stripped(patterns))
    return any(claim.owns(f) for f in files)
