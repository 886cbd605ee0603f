"""Issue 12, items 1 and 2 (the documents a prompt names, the reporting commands it teaches), end to end: `command` agents that know only what their prompt says.

The agent (tests/protocol_agent.py) reads every file of its prompt's reading list from its own
worktree and stops when one is missing; it reports its chain and P0s with the command lines printed
in its prompt, and commits with subjects that start with the chain id.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import git, make_repo
from test_engine import PLAN, dispatch, events, sprint_repo

from agent_dispatch.workspace.documents import place_documents

AGENT = Path(__file__).with_name("protocol_agent.py")
SPRINT_DIR = PLAN.parent.as_posix()
PROSE = "the value reads 2 when the app loads"  # a prose verify: no command the tool can run


def protocol_repo(tmp_path: Path, behaviours: dict[str, dict], *, prose: bool = False) -> Path:
    commands = {}
    for name, behaviour in behaviours.items():
        spec = tmp_path / f"{name}-behaviour.json"
        spec.write_text(json.dumps(behaviour))
        commands[name] = [sys.executable, str(AGENT), str(spec)]
    repo = sprint_repo(tmp_path, {}, commands=commands)
    if prose:
        yaml = YAML()
        plan = yaml.load(repo / PLAN)
        for agent in plan["agents"]:
            agent["chains"][0]["verify"] = PROSE
        yaml.dump(plan, repo / PLAN)
        git(repo, "commit", "-qam", "plan: prose verify")
    return repo


def printed(prompt: str, *words: str) -> str:
    """The `dispatch` command line the prompt prints for ``words`` (e.g. "chain", "chain-1", "PARKED")."""
    for line in prompt.splitlines():
        if re.match(r"^\s+\S*dispatch (chain|p0) ", line) and shlex.split(line)[1:1 + len(words)] == list(words):
            return line.strip()
    raise AssertionError(f"the prompt prints no dispatch {' '.join(words)} line")


ALPHA = {"write": "app/a.py", "content": "VALUE = 2\n", "subject": "set VALUE=2"}
BETA = {"write": "app/b.py", "content": "NAME = 'beta'\n", "subject": "name beta"}


def test_every_document_the_prompt_names_is_in_the_agents_worktree(tmp_path: Path):
    repo = protocol_repo(tmp_path, {"alpha": ALPHA, "beta": BETA})
    run = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = events(repo)
    outcomes = [e["data"] for e in log if e["type"] == "session_outcome"]
    assert outcomes and all(o["reason"] == "ended" for o in outcomes), outcomes
    # The copies were the agents' to read, never their work: nothing of them landed.
    landed = git(repo, "ls-tree", "-r", "--name-only", "main").split()
    assert f"{SPRINT_DIR}/DISPATCH.md" not in landed
    assert not [p for p in landed if p.startswith(f"{SPRINT_DIR}/activation-prompts/")]
    assert not [p for p in landed if p.startswith(f"{SPRINT_DIR}/agent-") and not p.endswith("-completion.md")]
    assert not [e for e in log if e["type"] == "territory_violation"]


def test_documents_tracked_by_the_project_are_refreshed_but_never_committed(tmp_path: Path):
    repo = make_repo(tmp_path / "proj")
    (repo / "docs").mkdir()
    (repo / "docs" / "DISPATCH.md").write_text("old\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "an earlier render, committed")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "agent", str(worktree))
    (repo / "docs" / "DISPATCH.md").write_text("new\n")
    (repo / "docs" / "task.md").write_text("task\n")
    copied = place_documents(repo, worktree, ["docs/DISPATCH.md", "docs/task.md", "docs/absent.md"])
    assert copied == ["docs/DISPATCH.md", "docs/task.md"]
    assert (worktree / "docs" / "DISPATCH.md").read_text() == "new\n"
    # tracked: skip-worktree keeps the rendered text out of status and commits
    assert "DISPATCH.md" not in git(worktree, "status", "--porcelain")
    assert place_documents(repo, worktree, ["docs/DISPATCH.md", "docs/task.md"]) == []


def test_render_fails_when_a_named_path_will_not_be_in_the_worktree(tmp_path: Path):
    repo = sprint_repo(tmp_path, {})
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["sprint"]["project_context_file"] = "docs/CONTEXT-MISSING.md"
    yaml.dump(plan, repo / PLAN)
    result = dispatch(repo, "render", str(repo / PLAN))
    assert result.returncode == 1
    assert "names 'docs/CONTEXT-MISSING.md', which will not exist in the agent's worktree" in result.stderr
    assert not (repo / SPRINT_DIR / "DISPATCH.md").exists()  # nothing was written


def test_agents_report_chains_and_p0_with_the_commands_their_prompt_prints(tmp_path: Path):
    # Prose verify: the tool cannot check the chain itself, so the agents' reports are what moves it.
    repo = protocol_repo(tmp_path, {"alpha": ALPHA, "beta": {**BETA, "p0": "tokens are logged in clear"}},
                         prose=True)
    run = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = events(repo)
    claims = [(e["agent"], e["chain"], e["data"]["state"]) for e in log
              if e["type"] == "chain_state" and e["data"].get("source") == "agent"]
    for agent in ("alpha", "beta"):
        assert (agent, "chain-1", "TRACING") in claims and (agent, "chain-1", "COMPLETE") in claims
    p0 = [e for e in log if e["type"] == "p0_discovered"]
    by_command = [e for e in p0 if "commit" not in e["data"]]
    by_commit = [e for e in p0 if "commit" in e["data"]]
    assert len(by_command) == 1 and by_command[0]["agent"] == "beta"
    posted = {k: v for k, v in by_command[0]["data"].items() if k != "claim"}  # claim: its inbox id, if posted
    assert posted == {"description": "tokens are logged in clear", "file": "app/b.py", "line": 1}
    assert len(by_commit) == 1 and by_commit[0]["data"]["description"] == "tokens are logged in clear"
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert all(a["state"] == "COMPLETE" for a in status["agents"].values())


def test_a_commit_subject_naming_the_chain_completes_a_prose_chain(tmp_path: Path):
    # The agents never run `dispatch chain`: their commit subjects ("chain-1: ...") are the signal.
    quiet = {"report": False}
    repo = protocol_repo(tmp_path, {"alpha": {**ALPHA, **quiet}, "beta": {**BETA, **quiet}}, prose=True)
    run = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = events(repo)
    from_commits = [e for e in log if e["type"] == "chain_state" and e["data"].get("source") == "commit"]
    assert {e["agent"] for e in from_commits} == {"alpha", "beta"}
    assert all(e["data"]["state"] == "COMPLETE" and e["data"]["commit"] for e in from_commits)
    verified = [e for e in log if e["type"] == "chain_state" and e["data"].get("source") == "tool"]
    assert {(e["agent"], e["data"]["state"]) for e in verified} == {("alpha", "COMPLETE"), ("beta", "COMPLETE")}


def test_printed_commands_run_as_printed_from_the_worktree_without_the_session_environment(tmp_path: Path):
    repo = protocol_repo(tmp_path, {"alpha": ALPHA, "beta": BETA})
    dispatch(repo, "run", str(repo / PLAN), "--yes", check=True)
    prompt = next((repo / SPRINT_DIR / "activation-prompts").glob("agent-*-beta.md")).read_text()
    line = printed(prompt, "chain", "chain-1", "PARKED")
    worktree = repo.parent / "proj-sprint-01-beta"
    # Nothing of the session's environment: no DISPATCH_* and a login shell's PATH (Codex runs `bash -lc`).
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run(["sh", "-c", line], cwd=worktree, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    parked = [e for e in events(repo) if e["type"] == "chain_state" and e["data"]["state"] == "PARKED"]
    assert parked and parked[-1]["agent"] == "beta" and "what you tried" in parked[-1]["data"]["note"]


def real_cli_repo(tmp_path: Path, tool: str) -> tuple[Path, dict]:
    """alpha runs on the real ``tool`` (prose verify: its own COMPLETE report decides), beta stays
    a prompt-following `command` agent; returns the repo and the scenario alpha's model follows,
    written from what alpha's rendered prompt names: its task doc and its COMPLETE command line."""
    repo = protocol_repo(tmp_path, {"beta": BETA}, prose=True)
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["sprint"]["tool"], plan["sprint"]["model"] = tool, "fake-model"
    for agent in plan["agents"]:
        if agent["name"] == "alpha":
            agent.pop("command")
        else:
            agent["tool"] = "command"
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", f"plan: alpha runs on {tool}")
    dispatch(repo, "render", str(repo / PLAN), check=True)
    prompt = next((repo / SPRINT_DIR / "activation-prompts").glob("agent-*-alpha.md")).read_text()
    task_doc = next(line.split(" ")[1] for line in prompt.splitlines() if line.endswith("(your task doc; follow it exactly)"))
    complete = printed(prompt, "chain", "chain-1", "COMPLETE")
    # Where the sandboxed session can read it (the repository is bound read-only; the rest of /tmp is not).
    report = repo / ".git" / "report-script.json"
    report.write_text(json.dumps({"default": [{"report": "COMPLETE"}, {"commit": "docs: completion report"}]}))
    steps = [
        {"text": "Reading my task doc.", "shell": f"cat {task_doc}"},  # fails when the file is missing
        {"shell": "printf 'VALUE = 2\\n' > app/a.py && git commit -qam 'set VALUE=2'"},
        {"text": "Reporting the chain.", "shell": complete},
        {"shell": f"{sys.executable} -m agent_dispatch.testing.scripted_agent {report}"},
        {"text": "Done."},
    ]
    return repo, {"rules": [{"match": None, "steps": steps}]}


