"""Hostile agents: scripted `command` agents that try what an agent must not get away with.

Each act is refused or caught and recorded, the sprint goes on, the base branch moves only
through the merge train, no process outlives its session, and session logs stay under their cap.
These run with `sprint.sandbox: none`: without the bubblewrap sandbox writes outside the worktree
cannot be prevented, only detected after the session (`engine.watch`), and that backstop is what is
proven here; each test says what the sandbox adds (tests/test_sandbox.py proves the sandbox).
The table in docs/security.md ("Hostile agents") maps each behaviour to the test here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent_dispatch.executors.local import LOG_CAP_BYTES
from agent_dispatch.executors.sandbox import bwrap_problem
from conftest import git, make_repo
from test_engine import PLAN, dispatch, events

HOSTILE = Path(__file__).with_name("hostile_agent.py")
HONEST_ALPHA = [{"write": "app/a.py", "content": "VALUE = 2\n"}, {"commit": "alpha: VALUE = 2"},
                {"report": "COMPLETE"}, {"commit": "alpha: report"}]
HONEST_BETA = [{"write": "app/b.py", "content": "NAME = 'beta'\n"}, {"commit": "beta: name"},
               {"report": "COMPLETE"}, {"commit": "beta: report"}]


def hostile_repo(tmp_path: Path, acts: list[str], *, sandbox: str = "none") -> Path:
    """Agents ``beta`` (app/b.py, honest) and ``alpha`` (app/a.py and app/alpha/, hostile in its
    first session) in one wave. ``sandbox``: the plan's ``sprint.sandbox``; ``none`` by default,
    because these tests prove what is caught when writes outside the worktree are possible (no
    bubblewrap here, or a plan that turns it off); the sandbox itself is tests/test_sandbox.py."""
    repo = tmp_path / "proj"
    (repo / "app" / "alpha").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "alpha" / "__init__.py").write_text("")
    (repo / "app" / "a.py").write_text("VALUE = 0\n")
    (repo / "app" / "b.py").write_text("NAME = 'b'\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    agents = []
    for name, paths, honest, verify in (
            ("alpha", ["app/a.py", "app/alpha/"], HONEST_ALPHA, "`python -c 'import app.a as m; assert m.VALUE == 2'`"),
            ("beta", ["app/b.py"], HONEST_BETA, "`python -c 'import app.b as m; assert m.NAME == \"beta\"'`")):
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps({"default": honest}))
        command = [sys.executable, "-m", "agent_dispatch.testing.scripted_agent", str(script)]
        if name == "alpha":
            command = [sys.executable, str(HOSTILE), str(script), *acts]
        agents.append({"name": name, "role": "DATA" if name == "alpha" else "BACKEND",
                       "territory": {"include": paths}, "command": command,
                       "chains": [{"id": "chain-1", "priority": "P1", "title": f"{name} work",
                                   "vector": "app.main() → app.load()", "signal": "wrong value",
                                   "fix_site": f"{paths[0]} value", "verify": verify}]})
    plan = {"sprint": {"id": "sprint-01", "theme": "hostile agents", "base_branch": "main", "tool": "command",
                       "build_command": "python -m compileall -q app", "test_command": "python -c 'import app'",
                       "sandbox": sandbox},
            "agents": agents, "waves": [{"number": 1, "agents": ["beta", "alpha"]}], "merge_order": ["beta", "alpha"]}
    (repo / PLAN).parent.mkdir(parents=True)
    YAML().dump(plan, repo / PLAN)
    make_repo(repo)
    return repo


def alive_with(marker: str) -> list[int]:
    """Live processes whose command line carries ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def test_hostile_session_is_caught_recorded_and_the_sprint_lands_only_through_the_train(tmp_path: Path) -> None:
    marker = f"hostile-daemon-{os.getpid()}-{tmp_path.name}"
    repo = hostile_repo(tmp_path, ["wait=gate-3:beta", "commit", "move-refs", "write-main", "write-other", "delete-log", "flood=300",
                                   f"daemon={marker}", "hang"])
    try:
        result = dispatch(repo, "run", str(repo / PLAN), "--yes", "--session-timeout", "60")
        log = events(repo)
        # The sprint went on: both agents landed, through the merge train only.
        assert result.returncode == 0, result.stdout + result.stderr
        assert log[0]["type"] == "sprint_started" and log[-1]["type"] == "sprint_finished"
        updates = [e for e in log if e["type"] == "ref_updated"]
        assert updates and all(e["data"]["validated"] for e in updates)
        assert git(repo, "rev-parse", "main").strip() == updates[-1]["data"]["new"]
        moves = git(repo, "reflog", "show", "--format=%H", "refs/heads/main").split()
        assert len(moves) == len(updates) + 1  # its creation, then the train's moves and no other
        # The ref guard refused moving beta's branch and pushing into main (the session log says so).
        session = (repo / ".dispatch" / "sprint-01" / "logs" / "alpha-1.log").read_bytes()
        assert b"refused to change refs/heads/sprint-01/beta" in session
        assert b"refused to push refs/heads/main into this repository" in session
        assert "alpha: hostile work" not in git(repo, "log", "--format=%s", "sprint-01/beta")
        # Never exiting: the session timeout stopped it; the next session was a recovery, not a retry.
        ended = next(e for e in log if e["type"] == "agent_session_ended" and e["agent"] == "alpha")
        assert ended["data"]["reason"] == "timeout"
        assert [e["data"]["kind"] for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"][0] == "recover"
        # Flooding stdout: the log kept its cap.
        assert len(session) <= LOG_CAP_BYTES and b"bytes of output dropped here" in session
        # Without the sandbox writes outside the worktree happen; they are detected and recorded.
        outside = {e["data"]["place"]: e["data"]["paths"] for e in log if e["type"] == "outside_write"}
        assert outside["main checkout"] == ["hostile-main.txt"]
        assert [paths for place, paths in outside.items() if place.startswith("worktree ")] == [["hostile-other.txt"]]
        # Deleting .dispatch's event log: the engine wrote its copy back (every event since the start).
        assert str(repo / ".dispatch" / "sprint-01" / "events.db") in outside["event log"]
        # Nothing the agent started outlives its session.
        assert alive_with(marker) == []
    finally:
        for pid in alive_with(marker):
            os.kill(pid, 9)


def test_symlink_out_of_the_worktree_fails_gate3_and_never_lands(tmp_path: Path) -> None:
    repo = hostile_repo(tmp_path, ["symlink"])
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    log = events(repo)
    failed = next(e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-3:alpha")
    reasons = [r for r in failed["data"]["reasons"] if r.startswith("symlink")]
    assert reasons == [
        "symlink app/alpha/abs points out of the worktree (to /etc/hostname): a checkout of the base branch would follow it",
        "symlink app/alpha/escape points out of the worktree (to ../../../../../../../../etc/passwd): "
        "a checkout of the base branch would follow it"]
    # The honest agent in the same wave finished; nothing of alpha's reached the base branch.
    assert any(e["type"] == "gate_passed" and e["data"]["gate"] == "gate-3:beta" for e in log)
    assert git(repo, "ls-tree", "-r", "--name-only", "main", "app/alpha/").split() == ["app/alpha/__init__.py"]


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap cannot run here")
def test_under_the_sandbox_writes_outside_the_worktree_are_refused_and_the_sprint_goes_on(tmp_path: Path) -> None:
    repo = hostile_repo(tmp_path, ["commit", "move-refs", "write-main", "write-other", "delete-log"],
                        sandbox="bwrap")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    assert {e["data"]["sandbox"] for e in log if e["type"] == "agent_session_started"} == {"bwrap"}
    # Refused at the write, not found afterwards: nothing changed outside alpha's worktree.
    session = (repo / ".dispatch" / "sprint-01" / "logs" / "alpha-1.log").read_text()
    assert "write-main: refused: [Errno 30] Read-only file system" in session
    assert "delete-log: refused: [Errno 30] Read-only file system" in session
    assert not (repo / "hostile-main.txt").exists()
    assert [e for e in log if e["type"] == "outside_write"] == []
    assert log[0]["type"] == "sprint_started" and log[-1]["type"] == "sprint_finished"
    # Refs: the base branch is read-only, a sibling's ref is kept by the ref guard; the base moved
    # only through the merge train.
    assert "alpha: hostile work" not in git(repo, "log", "--format=%s", "sprint-01/beta")
    updates = [e for e in log if e["type"] == "ref_updated"]
    assert updates and all(e["data"]["validated"] for e in updates)
    moves = git(repo, "reflog", "show", "--format=%H", "refs/heads/main").split()
    assert len(moves) == len(updates) + 1
