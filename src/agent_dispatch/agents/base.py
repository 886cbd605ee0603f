"""The adapter protocol: how to start one agent session and how to read how it ended."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

# How a session ended, as far as the agent CLI tells us. "limit" means its context or turn
# budget ran out: the engine continues with a new session covering the chains still open.
EndReason = Literal["ended", "failed", "limit", "timeout", "killed", "lost"]

# A `command` agent signals "my context/turn limit ran out" with this exit status (EX_TEMPFAIL).
LIMIT_EXIT_CODE = 75


@dataclass(frozen=True)
class SessionRequest:
    """Everything an adapter needs to start one session of one agent."""

    sprint: str
    agent: str
    role: str
    branch: str
    base_branch: str
    worktree: Path
    prompt_file: Path
    report_path: str  # relative to the worktree
    attempt: int
    message_file: Path | None = None
    command: tuple[str, ...] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionOutcome:
    """The adapter's reading of a finished session (the engine still verifies the work itself)."""

    reason: EndReason
    exit_code: int | None
    detail: str = ""


def contract_env(request: SessionRequest) -> dict[str, str]:
    """The stable ``DISPATCH_*`` environment every session gets (see docs/agent-contract.md)."""
    env = {
        "DISPATCH_SPRINT": request.sprint,
        "DISPATCH_AGENT": request.agent,
        "DISPATCH_ROLE": request.role,
        "DISPATCH_BRANCH": request.branch,
        "DISPATCH_WORKTREE": str(request.worktree),
        "DISPATCH_BASE_BRANCH": request.base_branch,
        "DISPATCH_PROMPT_FILE": str(request.prompt_file),
        "DISPATCH_REPORT_PATH": request.report_path,
        "DISPATCH_ATTEMPT": str(request.attempt),
    }
    if request.message_file is not None:
        env["DISPATCH_MESSAGE_FILE"] = str(request.message_file)
    return env


def session_env(request: SessionRequest) -> dict[str, str]:
    """The full environment: ours, minus variables that would confuse git, plus the contract.

    The directory of the running Python goes first on PATH so ``dispatch chain`` works inside the
    session even when the tool was started from a virtualenv that is not activated.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX"))}
    env = {k: v for k, v in env.items() if not k.startswith("DISPATCH_")}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    env.update(request.extra_env)
    env.update(contract_env(request))
    return env


class Adapter(Protocol):
    """One agent CLI. Implementations live one per module and are listed in ``all_agents``."""

    name: str
    supports_sub_agents: bool

    def argv(self, request: SessionRequest) -> list[str]:
        """The command line that starts (or, with a message file, resumes) a session."""

    def env(self, request: SessionRequest) -> dict[str, str]:
        """The session's environment."""

    def outcome(self, exit_code: int | None, log_path: Path, *, timed_out: bool, killed: bool) -> SessionOutcome:
        """How the session ended, read from its exit status and its log."""
