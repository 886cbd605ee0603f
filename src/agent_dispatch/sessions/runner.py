"""Run one agent session from a request alone: no sprint, no runtime, no event log.

The steps are separate so a caller that persists state can act between them::

    running = start_session(tool, request, executor, log_path=...)   # returns at once
    save(running.record.as_data())              # e.g. the engine's ``agent_session_started``
    run = await finish_session(running)         # waits; Ctrl-C stops the whole session tree
    # after a controller restart: adopt_session(tool, saved_record, executor), then finish_session

`run_session` does all of it in one call (a planner, a reviewer, best-of-N). The outcome is read
from the output the executor hands back (`Executor.read_output`), so it works for executors
whose logs live on another machine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.agents.base import Adapter, SessionOutcome, SessionRequest
from agent_dispatch.executors.base import (
    Executor,
    SessionHandle,
    SessionRecord,
    SessionResult,
    SessionSpec,
)
from agent_dispatch.redact import redact_file
from agent_dispatch.sessions.sandbox import session_sandbox


@dataclass(frozen=True)
class SessionUsage:
    """What a session cost, as its CLI reported it.

    With ``spans_resumes`` (Codex) the CLI reports the running total of its whole thread, so a
    resumed session's own share is `since` the totals its thread had before.
    """

    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    cli_session: str | None
    spans_resumes: bool = False

    def since(self, earlier: tuple[int, int] | list[int]) -> tuple[int, int]:
        """(input, output) tokens added since the thread's ``earlier`` (input, output) totals."""
        return max(0, self.input_tokens - earlier[0]), max(0, self.output_tokens - earlier[1])


@dataclass(frozen=True)
class SessionRun:
    """A finished session: the executor's result, the adapter's reading of it, what it cost.

    ``usage`` is None for tools that report none (``command``).
    """

    tool: str
    result: SessionResult
    outcome: SessionOutcome
    usage: SessionUsage | None = None
    adopted: bool = False


def session_usage(adapter: Adapter, outcome: SessionOutcome) -> SessionUsage | None:
    """Tokens, cost and the CLI's own session id from the adapter's summary, if it has one."""
    summary = outcome.summary
    if summary is None:
        return None
    return SessionUsage(summary.input_tokens, summary.output_tokens, summary.cost_usd, summary.session_id,
                        spans_resumes=bool(getattr(adapter, "usage_spans_resumes", False)))


@dataclass(eq=False)
class RunningSession:
    """A started or adopted session. ``record`` is what to persist to adopt it again later."""

    tool: str
    adapter: Adapter
    executor: Executor
    handle: SessionHandle
    spec: SessionSpec | None = None  # None when adopted: only the record survived the restart
    adopted: bool = False
    # How it ended once known, also when stopped by Ctrl-C (finish_session then re-raises).
    result: SessionResult | None = field(default=None, init=False)

    @property
    def record(self) -> SessionRecord:
        return self.handle.record


def session_spec(adapter: Adapter, request: SessionRequest, *, log_path: Path,
                 session_id: str | None = None, timeout_s: float | None = None,
                 sandboxed: bool = False, event_log: Path | None = None) -> SessionSpec:
    """The executor's spec for ``request``: the adapter's argv and environment, in the worktree.

    ``session_id`` defaults to ``<sprint>-<agent>-<attempt>``. ``sandboxed``: the session may
    write only where `sessions.sandbox.session_sandbox` allows (``event_log`` included).
    """
    argv, env = tuple(adapter.argv(request)), adapter.env(request)
    return SessionSpec(
        session_id=session_id or f"{request.sprint}-{request.agent}-{request.attempt}",
        argv=argv, cwd=request.worktree, env=env, log_path=log_path, timeout_s=timeout_s,
        sandbox=session_sandbox(request, argv, env, event_log=event_log) if sandboxed else None,
    )


