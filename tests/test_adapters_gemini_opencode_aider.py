"""The Gemini CLI, OpenCode and aider adapters: argv, environment, config, stream parsing, and
real runs of each binary against the fake model server.

Real runs (``@pytest.mark.realcli``) happen in a new network namespace where only loopback is
up, through the shared driver (tests/realcli.py, the ``realcli`` fixture): the fake model server
is started inside it (on a fixed port: the namespace has its own loopback) and the CLI runs with
exactly the argv and environment its adapter builds, in a temp git repository. A CLI that is not
installed is skipped, unless ``DISPATCH_REQUIRE_REALCLI=1``, which makes it a failure. Binaries are found like the engine finds them
(``CLIAdapter.executable()``: PATH or ``DISPATCH_<NAME>_BIN``), with ``.ci/install-clis``'s
``$DISPATCH_CLI_DIR/bin`` put first on PATH.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT, git, make_repo
from realcli import BASE_URL, MODEL, RealCLI, SessionRun

from agent_dispatch.agents.aider import SESSION_ID as AIDER_SESSION
from agent_dispatch.agents.aider import AiderAdapter
from agent_dispatch.agents.base import SessionOutcome, SessionRequest
from agent_dispatch.agents.cli import CLIAdapter
from agent_dispatch.agents.events import Kind, summarize
from agent_dispatch.agents.gemini import GeminiAdapter
from agent_dispatch.agents.opencode import OpenCodeAdapter


# ------------------------------------------------------------------------------------ helpers

def make_request(tmp_path: Path, *, worktree: Path | None = None, prompt: str = "say hello",
                 message: str | None = None, resume: str | None = None, attempt: int = 1,
                 model: str | None = MODEL, base_url: str | None = BASE_URL,
                 api_key: str | None = "fake-key") -> SessionRequest:
    prompt_file = tmp_path / f"prompt-{attempt}.md"
    prompt_file.write_text(prompt, encoding="utf-8")
    message_file = None
    if message is not None:
        message_file = tmp_path / f"message-{attempt}.md"
        message_file.write_text(message, encoding="utf-8")
    worktree = worktree or tmp_path / "wt"
    worktree.mkdir(parents=True, exist_ok=True)
    return SessionRequest(
        sprint="sprint-01", agent="alpha", role="DATA", branch="sprint-01/alpha", base_branch="main",
        worktree=worktree, prompt_file=prompt_file, report_path="report.md", attempt=attempt,
        message_file=message_file, resume_session=resume, state_home=tmp_path / "home",
        model=model, base_url=base_url, api_key=api_key)


def lines(*objs: dict) -> str:
    return "\n".join(json.dumps(o) for o in objs) + "\n"


def outcome_of(adapter: CLIAdapter, text: str, tmp_path: Path, exit_code: int = 0) -> SessionOutcome:
    log = tmp_path / "session.log"
    log.write_text(text, encoding="utf-8")
    return adapter.outcome(exit_code, log, timed_out=False, killed=False)


# ------------------------------------------------------------------------------------ Gemini

GEMINI_OK = lines(
    {"type": "init", "timestamp": "t", "session_id": "fd1162a0-2bb4-44ca-9f31-b80ae6e6c4e8",
     "model": "gemini-2.5-flash"},
    {"type": "message", "role": "user", "content": "say hello"},
    {"type": "tool_use", "tool_name": "write_file", "tool_id": "w1",
     "parameters": {"file_path": "hello.txt", "content": "hello\n"}},
    {"type": "tool_result", "tool_id": "w1", "status": "success"},
    {"type": "tool_use", "tool_name": "run_shell_command", "tool_id": "s1",
     "parameters": {"command": "echo bash-ran > bash_out.txt"}},
    {"type": "tool_result", "tool_id": "s1", "status": "success", "output": ""},
    {"type": "message", "role": "assistant", "content": "all ", "delta": True},
    {"type": "message", "role": "assistant", "content": "done", "delta": True},
    {"type": "result", "status": "success", "stats": {
        "total_tokens": 330, "input_tokens": 300, "output_tokens": 30, "cached": 0, "input": 300,
        "duration_ms": 908, "tool_calls": 2, "models": {}}},
)


def test_gemini_parse_successful_session(tmp_path: Path):
    out = outcome_of(GeminiAdapter(), "Warning: 256-color support not detected.\n" + GEMINI_OK, tmp_path)
    s = out.summary
    assert out.reason == "ended" and out.cli_session == "fd1162a0-2bb4-44ca-9f31-b80ae6e6c4e8"
    assert (s.tool_uses, s.files_changed, s.final_text) == (2, ["hello.txt"], "all done")
    assert (s.input_tokens, s.output_tokens, s.cost_usd) == (300, 30, None)


def test_gemini_parse_tool_not_found_is_denied(tmp_path: Path):
    text = lines(
        {"type": "init", "session_id": "s"},
        {"type": "tool_use", "tool_name": "write_file", "tool_id": "w1", "parameters": {"file_path": "x"}},
        {"type": "tool_result", "tool_id": "w1", "status": "error", "output": 'Tool "write_file" not found.',
         "error": {"type": "tool_not_registered", "message": 'Tool "write_file" not found. Did you mean'}},
        {"type": "result", "status": "success", "stats": {"input_tokens": 1, "output_tokens": 1}})
    out = outcome_of(GeminiAdapter(), text, tmp_path)
    assert out.reason == "failed" and out.summary.denied_tools == ["write_file"]
    assert out.summary.files_changed == []


def test_gemini_parse_bad_params_is_a_failed_tool_not_a_denial(tmp_path: Path):
    text = lines(
        {"type": "init", "session_id": "s"},
        {"type": "tool_use", "tool_name": "replace", "tool_id": "r1", "parameters": {"file_path": "x"}},
        {"type": "tool_result", "tool_id": "r1", "status": "error",
         "error": {"type": "invalid_tool_params", "message": "params must have required property"}},
        {"type": "result", "status": "success", "stats": {"input_tokens": 1, "output_tokens": 1}})
    out = outcome_of(GeminiAdapter(), text, tmp_path)
    assert out.reason == "ended" and out.summary.failed_tools == ["replace"]


def test_gemini_parse_api_error_result(tmp_path: Path):
    text = lines(
        {"type": "init", "session_id": "s"},
        {"type": "result", "status": "error", "error": {"type": "unknown", "message": "[API Error: 500 kaboom]"},
         "stats": {"input_tokens": 0, "output_tokens": 0}})
    out = outcome_of(GeminiAdapter(), text, tmp_path, exit_code=0)
    assert out.reason == "failed" and "kaboom" in out.detail


def test_gemini_parse_warning_is_not_fatal_but_error_severity_is(tmp_path: Path):
    base = [{"type": "init", "session_id": "s"}]
    end = {"type": "result", "status": "success", "stats": {}}
    warn = outcome_of(GeminiAdapter(), lines(*base, {"type": "error", "severity": "warning",
                                                     "message": "loop?"}, end), tmp_path)
    assert warn.reason == "ended" and warn.summary.warnings == ["loop?"]
    err = outcome_of(GeminiAdapter(), lines(*base, {"type": "error", "severity": "error",
                                                    "message": "Maximum session turns exceeded"}, end), tmp_path)
    assert err.reason == "limit"


def test_gemini_no_result_is_not_success(tmp_path: Path):
    out = outcome_of(GeminiAdapter(), lines({"type": "init", "session_id": "s"}), tmp_path)
    assert out.reason == "failed" and "no completion event" in out.detail


def test_gemini_turn_limit_exit_is_limit(tmp_path: Path):
    text = lines({"type": "init", "session_id": "s"},
                 {"type": "result", "status": "error", "error": {"type": "FatalTurnLimitedError",
                                                                 "message": "Reached max session turns"}})
    assert outcome_of(GeminiAdapter(), text, tmp_path, exit_code=53).reason == "limit"


def test_gemini_argv_new_and_resumed(tmp_path: Path):
    new = GeminiAdapter().cli_argv("gemini", make_request(tmp_path, prompt="---\nfront: matter"))
    assert new == ["gemini", "--output-format", "stream-json", "--skip-trust", "--yolo",
                   f"--model={MODEL}", "--prompt=---\nfront: matter"]
    follow = make_request(tmp_path, prompt="P", message="fix it", resume="uuid-1", attempt=2)
    argv = GeminiAdapter(approval_mode="default").cli_argv("gemini", follow)
    assert "--resume=uuid-1" in argv and argv[-1] == "--prompt=fix it"
    assert "--approval-mode=default" in argv and "--yolo" not in argv
    # A message without a session to resume: a new session gets prompt and message together.
    fresh = make_request(tmp_path, prompt="P", message="fix it", attempt=3)
    argv = GeminiAdapter().cli_argv("gemini", fresh)
    assert not any(a.startswith("--resume") for a in argv) and argv[-1] == "--prompt=P\n\n---\n\nfix it"


def test_gemini_env_and_settings(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    adapter = GeminiAdapter(max_attempts=1)
    request = make_request(tmp_path, api_key=None)
    adapter.prepare(request)
    env = adapter.env(request)
    assert env["HOME"] == str(tmp_path / "home") and env["GOOGLE_GEMINI_BASE_URL"] == BASE_URL
    assert env["GEMINI_API_KEY"]  # a placeholder: api-key auth needs one
    settings_path = tmp_path / "home" / ".gemini" / "settings.json"
    settings = json.loads(settings_path.read_text())
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["telemetry"]["enabled"] is False and settings["general"]["disableAutoUpdate"] is True
    assert settings["general"]["maxAttempts"] == 1
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    # Idempotent, and keeps what others wrote there.
    settings["ui"] = {"theme": "x"}
    settings_path.write_text(json.dumps(settings))
    adapter.prepare(request)
    assert json.loads(settings_path.read_text())["ui"] == {"theme": "x"}
    # The user's own key passes through when the plan gives none.
    monkeypatch.setenv("GEMINI_API_KEY", "users-key")
    assert adapter.env(request)["GEMINI_API_KEY"] == "users-key"
    assert adapter.env(replace(request, api_key="given"))["GEMINI_API_KEY"] == "given"


# ------------------------------------------------------------------------------------ OpenCode

def oc(kind: str, part: dict, session: str = "ses_1") -> dict:
    return {"type": kind, "timestamp": 1, "sessionID": session, "part": part}


OPENCODE_OK = lines(
    oc("step_start", {"type": "step-start", "snapshot": "4b82"}),
    oc("tool_use", {"type": "tool", "tool": "write", "callID": "c1", "state": {
        "status": "completed", "input": {"filePath": "hello.txt", "content": "hello\n"},
        "output": "Wrote file successfully.", "metadata": {"filepath": "/wt/hello.txt"}}}),
    oc("step_finish", {"type": "step-finish", "reason": "tool-calls", "cost": 0.001, "tokens": {
        "total": 110, "input": 100, "output": 10, "reasoning": 0, "cache": {"write": 0, "read": 0}}}),
    oc("tool_use", {"type": "tool", "tool": "bash", "callID": "c2", "state": {
        "status": "completed", "input": {"command": "echo hi", "description": "run"}, "output": "hi"}}),
    oc("step_finish", {"type": "step-finish", "reason": "tool-calls", "cost": 0.001,
                       "tokens": {"input": 100, "output": 10}}),
    oc("text", {"type": "text", "text": "all done"}),
    oc("step_finish", {"type": "step-finish", "reason": "stop", "cost": 0.002,
                       "tokens": {"input": 120, "output": 5}}),
)


def test_opencode_parse_successful_session(tmp_path: Path):
    out = outcome_of(OpenCodeAdapter(), OPENCODE_OK, tmp_path)
    s = out.summary
    assert out.reason == "ended" and out.cli_session == "ses_1"
    assert (s.tool_uses, s.files_changed, s.final_text) == (2, ["hello.txt"], "all done")
    assert (s.input_tokens, s.output_tokens) == (320, 25) and s.cost_usd == pytest.approx(0.004)


def test_opencode_parse_rejected_permission_is_denied_and_unfinished(tmp_path: Path):
    text = lines(
        oc("step_start", {"type": "step-start"}),
        oc("tool_use", {"type": "tool", "tool": "bash", "callID": "c1", "state": {
            "status": "error", "input": {"command": "echo hi > denied.txt"},
            "error": "The user rejected permission to use this specific tool call."}}),
        oc("step_finish", {"type": "step-finish", "reason": "tool-calls", "tokens": {"input": 1, "output": 1}}))
    out = outcome_of(OpenCodeAdapter(), text, tmp_path)
    assert out.reason == "failed" and out.summary.denied_tools == ["bash"] and not out.summary.finished


def test_opencode_parse_removed_tool_is_denied(tmp_path: Path):
    text = lines(
        oc("tool_use", {"type": "tool", "tool": "invalid", "callID": "c1", "state": {
            "status": "completed", "input": {"tool": "bash", "error": "Model tried to call unavailable tool 'bash'."},
            "output": "The arguments provided to the tool are invalid"}}),
        oc("step_finish", {"type": "step-finish", "reason": "stop", "tokens": {"input": 1, "output": 1}}))
    out = outcome_of(OpenCodeAdapter(), text, tmp_path)
    assert out.reason == "failed" and out.summary.denied_tools == ["bash"]
    bad_args = text.replace("Model tried to call unavailable tool 'bash'.", "Invalid input for tool bash")
    out = outcome_of(OpenCodeAdapter(), bad_args, tmp_path)
    assert out.reason == "ended" and out.summary.failed_tools == ["bash"]


def test_opencode_parse_failed_tool_is_not_a_denial(tmp_path: Path):
    text = lines(
        oc("tool_use", {"type": "tool", "tool": "edit", "callID": "c1", "state": {
            "status": "error", "input": {"filePath": "x"}, "error": "oldString not found in content"}}),
        oc("step_finish", {"type": "step-finish", "reason": "stop", "tokens": {"input": 1, "output": 1}}))
    out = outcome_of(OpenCodeAdapter(), text, tmp_path)
    assert out.reason == "ended" and out.summary.failed_tools == ["edit"] and out.summary.files_changed == []


def test_opencode_parse_api_error(tmp_path: Path):
    text = lines({"type": "error", "timestamp": 1, "sessionID": "ses_2", "error": {
        "name": "APIError", "data": {"message": "kaboom", "statusCode": 500, "isRetryable": True}}})
    out = outcome_of(OpenCodeAdapter(), text, tmp_path, exit_code=0)
    assert out.reason == "failed" and out.detail == "error: APIError: kaboom" and out.cli_session == "ses_2"


def test_opencode_no_stop_step_is_not_success(tmp_path: Path):
    text = lines(oc("step_finish", {"type": "step-finish", "reason": "length", "tokens": {}}))
    assert outcome_of(OpenCodeAdapter(), text, tmp_path).reason == "failed"


def test_opencode_argv_new_and_resumed(tmp_path: Path):
    request = make_request(tmp_path, prompt="-x")
    new = OpenCodeAdapter().cli_argv("opencode", request)
    assert new == ["opencode", "run", "--pure", "--format", "json", "--dir", str(request.worktree),
                   "-m", f"dispatch/{MODEL}", "--", "-x"]
    follow = make_request(tmp_path, message="fix it", resume="ses_9", attempt=2)
    argv = OpenCodeAdapter().cli_argv("opencode", follow)
    assert argv[-4:] == ["-s", "ses_9", "--", "fix it"]
    # Without an endpoint the plan's provider/model is used as it is.
    plain = make_request(tmp_path, model="anthropic/claude-x", base_url=None, attempt=3)
    assert OpenCodeAdapter().cli_argv("opencode", plain)[7:9] == ["-m", "anthropic/claude-x"]


def test_opencode_env_and_config(tmp_path: Path):
    adapter = OpenCodeAdapter()
    request = make_request(tmp_path)
    adapter.prepare(request)
    env = adapter.env(request)
    config_path = Path(env["OPENCODE_CONFIG"])
    assert config_path.parent == tmp_path / "home" and env["OPENCODE_DISABLE_AUTOUPDATE"] == "1"
    assert env["PWD"] == str(request.worktree)  # OpenCode takes its project from $PWD
    assert env["OPENCODE_DISABLE_DEFAULT_PLUGINS"] == "1" and env["XDG_DATA_HOME"].startswith(str(tmp_path))
    config = json.loads(config_path.read_text())
    assert config["permission"] == {"edit": "allow", "bash": "allow", "webfetch": "deny"}
    assert config["autoupdate"] is False and config["share"] == "disabled"
    provider = config["provider"]["dispatch"]
    assert provider["options"]["baseURL"] == BASE_URL + "/v1" and MODEL in provider["models"]
    assert config["model"] == config["small_model"] == f"dispatch/{MODEL}"
    # The key is read from the environment, never written into the file.
    assert "fake-key" not in config_path.read_text() and env["OPENCODE_DISPATCH_API_KEY"] == "fake-key"
    mtime = config_path.stat().st_mtime_ns
    adapter.prepare(request)
    assert config_path.stat().st_mtime_ns == mtime  # idempotent: not rewritten


# ------------------------------------------------------------------------------------ aider

def ev(event: str, **props) -> str:
    return json.dumps({"event": event, "properties": props, "user_id": "u", "time": 1})


AIDER_OK = "\n".join([
    "Aider v0.86.2", ev("launched"), ev("repo", num_files=0), ev("auto_commits", enabled=True),
    "Model: openai/fake-model with whole edit format",
    ev("message_send_starting"),
    # block-buffered terminal text can share a line with a record
    "Tokens: 597 sent, 11 rec" + ev("message_send", main_model="openai/fake-model", edit_format="whole",
                                     prompt_tokens=597, completion_tokens=11, total_tokens=608,
                                     cost=0.0006, total_cost=0.0006),
    "Applied edit to hello.txt", "Commit dc076c0 add file",
    ev("exit", reason="Completed --message"), ""])


def test_aider_parse_successful_session(tmp_path: Path):
    out = outcome_of(AiderAdapter(), AIDER_OK, tmp_path)
    s = out.summary
    assert out.reason == "ended" and out.cli_session == AIDER_SESSION
    assert (s.input_tokens, s.output_tokens, s.cost_usd) == (597, 11, 0.0006)


def test_aider_parse_api_error_with_exit_0(tmp_path: Path):
    text = "\n".join([ev("launched"), ev("message_send_starting"),
                      "litellm.BadRequestError: OpenAIException - kaboom",
                      ev("exit", reason="Completed --message"), ""])
    out = outcome_of(AiderAdapter(), text, tmp_path, exit_code=0)
    assert out.reason == "failed" and "litellm.BadRequestError: OpenAIException - kaboom" in out.detail


def test_aider_parse_only_the_last_run_counts(tmp_path: Path):
    failed_run = "\n".join([ev("launched"), ev("message_send_starting"), ev("exit", reason="Completed --message")])
    assert outcome_of(AiderAdapter(), failed_run + "\n" + AIDER_OK, tmp_path).reason == "ended"
    assert outcome_of(AiderAdapter(), AIDER_OK + "\n" + failed_run, tmp_path).reason == "failed"


def test_aider_parse_no_reply_or_no_exit_is_not_success(tmp_path: Path):
    no_reply = "\n".join([ev("launched"), ev("exit", reason="Completed --message")])
    assert outcome_of(AiderAdapter(), no_reply, tmp_path).reason == "failed"
    no_exit = "\n".join([ev("launched"), ev("message_send_starting"), ev("message_send", prompt_tokens=1)])
    out = outcome_of(AiderAdapter(), no_exit, tmp_path)
    assert out.reason == "failed" and "no completion event" in out.detail
    early = "\n".join([ev("launched"), ev("exit", reason="Invalid lint command format")])
    assert "Invalid lint command" in outcome_of(AiderAdapter(), early, tmp_path).detail
    assert outcome_of(AiderAdapter(), "plain terminal text only\n", tmp_path).reason == "failed"


def test_aider_argv_new_and_resumed(tmp_path: Path):
    adapter = AiderAdapter()
    request = make_request(tmp_path)
    argv = adapter.cli_argv("aider", request)
    home = tmp_path / "home"
    for flag in ("--yes-always", "--no-pretty", "--no-fancy-input", "--no-check-update", "--analytics-disable",
                 "--no-show-release-notes", "--no-show-model-warnings", "--no-gitignore", "--no-dirty-commits",
                 "--analytics-log=/dev/stdout", f"--model=openai/{MODEL}", f"--openai-api-base={BASE_URL}/v1",
                 f"--chat-history-file={home / 'aider' / 'chat.history.md'}",
                 f"--message-file={request.prompt_file}"):
        assert flag in argv, flag
    assert "--restore-chat-history" not in argv
    assert all(not a.startswith(str(request.worktree)) for a in argv)  # no history in the worktree
    follow = make_request(tmp_path, message="fix it", resume=AIDER_SESSION, attempt=2)
    argv = adapter.cli_argv("aider", follow)
    assert "--restore-chat-history" in argv and f"--message-file={follow.message_file}" in argv
    fresh = make_request(tmp_path, prompt="-P", message="fix it", attempt=3)
    assert adapter.cli_argv("aider", fresh)[-1] == "--message=-P\n\n---\n\nfix it"
    assert not any(a.startswith("--test-cmd") for a in argv) and "--auto-test" not in argv
    tested = replace(make_request(tmp_path), test_command="python -m pytest -q")
    argv = adapter.cli_argv("aider", tested)
    assert "--test-cmd=python -m pytest -q" in argv and "--auto-test" in argv


def test_aider_follow_up_puts_the_branchs_files_in_the_chat(tmp_path: Path):
    worktree = make_repo(tmp_path / "wt")
    git(worktree, "checkout", "-q", "-b", "sprint-01/alpha")
    (worktree / "app.py").write_text("VALUE = 1\n")
    (worktree / "gone.py").write_text("x\n")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-qm", "agent work")
    git(worktree, "rm", "-q", "gone.py")
    (worktree / "notes.md").write_text("uncommitted\n")
    follow = make_request(tmp_path, worktree=worktree, message="fix it", resume=AIDER_SESSION, attempt=2)
    files = [a for a in AiderAdapter().cli_argv("aider", follow) if a.startswith("--file=")]
    assert files == ["--file=app.py", "--file=notes.md"]
    assert not [a for a in AiderAdapter().cli_argv("aider", replace(follow, resume_session=None))
                if a.startswith("--file=")]  # a new session starts with an empty chat


def test_aider_env_and_price_cache(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    adapter = AiderAdapter()
    worktree = make_repo(tmp_path / "wt")
    request = make_request(tmp_path, worktree=worktree, api_key=None)
    adapter.prepare(request)
    env = adapter.env(request)
    assert env["OPENAI_API_BASE"] == BASE_URL + "/v1" and env["OPENAI_API_KEY"]
    cache = tmp_path / "home" / ".aider" / "caches" / "model_prices_and_context_window.json"
    seeded = json.loads(cache.read_text())
    assert f"openai/{MODEL}" in seeded and MODEL in seeded
    cache.write_text(json.dumps({"other": {"mode": "chat"}, **seeded}))
    adapter.prepare(request)
    assert "other" in json.loads(cache.read_text())  # never clobbered
    exclude = Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    assert "/.aider.tags.cache.v*/" in (exclude / "info" / "exclude").read_text()
    monkeypatch.setenv("OPENAI_API_KEY", "users-key")
    assert adapter.env(request)["OPENAI_API_KEY"] == "users-key"


# ------------------------------------------------------------------------------------ real runs

def repo_with_request(tmp_path: Path, **kw) -> SessionRequest:
    worktree = make_repo(tmp_path / "repo")
    return make_request(tmp_path, worktree=worktree, prompt="say hello: create hello.txt", **kw)


def follow_up(first: SessionRequest, tmp_path: Path, session: str | None, text: str) -> SessionRequest:
    message = tmp_path / "message-2.md"
    message.write_text(text, encoding="utf-8")
    return replace(first, attempt=2, message_file=message, resume_session=session)


def show(run: SessionRun) -> str:
    return f"exit={run.exit_code} outcome={run.outcome}\n--- log\n{run.log[-4000:]}\n--- requests\n{run.requests}"


# -- Gemini CLI

GEMINI_SCENARIO = {"rules": [
    {"match": "CORRECTION", "steps": [
        {"tool": "replace", "input": {"file_path": "hello.txt", "old_string": "hello", "new_string": "HELLO",
                                      "instruction": "Capitalise the greeting."}},
        {"text": "Corrected."}]},
    {"match": None, "steps": [
        {"write": "hello.txt", "content": "hello from fake\n"},
        {"shell": "echo bash-ran > bash_out.txt"},
        {"text": "All done."}]},
]}


@pytest.mark.realcli("gemini")
def test_gemini_real_session_writes_runs_shell_and_resumes(tmp_path: Path, realcli: RealCLI):
    adapter = GeminiAdapter()
    first = repo_with_request(tmp_path)
    run = realcli.session(adapter, first, GEMINI_SCENARIO)
    s = run.outcome.summary
    assert run.outcome.reason == "ended" and run.exit_code == 0, show(run)
    repo = first.worktree
    assert (repo / "hello.txt").read_text() == "hello from fake\n"  # written by its write_file tool
    assert (repo / "bash_out.txt").read_text() == "bash-ran\n"  # its shell tool really ran
    assert s.session_id and len(s.session_id) == 36 and s.tool_uses == 2 and s.final_text == "All done."
    assert s.files_changed and s.files_changed[0].endswith("hello.txt")
    assert s.input_tokens > 0 and s.output_tokens > 0

    second = follow_up(first, tmp_path, s.session_id, "Please apply this CORRECTION.")
    run2 = realcli.session(adapter, second, GEMINI_SCENARIO)
    assert run2.outcome.reason == "ended", show(run2)
    assert run2.outcome.cli_session == s.session_id  # the same session, resumed
    assert (repo / "hello.txt").read_text() == "HELLO from fake\n"
    assert run2.outcome.summary.input_tokens > 0 and f"--resume={s.session_id}" in run2.argv
    assert any("CORRECTION" in (r.get("human_text") or "") for r in run2.requests), run2.requests
    # One conversation on disk, holding both turns: the follow-up went on in the same session.
    assert one_conversation(first.state_home, s.session_id, ["say hello", "CORRECTION"])


def one_conversation(home: Path, session_id: str, turns: list[str]) -> bool:
    """True when every Gemini chat file under ``home`` belongs to ``session_id`` and exactly one
    of them holds the human ``turns``, all of them. Gemini names a chat file by the minute it
    starts: a resume in a later minute also writes a file, with the same session id, holding
    only its start-up context (seen with 0.61.0), so the files are not counted."""
    chats = sorted((home / ".gemini" / "tmp").glob("*/chats/*.jsonl"))
    texts = [chat.read_text(encoding="utf-8") for chat in chats]
    ours = all(chat.name.endswith(f"-{session_id[:8]}.jsonl")
               and json.loads(text.splitlines()[0])["sessionId"] == session_id for chat, text in zip(chats, texts))
    holding = [text for text in texts if any(turn in text for turn in turns)]
    return bool(chats) and ours and len(holding) == 1 and all(turn in holding[0] for turn in turns)


@pytest.mark.realcli("gemini")
def test_gemini_real_router_gets_one_answer_then_the_work_starts(realcli: RealCLI):
    # No model (a plan without `model:`): Gemini CLI first asks its model router, a tool-less
    # request for JSON. One answer in its schema must do: "ok" made it retry five times, ~100 s
    # before every session's work. The bench prints the wait; bounded here by its requests.
    bench = subprocess.run([sys.executable, str(ROOT / "bench" / "rehearsal_start.py"), "--cli", "gemini"],
                           env=realcli.env, capture_output=True, text=True, timeout=400, check=False)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    trial, result = bench.stdout.strip().splitlines()[-2:]
    assert "exit 0" in trial and trial.endswith("before it: json:canned"), bench.stdout
    assert re.fullmatch(r"RESULT rehearsal_start cli=gemini first_work_request_s=\d+\.\d\d", result), bench.stdout
    print(result)


@pytest.mark.realcli("gemini")
def test_gemini_real_denied_tool_is_failure_despite_exit_0(tmp_path: Path, realcli: RealCLI):
    adapter = GeminiAdapter(approval_mode="default")  # headless default: no write or shell tools
    request = repo_with_request(tmp_path)
    run = realcli.session(adapter, request, {"rules": [{"match": None, "steps": [
        {"tool": "write_file", "input": {"file_path": "x.txt", "content": "x"}}, {"text": "Done."}]}]})
    assert run.exit_code == 0, show(run)
    assert run.outcome.reason == "failed" and run.outcome.summary.denied_tools == ["write_file"], show(run)
    assert not (request.worktree / "x.txt").exists()


@pytest.mark.realcli("gemini")
def test_gemini_real_api_error_is_failure(tmp_path: Path, realcli: RealCLI):
    adapter = GeminiAdapter(max_attempts=1)  # one attempt: the default 10 take minutes
    run = realcli.session(adapter, repo_with_request(tmp_path),
                          {"rules": [{"match": None, "steps": [{"error": 500, "message": "kaboom"}]}]})
    assert run.outcome.reason == "failed" and "kaboom" in run.outcome.detail, show(run)
    # Read from the stream itself, not only from the exit status (500 & 0xff = 244 here).
    assert run.outcome.summary.errors and run.outcome.summary.finished and not run.outcome.summary.success


# -- OpenCode

OPENCODE_SCENARIO = {"rules": [
    {"match": "CORRECTION", "steps": [
        {"tool": "edit", "input": {"filePath": "hello.txt", "oldString": "hello", "newString": "HELLO"}},
        {"text": "Corrected."}]},
    {"match": None, "steps": [
        {"write": "hello.txt", "content": "hello from fake\n"},
        {"shell": "echo bash-ran > bash_out.txt"},
        {"text": "All done."}]},
]}


@pytest.mark.realcli("opencode")
def test_opencode_real_session_writes_runs_shell_and_resumes(tmp_path: Path, realcli: RealCLI):
    adapter = OpenCodeAdapter()
    first = repo_with_request(tmp_path)
    run = realcli.session(adapter, first, OPENCODE_SCENARIO)
    s = run.outcome.summary
    assert run.outcome.reason == "ended" and run.exit_code == 0, show(run)
    repo = first.worktree
    assert (repo / "hello.txt").read_text() == "hello from fake\n"
    assert (repo / "bash_out.txt").read_text() == "bash-ran\n"
    assert s.session_id and s.session_id.startswith("ses_") and s.tool_uses == 2 and s.final_text == "All done."
    assert s.input_tokens > 0 and s.output_tokens > 0 and s.cost_usd is not None

    second = follow_up(first, tmp_path, s.session_id, "Please apply this CORRECTION.")
    run2 = realcli.session(adapter, second, OPENCODE_SCENARIO)
    assert run2.outcome.reason == "ended", show(run2)
    assert run2.outcome.cli_session == s.session_id and run2.argv[-4:-2] == ["-s", s.session_id]
    assert (repo / "hello.txt").read_text() == "HELLO from fake\n"
    assert run2.outcome.summary.files_changed == ["hello.txt"]


@pytest.mark.realcli("opencode")
def test_opencode_real_denied_tool_is_failure_despite_exit_0(tmp_path: Path, realcli: RealCLI):
    adapter = OpenCodeAdapter()
    request = repo_with_request(tmp_path)
    # "ask" in a headless run: OpenCode rejects the call itself and stops the loop.
    run = realcli.session(adapter, request, {"rules": [{"match": None, "steps": [
        {"shell": "echo hi > denied.txt"}, {"text": "Done."}]}]},
        extra_env={"OPENCODE_PERMISSION": json.dumps({"bash": "ask"})})
    assert run.exit_code == 0, show(run)
    assert run.outcome.reason == "failed" and run.outcome.summary.denied_tools == ["bash"], show(run)
    assert not (request.worktree / "denied.txt").exists()


@pytest.mark.realcli("opencode")
def test_opencode_real_api_error_is_failure(tmp_path: Path, realcli: RealCLI):
    adapter = OpenCodeAdapter()
    # 400, not 500: OpenCode retries a 5xx five times with backoff (~80 s); the error path is the same.
    run = realcli.session(adapter, repo_with_request(tmp_path),
                          {"rules": [{"match": None, "steps": [{"error": 400, "message": "kaboom"}]}]})
    assert run.outcome.reason == "failed" and "kaboom" in run.outcome.detail, show(run)
    assert run.outcome.summary.errors and run.outcome.cli_session


@pytest.mark.realcli("opencode")
@pytest.mark.slow
def test_opencode_real_server_error_500_is_failure(tmp_path: Path, realcli: RealCLI):
    adapter = OpenCodeAdapter()
    run = realcli.session(adapter, repo_with_request(tmp_path),
                          {"rules": [{"match": None, "steps": [{"error": 500, "message": "kaboom"}]}]})
    assert run.outcome.reason == "failed" and "kaboom" in run.outcome.detail, show(run)
    assert len([r for r in run.requests if r.get("reply_kind") == "error"]) > 1  # it did retry


# -- aider

AIDER_SCENARIO = {"rules": [
    {"match": "CORRECTION", "notools": True, "steps": [{"write": "hello.txt", "content": "HELLO from fake\n"}]},
    {"match": None, "notools": True, "steps": [{"write": "hello.txt", "content": "hello from fake\n"}]},
]}


@pytest.mark.realcli("aider")
def test_aider_real_session_edits_commits_and_resumes(tmp_path: Path, realcli: RealCLI):
    adapter = AiderAdapter()
    first = repo_with_request(tmp_path)
    git(first.worktree, "checkout", "-q", "-b", first.branch)  # the agent's branch, as in the engine
    run = realcli.session(adapter, first, AIDER_SCENARIO)
    s = run.outcome.summary
    assert run.outcome.reason == "ended" and run.exit_code == 0, show(run)
    repo = first.worktree
    assert (repo / "hello.txt").read_text() == "hello from fake\n"
    assert git(repo, "log", "-1", "--format=%s").strip() != "initial"  # aider committed its edit
    assert s.session_id == AIDER_SESSION and s.input_tokens > 0 and s.output_tokens > 0
    # History stays in the agent's home; the worktree is clean (repo-map cache excluded).
    assert (first.state_home / "aider" / "chat.history.md").exists()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""

    second = follow_up(first, tmp_path, s.session_id, "Please apply this CORRECTION.")
    run2 = realcli.session(adapter, second, AIDER_SCENARIO)
    assert run2.outcome.reason == "ended", show(run2)
    assert (repo / "hello.txt").read_text() == "HELLO from fake\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    # The history kept in the home was replayed: the first exchange went to the model again.
    assert "Restored previous conversation history" in run2.log
    assert "CORRECTION" in run2.requests[0]["human_text"]
    # hello.txt (changed on the branch) was in the chat: the edit applied at the first reply,
    # with no "add this file?" round trip (the rest is the commit-message call).
    work = [r for r in run2.requests if r.get("purpose") == "work"]
    assert len(work) == 1 and "--file=hello.txt" in run2.argv and "--restore-chat-history" in run2.argv
    sent = (first.state_home / "aider" / "llm.history.txt").read_text().split("\nTO LLM ")
    request = next(block for block in sent if "Please apply this CORRECTION" in block)
    assert "USER say hello: create hello.txt" in request and "ASSISTANT hello.txt" in request


@pytest.mark.realcli("aider")
def test_aider_real_test_cmd_failure_goes_back_to_the_model(tmp_path: Path, realcli: RealCLI):
    """Aider runs the sprint's test command after its edit and sends a failing output back to
    the model, which fixes the file within the same session."""
    adapter = AiderAdapter()
    request = replace(repo_with_request(tmp_path), test_command="grep -q HELLO hello.txt")
    git(request.worktree, "checkout", "-q", "-b", request.branch)
    scenario = {"rules": [
        {"match": "And got this output", "notools": True,
         "steps": [{"write": "hello.txt", "content": "HELLO from fake\n"}]},
        {"match": None, "notools": True, "steps": [{"write": "hello.txt", "content": "hello from fake\n"}]},
    ]}
    run = realcli.session(adapter, request, scenario)
    assert run.outcome.reason == "ended", show(run)
    assert (request.worktree / "hello.txt").read_text() == "HELLO from fake\n"
    work = [r for r in run.requests if r.get("purpose") == "work"]
    assert len(work) == 2 and "grep -q HELLO hello.txt" in work[1]["human_text"], show(run)


@pytest.mark.realcli("aider")
def test_aider_real_api_error_is_failure_despite_exit_0(tmp_path: Path, realcli: RealCLI):
    adapter = AiderAdapter()
    # 400, not 500: aider retries a 5xx with backoff for about a minute; the error path is the same.
    run = realcli.session(adapter, repo_with_request(tmp_path), {"rules": [
        {"match": None, "notools": True, "steps": [{"error": 400, "message": "kaboom"}]}]})
    assert run.exit_code == 0, show(run)
    assert run.outcome.reason == "failed" and "kaboom" in run.outcome.detail, show(run)


def test_aider_parse_ignores_terminal_text():
    """The summary of an aider log comes from its records alone (no terminal text is parsed)."""
    events = AiderAdapter().parse("Applied edit to hello.txt\nCommit abc add file\nTokens: 1 sent\n")
    assert events == [] and not summarize(events).finished and Kind.FINISHED not in {e.kind for e in events}


@pytest.mark.realcli("aider")
@pytest.mark.slow
def test_aider_real_server_error_500_is_failure_despite_exit_0(tmp_path: Path, realcli: RealCLI):
    adapter = AiderAdapter()
    run = realcli.session(adapter, repo_with_request(tmp_path), {"rules": [
        {"match": None, "notools": True, "steps": [{"error": 500, "message": "kaboom"}]}]})
    assert run.exit_code == 0, show(run)
    assert run.outcome.reason == "failed" and "kaboom" in run.outcome.detail, show(run)