def run_real_cli_protocol(tmp_path: Path, realcli) -> None:
    repo, scenario = real_cli_repo(tmp_path, realcli.name)
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(scenario))
    result = realcli.rehearse(repo, repo / PLAN, scenario_file, timeout=900)
    log = events(repo)
    outcomes = [e["data"] for e in log if e["type"] == "session_outcome" and e["agent"] == "alpha"]
    assert outcomes and outcomes[0]["reason"] == "ended" and outcomes[0]["tool"] == realcli.name, outcomes
    assert outcomes[0]["failed_tools"] == 0, outcomes  # `cat <task doc>` found the file in the worktree
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    claims = [e for e in log if e["type"] == "chain_state" and e["agent"] == "alpha" and e["data"].get("source") == "agent"]
    assert [e["data"]["state"] for e in claims] == ["COMPLETE"]
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["agents"]["alpha"]["state"] == "COMPLETE"


@pytest.mark.realcli("claude")
def test_a_real_claude_reads_its_task_doc_and_reports_its_chain_as_the_prompt_says(tmp_path: Path, realcli):
    run_real_cli_protocol(tmp_path, realcli)


@pytest.mark.realcli("codex")
def test_a_real_codex_reads_its_task_doc_and_reports_its_chain_as_the_prompt_says(tmp_path: Path, realcli):
    run_real_cli_protocol(tmp_path, realcli)


def test_commit_subjects_name_chains_by_whole_id_and_flag_p0():
    from agent_dispatch.engine.commits import parse_subject

    names = {"chain-1": "chain-1", "chain-10": "chain-10", "A-01": "chain-1"}
    assert parse_subject("chain-10: fix the cache", names).chains == ("chain-10",)
    assert parse_subject("fix: A-01 — null check", names).chains == ("chain-1",)
    assert parse_subject("P0: tokens logged in clear", names).p0 == "tokens logged in clear"
    assert parse_subject("fix the P0: not a P0 subject", names).p0 is None
