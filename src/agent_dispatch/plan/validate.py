"""Semantic checks of a loaded plan: names, waves, merge order, territory, chains (REQ-1.12)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from agent_dispatch.errors import Problem
from agent_dispatch.plan import lint
from agent_dispatch.plan.loader import LoadedPlan
from agent_dispatch.plan.model import Plan
from agent_dispatch.plan.roster import (
    CHAINLESS_ROLES,
    DEFAULT_MERGE_ORDER,
    NON_MERGING_ROLES,
    base_role,
)
from agent_dispatch.plan.territory import is_claimant, owners_by_file, parse_pattern, unsafe_reason


def validate(loaded: LoadedPlan, repo_files: Sequence[str] | None = None) -> list[Problem]:
    """Every problem in ``loaded`` (errors and warnings); ``repo_files`` enables territory checks."""
    checks = [_agents, _waves, _merge_order, _territory_paths, _chains, _shared_files]
    problems = [p for check in checks for p in check(loaded)]
    if repo_files is not None:
        problems += _overlaps(loaded, repo_files)
        problems += lint.missing_paths(loaded, repo_files)
    problems += lint.placeholder_chains(loaded)
    problems += lint.trace_lint(loaded) + lint.criteria_lint(loaded)
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.field, p.message))


def errors_only(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def dispatched_agents(plan: Plan) -> list[str]:
    """Names of agents that appear in some wave, in wave order."""
    seen: list[str] = []
    for wave in sorted(plan.waves, key=lambda w: w.number):
        seen += [a for a in wave.agents if a not in seen]
    return seen


def effective_merge_order(plan: Plan) -> list[str]:
    """``merge_order`` as written, or the roster's default order over the dispatched agents."""
    if plan.merge_order is not None:
        return list(plan.merge_order)
    known = {a.name for a in plan.agents}
    dispatched = [n for n in dispatched_agents(plan) if n in known]
    mergers = [plan.agent(n) for n in dispatched if _merges(plan, n)]

    def rank(agent_role: str) -> int:
        role = base_role(agent_role)
        return DEFAULT_MERGE_ORDER.index(role) if role in DEFAULT_MERGE_ORDER else len(DEFAULT_MERGE_ORDER) - 1

    return [a.name for a in sorted(mergers, key=lambda a: rank(a.role))]


def _merges(plan: Plan, name: str) -> bool:
    return base_role(plan.agent(name).role) not in NON_MERGING_ROLES


def _agents(loaded: LoadedPlan) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, agent in enumerate(loaded.plan.agents):
        if agent.name in first:
            problems.append(loaded.problem(("agents", i, "name"),
                                           f"duplicate agent name {agent.name!r} (first defined at "
                                           f"agents[{first[agent.name]}]); names must be unique"))
        else:
            first[agent.name] = i
        role = base_role(agent.role)
        if not agent.chains and role not in CHAINLESS_ROLES:
            problems.append(loaded.problem(("agents", i, "chains"),
                                           f"agent {agent.name!r} ({role}) has no chains; every coding "
                                           "agent needs at least one chain (do not dispatch idle agents)"))
        tool = agent.tool or loaded.plan.sprint.tool
        if tool == "command" and not agent.command:
            problems.append(loaded.problem(("agents", i, "command" if agent.tool else "tool"),
                                           f"agent {agent.name!r} uses the 'command' tool but has no "
                                           "'command' argv list (e.g. command: [python, agent.py])"))
    return problems


