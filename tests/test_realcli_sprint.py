"""The bundled example sprint run end to end by real agent CLIs against the fake model server.

Every agent of the bookshop plan is a real Claude Code (or Codex) session. The scripted model
tells it to run the bookshop's reference fix as a shell command, so the CLI really executes tool
calls in its worktree; the engine verifies, retries (the SERVICES agent's first fix is wrong),
delivers the correction by resuming the CLI session, and lands everything.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import git
from realcli import RealCLI, dispatch_json

from agent_dispatch.commands.demo import prepare_demo_repo


def real_cli_plan(tmp_path: Path, tool: str) -> Path:
    plan = prepare_demo_repo(tmp_path / "bookshop")
    yaml = YAML(typ="rt")
    data = yaml.load(plan.read_text(encoding="utf-8"))
    data["sprint"]["tool"] = tool
    data["sprint"]["model"] = "fake-model"
    for agent in data["agents"]:
        agent.pop("command", None)
    stream = io.StringIO()
    yaml.dump(data, stream)
    plan.write_text(stream.getvalue(), encoding="utf-8")
    repo = plan.parents[4]
    git(repo, "commit", "-qam", f"plan: agents run on {tool}")
    return plan


def run_example(tmp_path: Path, realcli: RealCLI) -> None:
    tool = realcli.name
    plan = real_cli_plan(tmp_path, tool)
    repo = plan.parents[4]
    fix = f"{sys.executable} -m agent_dispatch.testing.demo_agent"
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"rules": [{"match": None, "steps": [{"shell": fix}, {"text": "Done."}]}]}))
    result = realcli.rehearse(repo, plan, scenario, timeout=1200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    log = dispatch_json(repo, "events", "--json")
    starts = [e for e in log if e["type"] == "agent_session_started"]
    assert starts and {e["data"]["tool"] for e in starts} == {tool}
    outcomes = [e["data"] for e in log if e["type"] == "session_outcome"]
    assert outcomes and all(o["reason"] == "ended" and o["cli_session"] for o in outcomes), outcomes
    # The SERVICES agent's wrong first fix came back as a tier-1 retry, delivered by resume.
    retried = [e for e in starts if e["data"]["message"] == "retry_1"]
    assert retried and all(e["data"]["resumed"] for e in retried)
    status = dispatch_json(repo, "status", "--json", str(plan))
    assert status["finished"]["outcome"] == "complete"
    assert all(a["state"] == "COMPLETE" for a in status["agents"].values())
    merged = git(repo, "log", "--first-parent", "--format=%s", "main")
    assert merged.count("validated branch(es)") >= 3
    tests = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests", "-q"], cwd=repo,
                           capture_output=True, text=True)
    assert tests.returncode == 0, tests.stderr


@pytest.mark.realcli("claude")
def test_example_sprint_with_claude(tmp_path: Path, realcli: RealCLI):
    run_example(tmp_path, realcli)


@pytest.mark.realcli("codex")
def test_example_sprint_with_codex(tmp_path: Path, realcli: RealCLI):
    run_example(tmp_path, realcli)
