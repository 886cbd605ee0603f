"""Kill -9 ``dispatch run`` at five points and resume: same final tree, no agent commit lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_dispatch.commands.demo import prepare_demo_repo
from agent_dispatch.store.log import EventLog
from conftest import git

KILL_POINTS = {
    "setup": lambda e: e.type == "agent_started",
    "agents_running": lambda e: e.type == "agent_session_started",
    "verification": lambda e: e.type == "verification",
    "landing": lambda e: e.type == "merge_step",
    "between_waves": lambda e: e.type == "wave_completed",
}


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600)


def agent_commits(repo: Path) -> set[str]:
    out = git(repo, "rev-list", "--branches=sprint-01/*", "--not", "refs/tags/start")
    return set(out.split())


@pytest.fixture(scope="module")
def baseline_tree(tmp_path_factory) -> str:
    repo = tmp_path_factory.mktemp("baseline") / "bookshop"
    prepare_demo_repo(repo)
    result = run_cli(repo, "run", "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return git(repo, "rev-parse", "main^{tree}").strip()


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_and_resume(tmp_path: Path, baseline_tree: str, point: str):
    repo = tmp_path / "bookshop"
    prepare_demo_repo(repo)
    git(repo, "tag", "start")
    plan = "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml"
    runner = subprocess.Popen([sys.executable, "-m", "agent_dispatch", "run", plan, "--yes"], cwd=repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = repo / ".dispatch" / "sprint-01" / "events.db"
    deadline = time.monotonic() + 120
    hit = False
    while time.monotonic() < deadline and runner.poll() is None and not hit:
        if db.exists():
            hit = any(KILL_POINTS[point](e) for e in EventLog(db).read())
        time.sleep(0.02)
    assert hit, f"never reached {point}"
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    log = EventLog(db)
    assert not any(e.type == "sprint_finished" for e in log.read()), "killed too late to test anything"
    time.sleep(0.5)  # sessions that survived the controller may still be committing
    before = agent_commits(repo)

    result = run_cli(repo, "resume", plan, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git(repo, "rev-parse", "main^{tree}").strip() == baseline_tree
    after = agent_commits(repo)
    assert before <= after  # every commit an agent made is still on its branch
    for commit in after:  # ... and landed on main
        assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "main"], cwd=repo).returncode == 0
    events = log.read()
    assert events[-1].type == "sprint_finished" and events[-1].data["outcome"] == "complete"
