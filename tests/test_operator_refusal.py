"""Agents cannot decide for the operator: approve, override, accept, message, run and resume are
refused from an agent session of the same repository, even with its DISPATCH_* variables unset,
and an agent's claims are recorded for that agent only. Real repositories, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch import operations
from agent_dispatch.errors import FatalError
from agent_dispatch.operations.caller import agent_session
from agent_dispatch.review.findings import Finding
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog
from conftest import git, make_repo
from test_engine import PLAN, sprint_repo

SPRINT = "s1"


@pytest.fixture
def sprint(tmp_path: Path) -> tuple[Path, Path]:
    """(main checkout, alpha's worktree) of a started sprint with a CRITICAL finding on alpha."""
    repo = make_repo(tmp_path / "proj")
    with EventLog.for_sprint(repo, SPRINT) as log:
        log.append(EventType.SPRINT_STARTED, data={"agents": [{"name": "alpha", "role": "DATA", "wave": 1},
                                                              {"name": "beta", "role": "BACKEND", "wave": 1}]})
        found = Finding("RT-01-001", "CRITICAL", "Security", "alpha", f"{SPRINT}/alpha", "a.py", 1, "t")
        log.append(EventType.FINDING, agent="alpha", data=found.as_data())
    worktree = tmp_path / "proj-alpha"
    git(repo, "worktree", "add", "-q", "-b", f"{SPRINT}/alpha", str(worktree))
    return repo, worktree


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}


def session_env(worktree: Path) -> dict[str, str]:
    """What the session runner gives alpha's session (agents/base.contract_env), in part."""
    return {**clean_env(), "DISPATCH_SPRINT": SPRINT, "DISPATCH_AGENT": "alpha",
            "DISPATCH_WORKTREE": str(worktree), "DISPATCH_EXECUTOR_SESSION": "s1-alpha-1-marker"}


def dispatch(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def decisions(repo: Path) -> list[EventType]:
    decided = {EventType.GATE_APPROVED, EventType.GATE_OVERRIDDEN, EventType.FINDING_ACCEPTED,
               EventType.MESSAGE_QUEUED}
    with EventLog.for_sprint(repo, SPRINT) as log:
        return [e.type for e in log.read() if e.type in decided]


OPERATOR_ACTIONS = [
    ("override", "gate-2:wave-1", "--reason", "agent says so", "--sprint", SPRINT),
    ("approve", "gate-2", "--sprint", SPRINT),
    ("accept", "RT-01-001", "--override", "--reason", "fine", "--sprint", SPRINT),
    ("message", "beta", "stop working", "--sprint", SPRINT),
]


@pytest.mark.parametrize("args", OPERATOR_ACTIONS, ids=[a[0] for a in OPERATOR_ACTIONS])
def test_operator_actions_are_refused_inside_an_agent_session(sprint: tuple[Path, Path], args: tuple[str, ...]):
    repo, worktree = sprint
    result = dispatch(worktree, session_env(worktree), *args)
    assert result.returncode != 0
    assert "the operator's decision: refused from agent alpha's session" in result.stderr
    assert "DISPATCH_* variables are set" in result.stderr
    assert decisions(repo) == []


def test_unsetting_the_variables_and_leaving_the_worktree_does_not_help(sprint: tuple[Path, Path]):
    """The agent's shell drops every DISPATCH_* variable and runs from the main checkout: the
    process that started the shell (the agent CLI) still carries them."""
    repo, worktree = sprint
    script = ("cd \"$1\" && env -u DISPATCH_SPRINT -u DISPATCH_AGENT -u DISPATCH_WORKTREE "
              "-u DISPATCH_EXECUTOR_SESSION \"$2\" -m agent_dispatch override gate-2:wave-1 "
              f"--reason 'agent says so' --sprint {SPRINT}; echo \"exit=$?\"")
    result = subprocess.run(["sh", "-c", script, "sh", str(repo), sys.executable], cwd=worktree,
                            env=session_env(worktree), capture_output=True, text=True, timeout=120)
    assert "exit=0" not in result.stdout
    assert "refused from agent alpha's session" in result.stderr
    assert "its ancestor process sh" in result.stderr
    assert decisions(repo) == []


def test_the_operator_still_decides_from_the_main_checkout_or_a_worktree(sprint: tuple[Path, Path]):
    repo, worktree = sprint
    assert dispatch(repo, clean_env(), "override", "gate-2:wave-1", "--reason", "ok", "--sprint", SPRINT).returncode == 0
    assert dispatch(worktree, clean_env(), "approve", "gate-2", "--sprint", SPRINT).returncode == 0
    assert decisions(repo) == [EventType.GATE_OVERRIDDEN, EventType.GATE_APPROVED]


def test_an_agent_session_may_operate_on_another_repository(sprint: tuple[Path, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """An agent running the tool's own tests against a scratch repository is not refused."""
    _, worktree = sprint
    for name, value in session_env(worktree).items():
        monkeypatch.setenv(name, value)
    with EventLog.for_sprint(make_repo(tmp_path / "scratch"), SPRINT) as scratch:
        assert operations.approve("gate-1", by="test", log=scratch).gate == "gate-1"
    with EventLog.for_sprint(sprint[0], SPRINT) as own, pytest.raises(FatalError, match="operator's decision"):
        operations.approve("gate-1", by="test", log=own)


def test_claims_are_the_agents_own(sprint: tuple[Path, Path]):
    repo, worktree = sprint
    refused = dispatch(worktree, session_env(worktree), "chain", "chain-1", "complete", "--agent", "beta")
    assert refused.returncode != 0 and "agent alpha cannot report for agent 'beta'" in refused.stderr
    # DISPATCH_AGENT unset: the worktree (branch s1/alpha) names the agent.
    env = {k: v for k, v in session_env(worktree).items() if k != "DISPATCH_AGENT"}
    assert dispatch(worktree, env, "chain", "chain-1", "fixing").returncode == 0
    assert dispatch(worktree, clean_env(), "p0", "secrets in logs").returncode == 0
    with EventLog.for_sprint(repo, SPRINT) as log:
        claims = [(e.type, e.agent) for e in log.read() if e.type in (EventType.CHAIN_STATE, EventType.P0_DISCOVERED)]
    assert claims == [(EventType.CHAIN_STATE, "alpha"), (EventType.P0_DISCOVERED, "alpha")]


def test_the_worktree_alone_names_the_agent_but_never_refuses(sprint: tuple[Path, Path]):
    _, worktree = sprint
    assert agent_session(worktree, env={}) is None
    named = agent_session(worktree, env={}, by_directory=True)
    assert named is not None and (named.sprint, named.agent) == (SPRINT, "alpha")


def test_run_and_resume_are_refused_inside_an_agent_session(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"steps": []}, "beta": {"steps": []}})
    worktree = tmp_path / "proj-alpha"
    git(repo, "worktree", "add", "-q", "-b", "sprint-01/alpha", str(worktree))
    env = {**session_env(worktree), "DISPATCH_SPRINT": "sprint-01"}
    for verb, doing in (("run", "running"), ("resume", "resuming")):
        result = dispatch(repo, env, verb, str(PLAN))
        assert result.returncode != 0
        assert f"{doing} sprint sprint-01 is the operator's decision" in result.stderr
    with EventLog.for_sprint(repo, "sprint-01") as log:
        assert log.read() == []  # nothing started
