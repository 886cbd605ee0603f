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


def task_id(repo: Path, name: str) -> str:
    """The task id the agent's prompt gives its chain-1 (``F-01``)."""
    from agent_dispatch.naming.context import assign_letters
    from agent_dispatch.plan.loader import load_plan

    return f"{assign_letters(load_plan(repo / PLAN).plan)[0][name]}-01"


def set_verify(plan: Any, name: str, verify: str) -> None:
    next(a for a in plan["agents"] if a["name"] == name)["chains"][0]["verify"] = verify


# Item 3: prose verification has a rule, a validate warning, and never blocks silently.

PROSE = "loading app.a returns VALUE 2 to every caller"


def test_prose_verify_completes_on_the_agents_claim_and_a_missing_claim_is_asked_for(tmp_path: Path) -> None:
    messages = tmp_path / "alpha-message.md"
    repo = tmp_path / "proj"
    repo = sprint_repo(tmp_path, {
        # Session 1 forgets the claim; session 2 claims the chain in its report, as the follow-up says.
        "alpha": {"1": write_value(2), "2": [{"save_message": str(messages)}]},
        # beta claims through the CLI, as its prompt teaches.
        "beta": {"default": [{"write": "app/b.py", "content": "NAME = 'beta'\n"}, {"commit": "beta"},
                             {"chain": "chain-1", "state": "COMPLETE"}, {"report": "COMPLETE"}, {"commit": "report"}]},
    }, sandbox="none")  # alpha's script also saves the message it got for the test to read
    edit_plan(repo, lambda plan: [set_verify(plan, n, PROSE) for n in ("alpha", "beta")])
    alpha_task = task_id(repo, "alpha")
    script = json.loads((tmp_path / "alpha.json").read_text())
    script["2"] += [{"report": "COMPLETE", "tasks": {alpha_task: "COMPLETE"}}, {"commit": "claim chain-1"}]
    (tmp_path / "alpha.json").write_text(json.dumps(script))
    validate = dispatch(repo, "validate", str(repo / PLAN))
    assert "verify is prose, weaker than a command" in validate.stdout + validate.stderr
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert decision(repo) == "SHIPPED"
    log = events(repo)
    queued = [e["data"]["kind"] for e in log if e["type"] == "message_queued"]
    assert queued == ["prose_claim"], queued  # alpha once; beta's CLI claim needed nothing
    text = messages.read_text()
    assert "dispatch chain chain-1 COMPLETE" in text and alpha_task in text and PROSE in text
    assert "## Tasks Completed" in text and "python -m compileall -q app" in text
    done = {e["agent"]: e["data"] for e in log if e["type"] == "chain_state" and e["data"].get("source") == "tool"}
    assert done["alpha"]["state"] == "COMPLETE" and done["beta"]["state"] == "COMPLETE"


def test_a_prose_chain_never_claimed_fails_gate_3_saying_what_is_missing(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    edit_plan(repo, lambda plan: set_verify(plan, "alpha", PROSE))
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1
    log = events(repo)
    assert [e["data"]["kind"] for e in log if e["type"] == "message_queued"] == ["prose_claim", "prose_claim"]
    failed = [e for e in log if e["type"] == "gate_failed" and e["agent"] == "alpha"]
    reasons = " ".join(failed[-1]["data"]["reasons"])
    assert "P1 chain chain-1 is QUEUED" in reasons and "its verify is prose" in reasons
    assert "`dispatch chain chain-1 COMPLETE`" in reasons and "Tasks Completed" in reasons


# Item 4: chains the agent parks itself are PARKED with its reason, on the board and carried forward.

def test_chains_the_agent_parks_with_a_reason_are_parked_shown_and_carried_forward(tmp_path: Path) -> None:
    alpha_why = "needs the vendor's price list, which is not in the repository"
    beta_why = "blocked until DATA exposes NAME in app/a.py"
    repo = tmp_path / "proj"
    repo = sprint_repo(tmp_path, {
        "alpha": {"default": [{"write": "app/a.py", "content": "VALUE = 5\n"}, {"commit": "partial"},
                              {"report": "PARTIAL", "parked": []}, {"commit": "report"}]},
        "beta": {"default": [{"chain": "chain-1", "state": "PARKED", "reason": beta_why},
                             {"report": "PARTIAL"}, {"commit": "report"}]},
    })
    edit_plan(repo, lambda plan: set_verify(plan, "beta", "`python -c 'import app.b as m; assert m.NAME == 1'`"))
    script = json.loads((tmp_path / "alpha.json").read_text())
    script["default"][2]["parked"] = [f"{task_id(repo, 'alpha')}: {alpha_why}", "Attempt 1: no data."]
    (tmp_path / "alpha.json").write_text(json.dumps(script))
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    out = result.stdout + result.stderr
    log = events(repo)
    # Parked by the agent: no retry, gate 3 passes (PARKED does not block), and the work lands.
    assert not [e for e in log if e["type"] in ("retry_scheduled", "message_queued")], out
    assert [e["agent"] for e in log if e["type"] == "gate_passed" and e["data"]["gate"].startswith("gate-3")] \
        == ["alpha", "beta"], out
    parked = {e["agent"]: e["data"] for e in log if e["type"] == "chain_state" and e["data"].get("source") == "tool"}
    assert parked["alpha"] == {**parked["alpha"], "state": "PARKED", "park_reason": "agent", "note": alpha_why}
    assert parked["beta"] == {**parked["beta"], "state": "PARKED", "park_reason": "agent", "note": beta_why}
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["chains"]["alpha/chain-1"]["park_reason"] == f"agent: {alpha_why}"
    board = dispatch(repo, "status", check=True).stdout
    assert "PARKED" in " ".join(board.split()) and "vendor's price list" in " ".join(board.split())
    summary = (repo / SUMMARY).read_text()
    assert f"alpha chain-1: parked (agent: {alpha_why}), carry forward" in summary
    assert f"beta chain-1: parked (agent: {beta_why}), carry forward" in summary
    assert decision(repo) == "PARTIAL"  # a parked chain is not shipped work
    # Parking through the CLI needs the reason.
    refused = dispatch(repo, "chain", "chain-1", "PARKED", "--agent", "alpha")
    assert refused.returncode != 0 and "needs a reason" in refused.stderr + refused.stdout
