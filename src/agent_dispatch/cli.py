"""The ``dispatch`` command line: thin typer wiring over the functions in ``commands/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.core

from agent_dispatch import __version__
from agent_dispatch.error_handler import Exit, error_handler

app = typer.Typer(
    name="dispatch",
    help="Run a team of AI coding agents in parallel on one git repository and land their work safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _flag_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    """No type column for an on/off flag: it takes no value, so ``--json <bool>`` misleads."""
    if self.is_flag and not self.count:
        return None
    return _option_type(self, ctx)


# The help table asks each option for its type; this typer release answers "<bool>" for flags too
# (--json, --yes, even --help). One override covers every flag, declared here or by typer.
_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

PlanArg = Annotated[Path, typer.Argument(help="Path to the sprint plan (dispatch.yaml).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RepoOpt = Annotated[
    Optional[Path],
    typer.Option("--repo", help="Repository root (default: the repository containing the plan)."),
]


def _run(fn, *args, **kwargs) -> None:
    try:
        with error_handler():
            code = fn(*args, **kwargs)
    except Exit as e:
        raise typer.Exit(e.code) from None
    raise typer.Exit(code)


def _show(fn: Callable[..., Any], *args: Any, as_json: bool = False, **kwargs: Any) -> None:
    """Run a command returning a typed result and print it with its presenter (``present``)."""

    def command() -> int:
        from agent_dispatch.present import show

        return show(fn(*args, **kwargs), as_json=as_json)

    _run(command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dispatch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Run a team of AI coding agents in parallel on one git repository and land their work safely."""


@app.command()
def init(
    repo: Annotated[Optional[Path], typer.Option("--repo", help="Repository to plan (default: the current one).")] = None,
    sprint: Annotated[str, typer.Option("--sprint", help="Sprint id of the plan to write.")] = "sprint-01",
    theme: Annotated[Optional[str], typer.Option("--theme", help="One-line sprint theme.")] = None,
    goal: Annotated[Optional[str], typer.Option("--goal", help="The sprint goal, in your words.")] = None,
    tool: Annotated[str, typer.Option("--tool", help="Default agent tool (claude, codex, aider, opencode, gemini, qwen).")] = "claude",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing plan.")] = False,
    json: JsonOpt = False,
) -> None:
    """Detect the stack and commands, propose territories, write a starter plan that validates."""
    from agent_dispatch.commands.init import init_project

    _run(init_project, repo, sprint=sprint, theme=theme, goal=goal, tool=tool, force=force, as_json=json)


@app.command()
def validate(plan: PlanArg, repo: RepoOpt = None, json: JsonOpt = False) -> None:
    """Check a sprint plan: schema, waves, merge order, territory overlap, trace quality.

    Every problem is printed as path:line:col: field: message. Exit code 2 when the plan has errors.
    """
    from agent_dispatch.commands.validate import validate_plan

    _show(validate_plan, plan, repo=repo, as_json=json)


@app.command()
def render(plan: PlanArg, repo: RepoOpt = None, json: JsonOpt = False) -> None:
    """Write DISPATCH.md, one task doc and one activation prompt per agent, and DISPATCH-PROMPTS.md.

    Files go into the plan's folder. The plan is validated first (exit 2 when invalid); the
    prompts are linted before anything is written (exit 1 when a prompt fails).
    """
    from agent_dispatch.commands.render import render_plan

    _run(render_plan, plan, repo=repo, as_json=json)


TimeoutOpt = Annotated[
    Optional[float], typer.Option("--session-timeout", help="Seconds before an agent session is stopped.")
]
SprintOpt = Annotated[
    Optional[str], typer.Option("--sprint", help="Sprint id (default: from DISPATCH_SPRINT or the only sprint with a log).")
]


ExecutorOpt = Annotated[
    Optional[str],
    typer.Option("--executor", metavar="NAME",
                 help="Where agent sessions run (default: the plan's sprint.executor, else local)."),
]


