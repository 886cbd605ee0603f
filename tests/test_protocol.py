"""The agent protocol, end to end (issue 12): prose-verified and agent-parked chains resolve, the
prompt states the shared-file rules the hooks and gate 3 enforce, and SHIPPED needs every success
criterion to pass. Sprints run with scripted `command` agents that do only what their prompt says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from conftest import git
from test_engine import PLAN, dispatch, events, sprint_repo, write_value

SUMMARY = Path("docs/agent-dispatch/sprints/sprint-01/SPRINT-SUMMARY.md")


def edit_plan(repo: Path, change: Any) -> None:
    """Apply ``change`` to the plan's data and commit it, as its author would before `dispatch run`."""
    plan = YAML().load((repo / PLAN).read_text())
    change(plan)
    YAML().dump(plan, repo / PLAN)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "plan edited")


def decision(repo: Path) -> str:
    finished = [e for e in events(repo) if e["type"] == "sprint_finished"]
    assert finished, "the sprint did not finish"
    return str(finished[-1]["data"]["decision"])


# Item 8: the ship decision reads the success criteria.

def test_a_failing_or_unevaluated_success_criterion_is_not_shipped(tmp_path: Path) -> None:
    criteria = ["`python -c 'import app.a as m; assert m.VALUE == 2'` exits 0",
                "`python -c 'import app.b as m; assert m.NAME == \"beta\"'` exits 0",
                "the bookshop feels faster"]
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    edit_plan(repo, lambda plan: plan["sprint"].update(success_criteria=criteria))
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    out = result.stdout + result.stderr
    assert decision(repo) == "PARTIAL", out  # every agent landed, but the goals are not all met
    summary = (repo / SUMMARY).read_text()
    assert "[ ] every success criterion passes (1/3)" in summary, summary
    assert "failing: " + criteria[1] in summary and "not evaluated (no command): the bookshop feels faster" in summary
    assert f"| {criteria[0]} | PASS" in summary and f"| {criteria[1]} | FAIL" in summary
    assert not git(repo, "tag", "--list").strip()  # nothing shipped, nothing tagged


def test_every_success_criterion_passing_ships(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    edit_plan(repo, lambda plan: plan["sprint"].update(
        success_criteria=["`python -c 'import app.a as m; assert m.VALUE == 2'` exits 0"]))
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert decision(repo) == "SHIPPED"
    assert "[x] every success criterion passes (1/1)" in (repo / SUMMARY).read_text()


# Item 7: the prompt states exactly the shared-file rules the hooks and gate 3 enforce.

def prompt_of(repo: Path, name: str) -> str:
    found = list((repo / PLAN.parent / "activation-prompts").glob(f"agent-*-{name}.md"))
    assert len(found) == 1, found
    return " ".join(found[0].read_text().split())  # lines joined: the sentence may be wrapped


def test_dependency_manifests_are_add_only_shared_as_the_prompt_says(tmp_path: Path) -> None:
    # Nobody's territory covers requirements.txt and the plan has no shared_files: the prompt says
    # every agent may ADD lines to it, never remove one; the hooks and gate 3 must do just that.
    add = [{"write": "requirements.txt", "content": "pyyaml\nrequests\n"}, {"commit": "add requests"},
           *write_value(2)]
    rewrite = [{"write": "requirements.txt", "content": "ruamel.yaml\n"}, {"commit": "swap pyyaml"},
               {"write": "app/b.py", "content": "NAME = 'beta'\n"}, {"commit": "beta"},
               {"report": "COMPLETE"}, {"commit": "report"}]
    repo = sprint_repo(tmp_path, {"alpha": {"default": add}, "beta": {"default": rewrite}},
                       files={"requirements.txt": "pyyaml\n"})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    out = result.stdout + result.stderr
    for name in ("alpha", "beta"):
        prompt = prompt_of(repo, name)
        assert "requirements*.txt" in prompt and "that no CAN line of yours covers are shared: you may only ADD " \
            "lines to them (the commit hook and gate 3 refuse a change that removes or rewrites a line)" in prompt
    # alpha's addition passed its commit hook and gate 3 and landed.
    assert git(repo, "show", "main:requirements.txt") == "pyyaml\nrequests\n", out
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["agents"]["alpha"]["state"] == "COMPLETE"
    # beta's removal was refused by the commit hook, so it never reached the branch: its later
    # commits carry the rest of its work and the rewrite stays uncommitted, which gate 3 names.
    beta_log = (repo / ".dispatch" / "sprint-01" / "logs" / "beta-1.log").read_text()
    assert "requirements.txt (no owner; shared dependency file, additions only)" in beta_log, beta_log
    assert git(repo, "show", "main:requirements.txt") == "pyyaml\nrequests\n"
    log = events(repo)
    failed = [e for e in log if e["type"] == "gate_failed" and e["agent"] == "beta"]
    assert failed and any("requirements.txt" in r for r in failed[-1]["data"]["reasons"]), out


def test_a_plan_with_shared_files_keeps_manifests_to_their_owner(tmp_path: Path) -> None:
    from agent_dispatch.plan.loader import load_plan
    from agent_dispatch.plan.territory import territory_rules

    repo = sprint_repo(tmp_path, {}, files={"requirements.txt": "pyyaml\n"})
    edit_plan(repo, lambda plan: plan.update(shared_files=[{"path": "app/b.py", "owner": "beta",
                                                            "policy": "add-only"}]))
    plan = load_plan(repo / PLAN).plan
    rules = territory_rules(plan, "alpha")
    assert rules.judge("requirements.txt", 0) is not None  # the plan's list is the whole policy
    assert rules.judge("app/b.py", 0) is None
