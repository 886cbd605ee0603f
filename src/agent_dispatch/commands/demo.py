"""``dispatch demo``: a whole sprint on the bundled bookshop example, with scripted agents.

The example is copied to a temporary directory and made a git repository; its plan is switched to
the `command` tool running :mod:`agent_dispatch.testing.demo_agent`, which really edits code,
commits, reports chain progress and writes completion reports. One agent's first fix is wrong, so
the run shows verification failing and the tier-1 retry message fixing it.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import sys
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from agent_dispatch import git, output, proc
from agent_dispatch.commands.run import report_outcome, open_runtime
from agent_dispatch.engine.runtime import Options
from agent_dispatch.engine.sprint import run_sprint
from agent_dispatch.ui.board import live_board

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bookshop"
PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")


def example_path() -> Path:
    """Where the bundled bookshop example lives inside the installed package."""
    return EXAMPLE


def prepare_demo_repo(target: Path) -> Path:
    """Copy the example to ``target``, point its plan at the scripted agents, commit; returns the plan."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    plan = target / PLAN
    yaml = YAML(typ="rt")
    data = yaml.load(plan.read_text(encoding="utf-8"))
    data["sprint"]["tool"] = "command"
    for agent in data["agents"]:
        agent["command"] = [sys.executable, "-m", "agent_dispatch.testing.demo_agent"]
    stream = io.StringIO()
    yaml.dump(data, stream)
    plan.write_text(stream.getvalue(), encoding="utf-8")
    # Agents commit in their worktrees: give the demo repository an identity of its own.
    git.create_repo(target, "bookshop: starting point", branch="main", name="dispatch demo",
                    email="demo@localhost")
    return plan


def run_demo(*, directory: Path | None = None, keep: bool = True) -> int:
    """Run the demo sprint end to end and print where to look; 0 when the sprint landed everything."""
    parent = Path(tempfile.mkdtemp(prefix="dispatch-demo-")) if directory is None else directory
    repo = parent / "bookshop"
    plan = prepare_demo_repo(repo)
    output.write(f"demo repository: {repo}\nplan: {plan}\n")
    rt = open_runtime(plan, repo=repo, options=Options(yes=True, session_timeout=300, check_timeout=120))
    with live_board(rt.log, output.console):
        outcome = asyncio.run(run_sprint(rt))
    code = report_outcome(rt, outcome)
    tests = proc.run_shell_command(rt.plan.sprint.test_command, cwd=repo)
    log = git.recent_log(repo, 8, rev="main", first_parent=True)
    output.write(f"\nmain after the sprint (first parent):\n{log}")
    output.write(f"tests on main: {'PASS' if tests.ok else 'FAIL'} ({rt.plan.sprint.test_command})")
    output.write(f"look at: {repo} (git log --graph), {rt.state_dir}/logs, "
                 f"`dispatch events --sprint sprint-01` and `dispatch status {plan}` run from {repo}")
    if not keep:
        shutil.rmtree(parent, ignore_errors=True)
    return code if tests.ok else 1