def _options(yes: bool, session_timeout: float | None, executor: str | None = None):
    from agent_dispatch.engine.runtime import Options

    if session_timeout:
        return Options(yes=yes, executor=executor, session_timeout=session_timeout)
    return Options(yes=yes, executor=executor)  # Options' default timeout


RehearseOpt = Annotated[
    Optional[Path],
    typer.Option("--rehearse", metavar="SCENARIO",
                 help="Rehearse offline: every agent CLI talks to the fake model server playing SCENARIO."),
]


@app.command()
def run(
    plan: PlanArg,
    repo: RepoOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve the gates that wait for the operator.")] = False,
    session_timeout: TimeoutOpt = None,
    rehearse: RehearseOpt = None,
    executor: ExecutorOpt = None,
) -> None:
    """Run the whole sprint: gate 1, waves of agents, verification and retries, gates 2, 3 and 4, landing.

    Exit 0 when the sprint finished with everything landed, 1 when it finished partially or a gate
    failed, 4 when it waits for an operator decision (`dispatch approve`).
    """
    from agent_dispatch.commands.run import run_plan

    _run(run_plan, plan, repo=repo, options=_options(yes, session_timeout, executor), rehearse=rehearse)


@app.command()
def resume(
    plan: PlanArg,
    repo: RepoOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve the gates that wait for the operator.")] = False,
    session_timeout: TimeoutOpt = None,
    rehearse: RehearseOpt = None,
    executor: ExecutorOpt = None,
) -> None:
    """Continue a sprint from its event log after a crash, Ctrl-C, or an operator decision."""
    from agent_dispatch.commands.run import run_plan

    _run(run_plan, plan, repo=repo, options=_options(yes, session_timeout, executor), resume=True,
         rehearse=rehearse)


@app.command()
def merge(plan: PlanArg, repo: RepoOpt = None, executor: ExecutorOpt = None) -> None:
    """Land what is ready after the run (e.g. after `dispatch accept`): gate 4, merge train, new summary.

    Exit 0 when everything landed, 1 otherwise.
    """
    from agent_dispatch.commands.run import merge_plan
    from agent_dispatch.engine.runtime import Options

    _run(merge_plan, plan, repo=repo, options=Options(executor=executor))


@app.command()
def demo(
    directory: Annotated[
        Optional[Path], typer.Option("--dir", help="Where to create the demo repository (default: a new temp dir).")
    ] = None,
) -> None:
    """Run a full sprint on the bundled bookshop example with scripted agents (about 10 seconds)."""
    from agent_dispatch.commands.demo import run_demo

    _run(run_demo, directory=directory)


@app.command()
def chain(
    chain_id: Annotated[str, typer.Argument(help="The chain id from the plan, e.g. chain-1.")],
    state: Annotated[str, typer.Argument(help="TRACING, FIXING, VERIFYING, COMPLETE, BLOCKED, PARKED, ...")],
    note: Annotated[Optional[str], typer.Option("--note", help="One line of detail.")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why you park it (required for PARKED).")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Default: DISPATCH_AGENT.")] = None,
    sprint: SprintOpt = None,
) -> None:
    """(For agents) report progress on one of your chains; the tool verifies it independently."""
    from agent_dispatch.commands.operate import report_chain

    _show(report_chain, chain_id, state, agent=agent, sprint=sprint, note=note, park_reason=reason)


