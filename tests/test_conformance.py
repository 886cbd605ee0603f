"""Conformance: one scenario through every adapter, with the real CLI binary, under `dispatch run`.

The agent edits a file in its worktree (with its own write tool), runs a shell command (all but
aider), the tool's verification fails, the tier-1 correction is delivered by resuming the same CLI
session, the agent applies it, completion is detected and usage is recorded. Each run happens in
a new network namespace with only loopback (`unshare -n`), against our fake model server.

One parametrized test, ``test_conformance[<tool>]``; ``command`` (a scripted agent, no CLI binary)
runs the same scenario through the engine. The real CLIs come from `.ci/install-clis` (into
``$DISPATCH_CLI_DIR``, default ``~/.cache/agent-dispatch/clis``); the ``realcli`` fixture
(tests/realcli.py) skips a CLI that is not installed, unless ``DISPATCH_REQUIRE_REALCLI=1`` (CI sets
it), which makes a missing CLI a failure. Skip them all locally with ``pytest -m "not realcli"``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import git, make_repo
from realcli import RealCLI, dispatch_json

PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")
REPORT = "docs/agent-dispatch/sprints/sprint-01/agent-A-completion.md"
VERIFY = "`python -c 'import app.value as m; assert m.VALUE == 2, m.VALUE'`"
# Every adapter; the real CLIs carry the `realcli` mark that names their binary for the fixture.
TOOLS = [pytest.param("command", id="command"),
         *(pytest.param(cli, id=cli, marks=pytest.mark.realcli(cli))
           for cli in ("claude", "codex", "aider", "opencode", "gemini", "qwen"))]
REPORT_TEXT = """# Agent A — DATA: Sprint 01 Completion Report

Branch: sprint-01/alpha
Status: COMPLETE

## Summary
Set VALUE in app/value.py.

## Files Modified
CREATED  app/value.py

## Verification Results
- Build: PASS
- Tests: PASS
"""


def scenario(tool: str) -> dict:
    """First session: create app/value.py with the wrong value, write the report, commit by shell.
    The tier-1 retry message: correct the value (by shell; aider by an edit) and commit."""
    if tool == "aider":  # no tools, no shell: whole-file edits that aider applies and commits itself
        return {"rules": [
            {"match": "RETRY 1 OF 3", "notools": True, "steps": [{"write": "app/value.py", "content": "VALUE = 2\n"}]},
            {"match": None, "notools": True, "steps": [{"tools": [
                {"write": "app/value.py", "content": "VALUE = 1\n"}, {"write": REPORT, "content": REPORT_TEXT}]}]},
        ]}
    return {"rules": [
        {"match": "RETRY 1 OF 3", "steps": [
            {"shell": "printf 'VALUE = 2\\n' > app/value.py && git add -A && git commit -qm 'fix: VALUE = 2'"},
            {"text": "Fixed: VALUE is 2 now."}]},
        {"match": None, "steps": [
            {"write": "app/value.py", "content": "VALUE = 1\n"},
            {"write": REPORT, "content": REPORT_TEXT},
            {"shell": "git add -A && git commit -qm 'first attempt'"},
            {"text": "Done."}]},
    ]}


def conformance_repo(tmp_path: Path, tool: str) -> Path:
    repo = tmp_path / "proj"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / ".gitignore").write_text("__pycache__/\n")
    agent = {"name": "alpha", "role": "DATA", "letter": "A", "territory": {"include": ["app/value.py"]},
             "chains": [{"id": "chain-1", "priority": "P1", "title": "VALUE is 2",
                         "vector": "app.value.VALUE read by callers", "signal": "VALUE is missing",
                         "fix_site": "app/value.py VALUE", "verify": VERIFY}]}
    if tool == "command":
        script = tmp_path / "alpha.json"
        write = lambda v: [{"write": "app/value.py", "content": f"VALUE = {v}\n" + "#\n" * v},  # noqa: E731
                           {"report": "COMPLETE"}, {"commit": f"VALUE = {v}"}]
        script.write_text(json.dumps({"1": write(1), "default": write(2)}))
        agent["command"] = [sys.executable, "-m", "agent_dispatch.testing.scripted_agent", str(script)]
    plan = {"sprint": {"id": "sprint-01", "theme": "conformance", "base_branch": "main", "tool": tool,
                       "model": "fake-model", "build_command": "python -m compileall -q app",
                       "test_command": "python -c 'import app'"},
            "agents": [agent], "waves": [{"number": 1, "agents": ["alpha"]}]}
    (repo / PLAN).parent.mkdir(parents=True)
    YAML().dump(plan, repo / PLAN)
    make_repo(repo)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario(tool)))
    return repo


def set_model(repo: Path, model: str | None) -> None:
    """The plan's ``sprint.model`` set to ``model`` (None: the plan names no model), committed."""
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    if model is None:
        del plan["sprint"]["model"]
    else:
        plan["sprint"]["model"] = model
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", f"plan: model {model}")


@pytest.mark.parametrize("tool", TOOLS)
def test_conformance(tool: str, tmp_path: Path, realcli: RealCLI) -> None:
    """The scenario above through ``tool``'s adapter, under `dispatch run`, loopback-only."""
    check_conformance(conformance_repo(tmp_path, tool), tool, tmp_path, realcli)