def _waves(loaded: LoadedPlan) -> list[Problem]:
    plan, problems = loaded.plan, []
    known = {a.name for a in plan.agents}
    numbers: dict[int, int] = {}
    placed: dict[str, int] = {}
    for i, wave in enumerate(plan.waves):
        if wave.number in numbers:
            problems.append(loaded.problem(("waves", i, "number"),
                                           f"wave {wave.number} is defined twice (also waves[{numbers[wave.number]}])"))
        numbers.setdefault(wave.number, i)
        if len(wave.agents) > plan.scaling.max_agents_per_wave:
            problems.append(loaded.problem(("waves", i, "agents"),
                                           f"wave {wave.number} has {len(wave.agents)} agents; "
                                           f"scaling.max_agents_per_wave is {plan.scaling.max_agents_per_wave}"))
        for j, name in enumerate(wave.agents):
            if name not in known:
                problems.append(loaded.problem(("waves", i, "agents", j),
                                               f"unknown agent {name!r}; agents are: {', '.join(sorted(known))}"))
            elif name in placed:
                problems.append(loaded.problem(("waves", i, "agents", j),
                                               f"agent {name!r} is already in wave {placed[name]}; "
                                               "an agent runs in exactly one wave"))
            else:
                placed[name] = wave.number
    problems += _wave_dependencies(loaded, numbers)
    for i, agent in enumerate(plan.agents):
        if agent.name not in placed:
            problems.append(loaded.problem(("agents", i, "name"),
                                           f"agent {agent.name!r} is in no wave and will not be dispatched",
                                           severity="warning"))
    return problems


def _wave_dependencies(loaded: LoadedPlan, numbers: dict[int, int]) -> list[Problem]:
    plan, problems = loaded.plan, []
    graph = {w.number: [d for d in w.depends_on if d in numbers] for w in plan.waves}
    cycles = _find_cycles(graph)
    in_cycle = {(a, b) for cycle in cycles for a, b in zip(cycle, cycle[1:])}
    for i, wave in enumerate(plan.waves):
        for j, dep in enumerate(wave.depends_on):
            loc = ("waves", i, "depends_on", j)
            if dep not in numbers:
                problems.append(loaded.problem(loc, f"wave {wave.number} depends on wave {dep}, which does not exist"))
            elif dep == wave.number:
                problems.append(loaded.problem(loc, f"wave {wave.number} depends on itself"))
            elif (wave.number, dep) not in in_cycle and dep > wave.number:
                problems.append(loaded.problem(loc, f"wave {wave.number} depends on later wave {dep}; "
                                                    "a wave may only depend on lower-numbered waves"))
    for cycle in cycles:
        if len(cycle) <= 2:
            continue  # self-dependency, reported above
        i = numbers[cycle[0]]
        j = list(plan.waves[i].depends_on).index(cycle[1])
        path = " -> ".join(str(n) for n in cycle)
        problems.append(loaded.problem(("waves", i, "depends_on", j), f"wave dependency cycle: {path}"))
    return problems


