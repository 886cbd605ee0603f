"""`agent_dispatch.operations` called as plain functions (no CLI): each returns its typed result and
writes its event; `dispatch message` reaches a running sprint's agent in its next session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch import operations
from agent_dispatch.errors import FatalError
from agent_dispatch.review.findings import Finding
from agent_dispatch.store.events import ChainState, EventType
from agent_dispatch.store.log import EventLog
from conftest import git, make_repo
from test_engine import PLAN, dispatch, events, sprint_repo, write_value


@pytest.fixture
def log(tmp_path: Path):
    """A started sprint's log with agents alpha and beta (no repository needed)."""
    with EventLog.for_sprint(tmp_path, "sprint-01") as opened:
        opened.append(EventType.SPRINT_STARTED, data={"agents": [{"name": "alpha", "role": "DATA", "wave": 1},
                                                                 {"name": "beta", "role": "BACKEND", "wave": 2}]})
        yield opened


STARTED = {"attempt": 1, "pid": 1, "session_id": "s", "record": {"pid": 1}}  # as the engine records it


def last(log: EventLog) -> object:
    return log.read()[-1]


def test_approve_and_override_record_the_gate(log: EventLog):
    approved = operations.approve("gate-2:wave-1", by="lead", log=log)
    assert approved == operations.GateApproved("sprint-01", "gate-2:wave-1", "lead", approved.seq)
    event = last(log)
    assert (event.seq, event.type, event.data) == (approved.seq, EventType.GATE_APPROVED,
                                                   {"gate": "gate-2:wave-1", "by": "lead"})
    overridden = operations.override("gate-2:wave-1", reason="  moves to next sprint ", by="lead", log=log)
    assert (overridden.reason, overridden.seq) == ("moves to next sprint", last(log).seq)
    assert last(log).data == {"gate": "gate-2:wave-1", "reason": "moves to next sprint", "by": "lead"}
    with pytest.raises(FatalError, match="unknown gate"):
        operations.approve("gate-9", log=log)
    with pytest.raises(FatalError, match="needs a reason"):
        operations.override("gate-1", reason=" ", log=log)
    assert last(log).seq == overridden.seq  # refused input writes nothing


def test_agents_report_chain_claims_and_p0s(log: EventLog):
    chain = operations.report_chain("alpha", "chain-1", "fixing", note="found it", log=log)
    assert (chain.state, chain.chain, chain.note) == (ChainState.FIXING, "chain-1", "found it")
    event = last(log)
    assert (event.type, event.agent, event.chain) == (EventType.CHAIN_STATE, "alpha", "chain-1")
    assert event.data == {"state": "FIXING", "source": "agent", "note": "found it"}
    p0 = operations.report_p0("beta", " tokens logged in clear ", file="app/b.py", line=3, log=log)
    assert (p0.description, p0.file, p0.line, p0.seq) == ("tokens logged in clear", "app/b.py", 3, last(log).seq)
    assert last(log).data == {"description": "tokens logged in clear", "file": "app/b.py", "line": 3}
    with pytest.raises(FatalError, match="unknown chain state 'DONE'"):
        operations.report_chain("alpha", "chain-1", "done", log=log)
    with pytest.raises(FatalError, match="needs a description"):
        operations.report_p0("beta", "", log=log)


def test_accept_finding_high_needs_a_reason_critical_needs_override(log: EventLog):
    for id_, severity in (("RT-01-001", "CRITICAL"), ("RT-01-002", "HIGH")):
        found = Finding(id_, severity, "Security", "alpha", "sprint-01/alpha", "app/a.py", 1, "t")
        log.append(EventType.FINDING, agent="alpha", data=found.as_data())
    accepted = operations.accept_finding("rt-01-002", reason="internal tool", by="lead", log=log)
    assert (accepted.finding.id, accepted.override, accepted.seq) == ("RT-01-002", False, last(log).seq)
    assert accepted.effect == "it no longer blocks sprint-01/alpha"
    assert last(log).data["id"] == "RT-01-002" and last(log).data["reason"] == "internal tool"
    with pytest.raises(FatalError, match="is CRITICAL"):
        operations.accept_finding("RT-01-001", reason="fixture", log=log)
    assert operations.accept_finding("RT-01-001", reason="fixture", override=True, log=log).override
    with pytest.raises(FatalError, match="no finding RT-01-009"):
        operations.accept_finding("RT-01-009", reason="x", log=log)
    with pytest.raises(FatalError, match="not a finding id"):
        operations.accept_finding("nonsense", reason="x", log=log)
    with pytest.raises(FatalError, match="needs a reason"):
        operations.accept_finding("RT-01-002", reason="", log=log)


