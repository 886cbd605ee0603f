"""TEAM MODE: how many sub-agents an agent should spawn, and which chains each one takes.

Two chains are dependent when one (transitively) ``depends_on`` the other or when their fix sites
name the same file; dependent chains stay with one sub-agent, in order. The count follows the
sub-agent table (REQ-3.19):

    chains   independent groups   sub-agents
    1-2      any                  0 (the agent works alone)
    3-4      >= 2                 2-3
    5-8      >= 3                 3-6
    9-14     >= 5                 5-10
    15+      -                    0, split the role instead (the seed's "15+")

A row whose independence minimum is not met gives 0. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from agent_dispatch.plan.model import Chain, slug
from agent_dispatch.prompts.chains import fix_site_files, ordered_chains

# Tools with native sub-agents (REQ-13.01: only Claude Code).
SUB_AGENT_TOOLS = frozenset({"claude"})

# (lowest chain count, highest chain count, independent groups needed, most sub-agents)
_TABLE = ((1, 2, None, 0), (3, 4, 2, 3), (5, 8, 3, 6), (9, 14, 5, 10))
SPLIT_ROLE_AT = 15  # REQ-3.19 / REQ-12.02: 15+ chains split the role
_SLUG_LIMIT = 40


@dataclass(frozen=True)
class SubAgent:
    name: str  # chain-<n>-<slug of the first chain's title>
    chain_ids: tuple[str, ...]  # run in this order


@dataclass(frozen=True)
class TeamPlan:
    """The TEAM MODE decision for one agent."""

    chain_count: int
    independent_groups: int
    sub_agents: tuple[SubAgent, ...] = ()
    split_advised: bool = False
    reason: str = ""

    @property
    def enabled(self) -> bool:
        """True when the prompt gets a TEAM MODE block."""
        return bool(self.sub_agents)


def sub_agent_count(chain_count: int, independent: int) -> int:
    """Sub-agents to spawn for ``chain_count`` chains in ``independent`` independent groups."""
    for low, high, needed, most in _TABLE:
        if low <= chain_count <= high:
            return min(independent, most) if needed is not None and independent >= needed else 0
    return 0


def independent_groups(chains: Sequence[Chain]) -> list[list[Chain]]:
    """Chains split into groups with no dependency or shared fix-site file between groups.

    Groups and the chains inside them follow execution order (P0 → P3, then plan order).
    """
    ordered = ordered_chains(chains)
    parent = {c.id: c.id for c in ordered}

    def find(cid: str) -> str:
        while parent[cid] != cid:
            parent[cid] = parent[parent[cid]]
            cid = parent[cid]
        return cid

    def union(a: str, b: str) -> None:
        parent[find(b)] = find(a)

    for i, chain in enumerate(ordered):
        for dep in chain.depends_on:
            if dep in parent:
                union(dep, chain.id)
        for other in ordered[:i]:
            if fix_site_files(chain) & fix_site_files(other):
                union(other.id, chain.id)
    groups: dict[str, list[Chain]] = {}
    for chain in ordered:
        groups.setdefault(find(chain.id), []).append(chain)
    return list(groups.values())


def sub_agent_name(chain: Chain) -> str:
    """``chain-<n>-<slug>`` for a chain: ``chain-1`` titled "Fix webhook timeout" →
    ``chain-1-fix-webhook-timeout``."""
    number = chain.id[len("chain-") :] if chain.id.lower().startswith("chain-") else chain.id
    words = slug(chain.title)
    if len(words) > _SLUG_LIMIT:
        words = words[:_SLUG_LIMIT].rsplit("-", 1)[0]
    return f"chain-{slug(number)}-{words}"


def plan_team(chains: Sequence[Chain], *, tool: str, sub_agents_enabled: bool) -> TeamPlan:
    """Decide TEAM MODE for an agent using ``tool`` with ``chains``.

    Beyond the table's maximum, extra groups are dealt round-robin to the named sub-agents.
    """
    groups = independent_groups(chains)
    count = len(chains)
    base = TeamPlan(chain_count=count, independent_groups=len(groups))
    if count >= SPLIT_ROLE_AT:
        return replace(
            base,
            split_advised=True,
            reason=f"{count} chains: split this role into several agents or make it a team lead",
        )
    if tool not in SUB_AGENT_TOOLS:
        return replace(base, reason=f"tool {tool!r} has no native sub-agents")
    if not sub_agents_enabled:
        return replace(base, reason="scaling.sub_agents_enabled is false")
    wanted = sub_agent_count(count, len(groups))
    if not wanted:
        return replace(
            base,
            reason=f"{count} chain(s) in {len(groups)} independent group(s): not worth sub-agents",
        )
    buckets: list[list[Chain]] = [list(g) for g in groups[:wanted]]
    for n, group in enumerate(groups[wanted:]):
        buckets[n % wanted].extend(group)
    subs = tuple(SubAgent(sub_agent_name(b[0]), tuple(c.id for c in b)) for b in buckets)
    return replace(
        base,
        sub_agents=subs,
        reason=f"{len(subs)} sub-agent(s) for {len(groups)} independent group(s)",
    )