def start_session(tool: str, request: SessionRequest, executor: Executor, *, log_path: Path,
                  session_id: str | None = None, timeout_s: float | None = None,
                  sandboxed: bool = False, event_log: Path | None = None) -> RunningSession:
    """Prepare the ``tool`` CLI for ``request`` and start its session on ``executor``; returns at once.

    ``sandboxed`` and ``event_log``: see `session_spec`. Raises FatalError for an unknown tool or
    a missing CLI, `SessionStartError` if it cannot start.
    """
    adapter = get_adapter(tool)
    adapter.prepare(request)
    spec = session_spec(adapter, request, log_path=log_path, session_id=session_id, timeout_s=timeout_s,
                        sandboxed=sandboxed, event_log=event_log)
    return RunningSession(tool, adapter, executor, executor.start(spec), spec=spec)


def adopt_session(tool: str, record: SessionRecord | Mapping[str, Any], executor: Executor) -> RunningSession:
    """Re-attach to a ``tool`` session started by an earlier controller, from its persisted record."""
    return RunningSession(tool, get_adapter(tool), executor, executor.adopt(record), adopted=True)


async def wait_session(running: RunningSession) -> SessionResult:
    """Wait until the session ends (or its timeout stops it).

    Cancelled (Ctrl-C): the whole session tree is stopped, ``running.result`` says how it ended,
    and the cancellation goes on up.
    """
    try:
        result = await running.executor.wait_async(running.handle)
    except (asyncio.CancelledError, KeyboardInterrupt):
        running.result = running.executor.stop(running.handle)
        raise
    running.result = result
    return result


def read_outcome(adapter: Adapter, executor: Executor, result: SessionResult) -> SessionOutcome:
    """The adapter's reading of a finished session, from the output its executor hands back."""
    return adapter.outcome(result.exit_code, executor.read_output(result),
                           timed_out=result.reason == "timeout", killed=result.reason == "killed")


def redact_session_log(result: SessionResult, env: Mapping[str, str] | None = None) -> None:
    """Scrub the finished session's log of the operator's keys and tokens, and of those the session
    was given (``env``, e.g. a plan's ``api_key``): a CLI may echo its environment or a request."""
    redact_file(Path(result.log_path), {**os.environ, **(env or {})})


async def finish_session(running: RunningSession) -> SessionRun:
    """Wait for the session (see `wait_session`), scrub its log of secrets, then read its outcome and usage."""
    result = await wait_session(running)
    await asyncio.to_thread(redact_session_log, result, running.spec.env if running.spec else None)
    # Parsing a long CLI stream takes a while: keep the event loop free for other sessions.
    outcome = await asyncio.to_thread(read_outcome, running.adapter, running.executor, result)
    return SessionRun(running.tool, result, outcome, session_usage(running.adapter, outcome),
                      adopted=running.adopted)


def ended_session(tool: str, result: SessionResult | Mapping[str, Any], executor: Executor) -> SessionRun:
    """A session that ended while nobody waited for it (its controller was interrupted or died),
    from how it ended (a `SessionResult` or its ``as_data()``): the outcome read as `finish_session` would."""
    if not isinstance(result, SessionResult):
        names = SessionResult.__dataclass_fields__.keys()
        result = SessionResult(**{k: v for k, v in result.items() if k in names})
    adapter = get_adapter(tool)
    redact_session_log(result)
    outcome = read_outcome(adapter, executor, result)
    return SessionRun(tool, result, outcome, session_usage(adapter, outcome))


async def run_session(tool: str, request: SessionRequest, executor: Executor, *, log_path: Path,
                      session_id: str | None = None, timeout_s: float | None = None,
                      sandboxed: bool = False, event_log: Path | None = None) -> SessionRun:
    """Start one session of ``tool`` for ``request`` on ``executor`` and wait for how it ended
    (``sandboxed`` and ``event_log``: see `session_spec`)."""
    running = start_session(tool, request, executor, log_path=log_path, session_id=session_id,
                            timeout_s=timeout_s, sandboxed=sandboxed, event_log=event_log)
    return await finish_session(running)
