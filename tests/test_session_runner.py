"""One agent session without a sprint: the session runner, outcomes read through the executor,
executors chosen by name (plan field and ``--executor``). Real processes and repositories."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent_dispatch.agents.base import SessionRequest, output_text
from agent_dispatch.errors import FatalError
from agent_dispatch.executors.base import SessionResult, SessionSpec
from agent_dispatch.executors.local import LocalExecutor
from agent_dispatch.executors.registry import executor_names, get_executor
from agent_dispatch.plan.model import KNOWN_EXECUTORS
from agent_dispatch.sessions.runner import (
    adopt_session,
    finish_session,
    run_session,
    start_session,
    wait_session,
)
from test_engine import PLAN, dispatch, events, sprint_repo, write_value

AGENT = """\
import os, pathlib, sys
pathlib.Path("done.txt").write_text(os.environ["DISPATCH_AGENT"] + " " + os.environ["DISPATCH_ATTEMPT"])
print("working on", os.environ["DISPATCH_REPORT_PATH"], flush=True)
sys.exit(int(sys.argv[1]))
"""

# What the Claude CLI prints with --output-format stream-json: its session id, usage and cost.
CLAUDE_STREAM = [
    {"type": "system", "subtype": "init", "session_id": "cli-42"},
    {"type": "result", "subtype": "success", "is_error": False, "session_id": "cli-42", "result": "done",
     "usage": {"input_tokens": 120, "output_tokens": 30}, "total_cost_usd": 0.0125},
]


def request(tmp_path: Path, argv: list[str], *, attempt: int = 1) -> SessionRequest:
    worktree = tmp_path / "work"
    worktree.mkdir(exist_ok=True)
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Do the work.\n")
    return SessionRequest(sprint="plan-01", agent="planner", role="PLANNER", branch="plan-01/planner",
                          base_branch="main", worktree=worktree, prompt_file=prompt, report_path="report.md",
                          attempt=attempt, command=tuple(argv))


def test_runner_runs_a_command_session_without_a_sprint(tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    executor = LocalExecutor()
    run = asyncio.run(run_session("command", request(tmp_path, [sys.executable, str(script), "0"]), executor,
                                  log_path=tmp_path / "logs" / "planner.log", timeout_s=60))
    assert (run.tool, run.result.reason, run.result.exit_code) == ("command", "exited", 0)
    assert (run.outcome.reason, run.usage, run.adopted) == ("ended", None, False)
    assert run.result.session_id == "plan-01-planner-1"
    assert (tmp_path / "work" / "done.txt").read_text() == "planner 1"  # ran in the worktree, with the contract
    assert executor.read_output(run.result) == b"working on report.md\n"


def test_runner_reports_a_limit_and_a_failure(tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)

    async def both() -> list:
        executor = LocalExecutor()
        return await asyncio.gather(*(
            run_session("command", request(tmp_path, [sys.executable, str(script), code], attempt=n), executor,
                        log_path=tmp_path / "logs" / f"{n}.log")
            for n, code in ((1, "75"), (2, "3"))))

    limit, failed = asyncio.run(both())
    assert (limit.outcome.reason, limit.outcome.exit_code) == ("limit", 75)
    assert (failed.outcome.reason, failed.outcome.detail) == ("failed", "exited with status 3")


def test_cancelling_the_wait_stops_the_session_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    argv = [sys.executable, "-c", f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "time.sleep(300)"]
    executor = LocalExecutor(timeout_grace=0.5)
    running = start_session("command", request(tmp_path, argv), executor, log_path=tmp_path / "s.log")

    async def interrupted() -> None:
        task = asyncio.create_task(finish_session(running))
        while not pidfile.exists():
            await asyncio.sleep(0.05)
        task.cancel()  # what Ctrl-C does to the sprint's tasks
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    assert running.result is not None and running.result.reason == "killed"
    assert not executor.is_alive(running.handle)


class FetchingExecutor(LocalExecutor):
    """A local executor that behaves like a remote one for output: it fetches a finished session's
    log into its own store (the file at ``log_path`` is gone afterwards) and reads it from there."""

    def __init__(self, store: Path) -> None:
        super().__init__()
        self.store = store
        self.fetched: list[str] = []

    def read_output(self, result: SessionResult) -> bytes:
        self.store.mkdir(parents=True, exist_ok=True)
        kept = self.store / f"{result.session_id}.out"
        os.replace(result.log_path, kept)
        self.fetched.append(result.session_id)
        return kept.read_bytes()


def test_adopted_session_outcome_comes_through_the_executor(tmp_path: Path) -> None:
    # An earlier controller started a Claude-like session (a script printing the CLI's stream) and died.
    stream = "".join(json.dumps(line) + "\n" for line in CLAUDE_STREAM)
    go = tmp_path / "go"
    argv = [sys.executable, "-c", "import os, sys, time\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\nsys.stdout.write({stream!r})"]
    log = tmp_path / "logs" / "alpha-1.log"
    earlier = LocalExecutor().start(SessionSpec("s1-alpha-1", tuple(argv), tmp_path, {"PATH": os.defpath}, log,
                                                timeout_s=60))
    record = json.loads(json.dumps(earlier.record.as_data()))  # what the event log kept

    executor = FetchingExecutor(tmp_path / "fetched")
    running = adopt_session("claude", record, executor)
    assert running.adopted and running.spec is None and running.record.pid == earlier.record.pid

    async def adopted() -> object:
        task = asyncio.create_task(finish_session(running))
        await asyncio.sleep(0.2)
        go.touch()
        return await task

    run = asyncio.run(adopted())
    assert executor.fetched == ["s1-alpha-1"] and not log.exists()
    assert (run.adopted, run.result.reason, run.outcome.reason) == (True, "exited", "ended")
    assert run.outcome.cli_session == "cli-42"
    assert run.usage is not None
    assert (run.usage.input_tokens, run.usage.output_tokens, run.usage.cost_usd) == (120, 30, 0.0125)
    assert run.usage.cli_session == "cli-42" and not run.usage.spans_resumes


def test_adopting_a_session_that_ended_meanwhile(tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    executor = LocalExecutor()
    running = start_session("command", request(tmp_path, [sys.executable, str(script), "75"]), executor,
                            log_path=tmp_path / "s.log")
    asyncio.run(wait_session(running))
    time.sleep(0.1)
    run = asyncio.run(finish_session(adopt_session("command", running.record.as_data(), LocalExecutor())))
    assert (run.result.exit_code, run.outcome.reason, run.adopted) == (75, "limit", True)


def test_output_text_reads_bytes_text_and_files(tmp_path: Path) -> None:
    assert output_text(b"a\r\nb\rc\xff") == "a\nb\nc\ufffd"  # like a log file read in text mode
    assert output_text("as is\r\n") == "as is\r\n"
    assert output_text(tmp_path / "missing.log") == ""
    (tmp_path / "s.log").write_bytes(b"x\r\ny")
    assert output_text(tmp_path / "s.log") == "x\ny"
    result = SessionResult("s", "lost", None, 0.0, 0.0, str(tmp_path / "never-written.log"))
    assert LocalExecutor().read_output(result) == b""


def test_executor_registry() -> None:
    assert isinstance(get_executor("local", containment="pgroup"), LocalExecutor)
    assert executor_names() == sorted(KNOWN_EXECUTORS)  # what `dispatch validate` accepts
    with pytest.raises(FatalError, match=r"unknown executor 'ray' \(known: local\)"):
        get_executor("ray")


def set_executor(repo: Path, name: str) -> None:
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["sprint"]["executor"] = name
    yaml.dump(plan, repo / PLAN)


def test_unknown_executor_in_the_plan_fails_validation_with_its_line(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path, {})
    set_executor(repo, "ray")
    result = dispatch(repo, "validate", str(repo / PLAN))
    assert result.returncode == 2
    line = next(n for n, text in enumerate((repo / PLAN).read_text().splitlines(), 1) if "executor: ray" in text)
    assert f"dispatch.yaml:{line}:" in result.stderr
    assert "sprint.executor: value error, not a known executor; use one of: local (got 'ray')" in result.stderr


def test_executor_option_on_the_command_line(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    wrong = dispatch(repo, "run", str(repo / PLAN), "--yes", "--executor", "tmux")
    assert wrong.returncode == 1 and "unknown executor 'tmux' (known: local)" in wrong.stderr
    assert not (repo / ".dispatch").exists()  # refused before any state was written
    dispatch(repo, "run", str(repo / PLAN), "--yes", "--executor", "local", check=True)
    ended = [e for e in events(repo) if e["type"] == "session_outcome"]
    assert {e["agent"] for e in ended} == {"alpha", "beta"} and {e["data"]["reason"] for e in ended} == {"ended"}
