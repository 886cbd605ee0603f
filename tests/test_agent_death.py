"""An agent session killed by SIGKILL while the orchestrator keeps running (issue 13, item 4).

The agent edits files (a tracked one, new ones in a new directory, one its .gitignore ignores),
claims its chain in progress with `dispatch chain`, says what it is doing, then dies: its whole
session tree is SIGKILLed from outside, or it SIGKILLs itself (a crashed or OOM-killed CLI).
Nothing is lost: everything but the ignored file is in the WIP commit; the next session gets a
recovery message that quotes the chain in progress, the saved files with their stats and the
agent's last output (secrets redacted); no retry tier is spent and the sprint finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.agents.base import SIGKILLED_DETAIL
from agent_dispatch.executors._nsinit import MARKER_VAR
from agent_dispatch.executors.local import LocalExecutor
from agent_dispatch.git import held_locks, remove_locks, worktree_git_dir
from agent_dispatch.sessions.activity import LINE_CHARS, recent_activity
from agent_dispatch.store.log import EventLog
from conftest import git, make_repo
from test_engine import PLAN, events, sprint_repo, write_value

SECRET = "sk-ant-api03-" + "Q" * 40  # a token in a known format, printed by the agent before it dies
READY = "app/alpha/ready"  # written by the agent once its work is in progress (the test then kills it)
SAVED = "app/alpha/recovery.md"  # the second session keeps the message it was started with here


def working_session(end: list[dict]) -> list[dict]:
    """The first session: uncommitted work of every kind, a chain claimed in progress, then ``end``."""
    return [
        {"chain": "chain-1", "state": "FIXING"},
        {"write": "app/a.py", "content": "VALUE = 1\n# halfway: load() still reads the old file\n"},
        {"write": "app/alpha/__init__.py", "content": ""},
        {"write": "app/alpha/deep/notes.md", "content": "step 1 done\nstep 2: wire load()\nstep 3: test\n"},
        {"write": "app/alpha/debug.scratch", "content": "ignored by .gitignore\n"},
        {"say": "reading app/a.py to find where VALUE is loaded"},
        {"say": f"calling the API with key {SECRET}"},
        {"say": "editing app/a.py: VALUE = 1 for now, load() next"},
        *end,
    ]


def death_repo(tmp_path: Path, first: list[dict], sandbox: str | None) -> Path:
    second = [{"save_message": SAVED}, *write_value(2)]
    repo = sprint_repo(tmp_path, {"alpha": {"1": first, "2": second}}, sandbox=sandbox,
                       files={".gitignore": "__pycache__/\n*.scratch\n"})
    plan = YAML().load((repo / PLAN).read_text())
    plan["agents"][0]["territory"]["include"] = ["app/a.py", "app/alpha/"]
    YAML().dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "alpha owns app/alpha/ too")
    return repo


def start_run(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def first_session(repo: Path, run: subprocess.Popen[str], *ready: str) -> dict:
    """alpha's first ``agent_session_started`` data, once every ``ready`` path exists (a path in its
    worktree, or ``git:<name>`` in its worktree's git directory)."""
    db = repo / ".dispatch" / "sprint-01" / "events.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()
        if db.exists():
            with EventLog(db) as log:
                seen = [e for e in log.read(types=["agent_started", "agent_session_started"]) if e.agent == "alpha"]
            if len(seen) == 2:
                worktree = Path(seen[0].data["worktree"])
                targets = [worktree_git_dir(worktree) / r[4:] if r.startswith("git:") else worktree / r
                           for r in ready]
                if all(target.exists() for target in targets):
                    return {**seen[1].data, "worktree": str(worktree)}
        time.sleep(0.1)
    run.kill()
    raise AssertionError("alpha's first session never got to its work")


def kill_tree(pgid: int) -> None:
    """SIGKILL the session's whole process group (its namespace init with it), from outside."""
    os.killpg(pgid, signal.SIGKILL)


def finish(run: subprocess.Popen[str]) -> None:
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    assert "Traceback" not in err, err


