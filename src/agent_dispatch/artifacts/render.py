"""Render a sprint's documents: DISPATCH.md, one task doc and one activation prompt per dispatched
agent, and the DISPATCH-PROMPTS.md archive (REQ-1.37, REQ-1.39, REQ-3.05, REQ-3.27).

Everything is rendered in memory and linted first; files are written only when every prompt
passes, each one atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from agent_dispatch.errors import FatalError
from agent_dispatch.files import write_atomic
from agent_dispatch.naming import paths
from agent_dispatch.naming.context import SprintContext, build_context, sprint_dir_for, sprint_documents
from agent_dispatch.plan.model import Plan
from agent_dispatch.prompts import sections
from agent_dispatch.prompts.activation import ABSOLUTE_PATH_TOOLS, ActivationPrompt, render_activation
from agent_dispatch.prompts.chains import chain_waves, ordered_chains
from agent_dispatch.prompts.environment import PROMPT_TEMPLATES, make_environment, overridden
from agent_dispatch.prompts.lint import lint_counts, lint_prompt, missing_paths
from agent_dispatch.redact import redact

ARTIFACT_TEMPLATES = "agent_dispatch.artifacts"
DISPATCH_TEMPLATE = "dispatch.md.j2"
TASK_DOC_TEMPLATE = "task-doc.md.j2"
ARCHIVE_TEMPLATE = "dispatch-prompts.md.j2"


@dataclass(frozen=True)
class RenderedSprint:
    """A sprint's documents, rendered but not yet written."""

    context: SprintContext
    directory: Path  # the plan's folder; every file below is relative to it
    files: dict[str, str]  # relative name -> content, in writing order
    prompts: dict[str, ActivationPrompt]  # by agent name
    task_docs: dict[str, str]  # agent name -> relative name
    overrides: list[str] = field(default_factory=list)  # project templates used instead of ours
    repo_files: tuple[str, ...] = ()  # the files an agent's worktree is checked out with

    def prompt_file(self, agent: str) -> str:
        """Relative name of ``agent``'s activation prompt."""
        return f"{paths.PROMPTS_DIRNAME}/{Path(self.context.agent(agent).prompt).name}"


def render_sprint(
    plan: Plan,
    repo_root: Path,
    *,
    plan_path: Path,
    repo_files: Sequence[str] = (),
    today: datetime.date | None = None,
) -> RenderedSprint:
    """Render every document of ``plan``; raise :class:`FatalError` when the prompt lint fails."""
    env = make_environment(repo_root, (PROMPT_TEMPLATES, ARTIFACT_TEMPLATES))
    folder = sprint_dir_for(plan_path, repo_root, plan.sprint.id)
    ctx = build_context(plan, repo_root, sprint_dir=folder, repo_files=repo_files)
    common = _common_values(plan, ctx, today or datetime.date.today(), Path(plan_path).name)
    prompts = {
        n: render_activation(env, plan, ctx, n, repo_files=repo_files) for n in ctx.dispatched
    }
    files: dict[str, str] = {
        paths.DISPATCH_FILENAME: env.get_template(DISPATCH_TEMPLATE).render(**common)
    }
    task_docs: dict[str, str] = {}
    for name in ctx.dispatched:
        doc_name = Path(ctx.agent(name).task_doc).name
        files[doc_name] = _task_doc(env, plan, ctx, name, common, repo_files)
        task_docs[name] = doc_name
    for name, prompt in prompts.items():
        files[f"{paths.PROMPTS_DIRNAME}/{Path(ctx.agent(name).prompt).name}"] = prompt.text
    archive = [
        {"a": ctx.agent(n), "prompt": p, "fence": _fence(p.text)} for n, p in prompts.items()
    ]
    files[paths.PROMPTS_ARCHIVE_FILENAME] = env.get_template(ARCHIVE_TEMPLATE).render(
        **common, archive=archive
    )
    rendered = RenderedSprint(
        ctx, Path(plan_path).resolve().parent, files, prompts, task_docs, overridden(env, repo_root),
        tuple(repo_files),
    )
    problems = lint_rendered(plan, rendered)
    if problems:
        raise FatalError(
            "the rendered prompts failed the prompt lint; nothing was written:\n"
            + "\n".join(f"  {p}" for p in problems)
            + f"\nhint: fix the templates in {paths.TEMPLATE_OVERRIDE_DIR}/ or the plan"
        )
    return rendered


def lint_rendered(plan: Plan, rendered: RenderedSprint) -> list[str]:
    """Prompt lint over a whole sprint: every prompt, plus the one-to-one counts (REQ-3.07)."""
    allowed = sections.plan_strings(plan)
    problems = lint_counts(
        agents=len(rendered.context.dispatched),
        prompts=len(rendered.prompts),
        task_docs=len(rendered.task_docs),
    )
    ctx = rendered.context
    present = worktree_files(rendered)
    # Files agents write during the sprint: named in prompts, absent when a session starts.
    outputs = {a.report for a in ctx.agents} | {paths.findings_path(ctx.sprint_id, directory=ctx.sprint_dir)}
    for name, prompt in rendered.prompts.items():
        absolute = ctx.agent(name).worktree if ctx.agent(name).tool in ABSOLUTE_PATH_TOOLS else None
        for problem in lint_prompt(
            prompt.text,
            build_command=plan.sprint.build_command,
            test_command=plan.sprint.test_command,
            report_path=ctx.agent(name).report,
            allowed=allowed,
        ) + missing_paths(
            prompt.text, present=present, sprint_dir=ctx.sprint_dir, worktree=absolute, outputs=outputs
        ):
            problems.append(f"[{name}] {rendered.prompt_file(name)}: {problem}")
    return problems


