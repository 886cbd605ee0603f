"""Sandboxed sessions (bubblewrap): a `command` agent writes only its worktree, its git metadata,
its branch, its CLI home, its sprint's event log (for `dispatch chain`) and a private /tmp."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.executors.base import Sandbox
from agent_dispatch.executors.local import LocalExecutor
from agent_dispatch.executors.sandbox import bwrap_argv, bwrap_problem
from agent_dispatch.sessions.runner import run_session
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog
from conftest import git, make_repo

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no bubblewrap here: {bwrap_problem()}")

# The agent: try each write named on its command line, report what happened as one JSON line,
# then do what an agent does: edit, commit on its branch, claim progress with `dispatch chain`.
AGENT = r"""
import json, os, subprocess, sys
targets = json.loads(sys.argv[1])
results = {}
for name, path in targets.items():
    try:
        with open(path, "w") as f:
            f.write("written by the agent\n")
        results[name] = "ok"
    except OSError as e:
        results[name] = e.strerror
with open("work.txt", "w") as f:
    f.write("the agent's work\n")
run = lambda *a: subprocess.run(a, capture_output=True, text=True)
results["commit"] = run("git", "add", "work.txt").returncode or run("git", "commit", "-q", "-m", "work").returncode
results["move_base"] = run("git", "update-ref", "refs/heads/main", "HEAD").returncode
results["chain"] = run(sys.executable, "-m", "agent_dispatch", "chain", "chain-1", "FIXING").returncode
results["tmp_before"] = sorted(os.listdir("/tmp"))
print("RESULTS " + json.dumps(results))
"""


def _setup(tmp_path: Path) -> tuple[Path, dict[str, Path], Path]:
    repo = make_repo(tmp_path / "proj")
    (repo / "README").write_text("main checkout\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "readme")
    worktrees = {}
    for name in ("alpha", "beta"):
        worktrees[name] = tmp_path / f"proj-s1-{name}"
        git(repo, "worktree", "add", "-q", "-b", f"s1/{name}", str(worktrees[name]), "main")
    state = repo / ".dispatch" / "s1"
    (state / "logs").mkdir(parents=True)
    (state / "prompts").mkdir()
    (state / "prompts" / "alpha.md").write_text("do the work\n")
    EventLog(state / "events.db", sprint="s1").close()
    return repo, worktrees, state


def _run_agent(tmp_path: Path, *, sandboxed: bool, home_target: Path | None) -> tuple[dict, Path, dict[str, Path]]:
    repo, worktrees, state = _setup(tmp_path)
    (tmp_path / "outside").mkdir()
    Path(f"/tmp/sandbox-test-{tmp_path.name}").unlink(missing_ok=True)  # left by an earlier run
    targets = {"main_checkout": repo / "README", "other_worktree": worktrees["beta"] / "README",
               "dispatch_state": state / "logs" / "forged.log", "other_home": state / "homes" / "beta" / "x",
               "own_home": state / "homes" / "alpha" / "command" / "settings", "host_tmp": tmp_path / "outside" / "f",
               "private_tmp": Path("/tmp") / f"sandbox-test-{tmp_path.name}"}
    (state / "homes" / "beta").mkdir(parents=True)
    guards = repo / ".git" / "worktrees" / worktrees["alpha"].name / "dispatch"  # as workspace.hooks installs them
    guards.mkdir()
    (guards / "territory.json").write_text("{}")
    targets["own_guards"] = guards / "territory.json"
    (state / "homes" / "alpha" / "command").mkdir(parents=True)  # as a CLI adapter's prepare() makes it
    if home_target is not None:
        targets["home"] = home_target
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    request = SessionRequest(
        sprint="s1", agent="alpha", role="DATA", branch="s1/alpha", base_branch="main", worktree=worktrees["alpha"],
        prompt_file=state / "prompts" / "alpha.md", report_path="report.md", attempt=1,
        command=(sys.executable, str(script), json.dumps({k: str(v) for k, v in targets.items()})),
        state_home=state / "homes" / "alpha" / "command")
    log_path = state / "logs" / "alpha-1.log"
    run = asyncio.run(run_session("command", request, LocalExecutor(), log_path=log_path, timeout_s=120,
                                  sandboxed=sandboxed, event_log=state / "events.db"))
    text = log_path.read_text()
    line = next((x for x in text.splitlines() if x.startswith("RESULTS ")), None)
    assert line is not None and run.result.exit_code == 0, text
    return json.loads(line.removeprefix("RESULTS ")), repo, worktrees


@needs_bwrap
def test_sandboxed_agent_writes_only_its_own_places(tmp_path: Path):
    home_target = Path.home() / f".dispatch-sandbox-test-{tmp_path.name}"
    try:
        results, repo, worktrees = _run_agent(tmp_path, sandboxed=True, home_target=home_target)
    finally:
        home_target.unlink(missing_ok=True)
    refused = {name: results[name] for name in ("main_checkout", "dispatch_state", "other_home", "home", "own_guards")}
    assert refused == dict.fromkeys(refused, "Read-only file system"), results
    # Under /tmp, as here, another agent's worktree and the host's other files are absent, unless
    # a path the session names (an environment value) shows their directory, then read-only.
    assert results["other_worktree"] in ("No such file or directory", "Read-only file system"), results
    assert results["host_tmp"] in ("No such file or directory", "Read-only file system"), results
    assert results["own_home"] == "ok" and results["private_tmp"] == "ok"
    assert not Path(f"/tmp/sandbox-test-{tmp_path.name}").exists()  # private: gone with the session
    assert results["move_base"] != 0  # refs/heads/main is read-only
    assert results["commit"] == 0 and results["chain"] == 0, results
    assert git(repo, "log", "-1", "--format=%s", "s1/alpha").strip() == "work"
    assert git(repo, "rev-parse", "main") != git(repo, "rev-parse", "s1/alpha")
    assert (repo / "README").read_text() == "main checkout\n"
    assert (worktrees["beta"] / "README").read_text() == "main checkout\n"
    with EventLog(repo / ".dispatch" / "s1" / "events.db") as log:
        claims = [e for e in log.read() if e.type == EventType.CHAIN_STATE]
    assert [(e.agent, e.chain, e.data["state"]) for e in claims] == [("alpha", "chain-1", "FIXING")]


def test_unsandboxed_agent_writes_as_before(tmp_path: Path):
    results, repo, worktrees = _run_agent(tmp_path, sandboxed=False, home_target=None)
    for name in ("main_checkout", "other_worktree", "dispatch_state", "other_home", "own_home", "host_tmp",
                 "private_tmp", "own_guards"):
        assert results[name] == "ok", (name, results)
    Path(f"/tmp/sandbox-test-{tmp_path.name}").unlink()
    assert results["commit"] == 0 and results["chain"] == 0 and results["move_base"] == 0
    assert (repo / "README").read_text() == "written by the agent\n"


def test_bwrap_argv_mounts_parents_first_and_keeps_argv_verbatim(tmp_path: Path):
    repo, wt = tmp_path / "repo", tmp_path / "wt"
    for path in (repo / ".git" / "objects", wt / "sub", repo / "state" / "logs"):
        path.mkdir(parents=True)
    sandbox = Sandbox(writable=(str(repo / ".git" / "objects"), str(wt), str(repo / "state")),
                      visible=(str(repo), "/usr/lib", str(wt / "sub"), str(tmp_path / "missing")),
                      protected=(str(repo / "state" / "logs"),))
    argv = bwrap_argv(sandbox, ["echo", "$(rm -rf /)", "a b"], bwrap="bwrap")
    assert argv[-4:] == ["--", "echo", "$(rm -rf /)", "a b"]
    mounts = [(argv[i], argv[i + 1]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    assert mounts == [("--ro-bind", "/"), ("--ro-bind", str(repo)), ("--bind", str(wt)),
                      ("--bind", str(repo / "state")), ("--bind", str(repo / ".git" / "objects")),
                      ("--ro-bind", str(repo / "state" / "logs"))]


def _escaping_sprint(tmp_path: Path, sandbox: str | None) -> Path:
    """The engine tests' two-agent sprint; alpha first tries to write into the main checkout."""
    from test_engine import PLAN, sprint_repo, write_value

    escape = ["sh", "-c", 'echo stolen > "$DISPATCH_WORKTREE/../proj/STOLEN"; exec "$0" -m '
              'agent_dispatch.testing.scripted_agent "$1"', sys.executable, str(tmp_path / "alpha.json")]
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}}, commands={"alpha": escape})
    if sandbox is not None:
        text = (repo / PLAN).read_text().replace("sprint:\n", f"sprint:\n  sandbox: {sandbox}\n", 1)
        (repo / PLAN).write_text(text)
        git(repo, "commit", "-q", "-am", f"sandbox: {sandbox}")
    return repo