def assert_recovered(repo: Path) -> tuple[str, str]:
    """The killed session's work was saved and recovered; returns (WIP commit, recovery message)."""
    log = events(repo)
    alpha = [e for e in log if e["agent"] == "alpha"]
    outcomes = [e["data"] for e in alpha if e["type"] == "session_outcome"]
    assert outcomes[0]["attempt"] == 1 and outcomes[0]["reason"] == "killed", outcomes
    # A crash is recovered, never judged: no chain failure, no retry tier.
    assert not [e for e in alpha if e["type"] in {"chain_failed", "retry_scheduled"}]
    wips = [e["data"]["commit"] for e in alpha if e["type"] == "wip_committed"]
    assert len(wips) == 1
    wip = wips[0]
    saved = set(git(repo, "diff", "--name-only", f"{wip}^", wip).split())
    assert saved - {READY} == {"app/a.py", "app/alpha/__init__.py", "app/alpha/deep/notes.md"}
    assert git(repo, "show", f"{wip}:app/a.py").startswith("VALUE = 1\n# halfway")
    assert git(repo, "show", f"{wip}:app/alpha/deep/notes.md") == "step 1 done\nstep 2: wire load()\nstep 3: test\n"
    assert "app/alpha/debug.scratch" not in saved  # ignored: not the agent's work
    queued = [e["data"] for e in alpha if e["type"] == "message_queued"]
    assert [q["kind"] for q in queued][:1] == ["recover"]
    text = Path(queued[0]["file"]).read_text()
    # The next session was started with it, and the agent read exactly that.
    second = next(e["data"] for e in alpha if e["type"] == "agent_session_started" and e["data"]["attempt"] == 2)
    assert second["message"] == "recover"
    assert any(e["type"] == "intervention_sent" and e["data"]["kind"] == "recover" for e in alpha)
    assert git(repo, "show", f"main:{SAVED}") == text
    # The sprint finished with alpha's fix landed.
    assert log[-1]["type"] == "sprint_finished" and log[-1]["data"]["outcome"] == "complete"
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
    return wip, text


def assert_quotes_the_work(text: str, wip: str) -> None:
    """The recovery message quotes the chain in progress, the saved files and the last activity."""
    assert "killed (SIGKILL)" in text
    assert "chain chain-1 [P1]: alpha work" in text and "(you had claimed it FIXING)" in text
    assert "Vector: app.main() → app.a.load()" in text and "Fix:    app/a.py VALUE" in text
    assert "Verify: `python -c 'import app.a as m; assert m.VALUE == 2, m.VALUE'`" in text
    assert f"commit {wip[:12]}" in text
    assert "app/a.py | +2 -1" in text
    assert "app/alpha/deep/notes.md | +3 -0 (new)" in text
    assert "Files your .gitignore ignores were not saved" in text
    assert "editing app/a.py: VALUE = 1 for now, load() next" in text
    assert "reading app/a.py to find where VALUE is loaded" in text
    assert SECRET not in text and "[REDACTED]" in text
    assert "RETRY" not in text and len(text.splitlines()) < 60


@pytest.mark.parametrize("sandbox", [None, "none"], ids=["sandboxed", "unsandboxed"])
def test_session_tree_killed_from_outside_loses_nothing(tmp_path: Path, sandbox: str | None):
    repo = death_repo(tmp_path, working_session([{"write": READY, "content": "x"}, {"sleep": 300}]), sandbox)
    run = start_run(repo)
    started = first_session(repo, run, READY)
    assert started["sandbox"] == ("none" if sandbox else "bwrap")
    kill_tree(started["record"]["pgid"])
    finish(run)
    wip, text = assert_recovered(repo)
    assert_quotes_the_work(text, wip)


def test_agent_that_dies_by_sigkill_itself_is_recovered(tmp_path: Path):
    repo = death_repo(tmp_path, working_session([{"kill_self": True}]), None)
    finish(start_run(repo))
    wip, text = assert_recovered(repo)
    assert_quotes_the_work(text, wip)


