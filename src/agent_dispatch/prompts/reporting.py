"""The command lines an activation prompt teaches its agent for reporting to the tool.

An agent session runs in its worktree with the ``DISPATCH_*`` environment, and ``dispatch chain`` /
``dispatch p0`` find the sprint's log from any worktree of the repository. The lines still carry
``--sprint`` and ``--agent``: a CLI that does not pass the environment to its shell tool, or a
repository with more than one sprint, runs them as printed all the same. They name the ``dispatch``
launcher by its absolute path: a CLI whose shell tool starts a login shell (Codex runs
``bash -lc``) gets the system's PATH back, without the tool's own bin directory that
``agents.base.session_env`` puts first.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

PROGRESS_STATES = ("TRACING", "FIXING", "VERIFYING", "COMPLETE")
OTHER_STATES = ("DIAGNOSING", "DOCUMENTING", "BLOCKED")
PARK_NOTE = "what you tried, the last error, your best hypothesis"
P0_EXAMPLE = "what is wrong, how to trigger it, the risk"
# What a commit subject starts with for a P0, and how it names a chain (REQ-5.03).
P0_PREFIX = "P0:"


@dataclass(frozen=True)
class ReportCommands:
    """The exact lines of one agent's prompt: progress per chain, parking, a P0."""

    progress: dict[str, list[str]]  # chain id → one line per state in PROGRESS_STATES
    park: dict[str, str]  # chain id → the PARKED line with a reason
    p0: str


def dispatch_program() -> str:
    """How a prompt names ``dispatch``: the launcher beside the running Python (the one sessions get
    first on PATH), by absolute path; plain ``dispatch`` when there is none."""
    launcher = Path(sys.executable).parent / "dispatch"
    return shlex.quote(str(launcher)) if launcher.is_file() else "dispatch"


def report_commands(sprint: str, agent: str, chain_ids: list[str], *, program: str | None = None) -> ReportCommands:
    """The reporting command lines for ``agent`` of ``sprint``, runnable as printed in its worktree
    (``program``: how to call ``dispatch``, default :func:`dispatch_program`)."""
    who = f"--sprint {shlex.quote(sprint)} --agent {shlex.quote(agent)}"
    dispatch = program or dispatch_program()

    def chain(chain_id: str, state: str, extra: str = "") -> str:
        return f"{dispatch} chain {shlex.quote(chain_id)} {state}{extra} {who}"

    return ReportCommands(
        progress={c: [chain(c, s) for s in PROGRESS_STATES] for c in chain_ids},
        park={c: chain(c, "PARKED", f" --reason {shlex.quote(PARK_NOTE)}") for c in chain_ids},
        p0=f"{dispatch} p0 {shlex.quote(P0_EXAMPLE)} --file path/to/file --line 1 {who}",
    )
