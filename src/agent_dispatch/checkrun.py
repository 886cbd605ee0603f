"""Run one operator-written check command (build, test, a chain's verify) and keep the tail of its
output.

Below ``engine`` and ``merge`` so that the engine's checks in an agent's worktree and the merge
train's validation runs share one runner; it knows nothing of plans or sprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch import proc

OUTPUT_TAIL = 4000  # characters of output kept in the log and in retry messages


@dataclass(frozen=True)
class CheckResult:
    """How one check command ended, with the tail of its combined output."""

    kind: str  # build | test | verify
    name: str  # "build", "test" or the chain id
    command: str
    ok: bool
    returncode: int
    output: str  # tail of stdout + stderr

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form (what the ``verification`` event holds)."""
        return {"kind": self.kind, "name": self.name, "command": self.command, "ok": self.ok,
                "returncode": self.returncode, "output": self.output}


def tail(text: str) -> str:
    """The last :data:`OUTPUT_TAIL` characters of ``text`` (marked with an ellipsis when cut)."""
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


def run_check(kind: str, name: str, command: str, worktree: Path, *, timeout: float | None) -> CheckResult:
    """Run one operator-written command in ``worktree`` and keep the tail of its output."""
    result = proc.run_shell_command(command, cwd=worktree, timeout=timeout)
    output = tail((result.stdout + ("\n" if result.stdout and result.stderr else "") + result.stderr).strip())
    if not result.ok and not output:  # a silent failure still tells whoever reads it what happened
        output = f"(the command printed nothing; exit status {result.returncode})"
    return CheckResult(kind, name, command, result.ok, result.returncode, output)
