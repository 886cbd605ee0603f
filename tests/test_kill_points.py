"""Kill -9 ``dispatch run`` at points named by the event log, then ``dispatch resume``.

Each kill point is a distinct state: the engine SIGKILLs itself right after it records its n-th event
of one type (``DISPATCH_TEST_KILL_AFTER``, engine/runtime.py), and the test checks that the engine
had not yet recorded the event of its next step. One point also kills an agent's session while it
holds uncommitted edits (``DEMO_AGENT_HOLD``, testing/demo_agent.py), so resume runs the crash
path: the session is lost, its work is saved as a WIP commit and the agent gets a recovery message.

After resume: every agent commit made before is still there (and landed), the base branch's tree is
that of an uninterrupted run of the same plan, the retry ladder is that run's too (no tier spent by
the interrupt), no message was delivered twice, and the sprint finished complete. bench/chaos.py
kills at seeded random points; every defect it found has a named point here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_dispatch.agents.base import PASS_ENV_VAR
from agent_dispatch.commands.demo import prepare_demo_repo
from agent_dispatch.engine.runtime import KILL_AFTER_ENV
from agent_dispatch.git import worktree_git_dir as git_dir
from agent_dispatch.store.log import EventLog
from agent_dispatch.testing.demo_agent import HOLD_ENV
from conftest import git

PLAN = "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml"
HELD = "data"  # the agent whose session is killed with uncommitted work (wave 1)


@dataclass(frozen=True)
class KillPoint:
    after: str  # "<event type>:<n>": the engine dies right after recording this event
    not_yet: str  # an event type of the engine's next step, absent from the log at death
    kill_session: bool = False  # also SIGKILL HELD's session while it holds uncommitted edits


KILL_POINTS = {
    # one worktree made, the other not, no wave started
    "setup": KillPoint("agent_started:1", "wave_started"),
    # both wave-1 sessions running, none of their outcomes read
    "sessions_running": KillPoint("agent_session_started:2", "session_outcome"),
    # the same, with HELD's session killed too: its edits are uncommitted when it dies
    "session_killed_dirty": KillPoint("agent_session_started:2", "session_outcome", kill_session=True),
    # in the middle of an agent's checks: one recorded, no chain verified by the tool yet
    "verification": KillPoint("verification:1", "agent_state"),
    # validation of wave 1 recorded, nothing merged yet (before the first merge_step)
    "validation": KillPoint("merge_validation:1", "merge_step"),
    # the base moved for wave 1, the wave not yet completed
    "landed": KillPoint("ref_updated:1", "wave_completed"),
    # SERVICES' chain failed verification, its retry not yet scheduled (found by bench/chaos.py:
    # resume judged the same session again and spent tier 2 on the interrupt)
    "retry_recorded": KillPoint("chain_failed:1", "retry_scheduled"),
    # ... and with the retry scheduled, its message not yet queued
    "retry_scheduled": KillPoint("retry_scheduled:1", "message_queued"),
}


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600)


def agent_commits(repo: Path) -> set[str]:
    out = git(repo, "rev-list", "--branches=sprint-01/*", "--not", "refs/tags/start")
    return set(out.split())


def retry_ladder(events: list) -> list[tuple[str, str | None, str | None, int]]:
    """Every rung of the retry ladder the log records: (type, agent, chain, tier), in order."""
    return [(e.type, e.agent, e.chain, e.data["tier"]) for e in events if e.type in ("chain_failed", "retry_scheduled")]


@dataclass(frozen=True)
class Baseline:
    tree: str  # the base branch's tree
    ladder: list  # retry_ladder() of its log


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """An uninterrupted run of the plan."""
    repo = tmp_path_factory.mktemp("baseline") / "bookshop"
    prepare_demo_repo(repo)
    result = run_cli(repo, "run", PLAN, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    ladder = retry_ladder(EventLog(repo / ".dispatch" / "sprint-01" / "events.db").read())
    assert ladder, "the demo's SERVICES agent no longer fails its first verification"
    return Baseline(git(repo, "rev-parse", "main^{tree}").strip(), ladder)


def kill_held_session(log: EventLog, marker: Path) -> None:
    """Wait until HELD's first session holds its edits uncommitted, then SIGKILL its whole tree."""
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert time.monotonic() < deadline, f"{HELD}'s session never reached its uncommitted edits"
        time.sleep(0.05)
    started = next(e for e in log.read() if e.type == "agent_session_started" and e.agent == HELD)
    # The session's process group: its shim (which would write the exit status) dies with it.
    pgid = started.data["record"]["pgid"]
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while group_alive(pgid):
        assert time.monotonic() < deadline, "the held session survived SIGKILL"
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` is still running (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_and_resume(tmp_path: Path, baseline: Baseline, point: str) -> None:
    kill = KILL_POINTS[point]
    repo = tmp_path / "bookshop"
    prepare_demo_repo(repo)
    git(repo, "tag", "start")
    marker = f"held-{point}"  # written into the held worktree's git directory
    env = {**os.environ, KILL_AFTER_ENV: kill.after}
    if kill.kill_session:
        env[HOLD_ENV] = f"{HELD}:{marker}"
        env[PASS_ENV_VAR] = HOLD_ENV  # sessions get only the variables they are allowed
    run = run_cli_env(repo, env, "run", PLAN, "--yes")
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr

    db = repo / ".dispatch" / "sprint-01" / "events.db"
    log = EventLog(db)
    events = log.read()
    type_, _, nth = kill.after.partition(":")
    assert sum(e.type == type_ for e in events) == int(nth)
    assert not any(e.type == kill.not_yet for e in events), f"{point}: died after {kill.not_yet}"
    worktree = Path(next(e for e in events if e.type == "agent_started" and e.agent == HELD).data["worktree"])
    held_work = None
    if kill.kill_session:
        kill_held_session(log, git_dir(worktree) / marker)
        held_work = (worktree / "bookshop" / "store.py").read_text()
        assert git(worktree, "status", "--porcelain").strip(), "the killed session left nothing uncommitted"
    time.sleep(0.5)  # sessions that survived the controller may still be committing
    before = agent_commits(repo)

    result = run_cli(repo, "resume", PLAN, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git(repo, "rev-parse", "main^{tree}").strip() == baseline.tree
    after = agent_commits(repo)
    assert before <= after  # every commit an agent made is still on its branch
    for commit in after:  # ... and landed on main
        assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "main"], cwd=repo).returncode == 0
    events = log.read()
    assert events[-1].type == "sprint_finished" and events[-1].data["outcome"] == "complete"
    assert retry_ladder(events) == baseline.ladder  # an interrupt spends no retry tier
    sent = [e.data["file"] for e in events if e.type == "intervention_sent"]
    assert len(sent) == len(set(sent)), f"a message was delivered twice: {sent}"
    if held_work is not None:
        assert_crash_path(repo, events, held_work)


def run_cli_env(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600, env=env)


def assert_crash_path(repo: Path, events: list, held_work: str) -> None:
    """HELD's lost session was recovered: its uncommitted edits saved as a WIP commit on its branch
    (landed), and its next session started with the recovery message."""
    lost = [e for e in events if e.type == "session_outcome" and e.agent == HELD and e.data["attempt"] == 1]
    assert [e.data["reason"] for e in lost] == ["lost"]
    wips = [e.data["commit"] for e in events if e.type == "wip_committed" and e.agent == HELD]
    assert len(wips) == 1, "the dead session's uncommitted work was not saved"
    wip = wips[0]
    assert git(repo, "show", f"{wip}:bookshop/store.py") == held_work  # exactly what it had written
    assert "bookshop/store.py" in git(repo, "diff", "--name-only", f"{wip}^", wip).split()
    assert subprocess.run(["git", "merge-base", "--is-ancestor", wip, "main"], cwd=repo).returncode == 0
    queued = [e.data["kind"] for e in events if e.type == "message_queued" and e.agent == HELD]
    assert queued[:1] == ["recover"]
