"""The planned overlap report: which agents are likely to collide, before any of them runs.

Three signals, from the plan alone (plus the tracked files): two territories claiming the same
file; a chain whose fix site lies in another agent's territory (the agent must touch a file it
does not own); two chains fixing the same file. Input for sequencing agents into waves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from agent_dispatch.plan.model import Plan
from agent_dispatch.plan.territory import owner_of, owners_by_file, parse_pattern
from agent_dispatch.plan.validate import dispatched_agents

_PATHLIKE = re.compile(r"^[\w.-]+(/[\w.-]*)*$")
_FILENAME = re.compile(
    r"^[\w-]+\.(py|go|ts|tsx|js|jsx|rs|rb|java|kt|php|cs|c|h|cpp|ex|exs|swift|vue|svelte|scala|dart"
    r"|md|yml|yaml|toml|json|sql|sh|cfg|ini|txt|html|css)$")


@dataclass(frozen=True)
class PlannedOverlap:
    """A predicted collision between agents ``a`` and ``b`` (``b`` None: nobody owns the file)."""

    kind: str  # "territory", "fix-site-outside-territory" or "same-fix-site"
    a: str
    b: str | None
    files: tuple[str, ...]
    chains: tuple[str, ...] = ()  # "<agent>:<chain id>" involved
    same_wave: bool = False

    def as_data(self) -> dict:
        """JSON-ready form."""
        return {**asdict(self), "files": list(self.files), "chains": list(self.chains)}


def fix_site_paths(fix_site: str) -> list[str]:
    """The file paths a chain's ``fix_site`` names: ``bookshop/store.py Inventory.remove()`` →
    ``["bookshop/store.py"]`` (annotations such as ``(CREATE — new file)`` dropped)."""
    out = []
    for token in parse_pattern(fix_site).pattern.replace(",", " ").split():
        token = token.strip("`'\"():;")
        if token.endswith("/"):
            continue  # a directory, not a fix site
        if "/" in token and _PATHLIKE.match(token) or _FILENAME.match(token):
            out.append(token)
    return out


def planned_overlaps(plan: Plan, repo_files: Sequence[str], agents: Sequence[str] | None = None) -> list[PlannedOverlap]:
    """Every predicted collision among ``agents`` (default: the dispatched agents)."""
    names = list(agents) if agents is not None else dispatched_agents(plan)
    wave = {n: w.number for w in plan.waves for n in w.agents}
    same = lambda a, b: b is not None and wave.get(a) is not None and wave.get(a) == wave.get(b)  # noqa: E731
    shared = {s.path for s in plan.shared_files}
    out: list[PlannedOverlap] = []
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, owners in owners_by_file(plan, [f for f in repo_files if f not in shared]).items():
        mine = [o for o in owners if o in names]
        for i, a in enumerate(mine):
            for b in mine[i + 1:]:
                pairs[(a, b)].append(path)
    out += [PlannedOverlap("territory", a, b, tuple(files), same_wave=same(a, b)) for (a, b), files in sorted(pairs.items())]
    sites: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in names:
        for chain in plan.agent(name).chains:
            for path in fix_site_paths(chain.fix_site):
                sites[path].append((name, chain.id))
                owner = owner_of(plan, path)
                if owner != name:
                    out.append(PlannedOverlap("fix-site-outside-territory", name, owner, (path,),
                                              (f"{name}:{chain.id}",), same_wave=same(name, owner)))
    for path, users in sorted(sites.items()):
        agents_here = list(dict.fromkeys(a for a, _ in users))
        for i, a in enumerate(agents_here):
            for b in agents_here[i + 1:]:
                chains = tuple(f"{x}:{c}" for x, c in users if x in (a, b))
                out.append(PlannedOverlap("same-fix-site", a, b, (path,), chains, same_wave=same(a, b)))
    return out
