"""Gate 4 inside `dispatch run`: RED TEAM findings block branches, accepted risks land with their reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ruamel.yaml import YAML

from conftest import assert_base_moves_validated, git
from test_engine import PLAN, dispatch, events, sprint_repo, write_value

# Split so that no scanner flags this test file itself.
AWS_KEY = "AKIA" + "Z3MSJV4WPIXQ7KD2"
REPORT = [{"report": "COMPLETE"}, {"commit": "report"}]


def set_sprint(repo: Path, **fields) -> None:
    """Change sprint fields of the plan and commit the change."""
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["sprint"].update(fields)
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: " + ", ".join(fields))


def writes(path: str, content: str) -> list[dict]:
    return [{"chain": "chain-1", "state": "FIXING"}, {"write": path, "content": content}, {"commit": f"edit {path}"},
            *REPORT]


def ref_updates_all_validated(repo: Path) -> list[dict]:
    """The base branch landed something, and every value its reflog shows (not only what the
    ``ref_updated`` events claim) is a tree whose validation passed."""
    log = events(repo)
    updates = [e for e in log if e["type"] == "ref_updated"]
    assert updates and all(e["data"]["validated"] for e in updates)  # all([]) would prove nothing
    assert assert_base_moves_validated(repo, log)
    return updates


def test_critical_finding_blocks_its_branch_and_acceptance_alone_does_not_clear_it(tmp_path: Path):
    leaky = writes("app/b.py", f"NAME = 'b'\nAWS_ACCESS_KEY_ID = '{AWS_KEY}'\n")
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}, "beta": {"default": leaky}})
    set_sprint(repo, max_returns=0)
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    log = events(repo)
    blocked = [e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-4:beta"]
    assert blocked, result.stdout
    [finding_id] = blocked[-1]["data"]["blocking"]
    finding = next(e["data"] for e in log if e["type"] == "finding" and e["data"]["id"] == finding_id)
    assert finding["severity"] == "CRITICAL" and finding["file"] == "app/b.py" and finding["line"] == 2
    # beta never reached the base branch; alpha did.
    assert AWS_KEY not in git(repo, "show", "main:app/b.py")
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
    summary = (repo / PLAN.parent / "SPRINT-SUMMARY.md").read_text()
    assert "PARTIAL" in summary and "no unresolved CRITICAL finding" in summary
    # Accepting a CRITICAL is not enough (only an operator override is): the branch stays out.
    accept = dispatch(repo, "accept", finding_id, "--reason", "test key", "--sprint", "sprint-01")
    assert accept.returncode != 0 and "CRITICAL" in accept.stderr
    merged = dispatch(repo, "merge", str(repo / PLAN))
    assert merged.returncode == 1
    assert AWS_KEY not in git(repo, "show", "main:app/b.py")
    ref_updates_all_validated(repo)


def test_blocked_branch_goes_back_to_its_agent_and_lands_once_fixed(tmp_path: Path):
    """Removing the secret in a new commit is not enough (the landing keeps agent commits
    reachable); once the agent rewrites its branch without it, the branch lands."""
    leaky = writes("app/b.py", f"NAME = 'b'\nAWS_ACCESS_KEY_ID = '{AWS_KEY}'\n")
    fixed = writes("app/b.py", "import os\nNAME = 'b'\nAWS_ACCESS_KEY_ID = os.environ.get('AWS_ACCESS_KEY_ID')\n")
    rewritten = [*fixed[:2], {"squash": "b: read the key from the environment"}, *REPORT]
    repo = sprint_repo(tmp_path, {"beta": {"1": leaky, "2": fixed, "default": rewritten}})
    set_sprint(repo, max_returns=2)
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    queued = [e for e in log if e["type"] == "message_queued" and e["agent"] == "beta"]
    assert [e["data"]["kind"] for e in queued] == ["red_team_fix", "red_team_fix"]
    first, second = (Path(e["data"]["file"]).read_text() for e in queued)
    assert "RED TEAM BLOCKS YOUR BRANCH" in first and "CRITICAL" in first and "app/b.py:2" in first
    assert "branch history" in second and "git reset --soft" in second
    assert AWS_KEY not in first + second  # the messages name the findings, never the secret
    assert "os.environ" in git(repo, "show", "main:app/b.py")
    assert AWS_KEY not in git(repo, "log", "-p", "main")  # no commit on main holds it
    ref_updates_all_validated(repo)


def test_accepted_high_lands_with_its_reason_in_the_summary(tmp_path: Path):
    risky = writes("app/a.py", "VALUE = 2\ndb_password = 'Xk9mQ2vL8pR4tW7z'\n")
    repo = sprint_repo(tmp_path, {"alpha": {"default": risky}})
    set_sprint(repo, max_returns=0)
    first = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert first.returncode == 1, first.stdout + first.stderr
    log = events(repo)
    [blocked] = [e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-4:alpha"]
    [finding_id] = blocked["data"]["blocking"]
    finding = next(e["data"] for e in log if e["type"] == "finding" and e["data"]["id"] == finding_id)
    assert finding["severity"] == "HIGH"
    assert "db_password" not in git(repo, "show", "main:app/a.py")
    reason = "fixture credential of the throwaway local test database"
    accept = dispatch(repo, "accept", finding_id, "--reason", reason, "--sprint", "sprint-01")
    assert accept.returncode == 0, accept.stdout + accept.stderr
    merged = dispatch(repo, "merge", str(repo / PLAN))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "db_password" in git(repo, "show", "main:app/a.py")
    summary = (repo / PLAN.parent / "SPRINT-SUMMARY.md").read_text()
    risks = summary.split("## Accepted Risks", 1)[1].split("##", 1)[0]
    assert finding_id in risks and reason in risks and "HIGH" in risks
    ref_updates_all_validated(repo)


def test_reviewer_agent_findings_block_before_anything_lands(tmp_path: Path):
    """With ``wave_base: main`` nothing lands before the RED TEAM wave; its HIGH finding blocks beta."""
    findings_md = ("# RED TEAM Findings\n\n### RT-01-050: unchecked name\n"
                   "- **Severity:** HIGH\n- **Category:** Edge Case\n- **Agent:** beta\n- **File:** app/b.py:1\n"
                   "- **Description:** NAME is used unchecked by callers.\n"
                   "- **Reproduction:** python -c 'import app.b'\n")
    review_script = tmp_path / "red.json"
    review_script.write_text(json.dumps({"default": [
        {"write": "docs/agent-dispatch/sprints/sprint-01/red-team-findings.md", "content": findings_md},
        {"commit": "findings"}, *REPORT]}))
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}, "beta": {"default": writes("app/b.py", "NAME = 'B'\n")}},
                       wave_base="main")
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"].append({"name": "red", "role": "RED TEAM",
                           "territory": {"include": ["docs/agent-dispatch/sprints/sprint-01/red-team-findings.md"]},
                           "command": [sys.executable, "-m", "agent_dispatch.testing.scripted_agent", str(review_script)],
                           "chains": []})
    plan["waves"].append({"number": 3, "agents": ["red"], "depends_on": [2]})
    plan["sprint"]["max_returns"] = 0
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: RED TEAM wave")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    log = events(repo)
    red_session = next(e for e in log if e["type"] == "agent_session_started" and e["agent"] == "red")
    assert red_session["seq"] > max(e["seq"] for e in log if e["type"] == "gate_passed"
                                   and e["data"]["gate"] in {"gate-3:alpha", "gate-3:beta"})
    gate4 = {e["data"]["gate"]: e["type"] for e in log if e["data"].get("gate", "").startswith("gate-4:")}
    assert gate4 == {"gate-4:alpha": "gate_passed", "gate-4:beta": "gate_failed"}
    reviewer = [e["data"] for e in log if e["type"] == "finding" and e["data"]["source"] == "reviewer"]
    assert [(f["severity"], f["agent"], f["file"]) for f in reviewer] == [("HIGH", "beta", "app/b.py")]
    assert git(repo, "show", "main:app/b.py") == "NAME = 'b'\n"
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
