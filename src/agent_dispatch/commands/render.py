"""``dispatch render``: validate a plan, then write DISPATCH.md, task docs and prompts."""

from __future__ import annotations

import datetime
from pathlib import Path

from agent_dispatch import git, output
from agent_dispatch.artifacts.render import RenderedSprint, render_sprint, write_rendered
from agent_dispatch.commands.common import load_checked


def render_plan(
    plan_path: Path,
    *,
    repo: Path | None = None,
    as_json: bool = False,
    today: datetime.date | None = None,
) -> int:
    """Render the sprint documents of ``plan_path`` into the plan's folder; 0 on success.

    An invalid plan raises :class:`PlanError` (exit 2); prompts failing the lint raise
    :class:`FatalError` (exit 1) before anything is written.
    """
    loaded, warnings, root = load_checked(plan_path, repo)
    project = root or _project_dir(plan_path)
    files = git.list_tracked_files(root) if root else []
    rendered = render_sprint(
        loaded.plan, project, plan_path=Path(plan_path), repo_files=files, today=today
    )
    written = write_rendered(rendered)
    notes = list(rendered.context.notes) + [
        f"agent {name!r}: {p.team.reason}"
        for name, p in rendered.prompts.items()
        if p.team.split_advised
    ]
    if as_json:
        output.write_json(_summary(rendered, written, [str(w) for w in warnings] + notes))
        return 0
    for problem in warnings:
        output.write_err(str(problem))
    for note in notes:
        output.write_err(f"warning: {note}")
    _print_summary(rendered, written)
    return 0


def _project_dir(plan_path: Path) -> Path:
    """Outside git: the folder holding ``docs/agent-dispatch/`` above the plan, else its folder."""
    folder = Path(plan_path).resolve().parent
    for parent in (folder, *folder.parents):
        if parent.name == "agent-dispatch" and parent.parent.name == "docs":
            return parent.parent.parent
    return folder


def _summary(rendered: RenderedSprint, written: list[Path], notes: list[str]) -> dict:
    ctx = rendered.context
    agents = []
    for name, prompt in rendered.prompts.items():
        a = ctx.agent(name)
        agents.append(
            {
                "name": name,
                "role": a.role,
                "letter": a.letter,
                "codename": a.codename,
                "wave": a.wave,
                "tool": a.tool,
                "branch": a.branch,
                "worktree": str(a.worktree),
                "prompt": str(rendered.directory / rendered.prompt_file(name)),
                "task_doc": str(rendered.directory / rendered.task_docs[name]),
                "report": a.report,
                "team_mode": prompt.team.enabled,
                "sub_agents": [s.name for s in prompt.team.sub_agents],
            }
        )
    return {
        "sprint": ctx.sprint_id,
        "directory": str(rendered.directory),
        "files": [str(p) for p in written],
        "agents": agents,
        "template_overrides": rendered.overrides,
        "warnings": notes,
    }


def _print_summary(rendered: RenderedSprint, written: list[Path]) -> None:
    ctx = rendered.context
    output.write(f"Rendered {ctx.sprint_id}: {len(written)} files in {rendered.directory}")
    for path in written:
        output.write(f"  wrote {path.relative_to(rendered.directory)}")
    for name, prompt in rendered.prompts.items():
        a = ctx.agent(name)
        team = (
            "TEAM MODE: " + ", ".join(s.name for s in prompt.team.sub_agents)
            if prompt.team.enabled
            else "no TEAM MODE"
        )
        output.write(f"  {a.letter} {a.codename:<9} {name:<12} wave {a.wave}  {a.tool:<8} {team}")
    if rendered.overrides:
        output.write(f"  project templates used: {', '.join(rendered.overrides)}")
