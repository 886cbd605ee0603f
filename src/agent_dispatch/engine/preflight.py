"""Gate 1's tool and command checks: everything a sprint will run must exist before it creates anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent_dispatch.agents.preflight import check_tool
from agent_dispatch.checkrun import missing_programs
from agent_dispatch.engine.runtime import Runtime

_COMMANDS = ("build_command", "test_command", "setup_command", "lint_command")


@dataclass(frozen=True)
class ToolsAndCommands:
    """What preflight found: one line per agent's tool and per command, and every problem."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_tools_and_commands(rt: Runtime) -> ToolsAndCommands:
    """Every dispatched agent's tool (binary found, version printed) and the programs of the
    sprint's build / test / setup / lint commands (found on PATH or in the repository)."""
    report = ToolsAndCommands()
    for name in rt.context.dispatched:
        agent = rt.plan.agent(name)
        check = check_tool(name, agent.tool or rt.plan.sprint.tool, agent.command, rt.root)
        (report.lines if check.ok else report.problems).append(check.line())
    for key in _COMMANDS:
        command = getattr(rt.plan.sprint, key)
        if not command:
            continue
        missing = missing_programs(command, rt.root)
        if missing:
            report.problems.append(f"sprint.{key} `{command}` runs {', '.join(missing)}, which "
                                   f"{'is' if len(missing) == 1 else 'are'} not installed; hint: install "
                                   f"{'it' if len(missing) == 1 else 'them'} or change sprint.{key}")
        else:
            report.lines.append(f"sprint.{key}: `{command}`")
    return report
