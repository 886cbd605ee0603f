"""``dispatch init``: detect the stack, propose territories, write a starter plan that validates."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from agent_dispatch import git, output
from agent_dispatch.artifacts import paths
from agent_dispatch.artifacts.render import write_atomic
from agent_dispatch.errors import FatalError, PlanError
from agent_dispatch.plan.loader import load_text
from agent_dispatch.plan.roster import DEFAULT_MERGE_ORDER, ROLES
from agent_dispatch.plan.starter import Proposal, detect_stack, propose
from agent_dispatch.plan.validate import errors_only, validate

HEADER = """\
# Starter sprint plan written by `dispatch init`. Edit it before dispatching:
#  - rewrite every chain (vector, signal, fix_site, verify) for this sprint's goal;
#  - check the territories below; files no agent owns are listed by `dispatch init`.
# Then: dispatch validate {plan}  &&  dispatch render {plan}
"""


def _chain(role: str, proposal: Proposal, test_command: str) -> dict:
    hits = proposal.hits.get(role)
    if hits:
        path, line, text = hits[0]
        return {"id": "chain-1", "priority": "P2", "title": f"Resolve the marker at {path}:{line}",
                "vector": f"{path}:{line}", "signal": f"Scan found: {text}",
                "fix_site": f"{path}:{line}", "verify": f"`{test_command}` passes"}
    owned = sorted(f for f, r in proposal.owners.items() if r == role)
    return {"id": "chain-1", "priority": "P2", "title": f"Starter chain for {role}: rewrite before dispatch",
            "vector": f"entry point → call path through {owned[0]}",
            "signal": "What is broken and the evidence (error, log line, failing request)",
            "fix_site": owned[0], "verify": f"`{test_command}` passes"}


def build_plan(root: Path, *, sprint: str, theme: str, goal: str | None, tool: str, base: str) -> tuple[dict, Proposal]:
    """The starter plan as data, and the proposal it came from."""
    files = git.list_tracked_files(root)
    stack = detect_stack(root, files)
    proposal = propose(root, files, stack)
    agents, waves = [], {}
    for role, territory in proposal.territories.items():
        name = role.lower().replace(" ", "-")
        agent = {"name": name, "role": role, "territory": {k: v for k, v in territory.items() if v}}
        agent["chains"] = [] if role == "LEAD" else [_chain(role, proposal, stack.test)]
        agents.append(agent)
        waves.setdefault(ROLES[role].wave, []).append(name)
    sprint_data = {"id": sprint, "theme": theme, "base_branch": base, "build_command": stack.build,
                   "test_command": stack.test, "tool": tool}
    if goal:
        sprint_data["goal"] = goal
    for key, value in (("lint_command", stack.lint), ("setup_command", stack.setup)):
        if value:
            sprint_data[key] = value
    numbers = sorted(waves)
    wave_list = [{"number": n, "agents": waves[n], **({"depends_on": [numbers[i - 1]]} if i else {})}
                 for i, n in enumerate(numbers)]
    order = [a["name"] for role in DEFAULT_MERGE_ORDER for a in agents if a["role"] == role]
    return {"sprint": sprint_data, "agents": agents, "waves": wave_list, "merge_order": order}, proposal


def init_project(repo: Path | None = None, *, sprint: str = "sprint-01", theme: str | None = None,
                 goal: str | None = None, tool: str = "claude", force: bool = False, as_json: bool = False) -> int:
    """Write ``docs/agent-dispatch/sprints/<sprint>/dispatch.yaml`` for the repository at ``repo``."""
    root = git.get_root(repo or Path.cwd())
    base = git.current_branch(root) or "main"
    target = root / paths.sprint_dir(sprint) / "dispatch.yaml"
    if target.exists() and not force:
        raise FatalError(f"{target} already exists\nhint: pass --force to overwrite it, or --sprint for a new sprint")
    data, proposal = build_plan(root, sprint=sprint, theme=theme or f"{root.name} {sprint}", goal=goal, tool=tool, base=base)
    if not data["agents"]:
        raise FatalError(f"no territory could be proposed: none of the role presets matches a tracked file in {root}")
    stream = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.dump(data, stream)
    text = HEADER.format(plan=target.relative_to(root)) + stream.getvalue()
    loaded = load_text(text, str(target))
    errors = errors_only(validate(loaded, git.list_tracked_files(root)))
    if errors:  # a starter plan that does not validate is a bug here, never the user's problem
        raise PlanError(errors)
    write_atomic(target, text)
    summary = {"plan": str(target), "stack": proposal.stack.name, "build_command": proposal.stack.build,
               "test_command": proposal.stack.test, "agents": {a["name"]: a["territory"] for a in data["agents"]},
               "unassigned": proposal.unassigned}
    if as_json:
        output.write_json(summary)
        return 0
    output.write(f"stack: {proposal.stack.name}   build: {proposal.stack.build}   test: {proposal.stack.test}")
    for agent in data["agents"]:
        territory = agent["territory"]
        excluded = f"  (except {', '.join(territory['exclude'])})" if territory.get("exclude") else ""
        output.write(f"  {agent['name']:<9} {', '.join(territory['include'])}{excluded}")
    shown = ", ".join(proposal.unassigned[:6]) + (" …" if len(proposal.unassigned) > 6 else "")
    output.write(f"unassigned: {len(proposal.unassigned)} file(s){': ' + shown if shown else ''}")
    output.write(f"wrote {target}\nnext: rewrite the starter chains, then `dispatch validate {target}` "
                 f"and `dispatch render {target}`")
    return 0
