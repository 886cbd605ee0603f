"""Content shared by activation prompts and task docs: reading list, domain, territory, chains.

Each builder returns plain data (lists, dicts, small records) for the templates to lay out, so
the prompt and the task doc always say the same thing about the same agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_dispatch.naming.context import AgentContext, SprintContext
from agent_dispatch.naming.paths import CONFIG_DIR, DISPATCH_FILENAME, findings_path
from agent_dispatch.ownership import DEPENDENCY_MANIFESTS
from agent_dispatch.plan.model import Agent, Chain, Plan
from agent_dispatch.plan.roster import base_role, role_info
from agent_dispatch.plan.territory import is_claimant, owners_by_file, parse_pattern
from agent_dispatch.plan.validate import effective_merge_order
from agent_dispatch.prompts.chains import chain_files, ordered_chains, task_ids

CODE_STANDARDS = f"{CONFIG_DIR}/code-standards.md"
_DOMAIN_DOCS_LIMIT = 3
# Says exactly what the hooks and gate 3 enforce without a `shared_files` list (plan.territory.shared_manifests).
_DEFAULT_SHARED = (
    f"Dependency manifests and lockfiles ({', '.join(DEPENDENCY_MANIFESTS)}, in any directory) that "
    "no CAN line of yours covers are shared: you may only ADD lines to them (the commit hook and "
    "gate 3 refuse a change that removes or rewrites a line), justify each addition in your "
    "completion report; additions by several agents are combined at merge time."
)


@dataclass(frozen=True)
class ContextFile:
    path: str  # repository-relative
    reason: str


@dataclass(frozen=True)
class Deny:
    path: str
    owner: str  # agent name
    role: str  # as written in the plan


@dataclass(frozen=True)
class TerritoryView:
    can: list[tuple[str, str | None]] = field(default_factory=list)  # (path, note)
    deny: list[Deny] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def context_files(
    plan: Plan, ctx: SprintContext, agent: Agent, repo_files: Sequence[str]
) -> list[ContextFile]:
    """The numbered reading list (REQ-3.05 part 2): project context first, the task doc last."""
    present = set(repo_files)
    me = ctx.agent(agent.name)
    out: list[ContextFile] = []
    if ctx.project_context_file:
        out.append(
            ContextFile(
                ctx.project_context_file, "project overview, stack and commands; read it first"
            )
        )
    docs = [
        f
        for f in repo_files
        if f.startswith("docs/")
        and f.endswith(".md")
        and not f.startswith("docs/agent-dispatch/")
        and f != ctx.project_context_file
    ]
    out += [ContextFile(f, "domain reference for this project") for f in docs[:_DOMAIN_DOCS_LIMIT]]
    for chain in ordered_chains(agent.chains):
        for path in chain_files(chain):
            if path in present and all(c.path != path for c in out):
                out.append(ContextFile(path, f"source on the path of Chain {chain.id}"))
    if me.base_role in ("LEAD", "RED TEAM"):
        for other in ctx.dispatched_agents():
            if other.name != agent.name and other.base_role not in ("LEAD", "RED TEAM"):
                out.append(
                    ContextFile(
                        other.report,
                        f"completion report of {other.name} ({other.role}), once it exists",
                    )
                )
    out.append(
        ContextFile(
            f"{ctx.sprint_dir}/{DISPATCH_FILENAME}",
            "sprint overview: territory map, waves, merge order",
        )
    )
    if CODE_STANDARDS in present:
        out.append(ContextFile(CODE_STANDARDS, "mandatory coding standards for every agent"))
    out.append(ContextFile(me.task_doc, "your task doc; follow it exactly"))
    return out


# Roles whose roster domain names code layers ("handlers, routes, services, ..."): the prompt names
# only the layers the agent's own files show, so a signing library's BACKEND is not told it owns
# routes and middleware it does not have.
_LAYERED_ROLES = frozenset({"BACKEND", "FRONTEND", "SERVICES", "DATA", "DESIGN", "INFRA"})
_SHOWN_FILES = 5


def _stem(term: str) -> str:
    word = term.split()[-1].lower()
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


def detected_layers(domain: str, owned: Sequence[str]) -> list[str]:
    """The terms of a roster ``domain`` that the ``owned`` paths show (``models`` for
    ``bookshop/models.py``), in the roster's order."""
    paths = [f.lower() for f in owned]
    return [t for t in domain.split(", ") if any(_stem(t) in p for p in paths)]