def test_session_killed_mid_commit_leaves_a_stale_lock_and_the_wip_save_still_works(tmp_path: Path):
    # `git commit -a` holds the worktree's index.lock while its editor runs: killed there, git
    # never removes it, and every later `git add` would fail on it.
    hang = [{"run": ["git", "commit", "-a"], "env": {"GIT_EDITOR": "sleep 300"}}]
    repo = death_repo(tmp_path, working_session(hang), None)
    run = start_run(repo)
    # Its last write done, the lock can only be its `git commit -a`'s.
    started = first_session(repo, run, "app/alpha/debug.scratch", "git:index.lock")
    kill_tree(started["record"]["pgid"])
    finish(run)
    wip, text = assert_recovered(repo)
    assert_quotes_the_work(text, wip)
    saved = next(e["data"] for e in events(repo) if e["type"] == "wip_committed")
    assert saved["stale_locks"] == ["index.lock"]


def test_a_lock_is_stale_only_when_no_process_of_the_session_is_alive(tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    (worktree_git_dir(repo) / "index.lock").write_text("")
    assert held_locks(repo) == ["index.lock"]
    # The session's main process is gone, but a process it started still carries its marker.
    marker = "death-test-marker"
    leftover = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER_VAR: marker})
    record = {"session_id": "s", "pid": leftover.pid, "pgid": leftover.pid, "start_time": 0, "started_at": 0.0,
              "log_path": "", "status_path": "", "timeout_s": None, "containment": "pgroup", "marker": marker}
    executor = LocalExecutor()
    try:
        assert executor.session_alive(record)  # start_time 0: not its main process, but marked
    finally:
        leftover.kill()
        leftover.wait()
    assert not executor.session_alive(record)
    assert remove_locks(repo) == ["index.lock"] and held_locks(repo) == []


@pytest.mark.parametrize("exit_code", [-signal.SIGKILL, 128 + signal.SIGKILL], ids=["unsandboxed", "bwrap"])
@pytest.mark.parametrize("tool", ["command", "claude", "gemini"])
def test_death_by_sigkill_is_a_crash_not_a_failed_attempt(tool: str, exit_code: int):
    outcome = get_adapter(tool).outcome(exit_code, b"", timed_out=False, killed=False)
    assert (outcome.reason, outcome.detail) == ("killed", SIGKILLED_DETAIL)
    assert get_adapter(tool).outcome(1, b"", timed_out=False, killed=False).reason == "failed"


def test_activity_quotes_the_last_tool_calls_and_words_of_a_cli_stream():
    sid = "5b0c1c4e-0000-4000-8000-000000000001"

    def said(block: dict, n: int) -> str:
        return json.dumps({"type": "assistant", "session_id": sid, "parent_tool_use_id": None,
                           "message": {"id": f"msg_{n}", "role": "assistant", "content": [block]}})

    lines = [json.dumps({"type": "system", "subtype": "init", "session_id": sid, "tools": ["Bash", "Edit"]})]
    lines += [said({"type": "text", "text": f"step {n}"}, n) for n in range(10)]
    lines.append(said({"type": "tool_use", "id": "t1", "name": "Edit",
                       "input": {"file_path": "app/a.py", "old_string": "x" * 500, "new_string": "y"}}, 11))
    lines.append(said({"type": "tool_use", "id": "t2", "name": "Bash",
                       "input": {"command": f"curl -H 'x-api-key: {SECRET}' " + "z" * 400}}, 12))
    activity = recent_activity("claude", "\n".join(lines) + "\n", limit=4)
    assert activity[:2] == ["said: step 8", "said: step 9"]
    assert activity[2] == "tool Edit: file_path=app/a.py"
    assert activity[3].startswith("tool Bash: command=curl -H 'x-api-key: [REDACTED]'")
    assert len(activity[3]) == LINE_CHARS and activity[3].endswith("…")
    # A `command` agent has no stream: the last lines it printed.
    assert recent_activity("command", b"one\n\ntwo\nthree\n", limit=2) == ["two", "three"]
