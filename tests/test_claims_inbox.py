"""The claims channel: a session that cannot write the sprint's state (the sandbox mounts it
read-only) posts its `dispatch chain` / `dispatch p0` claims to its own inbox, and the orchestrator
appends them to the log attributed to the inbox's agent, each once, claims only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.store.events import EventType
from agent_dispatch.store.inbox import inbox_dir, ingest, post_claim
from agent_dispatch.store.log import EventLog
from conftest import git, make_repo


def claims(log: EventLog) -> list[tuple[str, str | None, str | None, dict]]:
    return [(e.type, e.agent, e.chain, {k: v for k, v in e.data.items() if k != "claim"})
            for e in log.read(types=[EventType.CHAIN_STATE, EventType.P0_DISCOVERED, EventType.GATE_OVERRIDDEN])]


def test_ingest_appends_each_claim_once_for_the_inboxs_agent(tmp_path: Path):
    with EventLog.for_sprint(tmp_path, "s1") as log:
        state = log.path.parent
        alpha = inbox_dir(state, "alpha")
        first = post_claim(alpha, EventType.CHAIN_STATE, chain="chain-1", data={"state": "FIXING", "agent": "beta"})
        post_claim(alpha, EventType.P0_DISCOVERED, chain=None, data={"description": "keys in logs"})
        # Forged: an operator decision, and a file that is not JSON.
        (alpha / "00000000000000000001-1-aa.json").write_text(json.dumps(
            {"type": "gate_overridden", "chain": None, "data": {"gate": "gate-2", "reason": "x", "by": "operator"}}))
        (alpha / "00000000000000000002-1-bb.json").write_text("{not json")
        saved = first.read_text()
        assert ingest(log, state) == 2
        assert claims(log) == [
            (EventType.CHAIN_STATE, "alpha", "chain-1", {"state": "FIXING", "agent": "beta", "source": "agent"}),
            (EventType.P0_DISCOVERED, "alpha", None, {"description": "keys in logs"}),
        ]
        assert sorted(p.name.split("-")[0] for p in alpha.glob("*.rejected")) == ["00000000000000000001",
                                                                                   "00000000000000000002"]
        first.write_text(saved)  # the orchestrator died after appending, before removing the file
        assert ingest(log, state) == 0 and len(claims(log)) == 2 and not first.exists()


def bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    return subprocess.run(["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not usable here")
def test_a_session_with_a_read_only_sprint_state_reports_through_its_inbox(tmp_path: Path):
    repo = make_repo(tmp_path / "proj")
    with EventLog.for_sprint(repo, "s1") as log:
        log.append(EventType.SPRINT_STARTED, data={"agents": [{"name": "alpha", "role": "DATA", "wave": 1}]})
    state = repo / ".dispatch" / "s1"
    inbox = inbox_dir(state, "alpha")
    inbox.mkdir(parents=True)
    worktree = tmp_path / "proj-alpha"
    git(repo, "worktree", "add", "-q", "-b", "s1/alpha", str(worktree))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")},
           "DISPATCH_SPRINT": "s1", "DISPATCH_AGENT": "alpha", "DISPATCH_WORKTREE": str(worktree),
           "DISPATCH_INBOX": str(inbox)}
    # What the sandbox does to the sprint's state: read-only, but for the agent's own inbox.
    sandbox = ["bwrap", "--bind", "/", "/", "--ro-bind", str(state), str(state), "--bind", str(inbox), str(inbox),
               "--dev", "/dev", "--proc", "/proc", "--", sys.executable, "-m", "agent_dispatch"]

    def dispatch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*sandbox, *args], cwd=worktree, env=env, capture_output=True, text=True, timeout=120)

    chain = dispatch("chain", "chain-1", "complete", "--note", "done")
    assert chain.returncode == 0, chain.stderr
    assert dispatch("p0", "the cache leaks keys", "--file", "app/c.py").returncode == 0
    assert dispatch("chain", "chain-1", "complete", "--agent", "beta").returncode != 0
    assert dispatch("override", "gate-2", "--reason", "x").returncode != 0
    assert len(list(inbox.glob("*.json"))) == 2
    with EventLog.for_sprint(repo, "s1") as log:
        assert claims(log) == []  # nothing reached the log from inside the sandbox
        assert ingest(log, state) == 2
        assert claims(log) == [
            (EventType.CHAIN_STATE, "alpha", "chain-1", {"state": "COMPLETE", "source": "agent", "note": "done"}),
            (EventType.P0_DISCOVERED, "alpha", None, {"description": "the cache leaks keys", "file": "app/c.py"}),
        ]


@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not usable here")
def test_a_sandboxed_sessions_claims_reach_the_log_while_it_still_works(tmp_path: Path):
    from test_engine import PLAN, dispatch, events, sprint_repo, write_value

    # alpha claims its chain, then keeps working for a while before it commits and ends.
    actions = write_value(1)
    actions.insert(1, {"sleep": 6})
    repo = sprint_repo(tmp_path, {"alpha": {"default": actions}}, sandbox="bwrap")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    claim = next(e for e in log if e["type"] == "chain_state" and e["agent"] == "alpha"
                 and e["data"].get("state") == "FIXING")
    ended = next(e for e in log if e["type"] == "agent_session_ended" and e["agent"] == "alpha")
    started = next(e for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha")
    assert started["data"]["sandbox"] == "bwrap"
    assert "claim" in claim["data"]  # it came through the inbox
    # Appended while the session still slept, not when it ended.
    assert ended["ts"] - claim["ts"] >= 3, (claim["ts"], ended["ts"])
