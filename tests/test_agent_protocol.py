"""Issue 12 (items 5, 6, 9): the protocol between the tool and its agents, end to end with `command`
agents that only use what their prompt and the tool's messages tell them."""

from __future__ import annotations

import json

import pytest
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


# A RED TEAM agent that does what it is told: reads the review context named in its environment,
# writes the findings file the context names (a CRITICAL for any branch whose diff says DANGER);
# in a review pass (its message says so) it commits nothing, in its own wave it reports and commits.
REVIEWER = r'''
import os, re, subprocess, sys
from pathlib import Path
context = Path(os.environ["DISPATCH_REVIEW_CONTEXT"]).read_text()
target = re.search(r"Write `([^`]+)`", context).group(1)
out = ["# RED TEAM Findings", ""]
for n, section in enumerate(re.split(r"^## (?=sprint-01/)", context, flags=re.M)[1:]):
    branch = section.split("\n", 1)[0].strip()
    out += [f"### {branch}", ""]
    if "DANGER" in section:
        agent = branch.split("/", 1)[1]
        out += [f"#### RT-01-{90 + n:03d}: dangerous value", "- **Severity:** CRITICAL", "- **Category:** Security",
                f"- **Agent:** {agent}", "- **File:** app/a.py:1", "- **Description:** marked DANGER.",
                "- **Reproduction:** python -c 'import app.a'", ""]
    else:
        out += ["No findings.", ""]
Path(target).parent.mkdir(parents=True, exist_ok=True)
Path(target).write_text("\n".join(out) + "\n")
message = os.environ.get("DISPATCH_MESSAGE_FILE")
if not (message and "REVIEW PASS" in Path(message).read_text()):
    subprocess.run([sys.executable, "-m", "agent_dispatch.testing.scripted_agent", sys.argv[1]], check=True)
'''


@pytest.mark.parametrize("wave_base", ["merged", "main"])
def test_reviewer_sees_every_branch_before_it_lands_and_critical_blocks_it(tmp_path: Path, wave_base: str):
    import sys

    from ruamel.yaml import YAML

    from conftest import git

    def alpha(value: str) -> list[dict]:
        return [{"write": "app/a.py", "content": value}, {"commit": "a"}, {"report": "COMPLETE"}, {"commit": "report"}]

    reviewer_py = tmp_path / "reviewer.py"
    reviewer_py.write_text(REVIEWER)
    finish = tmp_path / "red.json"
    finish.write_text(json.dumps({"default": [{"report": "COMPLETE"}, {"commit": "findings"}]}))
    repo = sprint_repo(tmp_path, {"alpha": {"1": alpha("VALUE = 2  # DANGER\n"), "default": alpha("VALUE = 2\n")}},
                       wave_base=wave_base)
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"].append({"name": "red", "role": "RED TEAM",
                           "territory": {"include": ["docs/agent-dispatch/sprints/sprint-01/red-team-findings.md"]},
                           "command": [sys.executable, str(reviewer_py), str(finish)], "chains": []})
    plan["waves"].append({"number": 3, "agents": ["red"], "depends_on": [2]})
    plan["sprint"]["max_returns"] = 1
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: RED TEAM wave")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    # The reviewer's CRITICAL kept alpha out and sent it back; the fixed branch landed.
    critical = [e["data"] for e in log if e["type"] == "finding" and e["data"]["source"] == "reviewer"]
    assert [(f["severity"], f["agent"]) for f in critical] == [("CRITICAL", "alpha")]
    gate4 = [(e["type"], e["data"].get("blocking")) for e in log if e["data"].get("gate") == "gate-4:alpha"]
    assert gate4[0] == ("gate_failed", [critical[0]["id"]]) and gate4[-1][0] == "gate_passed"
    assert [e["data"]["kind"] for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"] == ["red_team_fix"]
    assert git(repo, "show", "main:app/a.py") == "VALUE = 2\n"
    # Every branch that landed was reviewed by the reviewer agent at the tip that landed, before it landed.
    reviews = [e for e in log if e["type"] == "review_pass" and e["data"]["phase"] == "ended" and e["data"]["ok"]]
    for agent in ("alpha", "beta"):
        tip = git(repo, "rev-parse", f"sprint-01/{agent}").strip()
        landed = next(e["seq"] for e in log if e["type"] == "merge_step" and e["agent"] == agent and e["data"]["ok"])
        assert any(r["data"]["tips"].get(agent) == tip and r["seq"] < landed for r in reviews), (agent, wave_base)
