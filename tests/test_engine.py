"""End-to-end sprint engine tests with scripted `command` agents on real repositories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import assert_base_moves_validated, git, make_repo

PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")
VERIFY_A = "`python -c 'import app.a as m; assert m.VALUE == 2, m.VALUE'`"


def write_value(value: int) -> list[dict]:
    # Contents differ in size: a same-size rewrite within one second would hit a stale .pyc.
    content = f"VALUE = {value}\n" + "# attempt\n" * value
    return [{"chain": "chain-1", "state": "FIXING"}, {"write": "app/a.py", "content": content},
            {"commit": f"set VALUE={value}"}, {"report": "COMPLETE"}, {"commit": "report"}]


def sprint_repo(tmp_path: Path, scripts: dict[str, dict], *, extra: dict | None = None, wave_base: str = "merged",
                same_wave: bool = False, test_command: str = "python -c 'import app'",
                files: dict[str, str] | None = None, commands: dict[str, list[str]] | None = None,
                sandbox: str | None = None) -> Path:
    """A repo with agents ``alpha`` (app/a.py, wave 1) and ``beta`` (app/b.py, wave 2) and their
    scripts (``commands``: an agent's own command line instead of the scripted agent). ``sandbox``:
    the plan's ``sprint.sandbox`` (``none`` for a script that also plays the user or an observer,
    writing outside its worktree)."""
    repo = tmp_path / "proj"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "a.py").write_text("VALUE = 0\n")
    (repo / "app" / "b.py").write_text("NAME = 'b'\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    for path, content in (files or {}).items():
        (repo / path).write_text(content)
    agents, waves = [], []
    for number, (name, path) in enumerate((("alpha", "app/a.py"), ("beta", "app/b.py")), start=1):
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps(scripts.get(name, {"default": [{"report": "COMPLETE"}, {"commit": "report"}]})))
        verify = VERIFY_A if name == "alpha" else "`python -c 'import app.b'`"
        agents.append({"name": name, "role": "DATA" if name == "alpha" else "BACKEND",
                       "territory": {"include": [path]},
                       "command": (commands or {}).get(name) or [sys.executable, "-m",
                                                                  "agent_dispatch.testing.scripted_agent", str(script)],
                       "chains": [{"id": "chain-1", "priority": "P1", "title": f"{name} work",
                                   "vector": "app.main() → app.a.load()", "signal": "wrong value",
                                   "fix_site": f"{path} VALUE", "verify": verify}]})
        if same_wave and waves:
            waves[0]["agents"].append(name)
        else:
            waves.append({"number": number, "agents": [name], **({"depends_on": [number - 1]} if number > 1 else {})})
    plan = {"sprint": {"id": "sprint-01", "theme": "engine test", "base_branch": "main", "tool": "command",
                       "build_command": "python -m compileall -q app", "test_command": test_command,
                       "wave_base": wave_base, **({"sandbox": sandbox} if sandbox else {})},
            "agents": agents, "waves": waves, "merge_order": ["alpha", "beta"], **(extra or {})}
    (repo / PLAN).parent.mkdir(parents=True)
    YAML().dump(plan, repo / PLAN)
    make_repo(repo)
    return repo


def dispatch(repo: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True, text=True,
                            timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def events(repo: Path) -> list[dict]:
    return json.loads(dispatch(repo, "events", "--json", check=True).stdout)


def test_waves_retry_ladder_and_landing(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"1": write_value(0), "2": write_value(1), "3": write_value(2)}})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    # No wave-2 agent starts before wave 1's gate 2 passed.
    gate2 = next(e["seq"] for e in log if e["type"] == "gate_passed" and e["data"]["gate"] == "gate-2:wave-1")
    beta_start = next(e["seq"] for e in log if e["type"] == "agent_session_started" and e["agent"] == "beta")
    assert beta_start > gate2
    # Failed twice, then passed: tier 1 and tier 2 messages delivered with the exact error.
    queued = [e for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    assert [e["data"]["kind"] for e in queued] == ["retry_1", "retry_2"]
    first, second = (Path(e["data"]["file"]).read_text() for e in queued)
    assert "RETRY 1 OF 3" in first and "AssertionError: 0" in first
    assert "RETRY 2 OF 3" in second and "AssertionError: 0" in second and "AssertionError: 1" in second
    # The exact error: the verify command's whole output on each failed attempt, not a line of it.
    verify = VERIFY_A.strip("`")
    output_0, output_1 = (check_output(tmp_path / f"rerun-{v}", verify, write_value(v)[1]) for v in (0, 1))
    assert output_0.count("\n") >= 2  # a traceback: more than its last line
    assert f"```\n{output_0}\n```" in first
    assert f"```\n{output_0}\n```" in second and f"```\n{output_1}\n```" in second
    sessions = [e for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha"]
    assert [e["data"]["attempt"] for e in sessions] == [1, 2, 3]
    # The base branch holds both agents' work, and the status agrees with the log.
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert {n: a["state"] for n, a in status["agents"].items()} == {"alpha": "COMPLETE", "beta": "COMPLETE"}
    assert status["chains"]["alpha/chain-1"]["state"] == "COMPLETE"
    assert status["finished"]["outcome"] == "complete" and status["seq"] == log[-1]["seq"]
    # Every ref update of the base branch went to a validated commit.
    updates = [e for e in log if e["type"] == "ref_updated"]
    assert updates and all(e["data"]["validated"] for e in updates)
    # ... and the base's reflog agrees: it never pointed at anything else, not even briefly.
    assert assert_base_moves_validated(repo, log)


def test_chain_failing_four_times_is_parked_and_sprint_finishes(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(7)}})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    log = events(repo)
    kinds = [e["data"]["kind"] for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    assert kinds == ["retry_1", "retry_2", "retry_3"]
    parked = [e for e in log if e["type"] == "chain_state" and e["data"].get("state") == "PARKED"]
    assert parked and parked[0]["data"]["park_reason"] == "retry_exhausted"
    third = next(e for e in log if e["type"] == "message_queued" and e["data"]["kind"] == "retry_3")
    text = Path(third["data"]["file"]).read_text()
    assert "Attempt 1" in text and "Attempt 3" in text  # every earlier error at tier 3
    assert log[-1]["type"] == "sprint_finished"
    assert result.returncode == 0, result.stdout  # the P1 chain is parked with a reason: gate 3 passes


SNEAKS = {
    # The hook refused the commit; the agent forces it through with --no-verify.
    "no-verify": "git commit -q --no-verify -m both",
    # The hook refused the commit; the agent commits its own file and leaves beta's lying around.
    "uncommitted": "git restore --staged app/b.py && git commit -q -m alpha",
}


@pytest.mark.parametrize("sneak", list(SNEAKS))
def test_territory_hook_refuses_the_commit_and_gate3_audits_what_slips_through(tmp_path: Path, sneak: str):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"default": [{"report": "COMPLETE"}]}))
    script = (f"printf 'VALUE = 2\\n' > app/a.py && printf \"NAME = 'x'\\n\" > app/b.py && git add -A\n"
              "git commit -q -m both\n"  # layer 1: the pre-commit hook in alpha's worktree refuses it
              f"{SNEAKS[sneak]}\n"
              f"{sys.executable} -m agent_dispatch.testing.scripted_agent {report}\n"
              'git add "$DISPATCH_REPORT_PATH" && git commit -q -m report\n')
    repo = sprint_repo(tmp_path, {}, commands={"alpha": ["sh", "-c", script]})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1
    session_log = (repo / ".dispatch" / "sprint-01" / "logs" / "alpha-1.log").read_text()
    assert "commit refused" in session_log and "app/b.py (owned by beta; outside territory)" in session_log
    # Layer 2: gate 3 audits the branch and the worktree, whatever the hook did not stop.
    log = events(repo)
    # The hook, a separate process in alpha's worktree, recorded its refusal in the sprint's log.
    rejected = [e for e in log if e["type"] == "territory_rejected"]
    assert rejected and rejected[0]["agent"] == "alpha"
    assert rejected[0]["data"]["hook"] == "pre-commit" and rejected[0]["data"]["paths"] == ["app/b.py"]
    failed = next(e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-3:alpha")
    assert any("app/b.py" in r and "beta owns it" in r for r in failed["data"]["reasons"])
    if sneak == "no-verify":
        assert git(repo, "show", "sprint-01/alpha:app/b.py") == "NAME = 'x'\n"
    else:
        assert any(r == "uncommitted changes: app/b.py" for r in failed["data"]["reasons"])
        assert git(repo, "show", "sprint-01/alpha:app/b.py") == "NAME = 'b'\n"
    assert not any(e["type"] == "agent_session_started" and e["agent"] == "beta" for e in log)
    assert git(repo, "show", "main:app/a.py") == "VALUE = 0\n"  # nothing landed
    # The hooks live in alpha's worktree only: the user's own checkout has none.
    assert subprocess.run(["git", "config", "--get", "core.hooksPath"], cwd=repo).returncode == 1


def test_gate3_fails_a_commit_authored_as_another_agent(tmp_path: Path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"default": [{"report": "COMPLETE"}]}))
    script = ("printf 'VALUE = 2\\n' > app/a.py && git add -A\n"
              "git commit -q --author='beta <beta@sprint-01.agents>' -m fix\n"  # alpha's work, beta's name
              f"{sys.executable} -m agent_dispatch.testing.scripted_agent {report}\n"
              'git add "$DISPATCH_REPORT_PATH" && git commit -q -m report\n')
    repo = sprint_repo(tmp_path, {}, commands={"alpha": ["sh", "-c", script]})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout
    log = events(repo)
    failed = next(e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-3:alpha")
    fix = git(repo, "rev-parse", "sprint-01/alpha~1").strip()
    assert failed["data"]["reasons"] == [
        f"commit {fix[:12]} is authored by beta <beta@sprint-01.agents>, the identity of agent beta"]
    facts = next(e for e in log if e["type"] == "report_parsed" and e["agent"] == "alpha")["data"]["facts"]
    assert facts["foreign_authors"] == [{"commit": fix, "author": "beta <beta@sprint-01.agents>", "agent": "beta"}]


def test_missing_report_blocks_gate3_after_nudges(tmp_path: Path):
    silent = [{"write": "app/a.py", "content": "VALUE = 2\n"}, {"commit": "fix"}]
    repo = sprint_repo(tmp_path, {"alpha": {"default": silent}})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1
    log = events(repo)
    kinds = [e["data"]["kind"] for e in log if e["type"] == "message_queued"]
    assert kinds == ["missing_report", "missing_report"]
    text = Path(next(e for e in log if e["type"] == "message_queued")["data"]["file"]).read_text()
    assert "COMPLETION REPORT MISSING" in text and "chain-1" in text
    failed = next(e for e in log if e["type"] == "gate_failed" and e["data"]["gate"] == "gate-3:alpha")
    assert any("no completion report" in r for r in failed["data"]["reasons"])


def test_gates_wait_for_the_operator_then_resume(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    first = dispatch(repo, "run", str(repo / PLAN))
    assert first.returncode == 4 and "dispatch approve gate-1" in first.stdout
    dispatch(repo, "approve", "gate-1", check=True)
    second = dispatch(repo, "resume", str(repo / PLAN))
    assert second.returncode == 4 and "gate-2:wave-1" in second.stdout
    dispatch(repo, "approve", "gate-2", check=True)
    dispatch(repo, "resume", str(repo / PLAN), check=True)
    log = events(repo)
    assert [e["data"]["by"] for e in log if e["type"] == "gate_approved"][0] != "--yes"
    assert log[-1]["type"] == "sprint_finished"


def test_override_of_failed_wave_is_recorded(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": [{"exit": 0}]}})
    assert dispatch(repo, "run", str(repo / PLAN), "--yes").returncode == 1
    dispatch(repo, "override", "gate-2:wave-1", "--reason", "alpha's chain moves to next sprint", check=True)
    result = dispatch(repo, "resume", str(repo / PLAN), "--yes")
    log = events(repo)
    assert any(e["type"] == "gate_overridden" and "next sprint" in e["data"]["reason"] for e in log)
    assert any(e["type"] == "agent_session_started" and e["agent"] == "beta" for e in log)
    assert log[-1]["type"] == "sprint_finished" and log[-1]["data"]["outcome"] == "partial"
    assert result.returncode == 1


def test_chain_and_p0_from_inside_a_worktree(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    dispatch(repo, "run", str(repo / PLAN), "--yes", check=True)
    # alpha's work landed after wave 1, so wave 2's beta got alpha's worktree from the pool.
    assert not (repo.parent / "proj-sprint-01-alpha").exists()
    started = {e["agent"]: e["data"]["workspace"] for e in events(repo) if e["type"] == "agent_started"}
    assert started == {"alpha": "created", "beta": "recycled"}
    worktree = repo.parent / "proj-sprint-01-beta"
    env_run = subprocess.run([sys.executable, "-m", "agent_dispatch", "p0", "tokens logged in clear", "--file",
                              "app/b.py", "--line", "1"], cwd=worktree, capture_output=True, text=True,
                             env={**__import__("os").environ, "DISPATCH_AGENT": "beta", "DISPATCH_SPRINT": "sprint-01"})
    assert env_run.returncode == 0, env_run.stderr
    p0 = [e for e in events(repo) if e["type"] == "p0_discovered"]
    assert p0 and p0[0]["agent"] == "beta" and p0[0]["data"]["line"] == 1
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["health"] == "RED"  # an untriaged P0 makes the sprint RED


@pytest.mark.parametrize("bad_state", ["DONE", "finished"])
def test_chain_rejects_unknown_state(tmp_path: Path, bad_state: str):
    repo = sprint_repo(tmp_path, {})
    result = dispatch(repo, "chain", "chain-1", bad_state, "--agent", "alpha", "--sprint", "sprint-01")
    assert result.returncode == 1 and "unknown chain state" in result.stderr


def test_context_limit_continues_with_open_chains(tmp_path: Path):
    partial = [{"chain": "chain-1", "state": "TRACING"}, {"exit": 75}]  # 75: context/turn limit ran out
    repo = sprint_repo(tmp_path, {"alpha": {"1": partial, "default": write_value(2)}})
    dispatch(repo, "run", str(repo / PLAN), "--yes", check=True)
    queued = [e for e in events(repo) if e["type"] == "message_queued"]
    assert [e["data"]["kind"] for e in queued] == ["continue"]
    text = Path(queued[0]["data"]["file"]).read_text()
    assert "CONTINUING" in text and "Chain chain-1 [P1]" in text


def test_wave_base_main_lands_at_the_end(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}}, wave_base="main")
    dispatch(repo, "run", str(repo / PLAN), "--yes", check=True)
    log = events(repo)
    merges = [e["seq"] for e in log if e["type"] == "merge_step"]
    beta_start = next(e["seq"] for e in log if e["type"] == "agent_session_started" and e["agent"] == "beta")
    assert min(merges) > beta_start  # nothing landed between the waves
    # beta branched from the original base, not from alpha's landed work
    assert git(repo, "show", "sprint-01/beta:app/a.py") == "VALUE = 0\n"
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")


@pytest.mark.parametrize("second_session", ["retry", "done"])
def test_operator_message_sent_while_a_session_runs_reaches_the_next_session(tmp_path: Path, second_session: str):
    """`dispatch message` during a session: the agent reads it in its next session, whether the
    engine also has a follow-up for it (a retry: both texts) or would otherwise go to gate 3."""
    saved = tmp_path / "second-message.txt"
    first = [{"sleep": 2.5}, *(write_value(1) if second_session == "retry" else write_value(2))]
    repo = sprint_repo(tmp_path, {"alpha": {"1": first, "2": [{"save_message": str(saved)}, *write_value(2)]}},
                       sandbox="none")
    run = subprocess.Popen([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events_db = repo / ".dispatch" / "sprint-01" / "events.db"
    from agent_dispatch.store import EventLog

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if events_db.exists():
            with EventLog(events_db) as log:
                if any(e.agent == "alpha" for e in log.read(types=["agent_session_started"])):
                    break
        time.sleep(0.1)
    sent = dispatch(repo, "message", "alpha", "the constant lives in app/a.py", check=True)
    assert "alpha" in sent.stdout
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    text = saved.read_text()
    assert "the constant lives in app/a.py" in text
    if second_session == "retry":
        assert "RETRY 1 OF 3" in text and "AssertionError: 1" in text  # the engine's follow-up too
    sessions = [e for e in events(repo) if e["type"] == "agent_session_started" and e["agent"] == "alpha"]
    assert len(sessions) == 2


CODEX_REFUSED = '''#!{python}
import json
import sys
if sys.argv[1:] == ["--version"]:  # gate 1's preflight asks every agent CLI for its version
    print("codex-cli 0.0.0 (stand-in)")
    raise SystemExit(0)
refusal = ("fakellm: no tools offered: Codex offers model 'gpt-6.2-sol' its tools only in code mode "
           "(JavaScript run by its `exec` tool; 12 tools), which the fake model cannot script. "
           "Fix: `model: fake-model` in the plan")
body = json.dumps({{"error": {{"message": refusal, "type": "invalid_request_error"}}}})
for line in ({{"type": "thread.started", "thread_id": "t-1"}}, {{"type": "turn.started"}},
             {{"type": "error", "message": body}}, {{"type": "turn.failed", "error": {{"message": body}}}}):
    print(json.dumps(line))
raise SystemExit(1)
'''


def test_a_session_offered_no_tools_stops_the_agent_without_spending_a_retry(tmp_path: Path):
    """A codex session whose model got no tools (the stream of a real refusal by the fake model
    server, replayed by a stand-in binary): not a failed chain attempt, and no further sessions."""
    stub = tmp_path / "codex"
    stub.write_text(CODEX_REFUSED.format(python=sys.executable))
    stub.chmod(0o755)
    repo = sprint_repo(tmp_path, {})
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"][0]["tool"] = "codex"
    del plan["agents"][0]["command"]
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "alpha on codex")
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DISPATCH_CODEX_BIN": str(stub)})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    log = [e for e in events(repo) if e["agent"] == "alpha"]
    kinds = [e["type"] for e in log]
    assert kinds.count("agent_session_started") == 1
    assert not {"chain_failed", "retry_scheduled", "message_queued", "verification"} & set(kinds)
    [outcome] = [e["data"] for e in log if e["type"] == "session_outcome"]
    assert outcome["reason"] == "no_tools" and outcome["detail"].startswith("codex: fakellm: no tools offered")
    [gate] = [e["data"] for e in log if e["type"] == "gate_failed"]
    assert "'gpt-6.2-sol'" in gate["reasons"][0] and "model: fake-model" in gate["reasons"][0]
    assert "model: fake-model" in result.stdout + result.stderr


def test_an_agent_without_a_model_gets_the_runs_default_model_for_its_tool(tmp_path: Path):
    """What a rehearsal relies on: `Options.default_models` fills in a model the plan does not name."""
    from agent_dispatch.agents.all_agents import rehearsal_models
    from agent_dispatch.commands.run import open_runtime
    from agent_dispatch.engine.agent_loop import session_request
    from agent_dispatch.engine.runtime import Options
    from agent_dispatch.engine.state import AgentProgress

    # Codex's own default model gets no function tools: every real CLI has a rehearsal model.
    assert rehearsal_models() == dict.fromkeys(("claude", "codex", "aider", "opencode", "gemini", "qwen"),
                                               "fake-model")
    repo = sprint_repo(tmp_path, {})
    options = Options(default_models={"command": "fake-model"})
    rt = open_runtime(repo / PLAN, repo=repo, options=options)
    assert session_request(rt, "alpha", AgentProgress())[1].model == "fake-model"
    plain = open_runtime(repo / PLAN, repo=repo, options=Options())
    assert session_request(plain, "alpha", AgentProgress())[1].model is None
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["sprint"]["model"] = "plan-model"
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan names a model")
    rt = open_runtime(repo / PLAN, repo=repo, options=options)
    assert session_request(rt, "alpha", AgentProgress())[1].model == "plan-model"  # the plan's wins


def _wait_for(path: Path, run: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert run.poll() is None and time.monotonic() < deadline, "the session never got there"
        time.sleep(0.1)


def test_interrupted_session_is_recovered_not_retried(tmp_path: Path):
    """Ctrl-C of `dispatch run` during a session, then `dispatch resume`: the agent gets the
    recovery message (its uncommitted work kept as a WIP commit), no chain failure, no retry tier."""
    marker, saved = tmp_path / "alpha-working", tmp_path / "second-message.txt"
    # Half-done when Ctrl-C comes: the edit in the worktree does not pass verify yet.
    first = [{"chain": "chain-1", "state": "FIXING"}, {"write": "app/a.py", "content": "VALUE = 1\n"},
             {"write": str(marker), "content": "x"}, {"sleep": 120}]
    second = [{"save_message": str(saved)}, *write_value(2)]
    repo = sprint_repo(tmp_path, {"alpha": {"1": first, "2": second}}, sandbox="none")
    run = subprocess.Popen([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(marker, run)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, out + err
    result = dispatch(repo, "resume", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    alpha = [e for e in log if e["agent"] == "alpha"]
    assert not [e for e in alpha if e["type"] in {"chain_failed", "retry_scheduled"}]
    assert [e["data"]["kind"] for e in alpha if e["type"] == "message_queued"] == ["recover"]
    ended = next(e for e in alpha if e["type"] == "agent_session_ended")
    assert ended["data"]["interrupted"] is True
    assert any(e["type"] == "wip_committed" for e in alpha)
    text = saved.read_text()
    assert "RESUMING" in text and "interrupted" in text and "wip: auto-save before restart" in text
    assert "Resume from chain chain-1" in text and "RETRY" not in text
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")


def check_output(where: Path, command: str, write: dict) -> str:
    """What ``command`` prints (stdout, then stderr) in a copy of the sprint repo's app package
    with one scripted ``write`` applied: the output the tool's own check saw."""
    (where / "app").mkdir(parents=True)
    (where / "app" / "__init__.py").write_text("")
    (where / "app" / "b.py").write_text("NAME = 'b'\n")
    (where / write["write"]).write_text(write["content"])
    done = subprocess.run(["bash", "-c", command], cwd=where, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return (done.stdout + ("\n" if done.stdout and done.stderr else "") + done.stderr).strip()


def test_retry_message_carries_a_long_output_with_its_marked_truncation(tmp_path: Path):
    """Output longer than OUTPUT_TAIL reaches the agent as its last OUTPUT_TAIL characters behind
    one ellipsis (the documented cut), every line of that tail intact."""
    from agent_dispatch.checkrun import OUTPUT_TAIL, run_check
    from agent_dispatch.engine import messages
    from agent_dispatch.plan.model import Chain

    command = "python -c \"import sys; [print(f'line {i}: ' + 'x' * 40, file=sys.stderr) for i in range(300)]; sys.exit(4)\""
    full = "\n".join(f"line {i}: " + "x" * 40 for i in range(300))
    check = run_check("verify", "chain-1", command, tmp_path, timeout=60)
    assert not check.ok and check.returncode == 4
    assert check.output == "…" + full[-OUTPUT_TAIL:]
    chain = Chain(id="chain-1", priority="P1", title="t", vector="v", signal="s", fix_site="f", verify=f"`{command}`")
    values = {"attempt": 2, "codename": "A", "agent": "alpha", "sprint": "s", "branch": "b", "report_path": "r",
              "build_command": "b", "test_command": "t", "chain": chain, "verify_command": command}
    text = messages.retry_message(1, **values, history=[], failures=[check])
    assert f"```\n…{full[-OUTPUT_TAIL:]}\n```" in text
    short = run_check("verify", "chain-1", "python -c \"print('a'); print('b'); raise SystemExit('c')\"", tmp_path,
                      timeout=60)
    assert short.output == "a\nb\n\nc"  # under the limit: all of it, stdout then a newline then stderr
    assert "```\na\nb\n\nc\n```" in messages.retry_message(1, **values, history=[], failures=[short])


def test_retry_message_without_error_output_is_refused():
    from agent_dispatch.checkrun import CheckResult
    from agent_dispatch.engine import messages
    from agent_dispatch.plan.model import Chain

    chain = Chain(id="chain-1", priority="P1", title="t", vector="v", signal="s", fix_site="f", verify="`true`")
    values = {"attempt": 2, "codename": "A", "agent": "alpha", "sprint": "s", "branch": "b", "report_path": "r",
              "build_command": "b", "test_command": "t", "chain": chain, "history": [], "verify_command": "true"}
    for failures in ([], [CheckResult("verify", "chain-1", "true", False, 1, "  ")]):
        with pytest.raises(ValueError, match="no error output"):
            messages.retry_message(1, **values, failures=failures)
    # A command that fails silently still gives the agent something to read.
    from agent_dispatch.checkrun import run_check
    silent = run_check("verify", "chain-1", "exit 3", Path.cwd(), timeout=30)
    assert not silent.ok and "exit status 3" in silent.output
    assert "exit status 3" in messages.retry_message(1, **values, failures=[silent])


def test_uncommitted_work_is_not_verified_as_done(tmp_path: Path):
    """A chain whose fix is only in the worktree is not done: the agent is asked to commit it, and the
    chain counts once the committed branch tip passes."""
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"default": [{"report": "COMPLETE"}]}))
    script = ("printf 'VALUE = 2\\n' > app/a.py\n"
              f"{sys.executable} -m agent_dispatch.testing.scripted_agent {report}\n"
              'git add "$DISPATCH_REPORT_PATH" && git commit -q -m report\n'
              'if [ "$DISPATCH_ATTEMPT" = 2 ]; then git add -A && git commit -q -m "commit the fix"; fi\n')
    repo = sprint_repo(tmp_path, {}, commands={"alpha": ["sh", "-c", script]})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    second = next(e["seq"] for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha"
                  and e["data"]["attempt"] == 2)
    done = [e["seq"] for e in log if e["type"] == "chain_state" and e["agent"] == "alpha"
            and e["data"].get("source") == "tool" and e["data"]["state"] == "COMPLETE"]
    assert done and min(done) > second  # not after session 1, whose fix was never committed
    queued = [e for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    assert [e["data"]["kind"] for e in queued] == ["uncommitted"]
    text = Path(queued[0]["data"]["file"]).read_text()
    assert "UNCOMMITTED WORK" in text and "app/a.py" in text
    assert git(repo, "show", "main:app/a.py") == "VALUE = 2\n"


@pytest.mark.parametrize("sneak", list(SNEAKS))
def test_territory_crossing_gets_the_territory_follow_up(tmp_path: Path, sneak: str):
    """An agent that changed another agent's file is told which file, whose it is and what to do
    (R-03), not asked to commit its work."""
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"default": [{"report": "COMPLETE"}]}))
    script = ("if [ \"$DISPATCH_ATTEMPT\" = 1 ]; then\n"
              f"printf 'VALUE = 2\\n' > app/a.py && printf \"NAME = 'x'\\n\" > app/b.py && git add -A\n"
              "git commit -q -m both\n"
              f"{SNEAKS[sneak]}\n"
              "fi\n"
              f"{sys.executable} -m agent_dispatch.testing.scripted_agent {report}\n"
              'git add "$DISPATCH_REPORT_PATH" && git commit -q -m report\n')
    repo = sprint_repo(tmp_path, {}, commands={"alpha": ["sh", "-c", script]})
    dispatch(repo, "run", str(repo / PLAN), "--yes")
    queued = [e for e in events(repo) if e["type"] == "message_queued" and e["agent"] == "alpha"]
    assert queued and queued[0]["data"]["kind"] == "territory"
    text = Path(queued[0]["data"]["file"]).read_text()
    assert "app/b.py" in text and "owned by beta" in text and "Issues for Other Agents" in text
    assert "Commit what belongs to your chains" not in text
    assert ("git restore" if sneak == "uncommitted" else "git checkout main -- app/b.py") in text


def test_parked_chain_shows_parked_with_its_reason(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(7)}})
    dispatch(repo, "run", str(repo / PLAN), "--yes")
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    chain = status["chains"]["alpha/chain-1"]
    assert chain["state"] == "PARKED" and chain["park_reason"] == "retry_exhausted"
    alpha = status["agents"]["alpha"]
    assert (alpha["chains_done"], alpha["chains_parked"], alpha["chains_left"]) == (0, 1, 0)
    board = dispatch(repo, "status", check=True).stdout
    assert "PARKED" in board and "retry_exhausted" in board
