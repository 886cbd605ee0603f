"""``dispatch run`` / ``dispatch resume``: run a sprint unattended, or continue it from its log."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from agent_dispatch import git, output
from agent_dispatch.commands.common import load_checked
from agent_dispatch.engine.runtime import Options, Runtime, dispatch_dir
from agent_dispatch.engine.sprint import FINISHED, PAUSED, SprintOutcome, resume_hint, run_sprint
from agent_dispatch.errors import FatalError
from agent_dispatch.executors.registry import get_executor
from agent_dispatch.operations.caller import refuse_agent_session
from agent_dispatch.naming.context import build_context, sprint_dir_for
from agent_dispatch.store import liveness
from agent_dispatch.store.log import EventLog
from agent_dispatch.ui.board import board, live_board

EXIT_PAUSED = 4  # the sprint waits for an operator decision (`dispatch approve`)


def open_runtime(plan_path: Path, *, repo: Path | None, options: Options, say=output.write) -> Runtime:
    """Load the plan and open the sprint's event log and executor (``options.executor`` or the
    plan's ``sprint.executor``)."""
    loaded, warnings, root = load_checked(plan_path, repo)
    if root is None:
        raise FatalError(f"{plan_path} is not inside a git repository\nhint: run `git init` and commit first")
    plan = loaded.plan
    executor = get_executor(options.executor or plan.sprint.executor)  # an unknown name fails before any state
    if not git.branch_exists(root, plan.sprint.base_branch):
        raise FatalError(f"base branch {plan.sprint.base_branch!r} does not exist in {root}\n"
                         "hint: commit your project first, or set sprint.base_branch")
    files = git.list_tracked_files(root)
    context = build_context(plan, root, sprint_dir=sprint_dir_for(plan_path, root, plan.sprint.id), repo_files=files)
    git.add_info_exclude(root, "/.dispatch/")
    state_dir = dispatch_dir(root, plan.sprint.id)
    state_dir.mkdir(parents=True, exist_ok=True)
    log = EventLog(state_dir / "events.db")
    return Runtime(loaded=loaded, plan_path=Path(plan_path).resolve(), root=root, context=context, log=log,
                   executor=executor, options=options, say=say)


def run_plan(plan_path: Path, *, repo: Path | None = None, options: Options = Options(), resume: bool = False,
             rehearse: Path | None = None) -> int:
    """Run (or resume) the sprint of ``plan_path``; 0 when it finished with everything landed.

    With ``rehearse`` (a scenario file) every agent talks to our fake model server on 127.0.0.1
    instead of a real model: a deterministic, offline dress rehearsal of the whole sprint. An
    agent whose plan names no model gets its CLI's rehearsal model (`rehearsal_models`).
    """
    if rehearse is None:
        return _run(plan_path, repo=repo, options=options, resume=resume)
    from agent_dispatch.agents.all_agents import rehearsal_models
    from agent_dispatch.agents.cli import PLACEHOLDER_KEY
    from agent_dispatch.testing.fakellm import FakeModelServer

    if not rehearse.is_file():
        raise FatalError(f"{rehearse}: no such scenario file\nhint: see docs/fake-model-server.md")
    from agent_dispatch.commands.operate import main_checkout

    log = dispatch_dir(main_checkout(Path(repo) if repo else Path(plan_path).resolve().parent), "rehearsal")
    log = log / "requests.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with FakeModelServer(rehearse.resolve(), log=log) as server:
        output.write(f"rehearsal: fake model server at {server.url} (scenario {rehearse}, requests in {log})")
        # A CLI's own default model may get its tools in a form the fake cannot call (Codex's
        # code mode): an agent whose plan names no model gets one the fake can drive.
        options = dataclasses.replace(options, base_url=server.url, api_key=PLACEHOLDER_KEY,
                                      default_models=rehearsal_models())
        return _run(plan_path, repo=repo, options=options, resume=resume)


def _run(plan_path: Path, *, repo: Path | None, options: Options, resume: bool) -> int:
    rt = open_runtime(plan_path, repo=repo, options=options)
    # A second orchestrator started by an agent would decide for the operator (and race the first).
    refuse_agent_session(f"{'resuming' if resume else 'running'} sprint {rt.plan.sprint.id}", rt.log,
                         Path(plan_path).resolve().parent)
    state = rt.state()
    if resume and not state.started:
        raise FatalError(f"sprint {rt.plan.sprint.id} has not started\nhint: dispatch run {plan_path}")
    if state.started and not state.finished:
        output.write(f"resuming sprint {rt.plan.sprint.id} from its log ({rt.log.path})")
    resume_command = resume_hint(rt)
    try:
        with liveness.orchestrating(rt.state_dir, resume=resume_command) as live:
            with live_board(rt.log, output.console):
                outcome = asyncio.run(run_sprint(rt))
            live.end(outcome.status, outcome.message.splitlines()[0] if outcome.message else None)
    except KeyboardInterrupt:
        # Everything done so far is in the log; sessions were stopped and will get the recovery message.
        output.write_err(f"interrupted: sprint {rt.plan.sprint.id} stopped; continue with: {resume_command}")
        raise
    return report_outcome(rt, outcome)


def report_outcome(rt: Runtime, outcome: SprintOutcome) -> int:
    if not output.console.is_terminal:
        output.console.print(board(rt.log.status()))
    output.write(outcome.message)
    if outcome.status == PAUSED:
        return EXIT_PAUSED
    if outcome.status == FINISHED:
        output.write(f"events: dispatch events --sprint {rt.plan.sprint.id}   board: dispatch status {rt.plan_path}")
        return 0 if not outcome.failed and "partial" not in outcome.message else 1
    return 1


def merge_plan(plan_path: Path, *, repo: Path | None = None, options: Options = Options()) -> int:
    """``dispatch merge``: run gate 4 and the merge train over every agent that passed gate 3 and
    has not landed (e.g. after `dispatch accept`), then rewrite the summary and ship decision."""
    from agent_dispatch.engine.sprint import close_sprint, land_agents

    rt = open_runtime(plan_path, repo=repo, options=options)
    refuse_agent_session(f"merging sprint {rt.plan.sprint.id}", rt.log, Path(plan_path).resolve().parent)
    state = rt.state()
    if not state.started:
        raise FatalError(f"sprint {rt.plan.sprint.id} has not started\nhint: dispatch run {plan_path}")
    if not state.finished:
        raise FatalError(f"sprint {rt.plan.sprint.id} is still in progress; its run lands branches itself\n"
                         f"hint: dispatch resume {plan_path}")
    land_agents(rt, list(rt.context.dispatched), returns=False)
    return report_outcome(rt, close_sprint(rt))