def _find_cycles(graph: dict[int, list[int]]) -> list[list[int]]:
    """Elementary cycles found by DFS, each as [n0, n1, ..., n0], starting at its smallest node."""
    found: set[tuple[int, ...]] = set()
    state: dict[int, int] = {}
    stack: list[int] = []

    def visit(node: int) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):]
                k = cycle.index(min(cycle))
                found.add(tuple(cycle[k:] + cycle[:k]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return [[*c, c[0]] for c in sorted(found)]


def _merge_order(loaded: LoadedPlan) -> list[Problem]:
    plan = loaded.plan
    if plan.merge_order is None:
        return []
    problems = []
    known = {a.name for a in plan.agents}
    dispatched = set(dispatched_agents(plan))
    seen: set[str] = set()
    for i, name in enumerate(plan.merge_order):
        loc = ("merge_order", i)
        if name in seen:
            problems.append(loaded.problem(loc, f"agent {name!r} is listed twice"))
        seen.add(name)
        if name not in known:
            problems.append(loaded.problem(loc, f"unknown agent {name!r}; agents are: {', '.join(sorted(known))}"))
        elif not _merges(plan, name):
            problems.append(loaded.problem(loc, f"agent {name!r} is {base_role(plan.agent(name).role)}, "
                                                "which never merges; remove it from merge_order"))
        elif name not in dispatched:
            problems.append(loaded.problem(loc, f"agent {name!r} is in no wave, so it has no branch to merge"))
    for name in sorted((dispatched & known) - seen):
        if _merges(plan, name):
            problems.append(loaded.problem(("merge_order",),
                                           f"dispatched agent {name!r} is missing from merge_order; "
                                           "its work would never land"))
    roles = [base_role(plan.agent(n).role) for n in plan.merge_order if n in known]
    ranks = [DEFAULT_MERGE_ORDER.index(r) for r in roles if r in DEFAULT_MERGE_ORDER]
    if ranks != sorted(ranks):
        problems.append(loaded.problem(("merge_order",),
                                       "merge_order differs from the default dependency order "
                                       f"({', '.join(DEFAULT_MERGE_ORDER)}); make sure that is intended",
                                       severity="warning"))
    return problems


def _territory_paths(loaded: LoadedPlan) -> list[Problem]:
    problems = []
    for i, agent in enumerate(loaded.plan.agents):
        for key in ("include", "exclude"):
            for j, text in enumerate(getattr(agent.territory, key)):
                reason = unsafe_reason(parse_pattern(text).pattern)
                if reason:
                    problems.append(loaded.problem(("agents", i, "territory", key, j), reason))
    for i, shared in enumerate(loaded.plan.shared_files):
        reason = unsafe_reason(shared.path)
        if reason:
            problems.append(loaded.problem(("shared_files", i, "path"), reason))
    return problems


def _chains(loaded: LoadedPlan) -> list[Problem]:
    problems = []
    for i, agent in enumerate(loaded.plan.agents):
        ids: dict[str, int] = {}
        for j, chain in enumerate(agent.chains):
            if chain.id in ids:
                problems.append(loaded.problem(("agents", i, "chains", j, "id"),
                                               f"chain id {chain.id!r} is used twice in agent {agent.name!r}"))
            ids.setdefault(chain.id, j)
        graph: dict[str, list[str]] = defaultdict(list)
        for j, chain in enumerate(agent.chains):
            for k, dep in enumerate(chain.depends_on):
                loc = ("agents", i, "chains", j, "depends_on", k)
                if dep not in ids:
                    problems.append(loaded.problem(loc, f"unknown chain {dep!r}; chains of {agent.name!r} "
                                                        f"are: {', '.join(ids)}"))
                elif dep == chain.id:
                    problems.append(loaded.problem(loc, f"chain {chain.id!r} depends on itself"))
                else:
                    graph[chain.id].append(dep)
        order = {cid: n for n, cid in enumerate(ids)}
        numeric = {order[a]: [order[b] for b in bs] for a, bs in graph.items()}
        for cycle in _find_cycles(numeric):
            names = [list(ids)[n] for n in cycle]
            problems.append(loaded.problem(("agents", i, "chains", order[names[0]], "depends_on"),
                                           f"chain dependency cycle: {' -> '.join(names)}"))
    return problems


def _shared_files(loaded: LoadedPlan) -> list[Problem]:
    known = {a.name for a in loaded.plan.agents}
    return [
        loaded.problem(("shared_files", i, "owner"), f"unknown agent {s.owner!r}; agents are: {', '.join(sorted(known))}")
        for i, s in enumerate(loaded.plan.shared_files)
        if s.owner not in known
    ]


def _overlaps(loaded: LoadedPlan, repo_files: Sequence[str]) -> list[Problem]:
    plan = loaded.plan
    shared = {s.path for s in plan.shared_files}
    index = {a.name: i for i, a in enumerate(plan.agents) if is_claimant(a)}
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, owners in owners_by_file(plan, [f for f in repo_files if f not in shared]).items():
        for a in range(len(owners)):
            for b in range(a + 1, len(owners)):
                pairs[(owners[a], owners[b])].append(path)
    problems = []
    for (first, second), files in sorted(pairs.items()):
        shown = ", ".join(files[:5]) + (f" (+{len(files) - 5} more)" if len(files) > 5 else "")
        problems.append(loaded.problem(
            ("agents", index[second], "territory", "include"),
            f"territory of {second!r} overlaps {first!r} on {len(files)} tracked file(s): {shown}; "
            "each file needs one owner: add it to one agent's territory.exclude or list it in shared_files",
        ))
    return problems