def test_send_message_queues_for_the_next_session_like_the_engine(log: EventLog):
    queued = operations.send_message("alpha", "use the new constant", by="lead", log=log)
    path = log.path.parent / "messages" / "alpha-1-operator.md"
    assert (queued.attempt, queued.file, queued.session_running, queued.carried) == (1, path, False, None)
    assert path.read_text() == "use the new constant\n"
    event = last(log)
    assert (event.type, event.agent, event.seq) == (EventType.MESSAGE_QUEUED, "alpha", queued.seq)
    assert event.data == {"kind": "operator", "file": str(path), "attempt": 1, "by": "lead"}
    # Session 1 is running: the message waits for session 2.
    log.append(EventType.AGENT_SESSION_STARTED, agent="alpha", data=STARTED)
    running = operations.send_message("alpha", "and add a test", log=log)
    assert (running.attempt, running.session_running) == (2, True)
    assert running.file.name == "alpha-2-operator.md"


def test_send_message_keeps_the_follow_up_already_waiting(log: EventLog):
    retry = log.path.parent / "messages" / "alpha-2-retry_1.md"
    retry.parent.mkdir(parents=True)
    retry.write_text("RETRY 1 OF 3\n")
    log.append(EventType.AGENT_SESSION_STARTED, agent="alpha", data=STARTED)
    log.append(EventType.AGENT_SESSION_ENDED, agent="alpha", data={"exit_code": 0, "reason": "exited"})
    log.append(EventType.MESSAGE_QUEUED, agent="alpha", data={"kind": "retry_1", "file": str(retry), "attempt": 2})
    queued = operations.send_message("alpha", "the flaky test is not yours", log=log)
    assert (queued.attempt, queued.carried, queued.session_running) == (2, "retry_1", False)
    assert queued.file.read_text() == "the flaky test is not yours\n\n---\n\nRETRY 1 OF 3\n"


def test_send_message_refuses_what_no_session_would_read(log: EventLog):
    with pytest.raises(FatalError, match="needs text"):
        operations.send_message("alpha", "  ", log=log)
    with pytest.raises(FatalError, match="no agent 'gamma'.*alpha, beta"):
        operations.send_message("gamma", "hi", log=log)
    log.append(EventType.GATE_PASSED, agent="alpha", data={"gate": "gate-3:alpha"})
    with pytest.raises(FatalError, match="alpha is done \\(gate 3 passed\\)"):
        operations.send_message("alpha", "hi", log=log)
    log.append(EventType.SPRINT_FINISHED, data={"outcome": "complete"})
    with pytest.raises(FatalError, match="has finished"):
        operations.send_message("beta", "hi", log=log)


def test_operations_find_the_sprint_from_a_directory(tmp_path: Path):
    repo = make_repo(tmp_path / "proj")
    with pytest.raises(FatalError, match="sprints with a log: none"):
        operations.approve("gate-1", start=repo)
    EventLog.for_sprint(repo, "sprint-07").close()
    git(repo, "worktree", "add", "-q", "-b", "sprint-07/alpha", str(tmp_path / "alpha"))
    approved = operations.approve("gate-1", by="lead", start=tmp_path / "alpha")  # from an agent worktree
    assert approved.sprint == "sprint-07"
    with EventLog.for_sprint(repo, "sprint-07") as log:
        assert [(e.type, e.data["gate"]) for e in log.read()] == [(EventType.GATE_APPROVED, "gate-1")]


def test_dispatch_message_reaches_the_agents_next_session(tmp_path: Path):
    seen = tmp_path / "beta-saw.txt"
    beta = [{"save_message": str(seen)}, {"report": "COMPLETE"}, {"commit": "report"}]
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}, "beta": {"default": beta}}, sandbox="none")
    assert dispatch(repo, "run", str(repo / PLAN)).returncode == 4  # gate 1 waits for the operator
    dispatch(repo, "approve", "gate-1", check=True)
    assert dispatch(repo, "resume", str(repo / PLAN)).returncode == 4  # wave 1 done, gate 2 waits
    note = tmp_path / "note.md"
    note.write_text("Wave 1 renamed VALUE; keep app/b.py as it is.\n")
    sent = dispatch(repo, "message", "beta", "--file", str(note), check=True)
    assert sent.stdout.startswith("queued for beta's session 1 (when it starts): ")
    refused = dispatch(repo, "message", "alpha", "more work")
    assert refused.returncode == 1 and "alpha is done (gate 3 passed)" in refused.stderr
    dispatch(repo, "approve", "gate-2", check=True)
    dispatch(repo, "resume", str(repo / PLAN), check=True)
    assert seen.read_text() == "Wave 1 renamed VALUE; keep app/b.py as it is.\n"
    log = events(repo)
    queued = [e for e in log if e["type"] == "message_queued"]
    assert [(e["agent"], e["data"]["kind"], e["data"]["attempt"]) for e in queued] == [("beta", "operator", 1)]
    started = next(e for e in log if e["type"] == "agent_session_started" and e["agent"] == "beta")
    assert started["data"]["message"] == "operator" and started["seq"] > queued[0]["seq"]
    assert json.loads(dispatch(repo, "status", "--json", check=True).stdout)["finished"]["outcome"] == "complete"


def test_dispatch_message_needs_text_or_file(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "message", "alpha"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "TEXT or with --file" in result.stderr
