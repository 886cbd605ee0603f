"""The generic ``command`` adapter: runs ``agents[].command`` with the DISPATCH_* environment."""

from __future__ import annotations

from agent_dispatch.agents.base import (
    LIMIT_EXIT_CODE,
    SIGKILLED_DETAIL,
    SessionOutcome,
    SessionOutput,
    SessionRequest,
    killed_by_sigkill,
    session_env,
)
from agent_dispatch.errors import FatalError


class CommandAdapter:
    """Any program becomes an agent: the worktree is its cwd, the contract is its environment."""

    name = "command"
    supports_sub_agents = False

    def argv(self, request: SessionRequest) -> list[str]:
        if not request.command:
            raise FatalError(f"agent {request.agent!r} uses the 'command' tool but the plan gives no "
                             "command\nhint: add `command: [program, arg, ...]` to the agent")
        return list(request.command)

    def env(self, request: SessionRequest) -> dict[str, str]:
        return session_env(request)

    def prepare(self, request: SessionRequest) -> None:
        """Nothing to prepare: the command is the user's own program."""

    def outcome(self, exit_code: int | None, output: SessionOutput, *, timed_out: bool,
                killed: bool) -> SessionOutcome:
        """From the exit status alone: the program's output is its own business."""
        if timed_out:
            return SessionOutcome("timeout", exit_code, "session timed out")
        if killed:
            return SessionOutcome("killed", exit_code, "session was stopped")
        if killed_by_sigkill(exit_code):
            return SessionOutcome("killed", exit_code, SIGKILLED_DETAIL)
        if exit_code is None:
            return SessionOutcome("lost", None, "exit status unknown")
        if exit_code == 0:
            return SessionOutcome("ended", 0)
        if exit_code == LIMIT_EXIT_CODE:
            return SessionOutcome("limit", exit_code, "context or turn limit reached")
        return SessionOutcome("failed", exit_code, f"exited with status {exit_code}")
