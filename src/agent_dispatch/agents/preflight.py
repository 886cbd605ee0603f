"""Is an agent's tool there? The binary found and its version printed, before a sprint creates anything.

Gate 1 asks this for every dispatched agent, so a CLI that is not installed is reported before any
branch or worktree exists rather than when the agent's first session starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import proc
from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.agents.cli import CLIAdapter
from agent_dispatch.checkrun import find_program
from agent_dispatch.errors import FatalError

VERSION_TIMEOUT = 120.0  # seconds for `<cli> --version`; a hung CLI would hang on work too, but a
# Node or Bun CLI can take over 30 s to start on a loaded machine (seen: opencode in CI)


@dataclass(frozen=True)
class ToolCheck:
    """What preflight found for one agent's tool."""

    agent: str
    tool: str
    path: str | None  # the executable, when found
    version: str | None  # first line of `--version` (real CLIs only)
    problem: str | None  # what is wrong, with the fix; None when the tool is ready

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        """One line for the operator: ``alpha: claude /usr/bin/claude (1.0.3)`` or the problem."""
        if self.problem:
            return f"{self.agent}: {self.problem}"
        version = f" ({self.version})" if self.version else ""
        return f"{self.agent}: {self.tool} {self.path}{version}"


def check_tool(agent: str, tool: str, command: Sequence[str] | None, root: Path) -> ToolCheck:
    """Find ``agent``'s tool: a real CLI's binary (and its ``--version``), or the ``command``
    tool's program (a relative path is looked up in ``root``, a checkout like the agent's worktree)."""
    try:
        adapter = get_adapter(tool)
    except FatalError as e:
        return ToolCheck(agent, tool, None, None, str(e).replace("\n", "; "))
    if not isinstance(adapter, CLIAdapter):
        if not command:
            return ToolCheck(agent, tool, None, None, "uses the 'command' tool but the plan gives no command; "
                                                      "hint: add `command: [program, arg, ...]` to the agent")
        found = find_program(command[0], root)
        if found is None:
            return ToolCheck(agent, tool, None, None, f"command program {command[0]!r} is not installed "
                                                      "(not on PATH, no such executable file); hint: install "
                                                      "it or fix the agent's `command:`")
        return ToolCheck(agent, tool, found, None, None)  # the user's own program: never run it early
    try:
        exe = adapter.executable()
    except FatalError as e:
        return ToolCheck(agent, tool, None, None, str(e).replace("\n", "; "))
    try:
        result = proc.run(exe, "--version", check=False, timeout=VERSION_TIMEOUT)
    except Exception:  # the timeout (subprocess's business is proc's): a CLI that hangs here is broken
        return ToolCheck(agent, tool, exe, None, f"the {tool} CLI at {exe} did not answer `--version` within "
                                                 f"{VERSION_TIMEOUT:.0f}s; hint: run it by hand to see why")
    text = (result.stdout.strip() or result.stderr.strip()).splitlines()
    if not result.ok or not text:
        detail = text[-1] if text else "no output"
        return ToolCheck(agent, tool, exe, None, f"the {tool} CLI at {exe} failed `--version` (exit "
                                                 f"{result.returncode}: {detail}); hint: reinstall it or "
                                                 f"set DISPATCH_{adapter.name.upper()}_BIN")
    return ToolCheck(agent, tool, exe, text[0].strip(), None)