@needs_bwrap
@pytest.mark.parametrize("sandbox", [None, "none"])
def test_engine_sandboxes_sessions_by_default(tmp_path: Path, sandbox: str | None):
    from test_engine import PLAN, dispatch, events

    repo = _escaping_sprint(tmp_path, sandbox)
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WITHOUT a sandbox" not in result.stdout + result.stderr
    log = (repo / ".dispatch" / "sprint-01" / "logs" / "alpha-1.log").read_text()
    starts = [e["data"] for e in events(repo) if e["type"] == "agent_session_started"]
    assert {s["sandbox"] for s in starts} == {"bwrap" if sandbox is None else "none"}
    if sandbox is None:
        assert not (repo / "STOLEN").exists() and "Read-only file system" in log, log
    else:
        assert (repo / "STOLEN").read_text() == "stolen\n"
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")  # the work itself landed


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH of one directory holding every command of ours (python first) but ``bwrap``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in [str(Path(sys.executable).parent), *os.environ.get("PATH", os.defpath).split(os.pathsep)]:
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name != "bwrap" and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return str(bin_dir)


def test_engine_warns_when_bwrap_cannot_run(tmp_path: Path):
    from test_engine import PLAN

    repo = _escaping_sprint(tmp_path, None)
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATH": _path_without_bwrap(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "warning: agent sessions run WITHOUT a sandbox (bwrap is not installed" in said, said
    assert (repo / "STOLEN").read_text() == "stolen\n"  # unconfined, as warned


def test_explicit_bwrap_that_cannot_run_stops_the_sprint_before_it_starts(tmp_path: Path):
    from test_engine import PLAN

    repo = _escaping_sprint(tmp_path, "bwrap")
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATH": _path_without_bwrap(tmp_path)})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "sprint.sandbox is 'bwrap', but bwrap is not installed" in result.stdout + result.stderr
    assert not (repo / ".dispatch" / "sprint-01" / "logs").exists()


def test_plan_sandbox_field_is_checked_at_its_line():
    from test_plan_errors import GOOD, only, problems_of

    files = ["bookshop/store.py", "bookshop/api.py"]
    for value in ("bwrap", "none"):
        assert problems_of(GOOD.replace("  base_branch: main", f"  base_branch: main\n  sandbox: {value}"), files) == []
    problem = only(GOOD.replace("  base_branch: main", "  base_branch: main\n  sandbox: docker"), files)
    assert problem.line == 5 and "sandbox" in str(problem) and "bwrap" in str(problem), str(problem)
