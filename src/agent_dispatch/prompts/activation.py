"""Activation prompts: the 7-part text pasted into (or sent to) each agent's fresh session.

Parts follow the 11-step assembly of REQ-3.06: identity, reading list, domain, task summary +
chains, territory, then part 6 (opening keywords, intensity, execution protocol, optimal path,
and TEAM MODE when it applies), and completion last. The wording lives in
``prompts/templates/*.j2``; this module only gathers the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from agent_dispatch.naming.context import AgentContext, SprintContext
from agent_dispatch.naming.paths import findings_path, sprint_label
from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.prompts import sections
from agent_dispatch.prompts.chains import chain_waves
from agent_dispatch.prompts.lint import block_header, part_header
from agent_dispatch.prompts.reporting import OTHER_STATES, report_commands
from agent_dispatch.prompts.team import TeamPlan, plan_team

ACTIVATION_TEMPLATE = "activation.md.j2"
# REQ-3.28: tools that work best with absolute paths, and with numbered steps per chain.
ABSOLUTE_PATH_TOOLS = frozenset({"codex", "opencode", "qwen"})
NUMBERED_STEP_TOOLS = frozenset({"codex", "qwen"})


@dataclass(frozen=True)
class ActivationPrompt:
    """One rendered prompt and the TEAM MODE decision behind it."""

    agent: str
    text: str
    team: TeamPlan


def render_activation(
    env: jinja2.Environment,
    plan: Plan,
    ctx: SprintContext,
    agent_name: str,
    *,
    repo_files: Sequence[str] = (),
) -> ActivationPrompt:
    """Render the activation prompt of the dispatched agent ``agent_name``."""
    agent = plan.agent(agent_name)
    me = ctx.agent(agent_name)
    team = plan_team(agent.chains, tool=me.tool, sub_agents_enabled=plan.scaling.sub_agents_enabled)
    values = prompt_values(plan, ctx, agent, me, team=team, repo_files=repo_files)
    return ActivationPrompt(
        agent_name, env.get_template(ACTIVATION_TEMPLATE).render(**values), team
    )


def prompt_values(
    plan: Plan,
    ctx: SprintContext,
    agent: Agent,
    me: AgentContext,
    *,
    team: TeamPlan,
    repo_files: Sequence[str],
) -> dict[str, object]:
    """Every value the activation templates use (overriding templates may use any of them)."""
    sprint = plan.sprint
    absolute = me.tool in ABSOLUTE_PATH_TOOLS
    chains = sections.chain_views(agent, me, build=sprint.build_command, test=sprint.test_command)
    by_id = {c["id"]: c for c in chains}
    return {
        "part": part_header,
        "block": block_header,
        "plan": plan,
        "sprint": sprint,
        "sprint_label": sprint_label(sprint.id),
        "ctx": ctx,
        "a": me,
        "agent": agent,
        "project": ctx.project_name,
        "stack": ", ".join(ctx.languages),
        "path": _path_renderer(me.worktree if absolute else None),
        "absolute_paths": absolute,
        "numbered_steps": me.tool in NUMBERED_STEP_TOOLS,
        "context_files": sections.context_files(plan, ctx, agent, repo_files),
        "domain_line": sections.domain_line(plan, agent, me, repo_files),
        "layers": sections.role_layers(plan, agent, repo_files),
        "cross_context": sections.cross_agent_context(plan, ctx, agent),
        "chains": chains,
        "reporting": report_commands(sprint.id, agent.name, [str(c["id"]) for c in chains]),
        "other_states": OTHER_STATES,
        "chain_waves": [[by_id[c.id] for c in wave] for wave in chain_waves(agent.chains)],
        "wave_heading": sections.wave_heading(plan, me),
        "territory": sections.territory(plan, ctx, agent),
        "tone": sprint.tone,
        "build_command": sprint.build_command,
        "test_command": sprint.test_command,
        "lint_command": sprint.lint_command,
        "base_branch": sprint.base_branch,
        "findings": findings_path(ctx.sprint_id, directory=ctx.sprint_dir),
        "team": team,
        "chains_by_id": by_id,
        "merge_sequence": sections.merge_sequence(plan, ctx),
        "review_targets": [
            a
            for a in ctx.dispatched_agents()
            if a.name != me.name and a.base_role not in ("RED TEAM", "LEAD")
        ],
    }


def _path_renderer(worktree: Path | None):
    def render(path: str) -> str:
        return str(worktree / path) if worktree is not None else path

    return render
