"""Issue 12 (items 5, 6, 9): the protocol between the tool and its agents, end to end with `command`
agents that only use what their prompt and the tool's messages tell them."""

from __future__ import annotations

import json
from pathlib import Path

from test_engine import PLAN, dispatch, events, sprint_repo, write_value


def test_a_delivered_follow_up_is_recorded_as_the_intervention_it_is(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"1": write_value(0), "default": write_value(2)}})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    [queued] = [e for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    [sent] = [e for e in log if e["type"] == "intervention_sent"]
    assert sent["agent"] == "alpha" and sent["chain"] == "chain-1"
    assert sent["data"]["intervention"] == "INT-RETRY-1" and sent["data"]["file"] == queued["data"]["file"]
    # sent when the session that carries it starts, not when it is queued
    second = next(e for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha"
                  and e["data"]["attempt"] == 2)
    assert queued["seq"] < second["seq"] < sent["seq"]
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["agents"]["alpha"]["interventions"] == 1 and status["agents"]["beta"]["interventions"] == 0


def test_findings_report_shows_the_tools_own_test_runs(tmp_path: Path):
    test_command = "python -c \"import app; print('3 passed in 0.01s')\""
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}}, test_command=test_command)
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    dispatch(repo, "review", str(repo / PLAN))
    report = (repo / ".dispatch" / "sprint-01" / "review" / "red-team-findings.md").read_text()
    table = report.split("## Regression Test Results", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in table.splitlines() if line.startswith("| sprint-01/")}
    assert set(rows) == {"sprint-01/alpha", "sprint-01/beta"}, table
    for cells in rows.values():
        assert cells[0].startswith("3 (") and cells[1:] == ["3", "0", "none"], table
    assert "not run" not in table


# A LEAD that does what its prompt says: merges the branches the prompt tells it to merge (the old
# prompt: "Merge in this order"), runs the final verification it names, writes its report.
LEAD_AGENT = r'''
import os, re, subprocess, sys
from pathlib import Path
prompt = Path(os.environ["DISPATCH_PROMPT_FILE"]).read_text()
if "Merge in this order" in prompt:
    for branch in re.findall(r"^ {3}\d+\. (\S+) \(", prompt, re.M):
        if branch != os.environ["DISPATCH_BRANCH"]:
            subprocess.run(["git", "merge", "-q", "--no-edit", branch], check=True)
for command in re.search(r"run(?:ning)? `([^`]+)` and `([^`]+)`", prompt).groups():
    subprocess.run(command, shell=True, check=True)
Path("CHANGELOG.md").write_text("## sprint-01\n- alpha and beta work\n")
subprocess.run([sys.executable, "-m", "agent_dispatch.testing.scripted_agent", sys.argv[1]], check=True)
'''


def test_lead_does_what_its_prompt_says_and_passes_gate3_with_wave_base_main(tmp_path: Path):
    import sys

    from ruamel.yaml import YAML

    from conftest import git

    lead_py = tmp_path / "lead.py"
    lead_py.write_text(LEAD_AGENT)
    report = tmp_path / "lead.json"
    report.write_text(json.dumps({"default": [{"commit": "lead: changelog"}, {"report": "COMPLETE"},
                                              {"commit": "report"}]}))
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}}, wave_base="main")
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"].append({"name": "lead", "role": "LEAD", "territory": {"include": ["CHANGELOG.md"]},
                           "command": [sys.executable, str(lead_py), str(report)], "chains": []})
    plan["waves"].append({"number": 3, "agents": ["lead"], "depends_on": [2]})
    plan["merge_order"].append("lead")
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: LEAD wave")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    assert any(e["type"] == "gate_passed" and e["data"]["gate"] == "gate-3:lead" for e in log), result.stdout
    assert not any(e["type"] == "territory_violation" for e in log)
    # The merge train, not LEAD, merged the branches: all three landed, LEAD's branch holds only its files.
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
    assert "alpha and beta work" in git(repo, "show", "main:CHANGELOG.md")
    changed = git(repo, "diff", "--name-only", "sprint-01/alpha~0", "sprint-01/lead").split()
    assert "app/a.py" in changed  # LEAD's branch does not carry alpha's change