@app.command()
def p0(
    text: Annotated[str, typer.Argument(help="What is critically wrong, with evidence.")],
    file: Annotated[Optional[str], typer.Option("--file", help="File where it is.")] = None,
    line: Annotated[Optional[int], typer.Option("--line", help="Line number.")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Default: DISPATCH_AGENT.")] = None,
    sprint: SprintOpt = None,
) -> None:
    """(For agents) report a P0 discovery outside your chains; do not fix it outside your territory."""
    from agent_dispatch.commands.operate import report_p0

    _show(report_p0, text, file=file, line=line, agent=agent, sprint=sprint)


@app.command()
def approve(
    gate: Annotated[str, typer.Argument(help="gate-1, gate-2 (every wave) or gate-2:wave-N, ...")],
    sprint: SprintOpt = None,
) -> None:
    """Record your approval of a gate that waits for the operator, then `dispatch resume`."""
    from agent_dispatch.commands.operate import approve as approve_gate

    _show(approve_gate, gate, sprint=sprint)


@app.command()
def override(
    gate: Annotated[str, typer.Argument(help="The failed gate, e.g. gate-2:wave-1.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is safe to continue (recorded).")],
    sprint: SprintOpt = None,
) -> None:
    """Override a failed gate with a recorded reason (failed agents are skipped, not landed)."""
    from agent_dispatch.commands.operate import override as override_gate

    _show(override_gate, gate, reason=reason, sprint=sprint)


@app.command()
def message(
    agent: Annotated[str, typer.Argument(help="The agent to tell, e.g. backend.", show_default=False)],
    text: Annotated[Optional[str], typer.Argument(help="What to tell it (or --file).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Read the message from this file.")] = None,
    sprint: SprintOpt = None,
) -> None:
    """Queue a message for an agent's next session (the running engine delivers it when that session starts)."""
    from agent_dispatch.commands.operate import send_message

    _show(send_message, agent, text, file=file, sprint=sprint)


OptionalPlanArg = Annotated[
    Optional[Path], typer.Argument(help="The sprint plan (default: the only sprint with a log here).", show_default=False)
]


@app.command()
def status(
    plan: OptionalPlanArg = None,
    sprint: SprintOpt = None,
    json: JsonOpt = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep the board updated until the sprint ends.")] = False,
) -> None:
    """Show the sprint board: agents, chains, waves and health, computed from the event log."""
    from agent_dispatch.commands.status import show_status, status_feed

    if watch and not json:
        from agent_dispatch.present import watch_status

        _run(lambda: watch_status(status_feed(plan, sprint=sprint)))
        return
    _show(show_status, plan, sprint=sprint, as_json=json)


@app.command()
def clean(
    sprint: SprintOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Also drop unlanded commits and uncommitted files.")] = False,
    json: JsonOpt = False,
) -> None:
    """Remove a finished sprint's agent worktrees and branches whose work landed; keeps (and names)
    unlanded or uncommitted work unless --force."""
    from agent_dispatch.commands.clean import clean_sprint

    _show(clean_sprint, sprint=sprint, force=force, as_json=json)


@app.command()
def events(
    plan: OptionalPlanArg = None,
    sprint: SprintOpt = None,
    json: JsonOpt = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events as they arrive.")] = False,
    since: Annotated[int, typer.Option("--since", help="Only events after this sequence number.")] = 0,
) -> None:
    """Print the sprint's append-only event log (every fact the tool recorded)."""
    from agent_dispatch.commands.status import show_events

    _show(show_events, plan, sprint=sprint, as_json=json, follow=follow, since=since)


workspaces_app = typer.Typer(help="Agent branches and guarded worktrees: up, list, down.", no_args_is_help=True)
app.add_typer(workspaces_app, name="workspaces")


@workspaces_app.command("up")
def workspaces_up(
    plan: PlanArg,
    repo: RepoOpt = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Parallel git processes (default: 2 x cores, max 8).")] = None,
    no_recycle: Annotated[bool, typer.Option("--no-recycle", help="Never reuse parked worktrees from the pool.")] = False,
    keep_ignored: Annotated[bool, typer.Option("--keep-ignored", help="Keep ignored build outputs in recycled worktrees.")] = False,
    no_copy: Annotated[bool, typer.Option("--no-copy", help="Always check files out; never copy a template checkout.")] = False,
    json: JsonOpt = False,
) -> None:
    """Create (or recycle) a branch and worktree per dispatched agent, install its territory and ref
    guards, run setup_command. Idempotent: re-run after a failure to finish the rest."""
    from agent_dispatch.commands.workspaces import workspaces_up as up

    _run(up, plan, repo=repo, jobs=jobs, recycle=not no_recycle, keep_ignored=keep_ignored,
         copy=False if no_copy else None, as_json=json)


@workspaces_app.command("list")
def workspaces_list(plan: PlanArg, repo: RepoOpt = None, json: JsonOpt = False) -> None:
    """Per agent: branch, worktree, commits ahead of base, uncommitted files, report present."""
    from agent_dispatch.commands.workspaces import list_workspaces

    _show(list_workspaces, plan, repo=repo, as_json=json)


@workspaces_app.command("down")
def workspaces_down(
    plan: PlanArg,
    repo: RepoOpt = None,
    agent: Annotated[Optional[list[str]], typer.Option("--agent", help="Only this agent's worktree (repeatable), e.g. one that finished.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Delete the worktrees instead of parking them for reuse.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Even with uncommitted changes (they are discarded).")] = False,
    json: JsonOpt = False,
) -> None:
    """Park agent worktrees in the pool for the next agents (or --remove them); branches are kept."""
    from agent_dispatch.commands.workspaces import workspaces_down as down

    _run(down, plan, repo=repo, agents=tuple(agent or ()), remove=remove, force=force, as_json=json)


territory_app = typer.Typer(help="Territory checks.", no_args_is_help=True)
app.add_typer(territory_app, name="territory")


@territory_app.command("check")
def territory_check(
    agent: Annotated[Optional[str], typer.Argument(help="Agent name (default: this worktree's agent).", show_default=False)] = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="The plan (default: this worktree's plan).")] = None,
    repo: RepoOpt = None,
    json: JsonOpt = False,
) -> None:
    """List every changed file (committed or not) outside the agent's territory; exit 1 when any."""
    from agent_dispatch.commands.territory import territory_check as check

    _show(check, agent, plan_path=plan, repo=repo, as_json=json)