def owned_files(plan: Plan, agent: Agent, repo_files: Sequence[str]) -> list[str]:
    """The tracked files ``agent``'s territory claims."""
    return [f for f, owners in owners_by_file(plan, repo_files).items() if agent.name in owners]


def role_layers(plan: Plan, agent: Agent, repo_files: Sequence[str]) -> list[str]:
    """The layers of the agent's roster domain that its own files show (empty for roles whose
    domain is a duty, not a layer: QA, LEAD, RED TEAM, custom roles)."""
    info = role_info(agent.role)
    if info is None or base_role(agent.role) not in _LAYERED_ROLES:
        return []
    return detected_layers(info.domain, owned_files(plan, agent, repo_files))


def domain_line(plan: Plan, agent: Agent, me: AgentContext, repo_files: Sequence[str]) -> str:
    """``YOUR DOMAIN:`` text: the role's area as the agent's files show it, and the exact paths it owns."""
    info = role_info(agent.role)
    area = info.domain if info else f"the {agent.role} area"
    if me.base_role == "RED TEAM":
        return f"{area}. You own no application code; you write adversarial tests and findings."
    if me.base_role == "LEAD":
        owned = ", ".join(agent.territory.include)
        return (f"{area}. You own {owned}; you verify the sprint, summarise it and recommend ship or no-ship "
                "(the tool's merge train merges the branches).")
    if info and me.base_role in _LAYERED_ROLES:
        layers = role_layers(plan, agent, repo_files)
        files = owned_files(plan, agent, repo_files)
        if layers:
            area = ", ".join(layers)
        elif files:
            more = f" and {len(files) - _SHOWN_FILES} more" if len(files) > _SHOWN_FILES else ""
            area = f"the {me.base_role.lower()} code in {', '.join(files[:_SHOWN_FILES])}{more}"
        else:
            area = f"the {me.base_role.lower()} code of this project"
    return f"{area}. You own {', '.join(agent.territory.include)}."


def cross_agent_context(plan: Plan, ctx: SprintContext, agent: Agent) -> str:
    """2–4 sentences: what the sprint does, who works before, beside and after this agent."""
    me = ctx.agent(agent.name)
    goal = (plan.sprint.goal or "").strip()
    sentences = [
        f"This sprint, {plan.sprint.theme!r}, aims at: {goal}"
        if goal
        else f"This sprint's theme is {plan.sprint.theme!r}."
    ]
    others = [a for a in ctx.dispatched_agents() if a.name != agent.name]
    same = [_who(plan, a) for a in others if a.wave == me.wave]
    before = [
        _who(plan, a)
        for a in others
        if me.wave is not None and a.wave is not None and a.wave < me.wave
    ]
    after = [
        _who(plan, a)
        for a in others
        if me.wave is not None and a.wave is not None and a.wave > me.wave
    ]
    sentences.append(
        f"You run in wave {me.wave}" + (f" alongside {'; '.join(same)}." if same else ", alone.")
    )
    if before:
        sentences.append(
            f"Earlier waves: {'; '.join(before)}. Build on their work; do not redo it."
        )
    if after:
        sentences.append(
            f"Later waves build on yours: {'; '.join(after)}. Keep interfaces stable and "
            "note in your report anything they must know."
        )
    return " ".join(sentences)


def _who(plan: Plan, other: AgentContext) -> str:
    titles = [c.title for c in ordered_chains(plan.agent(other.name).chains)][:2]
    info = role_info(other.role)
    what = ", ".join(titles) if titles else (info.domain if info else other.role)
    return f"{other.name} ({other.role}: {what})"


def wave_heading(plan: Plan, me: AgentContext) -> str:
    """The agent's sprint wave as the plan has it: ``Wave 2 (starts once wave 1 is done)`` or
    ``Wave 1 (start immediately)``; the order of chains inside it is given as steps."""
    wave = next((w for w in plan.waves if w.number == me.wave), None)
    if wave is None:
        return "Not in any wave"
    after = ", ".join(str(n) for n in sorted(wave.depends_on))
    if after:
        return f"Wave {wave.number} (starts once wave {after} {'is' if len(wave.depends_on) == 1 else 'are'} done)"
    return f"Wave {wave.number} (start immediately)"