@pytest.mark.realcli("codex")
def test_conformance_codex_with_no_model_in_the_plan(tmp_path: Path, realcli: RealCLI) -> None:
    """As most plans are written: no `model:`. The rehearsal gives Codex a model for which it
    sends its tools (its own default gets them only in code mode, which the fake cannot drive)."""
    repo = conformance_repo(tmp_path, "codex")
    set_model(repo, None)
    check_conformance(repo, "codex", tmp_path, realcli)
    requests = [json.loads(line) for line in
                (repo / ".dispatch" / "rehearsal" / "requests.jsonl").read_text().splitlines()]
    work = [r for r in requests if r.get("api") == "responses"]
    assert work and all(r["model"] == "fake-model" and r["tools"] > 0 for r in work), work


@pytest.mark.realcli("codex")
def test_codex_model_offered_no_tools_stops_the_rehearsal_with_the_fix(tmp_path: Path, realcli: RealCLI) -> None:
    """A plan that names Codex's own default model: one session, which says why it could do
    nothing and how to fix it; no verification failure is counted against the chain."""
    repo = conformance_repo(tmp_path, "codex")
    set_model(repo, "gpt-6.2-sol")
    result = realcli.rehearse(repo, repo / PLAN, tmp_path / "scenario.json", timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    log = [e for e in dispatch_json(repo, "events", "--json") if e["agent"] == "alpha"]
    kinds = [e["type"] for e in log]
    assert kinds.count("agent_session_started") == 1 and "chain_failed" not in kinds, kinds
    [outcome] = [e["data"] for e in log if e["type"] == "session_outcome"]
    assert outcome["reason"] == "no_tools", outcome
    assert outcome["detail"].startswith("codex: fakellm: no tools offered: Codex offers model 'gpt-6.2-sol'")
    assert "model: fake-model" in outcome["detail"] and "model: fake-model" in result.stdout + result.stderr
    [request] = [json.loads(line) for line in
                 (repo / ".dispatch" / "rehearsal" / "requests.jsonl").read_text().splitlines()]
    assert request["reply_kind"] == "no_tools" and request["tools"] == 0 and request["code_mode_tools"] > 0


def check_conformance(repo: Path, tool: str, tmp_path: Path, realcli: RealCLI) -> None:
    """Rehearse the conformance sprint in ``repo`` and check every step of it happened."""
    result = realcli.rehearse(repo, repo / PLAN, tmp_path / "scenario.json", timeout=900)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in sorted((repo / ".dispatch" / "sprint-01" / "logs").glob("*.log")))
    assert result.returncode == 0, result.stdout + result.stderr + logs
    log = dispatch_json(repo, "events", "--json")
    outcomes = [e["data"] for e in log if e["type"] == "session_outcome" and e["agent"] == "alpha"]
    starts = [e["data"] for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha"]
    queued = [e["data"]["kind"] for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    # Verification failed once, the tier-1 correction was delivered, then everything passed.
    assert queued == ["retry_1"], logs
    assert [o["reason"] for o in outcomes] == ["ended", "ended"], (outcomes, logs)
    assert [s["sandbox"] for s in starts] == ["bwrap", "bwrap"]  # every session ran sandboxed
    assert git(repo, "show", "main:app/value.py").startswith("VALUE = 2\n")
    status = dispatch_json(repo, "status", "--json")
    assert status["agents"]["alpha"]["state"] == "COMPLETE" and status["finished"]["outcome"] == "complete"
    if tool == "command":
        return
    # The follow-up resumed the very session the first run started.
    assert outcomes[0]["cli_session"] and starts[1]["resumed"] == outcomes[0]["cli_session"], (outcomes, starts)
    # Usage was read from the CLI's own stream.
    assert all(o["input_tokens"] + o["output_tokens"] > 0 for o in outcomes), outcomes
    assert status["agents"]["alpha"]["tokens"] > 0
    # The model saw the retry message as the human turn of the resumed session.
    requests = [json.loads(line) for line in
                (repo / ".dispatch" / "rehearsal" / "requests.jsonl").read_text().splitlines()]
    assert any("RETRY 1 OF 3" in (r.get("human_text") or "") for r in requests)
    history = git(repo, "log", "--format=%s", "sprint-01/alpha")
    if tool != "aider":  # the shell command really ran: it made these commits
        assert "first attempt" in history and "fix: VALUE = 2" in history, history


@pytest.mark.realcli("claude")
def test_claude_budget_stops_the_agent_after_its_turn(tmp_path: Path, realcli: RealCLI):
    """Token budget spent by the first session: no follow-up session, recorded, health YELLOW."""
    repo = conformance_repo(tmp_path, "claude")
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"][0]["budget"] = {"tokens": 50}
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: budget")
    result = realcli.rehearse(repo, repo / PLAN, tmp_path / "scenario.json", timeout=900)
    assert result.returncode != 0, result.stdout + result.stderr  # the chain never got its correction
    log = dispatch_json(repo, "events", "--json")
    assert len([e for e in log if e["type"] == "agent_session_started"]) == 1
    [spent] = [e for e in log if e["type"] == "budget_exceeded"]
    assert spent["agent"] == "alpha" and "token budget" in spent["data"]["detail"]
    status = dispatch_json(repo, "status", "--json")
    assert status["agents"]["alpha"]["budget_exceeded"] and status["health"] in {"YELLOW", "RED"}
    assert any("over budget" in reason for reason in status["health_reasons"])
