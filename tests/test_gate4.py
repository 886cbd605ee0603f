"""Gate 4 (RED TEAM part): CRITICAL blocks, HIGH blocks unless accepted with a reason, MEDIUM/LOW
never block; acceptances come from the event log; `dispatch review` and `dispatch accept`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.commands.review import accept_finding, review_plan
from agent_dispatch.present import show
from agent_dispatch.errors import FatalError
from agent_dispatch.review import gate4
from agent_dispatch.review.findings import Finding
from agent_dispatch.store.log import EventLog
from test_review_checks import AWS_KEY, PLAN, commit_branch, review_repo


def finding(id_: str, severity: str, agent: str = "backend", title: str = "t") -> Finding:
    return Finding(id_, severity, "Security", agent, f"sprint-01/{agent}", "app/x.py", 1, title)


FINDINGS = [finding("RT-01-001", "CRITICAL"), finding("RT-01-002", "HIGH", "data"),
            finding("RT-01-003", "MEDIUM", "frontend"), finding("RT-01-004", "LOW", "frontend")]


def test_critical_and_unaccepted_high_block_medium_and_low_do_not():
    decisions = gate4.decide(FINDINGS, {}, agents=["data", "backend", "frontend", "qa"])
    assert list(decisions) == ["data", "backend", "frontend", "qa"]
    assert {n: d.allowed for n, d in decisions.items()} == {"data": False, "backend": False, "frontend": True, "qa": True}
    assert [f.id for f in decisions["backend"].blocking] == ["RT-01-001"]
    assert [f.id for f in decisions["data"].blocking] == ["RT-01-002"]


def test_accepted_high_passes_with_its_reason():
    acceptance = gate4.Acceptance("RT-01-002", "internal tool, no untrusted input", "lead",
                                  fingerprint=FINDINGS[1].fingerprint)
    decision = gate4.decide(FINDINGS, {"RT-01-002": acceptance})["data"]
    assert decision.allowed and decision.blocking == ()
    assert [(f.id, a.reason) for f, a in decision.accepted] == [("RT-01-002", "internal tool, no untrusted input")]
    assert decision.as_data()["accepted"] == [{"id": "RT-01-002", "severity": "HIGH", "reason": "internal tool, no untrusted input",
                                               "by": "lead", "override": False}]


def test_critical_needs_an_override_not_just_an_acceptance():
    plain = {"RT-01-001": gate4.Acceptance("RT-01-001", "test fixture")}
    decision = gate4.decide(FINDINGS, plain)["backend"]
    assert not decision.allowed and "is CRITICAL" in decision.notes[0]
    forced = {"RT-01-001": gate4.Acceptance("RT-01-001", "fake key in a fixture", override=True)}
    assert gate4.decide(FINDINGS, forced)["backend"].allowed
    by_branch = gate4.decide(FINDINGS, {}, overrides={"backend": "security signed off"})["backend"]
    assert by_branch.allowed and by_branch.accepted[0][1].reason == "security signed off"


def test_acceptance_for_a_different_finding_with_the_same_id_does_not_apply():
    stale = gate4.Acceptance("RT-01-002", "ok", fingerprint="0" * 12)
    decision = gate4.decide(FINDINGS, {"RT-01-002": stale})["data"]
    assert not decision.allowed and "different finding" in decision.notes[0]
    moved = dataclasses.replace(FINDINGS[1], line=40)  # same finding, line moved: still accepted
    current = gate4.Acceptance("RT-01-002", "ok", fingerprint=FINDINGS[1].fingerprint)
    assert gate4.decide([moved], {"RT-01-002": current})["data"].allowed


def test_findings_and_acceptances_round_trip_through_the_event_log(tmp_path):
    with EventLog(tmp_path / "sprint-01" / "events.db") as log:
        log.append_many(gate4.finding_events(FINDINGS))
        assert gate4.finding_events(FINDINGS, log.read()) == []  # recorded once
        log.append("finding_accepted", agent="data", data={"id": "RT-01-002", "reason": "accepted risk",
                                                            "fingerprint": FINDINGS[1].fingerprint})
        log.append("gate_overridden", data={"gate": "gate-4:backend", "reason": "operator says so"})
        events = log.read()
    assert gate4.findings_from_events(events) == FINDINGS
    decisions = gate4.gate4(gate4.findings_from_events(events), events)
    assert all(d.allowed for d in decisions.values())
    assert decisions["data"].accepted[0][1].reason == "accepted risk"


def dispatch(repo: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True,
                            text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_review_and_accept_commands(tmp_path, capsys):
    repo = review_repo(tmp_path)
    commit_branch(repo, "backend", {"app/api/keys.py": f'KEY = "{AWS_KEY}"\n'})
    commit_branch(repo, "data", {"app/models/user.py": "class User:\n    name = ''\n",
                                 "tests/test_models.py": None})
    commit_branch(repo, "frontend", {"app/web/page.py": "def page():\n    return ''  # TODO\n"})
    result = dispatch(repo, "review", str(PLAN), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    ids = {(f["agent"], f["severity"], f["category"]): f["id"] for f in data["findings"]}
    critical = ids[("backend", "CRITICAL", "Security")]
    high = [f["id"] for f in data["findings"] if f["agent"] == "data" and f["severity"] == "HIGH"]
    assert len(high) == 2  # test file deleted, outside territory
    assert data["gate4"]["frontend"]["allowed"] and not data["gate4"]["data"]["allowed"]
    assert (repo / ".dispatch/sprint-01/review/red-team-findings.md").read_text().count("#### RT-01-") == len(data["findings"])
    assert "## sprint-01/data" in (repo / ".dispatch/sprint-01/review/red-team-context.md").read_text()

    with pytest.raises(FatalError, match="is CRITICAL"):
        accept_finding(critical, reason="fixture", start=repo)
    with pytest.raises(FatalError, match="no finding RT-01-999"):
        accept_finding("RT-01-999", reason="x", start=repo)
    capsys.readouterr()
    for finding_id in high:
        assert show(accept_finding(finding_id, reason="test moved to the QA branch", start=repo)) == 0
        assert "no longer blocks sprint-01/data" in capsys.readouterr().out

    assert review_plan(repo / PLAN, as_json=True) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["findings"] == data["findings"]  # same ids on the second run
    assert again["gate4"]["data"]["allowed"] and not again["gate4"]["backend"]["allowed"]
    assert {a["reason"] for a in again["gate4"]["data"]["accepted"]} == {"test moved to the QA branch"}
    overridden = dispatch(repo, "accept", critical, "--override", "--reason", "fake key in a fixture")
    assert overridden.returncode == 0, overridden.stdout + overridden.stderr
    final = dispatch(repo, "review", str(PLAN))
    assert final.returncode == 0, final.stdout
    assert "backend: may merge" in final.stdout and "overridden: fake key in a fixture" in final.stdout