def territory(plan: Plan, ctx: SprintContext, agent: Agent) -> TerritoryView:
    """CAN / DO NOT / shared-file lines for ``agent`` (REQ-1.26: every DO NOT names its owner)."""
    me = ctx.agent(agent.name)
    view = TerritoryView()
    role_note = (
        "new adversarial tests only; you own nothing" if me.base_role == "RED TEAM" else None
    )
    for text in agent.territory.include:
        pattern = parse_pattern(text)
        view.can.append(
            (pattern.pattern, "; ".join(n for n in (pattern.note, role_note) if n) or None)
        )
    view.can.append((me.report, "your completion report"))
    if me.base_role == "RED TEAM":
        view.can.append(
            (findings_path(ctx.sprint_id, directory=ctx.sprint_dir), "your findings report")
        )
    view.excluded.extend(parse_pattern(p).pattern for p in agent.territory.exclude)
    for other in plan.agents:
        if other.name == agent.name or not is_claimant(other):
            continue
        for claimed in other.territory.include:
            deny = Deny(parse_pattern(claimed).pattern, other.name, other.role)
            if deny not in view.deny:
                view.deny.append(deny)
    view.shared.extend(_shared_lines(plan, agent))
    view.rules.extend(_role_rules(me))
    return view


def _shared_lines(plan: Plan, agent: Agent) -> list[str]:
    if not plan.shared_files:
        return [_DEFAULT_SHARED]
    lines = []
    for shared in plan.shared_files:
        owner = "you" if shared.owner == agent.name else shared.owner
        rule = {
            "add-only": "other agents may only ADD entries, each justified in their report",
            "owner-only": "only its owner changes it",
            "any": "any agent may edit it; keep edits minimal and list them in your report",
        }[shared.policy]
        lines.append(f"SHARED FILE {shared.path} (owner: {owner}; policy {shared.policy}): {rule}.")
    return lines


def _role_rules(me: AgentContext) -> list[str]:
    rules = ["A CAN line for a specific file beats a broader DO NOT line."]
    if me.base_role == "RED TEAM":
        rules.append(
            "You own no application code. Add new test files only (never edit existing ones), "
            "even inside another agent's test folders; everything else is read-only for you."
        )
    elif me.base_role == "LEAD":
        rules.append(
            "Application code is read-only for you: you never merge agent branches into yours (the "
            "tool's merge train lands them); you change only your own files, also when you resolve "
            "what the merge train returns to you."
        )
    elif me.base_role == "QA":
        rules.append("Application code is read-only for you: create and change tests only.")
    return rules


def chain_views(
    agent: Agent, me: AgentContext, *, build: str, test: str
) -> list[dict[str, object]]:
    """Chains in execution order as template-ready dicts, with task ids and numbered steps."""
    ids = task_ids(me.letter, agent.chains)
    return [_chain_view(c, ids, build=build, test=test) for c in ordered_chains(agent.chains)]


def _chain_view(chain: Chain, ids: dict[str, str], *, build: str, test: str) -> dict[str, object]:
    task = ids[chain.id]
    steps = [
        f"Read the vector end to end: {chain.vector}",
        f"Confirm the signal: {chain.signal}",
        f"Make the smallest correct change at the fix site: {chain.fix_site}",
        f"Run `{build}`, then `{test}`; both must pass",
        f"Run the chain's own check: {chain.verify}",
        f"Commit: `fix: {task} — {chain.title}`",
    ]
    return {
        "id": chain.id,
        "task_id": task,
        "priority": chain.priority,
        "title": chain.title,
        "vector": chain.vector,
        "signal": chain.signal,
        "fix_site": chain.fix_site,
        "verify": chain.verify,
        "hypothesis": chain.hypothesis,
        "depends_on": [f"{d} ({ids[d]})" if d in ids else d for d in chain.depends_on],
        "files": chain_files(chain),
        "steps": steps,
    }


def merge_sequence(plan: Plan, ctx: SprintContext) -> list[AgentContext]:
    """The agents that merge, in merge order (LEAD and the engine follow it)."""
    return [
        ctx.agent(name)
        for name in effective_merge_order(plan)
        if name in {a.name for a in ctx.agents}
    ]


def plan_strings(plan: Plan) -> list[str]:
    """Every string written in the plan; lint ignores placeholders coming from the plan."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(plan.model_dump())
    return found