@app.command()
def conflicts(
    plan: PlanArg,
    repo: RepoOpt = None,
    json: JsonOpt = False,
    no_prefilter: Annotated[bool, typer.Option("--no-prefilter", help="Merge every pair, even those touching disjoint paths.")] = False,
    planned: Annotated[bool, typer.Option("--planned", help="Overlaps predicted from territories and fix sites, before any agent runs.")] = False,
) -> None:
    """All pairs of agent branches merged in memory (git merge-tree): clean, or the conflicting files."""
    from agent_dispatch.commands.conflicts import show_conflicts

    _show(show_conflicts, plan, repo=repo, as_json=json, prefilter=not no_prefilter, planned=planned)


@app.command()
def review(
    plan: PlanArg,
    repo: RepoOpt = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Compare with this branch or commit (default: the plan's base branch).")] = None,
    json: JsonOpt = False,
) -> None:
    """Run the automated RED TEAM checks on the sprint's agent branches; print and record the findings.

    Writes .dispatch/<sprint>/review/ (red-team-findings.md, findings.json, the reviewer's context).
    Exit 1 when gate 4 blocks a branch: a CRITICAL finding, or a HIGH one nobody accepted.
    """
    from agent_dispatch.commands.review import review_plan

    _run(review_plan, plan, repo=repo, as_json=json, base=base)


@app.command()
def accept(
    finding_id: Annotated[str, typer.Argument(help="The finding id, e.g. RT-01-003.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why the risk is acceptable (recorded for the summary).")],
    override: Annotated[bool, typer.Option("--override", help="Operator override: let a CRITICAL finding through.")] = False,
    sprint: SprintOpt = None,
) -> None:
    """Accept a HIGH RED TEAM finding with a recorded reason so its branch may merge (CRITICAL needs --override)."""
    from agent_dispatch.commands.review import accept_finding

    _show(accept_finding, finding_id, reason=reason, override=override, sprint=sprint)


def main() -> None:
    """Console-script entry point."""
    app()