def worktree_files(rendered: RenderedSprint) -> set[str]:
    """What an agent's worktree holds when its session starts, from the agent's point of view: the
    files it is checked out with, plus the sprint documents the engine copies into it
    (``workspace.documents``) — the rendered ones and those present in the main checkout."""
    ctx = rendered.context
    ours = {f"{ctx.sprint_dir}/{name}" for name in rendered.files}
    placed = {d for d in sprint_documents(ctx) if d in ours or (ctx.repo_root / d).is_file()}
    return set(rendered.repo_files) | placed


# What the last render wrote in the plan's folder, so the next one removes the task docs of agents
# that are gone — and only those: completion reports and the user's own files sit beside them.
RENDERED_MANIFEST = ".dispatch-rendered"


def write_rendered(rendered: RenderedSprint) -> list[Path]:
    """Write every rendered file atomically; remove the prompts and task docs that an earlier
    render wrote for agents no longer dispatched (never a file render did not write)."""
    written = []
    for name, text in rendered.files.items():
        target = rendered.directory / name
        write_atomic(target, redact(text))  # prompts and docs never carry a key from the environment
        written.append(target)
    prompt_dir = rendered.directory / paths.PROMPTS_DIRNAME
    for stale in sorted(prompt_dir.glob("agent-*.md")):
        if stale not in written:
            stale.unlink()
    manifest = rendered.directory / RENDERED_MANIFEST
    try:
        before = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        before = []
    for name in before:
        stale = rendered.directory / name
        if name and not name.startswith("#") and "/" not in name and stale not in written:
            stale.unlink(missing_ok=True)
    docs = sorted(rendered.task_docs.values())
    write_atomic(manifest, "# task docs written by `dispatch render`; the next render removes stale ones\n"
                 + "".join(f"{d}\n" for d in docs))
    return written


def _common_values(
    plan: Plan, ctx: SprintContext, today: datetime.date, plan_name: str
) -> dict[str, object]:
    sid = plan.sprint.id
    dispatched = ctx.dispatched_agents()
    numbered, n = [], 0
    for a in dispatched:
        for chain in sections.chain_views(
            plan.agent(a.name), a, build=plan.sprint.build_command, test=plan.sprint.test_command
        ):
            n += 1
            numbered.append({"n": n, "a": a, "c": chain})
    return {
        "plan": plan,
        "sprint": plan.sprint,
        "ctx": ctx,
        "today": today.isoformat(),
        "sprint_label": paths.sprint_label(sid),
        "stack": ", ".join(ctx.languages),
        "dispatched": dispatched,
        "numbered_chains": numbered,
        "waves": _waves(plan, ctx),
        "merge_sequence": sections.merge_sequence(plan, ctx),
        "non_merging": [a for a in dispatched if a.base_role in ("RED TEAM", "ORCHESTRATOR")],
        "code_standards": sections.CODE_STANDARDS,
        "goals": _goals(plan),
        "plan_file": f"{ctx.sprint_dir}/{plan_name}",
    }


def _task_doc(
    env: jinja2.Environment,
    plan: Plan,
    ctx: SprintContext,
    name: str,
    common: dict[str, object],
    repo_files: Sequence[str],
) -> str:
    agent, me = plan.agent(name), ctx.agent(name)
    chains = sections.chain_views(
        agent, me, build=plan.sprint.build_command, test=plan.sprint.test_command
    )
    by_id = {c["id"]: c for c in chains}
    return env.get_template(TASK_DOC_TEMPLATE).render(
        **common,
        a=me,
        agent=agent,
        chains=chains,
        chain_waves=[[by_id[c.id] for c in wave] for wave in chain_waves(agent.chains)],
        wave_heading=sections.wave_heading(plan, me),
        context_files=sections.context_files(plan, ctx, agent, repo_files),
        territory=sections.territory(plan, ctx, agent),
        domain_line=sections.domain_line(plan, agent, me, repo_files),
        cross_context=sections.cross_agent_context(plan, ctx, agent),
        title=agent.domain.replace("-", " ").title() if agent.domain else me.role,
    )


def _waves(plan: Plan, ctx: SprintContext) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for wave in sorted(plan.waves, key=lambda w: w.number):
        rows = []
        for name in wave.agents:
            a, agent = ctx.agent(name), plan.agent(name)
            titles = [c.title for c in ordered_chains(agent.chains)]
            rows.append(
                {"a": a, "chains": titles, "complexity": _complexity(a.base_role, len(titles))}
            )
        out.append(
            {
                "number": wave.number,
                "description": wave.description,
                "rows": rows,
                "depends_on": list(wave.depends_on),
            }
        )
    return out


def _complexity(role: str, chains: int) -> int:
    """A rough 1–10 estimate for the wave table: LEAD and RED TEAM review everything."""
    if role in ("LEAD", "RED TEAM"):
        return 6
    return max(1, min(10, 1 + 2 * chains))


def _goals(plan: Plan) -> list[str]:
    text = (plan.sprint.goal or plan.sprint.theme).strip()
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
