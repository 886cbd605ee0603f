"""The Claude Code, Codex and Qwen Code adapters: argv, environment, config and stream parsing.

Two layers:

* unit tests on the pure functions, fed with stream lines captured from the real CLIs
  (Claude Code 2.1.197, Codex 0.171.0, Qwen Code 0.15.10) and trimmed to the fields that matter;
* ``realcli`` tests that run each adapter's own argv and environment with the real binary against
  the fake model server, inside a network namespace with only loopback, through the shared driver
  (tests/realcli.py, the ``realcli`` fixture). A missing binary skips them, unless
  ``DISPATCH_REQUIRE_REALCLI=1``, which makes it a failure. Binaries are found by
  ``CLIAdapter.executable()`` on PATH (with ``.ci/install-clis``'s ``bin`` directory in front)
  or through ``DISPATCH_<NAME>_BIN``.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import make_repo
from realcli import RealCLI

from agent_dispatch.agents.base import SessionOutcome, SessionRequest
from agent_dispatch.agents.claude import ClaudeAdapter
from agent_dispatch.agents.cli import PLACEHOLDER_KEY, CLIAdapter
from agent_dispatch.agents.codex import CodexAdapter
from agent_dispatch.agents.events import Kind, SessionSummary, summarize
from agent_dispatch.agents.qwen import QwenAdapter

SID = "0597ea7e-0066-43ed-b889-bd3182003750"
KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL",
            "OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL")


def jl(*objs: dict) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


def make_request(tmp_path: Path, *, prompt: str = "# Activation\nDo the work.", message: str | None = None,
                 resume: str | None = None, **fields) -> SessionRequest:
    prompt_file = tmp_path / "prompt.md"
    prompt_file.write_text(prompt, encoding="utf-8")
    message_file = None
    if message is not None:
        message_file = tmp_path / "message.md"
        message_file.write_text(message, encoding="utf-8")
    worktree = tmp_path / "wt"
    worktree.mkdir(exist_ok=True)
    return SessionRequest(sprint="sprint-01", agent="alpha", role="DATA", branch="sprint-01/alpha",
                          base_branch="main", worktree=worktree, prompt_file=prompt_file,
                          report_path="report.md", attempt=1, message_file=message_file,
                          resume_session=resume, state_home=tmp_path / "home", **fields)


def outcome_of(adapter: CLIAdapter, text: str, exit_code: int | None, tmp_path: Path) -> SessionOutcome:
    log = tmp_path / "session.log"
    log.write_text(text, encoding="utf-8")
    return adapter.outcome(exit_code, log, timed_out=False, killed=False)


@pytest.fixture
def no_keys(monkeypatch):
    """An environment without the user's own model keys or endpoints."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


# ============================================================================ Claude Code

CLAUDE_INIT = {"type": "system", "subtype": "init", "cwd": "/w/wt", "session_id": SID,
               "tools": ["Task", "Bash", "Edit", "Read", "Write"], "model": "claude-opus-4-8[1m]",
               "permissionMode": "acceptEdits", "apiKeySource": "ANTHROPIC_API_KEY",
               "claude_code_version": "2.1.197"}


def claude_assistant(block: dict, msg_id: str = "msg_1") -> dict:
    return {"type": "assistant", "message": {"id": msg_id, "type": "message", "role": "assistant",
                                             "model": "claude-opus-4-8", "content": [block],
                                             "usage": {"input_tokens": 100, "output_tokens": 1}},
            "parent_tool_use_id": None, "session_id": SID}


def claude_result(tool_use_id: str, content: str, *, is_error: bool | None = None, structured=None) -> dict:
    block = {"tool_use_id": tool_use_id, "type": "tool_result", "content": content}
    if is_error is not None:
        block["is_error"] = is_error
    line = {"type": "user", "message": {"role": "user", "content": [block]}, "parent_tool_use_id": None,
            "session_id": SID}
    if structured is not None:
        line["tool_use_result"] = structured
    return line


def claude_final(*, is_error=False, result="all done", denials=(), usage=(300, 60), cost=0.003) -> dict:
    return {"type": "result", "subtype": "success", "is_error": is_error, "api_error_status": None,
            "duration_ms": 782, "num_turns": 3, "result": result, "stop_reason": "end_turn", "session_id": SID,
            "total_cost_usd": cost,
            "usage": {"input_tokens": usage[0], "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": usage[1], "server_tool_use": {"web_search_requests": 0}},
            "permission_denials": list(denials), "terminal_reason": "completed"}


CLAUDE_OK = jl(
    CLAUDE_INIT,
    claude_assistant({"type": "tool_use", "id": "toolu_w", "name": "Write",
                      "input": {"file_path": "/w/wt/hello.txt", "content": "hello\n"}}),
    claude_result("toolu_w", "File created successfully at: /w/wt/hello.txt",
                  structured={"type": "create", "filePath": "/w/wt/hello.txt", "content": "hello\n",
                              "structuredPatch": [], "originalFile": None}),
    claude_assistant({"type": "tool_use", "id": "toolu_b", "name": "Bash",
                      "input": {"command": "echo bash-ran > bash_out.txt"}}, "msg_2"),
    claude_result("toolu_b", "(Bash completed with no output)", is_error=False,
                  structured={"stdout": "", "stderr": "", "interrupted": False}),
    claude_assistant({"type": "text", "text": "all done"}, "msg_3"),
    claude_final(),
)

# A territory PreToolUse hook denied the second Write; Claude still exits 0.
CLAUDE_HOOK_DENIED = jl(
    CLAUDE_INIT,
    claude_assistant({"type": "tool_use", "id": "toolu_ok", "name": "Write",
                      "input": {"file_path": "/w/wt/ok.txt", "content": "x\n"}}),
    claude_result("toolu_ok", "File created successfully at: /w/wt/ok.txt"),
    claude_assistant({"type": "tool_use", "id": "toolu_no", "name": "Write",
                      "input": {"file_path": "/w/wt/forbidden.txt", "content": "x\n"}}, "msg_2"),
    claude_result("toolu_no", "/w/wt/forbidden.txt is outside your territory", is_error=True,
                  structured="Error: /w/wt/forbidden.txt is outside your territory"),
    claude_assistant({"type": "text", "text": "tried"}, "msg_3"),
    claude_final(result="tried", denials=[{"tool_name": "Write", "tool_use_id": "toolu_no",
                                           "tool_input": {"file_path": "/w/wt/forbidden.txt"}}]),
)

# The API answered 500 three times (CLAUDE_CODE_MAX_RETRIES=2): `subtype` still says success.
CLAUDE_API_ERROR = jl(
    CLAUDE_INIT,
    {"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 2, "retry_delay_ms": 596.2,
     "error_status": 500, "error": "server_error", "session_id": SID},
    {"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 2, "retry_delay_ms": 1055.2,
     "error_status": 500, "error": "server_error", "session_id": SID},
    {"type": "assistant", "message": {"id": "e1", "model": "<synthetic>", "role": "assistant", "type": "message",
                                      "content": [{"type": "text", "text": "API Error: 500 fake overload."}]},
     "parent_tool_use_id": None, "session_id": SID},
    {**claude_final(is_error=True, result="API Error: 500 fake overload.", usage=(0, 0), cost=0),
     "api_error_status": 500},
)


def test_claude_argv_new_session(tmp_path: Path):
    request = make_request(tmp_path, model="fake-model")
    argv = ClaudeAdapter().cli_argv("claude", request)
    assert argv[:5] == ["claude", "-p", "--output-format", "stream-json", "--verbose"]
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    allowed = argv[argv.index("--allowedTools") + 1:argv.index("--disallowedTools")]
    assert "Bash" in allowed and "Write" not in allowed and "Edit" not in allowed
    assert argv[argv.index("--model") + 1] == "fake-model"
    assert "--resume" not in argv and "--dangerously-skip-permissions" not in argv
    assert argv[-2:] == ["--", "# Activation\nDo the work."]


def test_claude_argv_resume_sends_only_the_message(tmp_path: Path):
    request = make_request(tmp_path, message="-- RETRY 1 OF 3: fix VALUE", resume=SID)
    argv = ClaudeAdapter().cli_argv("claude", request)
    assert argv[argv.index("--resume") + 1] == SID
    assert argv[-2:] == ["--", "-- RETRY 1 OF 3: fix VALUE"]  # after `--`: a leading dash is no option
    assert "--model" not in argv


def test_claude_follow_up_without_session_starts_fresh_with_prompt_and_message(tmp_path: Path):
    argv = ClaudeAdapter().cli_argv("claude", make_request(tmp_path, message="please fix"))
    assert "--resume" not in argv
    assert argv[-1].startswith("# Activation") and argv[-1].endswith("please fix")


def test_claude_env_isolated_quiet_and_pointed_at_the_endpoint(tmp_path: Path, no_keys):
    request = make_request(tmp_path, base_url="http://127.0.0.1:8765/v1/", api_key="k-1")
    env = ClaudeAdapter().env(request)
    assert env["HOME"] == str(tmp_path / "home")
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "home" / ".claude")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8765"  # the client adds /v1/messages
    assert env["ANTHROPIC_API_KEY"] == "k-1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["DISABLE_AUTOUPDATER"] == env["DISABLE_TELEMETRY"] == env["DISABLE_ERROR_REPORTING"] == "1"
    assert int(env["CLAUDE_CODE_MAX_RETRIES"]) <= 3
    assert "IS_SANDBOX" not in ClaudeAdapter().cli_env(request, tmp_path / "home")  # no bypass mode
    assert env["DISPATCH_AGENT"] == "alpha"  # the contract is still there


def test_claude_env_keys(tmp_path: Path, no_keys, monkeypatch):
    adapter = ClaudeAdapter()
    # Local endpoint, no key anywhere: a placeholder, so the CLI does not stop at a login step.
    local = make_request(tmp_path, base_url="http://127.0.0.1:1")
    assert adapter.env(local)["ANTHROPIC_API_KEY"] == PLACEHOLDER_KEY
    # No override and no key: nothing invented.
    assert "ANTHROPIC_API_KEY" not in adapter.env(make_request(tmp_path))
    # The user's own key passes through untouched.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-user")
    assert adapter.env(local)["ANTHROPIC_API_KEY"] == "sk-user"


def test_claude_parse_successful_session(tmp_path: Path):
    events = ClaudeAdapter().parse(CLAUDE_OK)
    kinds = [e.kind for e in events]
    assert kinds[0] is Kind.SESSION_STARTED and kinds[-1] is Kind.FINISHED
    uses = [e for e in events if e.kind is Kind.TOOL_USE]
    assert [(u.tool, u.tool_id) for u in uses] == [("Write", "toolu_w"), ("Bash", "toolu_b")]
    assert uses[1].input == {"command": "echo bash-ran > bash_out.txt"}
    results = [e for e in events if e.kind is Kind.TOOL_RESULT]
    assert [(r.tool, r.ok, r.denied) for r in results] == [("Write", True, False), ("Bash", True, False)]
    outcome = outcome_of(ClaudeAdapter(), CLAUDE_OK, 0, tmp_path)
    assert outcome.reason == "ended", outcome.detail
    summary = outcome.summary
    assert summary.session_id == SID and outcome.cli_session == SID
    assert summary.files_changed == ["/w/wt/hello.txt"]
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (300, 60, 0.003)
    assert summary.final_text == "all done" and summary.tool_uses == 2


def test_claude_parse_hook_denial_fails_although_exit_0(tmp_path: Path):
    outcome = outcome_of(ClaudeAdapter(), CLAUDE_HOOK_DENIED, 0, tmp_path)
    assert outcome.reason == "failed" and outcome.exit_code == 0
    assert outcome.summary.denied_tools == ["Write"]
    assert outcome.detail == "permission denied: Write"
    assert outcome.summary.files_changed == ["/w/wt/ok.txt"]  # the denied file is not reported changed


def test_claude_parse_denial_listed_only_in_result(tmp_path: Path):
    text = jl(CLAUDE_INIT, claude_final(denials=[{"tool_name": "WebFetch", "tool_use_id": "toolu_x"}]))
    summary = summarize(ClaudeAdapter().parse(text))
    assert summary.denied_tools == ["WebFetch"] and summary.success is False


@pytest.mark.parametrize("exit_code", [0, 1])
def test_claude_parse_api_error_fails_whatever_the_exit_code(tmp_path: Path, exit_code: int):
    outcome = outcome_of(ClaudeAdapter(), CLAUDE_API_ERROR, exit_code, tmp_path)
    assert outcome.reason == "failed"
    assert outcome.detail.startswith("error: API Error: 500")  # read from the stream, not the status
    assert outcome.summary.retries == 2
    retry = next(e for e in ClaudeAdapter().parse(CLAUDE_API_ERROR) if e.kind is Kind.API_RETRY)
    assert (retry.attempt, retry.text) == (1, "500 server_error")


def test_claude_parse_skips_noise_and_notices_a_cut_stream(tmp_path: Path):
    noisy = "Warning: something on stderr\n" + CLAUDE_OK.replace("\n", "\nnot json {\n", 2)
    assert summarize(ClaudeAdapter().parse(noisy)).success is True
    cut = CLAUDE_OK.rsplit("\n", 2)[0] + "\n"  # no result line: the process died mid-session
    outcome = outcome_of(ClaudeAdapter(), cut, 0, tmp_path)
    assert outcome.reason == "failed" and "no completion event" in outcome.detail


def test_claude_write_config_is_idempotent_and_keeps_sessions(tmp_path: Path):
    request = make_request(tmp_path)
    adapter = ClaudeAdapter()
    adapter.prepare(request)
    sessions = tmp_path / "home" / ".claude" / "projects" / "-w-wt"
    sessions.mkdir(parents=True)
    (sessions / f"{SID}.jsonl").write_text("{}\n")
    adapter.prepare(request)
    assert (sessions / f"{SID}.jsonl").read_text() == "{}\n"


# ============================================================================ Codex

THREAD = "01a22530-2c20-7d93-b2d8-6167a7fb08ce"
CODEX_STDERR = ('WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper '
                'binaries under temporary dir "/tmp"\nReading additional input from stdin...\n')


def codex_item(event: str, item: dict) -> dict:
    return {"type": event, "item": item}


CODEX_OK = CODEX_STDERR + jl(
    {"type": "thread.started", "thread_id": THREAD},
    codex_item("item.completed", {"id": "item_0", "type": "error", "message":
                                  "Model metadata for `fake-model` not found. Defaulting to fallback metadata"}),
    {"type": "turn.started"},
    codex_item("item.started", {"id": "item_1", "type": "file_change", "status": "in_progress",
                                "changes": [{"path": "/w/wt/hello.txt", "kind": "add"}]}),
    codex_item("item.completed", {"id": "item_1", "type": "file_change", "status": "completed",
                                  "changes": [{"path": "/w/wt/hello.txt", "kind": "add"}]}),
    codex_item("item.started", {"id": "item_2", "type": "command_execution", "status": "in_progress",
                                "command": "/bin/bash -lc 'echo bash-ran > bash_out.txt; false'",
                                "aggregated_output": "", "exit_code": None}),
    codex_item("item.completed", {"id": "item_2", "type": "command_execution", "status": "failed",
                                  "command": "/bin/bash -lc 'echo bash-ran > bash_out.txt; false'",
                                  "aggregated_output": "", "exit_code": 1}),
    codex_item("item.completed", {"id": "item_3", "type": "agent_message", "text": "all done"}),
    {"type": "turn.completed", "usage": {"input_tokens": 300, "cached_input_tokens": 0,
                                         "cache_write_input_tokens": 0, "output_tokens": 60,
                                         "reasoning_output_tokens": 0}},
)

CODEX_API_ERROR = CODEX_STDERR + jl(
    {"type": "thread.started", "thread_id": THREAD},
    {"type": "turn.started"},
    {"type": "error", "message": "Reconnecting... 1/2 (We're currently experiencing high demand)"},
    {"type": "error", "message": "Reconnecting... 2/2 (We're currently experiencing high demand)"},
    {"type": "error", "message": "We're currently experiencing high demand."},
    {"type": "turn.failed", "error": {"message": "We're currently experiencing high demand."}},
)

# An execpolicy rule (decision="forbidden") refused the command: no JSON item, one stderr line.
CODEX_REJECTED = CODEX_STDERR + jl(
    {"type": "thread.started", "thread_id": THREAD}, {"type": "turn.started"}) + (
    '2026-11-29T02:55:12.875790Z ERROR codex_core::tools::router: error=exec_command failed: CreateProcess '
    '{ message: "Rejected(\\"`/bin/bash -lc \'rm -f x\'` rejected: policy forbids commands starting with '
    '`rm`\\")" }\n') + jl(
    codex_item("item.completed", {"id": "item_0", "type": "agent_message", "text": "tried"}),
    {"type": "turn.completed", "usage": {"input_tokens": 200, "output_tokens": 40}})


def test_codex_argv_new_session(tmp_path: Path):
    argv = CodexAdapter().cli_argv("codex", make_request(tmp_path, model="fake-model"))
    assert argv[:3] == ["codex", "exec", "--json"]
    assert argv[argv.index("--sandbox") + 1] == "danger-full-access"
    assert argv[argv.index("--model") + 1] == "fake-model"
    assert "resume" not in argv and "--full-auto" not in argv
    assert argv[-2:] == ["--", "# Activation\nDo the work."]


def test_codex_argv_resume_keeps_exec_options_before_the_subcommand(tmp_path: Path):
    argv = CodexAdapter().cli_argv("codex", make_request(tmp_path, message="-fix it", resume=THREAD,
                                                         model="fake-model"))
    at = argv.index("resume")
    assert argv[at:] == ["resume", THREAD, "--", "-fix it"]
    assert {"--json", "--sandbox", "--model"} <= set(argv[:at])  # `exec resume` has no --sandbox


def test_codex_env_and_config_for_a_custom_endpoint(tmp_path: Path, no_keys):
    adapter = CodexAdapter()
    request = make_request(tmp_path, base_url="http://127.0.0.1:8765", api_key="k-1")
    adapter.prepare(request)
    env = adapter.env(request)
    assert env["CODEX_HOME"] == str(tmp_path / "home" / ".codex")
    assert env["OPENAI_API_KEY"] == "k-1" and "OPENAI_BASE_URL" not in env  # codex ignores that variable
    config = tomllib.loads((tmp_path / "home" / ".codex" / "config.toml").read_text())
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:8765/v1" and provider["wire_api"] == "responses"
    assert provider["env_key"] == "OPENAI_API_KEY"
    assert provider["request_max_retries"] <= 3 and provider["stream_max_retries"] <= 3
    assert config["approval_policy"] == "never" and config["sandbox_mode"] == "danger-full-access"
    assert config["check_for_update_on_startup"] is False
    assert config["analytics"]["enabled"] is False and config["feedback"]["enabled"] is False
    assert not any(config["features"][k] for k in ("plugins", "remote_plugin", "apps"))


def test_codex_keys_without_an_endpoint_override(tmp_path: Path, no_keys, monkeypatch):
    adapter = CodexAdapter()
    request = make_request(tmp_path)
    adapter.prepare(request)
    assert "model_provider" not in tomllib.loads((tmp_path / "home" / ".codex" / "config.toml").read_text())
    assert "CODEX_API_KEY" not in adapter.env(request)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user")  # `codex exec` reads CODEX_API_KEY
    assert adapter.env(request)["CODEX_API_KEY"] == "sk-user"
    assert adapter.env(replace(request, api_key="k-2"))["CODEX_API_KEY"] == "k-2"


def test_codex_write_config_is_idempotent_and_keeps_sessions(tmp_path: Path):
    adapter = CodexAdapter()
    request = make_request(tmp_path, base_url="http://127.0.0.1:8765")
    adapter.prepare(request)
    config = tmp_path / "home" / ".codex" / "config.toml"
    rollout = tmp_path / "home" / ".codex" / "sessions" / "2026" / "11" / "29" / f"rollout-x-{THREAD}.jsonl"
    rollout.parent.mkdir(parents=True)
    rollout.write_text("{}\n")
    before = config.stat().st_mtime_ns
    adapter.prepare(request)
    assert config.stat().st_mtime_ns == before and rollout.read_text() == "{}\n"
    adapter.prepare(replace(request, base_url="http://127.0.0.1:9999"))  # a new endpoint is picked up
    assert "127.0.0.1:9999/v1" in config.read_text() and rollout.exists()


def test_codex_parse_successful_turn(tmp_path: Path):
    events = CodexAdapter().parse(CODEX_OK)
    assert events[0].kind is Kind.SESSION_STARTED and events[0].session_id == THREAD
    uses = [e for e in events if e.kind is Kind.TOOL_USE]
    assert [(u.tool, u.tool_id) for u in uses] == [("apply_patch", "item_1"), ("shell", "item_2")]
    results = {e.tool_id: e for e in events if e.kind is Kind.TOOL_RESULT}
    assert results["item_1"].ok is True and results["item_2"].ok is False  # exit code 1
    outcome = outcome_of(CodexAdapter(), CODEX_OK, 0, tmp_path)
    assert outcome.reason == "ended", outcome.detail  # a failing command is the agent's business
    summary = outcome.summary
    assert summary.session_id == THREAD and summary.files_changed == ["/w/wt/hello.txt"]
    assert summary.failed_tools == ["shell"] and not summary.errors
    assert summary.warnings and "Model metadata" in summary.warnings[0]  # item.type=="error" is a warning
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (300, 60, None)
    assert summary.final_text == "all done"


def test_codex_usage_is_the_threads_running_total():
    usage = [e for e in CodexAdapter().parse(CODEX_OK) if e.kind is Kind.USAGE]
    assert len(usage) == 1 and usage[0].cumulative  # a resumed run reports earlier runs' tokens too


def test_codex_parse_api_error_after_reconnects(tmp_path: Path):
    outcome = outcome_of(CodexAdapter(), CODEX_API_ERROR, 1, tmp_path)
    assert outcome.reason == "failed" and outcome.detail.startswith("error: We're currently")
    summary = outcome.summary
    assert summary.retries == 2 and len(summary.errors) == 1 and summary.success is False
    assert outcome_of(CodexAdapter(), CODEX_API_ERROR, 0, tmp_path).reason == "failed"


def test_codex_parse_top_level_error_is_fatal():
    text = jl({"type": "thread.started", "thread_id": THREAD}, {"type": "turn.started"},
              {"type": "error", "message": "Missing environment variable: `OPENAI_API_KEY`."})
    summary = summarize(CodexAdapter().parse(text))
    assert summary.errors == ["Missing environment variable: `OPENAI_API_KEY`."]
    assert summary.failure_reason().startswith("error: Missing environment variable")


def test_codex_parse_policy_rejection_is_a_denial(tmp_path: Path):
    outcome = outcome_of(CodexAdapter(), CODEX_REJECTED, 0, tmp_path)
    assert outcome.reason == "failed" and outcome.summary.denied_tools == ["shell"]
    denial = next(e for e in CodexAdapter().parse(CODEX_REJECTED) if e.denied)
    assert "policy forbids commands starting with `rm`" in denial.text


def test_codex_parse_declined_command_and_mcp_failure():
    text = jl({"type": "thread.started", "thread_id": THREAD},
              codex_item("item.completed", {"id": "a", "type": "command_execution", "command": "rm -rf /",
                                            "aggregated_output": "", "exit_code": None, "status": "declined"}),
              codex_item("item.completed", {"id": "b", "type": "mcp_tool_call", "server": "s", "tool": "t",
                                            "status": "failed", "error": {"message": "boom"}}),
              codex_item("item.completed", {"id": "c", "type": "web_search", "query": "q"}),
              {"type": "turn.completed", "usage": {"input_tokens": 1, "output_tokens": 1}})
    summary = summarize(CodexAdapter().parse(text))
    assert summary.denied_tools == ["shell"] and summary.failed_tools == ["mcp"] and summary.tool_uses == 3


def test_codex_session_offered_no_tools_is_a_setup_fault_not_a_failure(tmp_path: Path):
    """The fake model server refuses a code-mode-only request (Codex's built-in models); codex
    wraps the refusal in its own error: the outcome says no_tools, naming the CLI, model and fix."""
    refusal = ("fakellm: no tools offered: Codex offers model 'gpt-6.2-sol' its tools only in code mode "
               "(JavaScript run by its `exec` tool; 12 tools), which the fake model cannot script. "
               "Fix: `model: fake-model` in the plan")
    body = json.dumps({"error": {"message": refusal, "type": "invalid_request_error"}})
    text = jl({"type": "thread.started", "thread_id": THREAD}, {"type": "turn.started"},
              {"type": "error", "message": body}, {"type": "turn.failed", "error": {"message": body}})
    outcome = outcome_of(CodexAdapter(), text, 1, tmp_path)
    assert outcome.reason == "no_tools" and outcome.detail == f"codex: {refusal}"
    assert outcome_of(CodexAdapter(), CODEX_API_ERROR, 1, tmp_path).reason == "failed"


def test_no_tools_mark_is_the_fake_servers():
    from agent_dispatch.agents.cli import NO_TOOLS_MARK
    from agent_dispatch.testing.fakellm import scenario

    assert NO_TOOLS_MARK == scenario.NO_TOOLS_MARK


def test_codex_parse_failed_resume_reports_codex_own_words(tmp_path: Path):
    text = CODEX_STDERR + ("Error: thread/resume: thread/resume failed: no rollout found for thread id "
                           f"{THREAD} (code -32600)\n\nStack backtrace:\n   0: <unknown>\n")
    outcome = outcome_of(CodexAdapter(), text, 1, tmp_path)
    assert outcome.reason == "failed" and "no rollout found" in outcome.detail


# ============================================================================ Qwen Code

QSID = "96577726-c956-4d3b-a488-808c0e8b9bbd"


def qwen_assistant(block: dict, usage=(100, 20)) -> dict:
    msg_id = f"m-{abs(hash(json.dumps(block)))}"  # Qwen: one uuid per assistant line
    return {"type": "assistant", "uuid": msg_id, "session_id": QSID, "parent_tool_use_id": None,
            "message": {"id": msg_id, "type": "message", "role": "assistant", "model": "fake-model",
                        "content": [block], "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                                                      "cache_read_input_tokens": 0,
                                                      "total_tokens": sum(usage)}}}


def qwen_result(tool_use_id: str, content: str, is_error: bool = False) -> dict:
    return {"type": "user", "session_id": QSID, "parent_tool_use_id": None,
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use_id,
                                                     "is_error": is_error, "content": content}]}}


def qwen_final(result: str, usage=(300, 60), denials=()) -> dict:
    return {"type": "result", "subtype": "success", "session_id": QSID, "is_error": False, "duration_ms": 12893,
            "num_turns": 3, "result": result, "usage": {"input_tokens": usage[0], "output_tokens": usage[1],
                                                          "cache_read_input_tokens": 0},
            "permission_denials": list(denials)}


QWEN_INIT = {"type": "system", "subtype": "init", "session_id": QSID, "cwd": "/w/wt", "model": "fake-model",
             "tools": ["read_file", "edit", "write_file", "run_shell_command"], "permission_mode": "yolo",
             "qwen_code_version": "0.15.10"}

QWEN_OK = jl(
    QWEN_INIT,
    qwen_assistant({"type": "tool_use", "id": "call_w", "name": "write_file",
                    "input": {"file_path": "/w/wt/hello.txt", "content": "hello\n"}}),
    qwen_result("call_w", "Successfully created and wrote to new file: /w/wt/hello.txt."),
    qwen_assistant({"type": "tool_use", "id": "call_s", "name": "run_shell_command",
                    "input": {"command": "echo bash-ran > bash_out.txt"}}),
    qwen_result("call_s", "Command: echo bash-ran > bash_out.txt\nOutput: (empty)\nExit Code: 0"),
    qwen_assistant({"type": "text", "text": "all done"}),
    qwen_final("all done"),
)

# After a resume, result.usage also counts the first run (500/100); the messages say 200/40.
QWEN_RESUMED = jl(
    QWEN_INIT,
    qwen_assistant({"type": "tool_use", "id": "call_c", "name": "run_shell_command",
                    "input": {"command": "echo corrected >> hello.txt"}}),
    qwen_result("call_c", "Exit Code: 0"),
    qwen_assistant({"type": "text", "text": "applied"}),
    qwen_final("applied", usage=(500, 100)),
)

QWEN_DENIED = jl(
    QWEN_INIT,
    qwen_assistant({"type": "tool_use", "id": "call_rm", "name": "run_shell_command",
                    "input": {"command": "rm -f nothing.txt"}}),
    qwen_result("call_rm", 'Tool "run_shell_command" is denied by permission rules. Matching deny rule: '
                '"Bash(rm *)".', is_error=True),
    qwen_assistant({"type": "text", "text": "tried"}),
    qwen_final("tried", denials=[{"tool_name": "run_shell_command", "tool_use_id": "call_rm",
                                  "tool_input": {"command": "rm -f nothing.txt"}}]),
)

# Qwen's answer to a failed API call: is_error false, subtype success, exit 0.
QWEN_API_ERROR = jl(
    QWEN_INIT,
    qwen_assistant({"type": "text", "text": "[API Error: 400 bad request from fake]"}, usage=(0, 0)),
    qwen_final("[API Error: 400 bad request from fake]", usage=(0, 0)),
)


def test_qwen_argv(tmp_path: Path):
    adapter = QwenAdapter()
    argv = adapter.cli_argv("qwen", make_request(tmp_path, model="fake-model"))
    assert argv[:3] == ["qwen", "--output-format", "stream-json"]
    assert "--yolo" in argv and argv[argv.index("--auth-type") + 1] == "openai"
    assert argv[argv.index("--model") + 1] == "fake-model"
    assert argv[-1] == "# Activation\nDo the work." and "--" not in argv  # yargs drops words after --
    resumed = adapter.cli_argv("qwen", make_request(tmp_path, message="--- please fix", resume=QSID))
    assert resumed[-3:] == ["--resume", QSID, "\n--- please fix"]  # a leading dash must not parse as a flag


def test_qwen_env(tmp_path: Path, no_keys, monkeypatch):
    adapter = QwenAdapter()
    env = adapter.env(make_request(tmp_path, base_url="http://127.0.0.1:8765", api_key="k-1"))
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:8765/v1" and env["OPENAI_API_KEY"] == "k-1"
    assert env["HOME"] == str(tmp_path / "home") and env["QWEN_CODE_NO_RELAUNCH"] == "true"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user")
    assert adapter.env(make_request(tmp_path, base_url="http://127.0.0.1:1"))["OPENAI_API_KEY"] == "sk-user"


def test_qwen_write_config_merges_and_is_idempotent(tmp_path: Path):
    adapter = QwenAdapter()
    settings = tmp_path / "home" / ".qwen" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"$version": 4, "ui": {"theme": "dark"}, "privacy": {"x": 1}}))
    chats = tmp_path / "home" / ".qwen" / "projects" / "-w-wt" / "chats" / f"{QSID}.jsonl"
    chats.parent.mkdir(parents=True)
    chats.write_text("{}\n")
    request = make_request(tmp_path)
    adapter.prepare(request)
    data = json.loads(settings.read_text())
    assert data["$version"] == 4 and data["ui"] == {"theme": "dark"}  # Qwen's own keys stay
    assert data["privacy"] == {"x": 1, "usageStatisticsEnabled": False}
    assert data["telemetry"]["enabled"] is False and data["general"]["disableAutoUpdate"] is True
    assert data["security"]["auth"]["selectedType"] == "openai"
    before = settings.stat().st_mtime_ns
    adapter.prepare(request)
    assert settings.stat().st_mtime_ns == before and chats.read_text() == "{}\n"


def test_qwen_parse_successful_session(tmp_path: Path):
    outcome = outcome_of(QwenAdapter(), QWEN_OK, 0, tmp_path)
    assert outcome.reason == "ended", outcome.detail
    summary = outcome.summary
    assert summary.session_id == QSID and summary.tool_uses == 2
    assert summary.files_changed == ["/w/wt/hello.txt"]
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (300, 60, None)


def test_qwen_usage_after_resume_counts_this_run_only():
    summary = summarize(QwenAdapter().parse(QWEN_RESUMED))
    assert (summary.input_tokens, summary.output_tokens) == (200, 40)


def test_qwen_parse_denial_fails_although_exit_0(tmp_path: Path):
    outcome = outcome_of(QwenAdapter(), QWEN_DENIED, 0, tmp_path)
    assert outcome.reason == "failed" and outcome.summary.denied_tools == ["run_shell_command"]


def test_qwen_parse_api_error_text_fails_although_exit_0(tmp_path: Path):
    outcome = outcome_of(QwenAdapter(), QWEN_API_ERROR, 0, tmp_path)
    assert outcome.reason == "failed" and outcome.exit_code == 0
    assert outcome.detail == "error: 400 bad request from fake"
    assert outcome.summary.errors == ["400 bad request from fake"]  # once, not per mention
    # Without the assistant line the result text alone still gives it away.
    only_result = jl(QWEN_INIT, qwen_final("[API Error: 500 overloaded]", usage=(0, 0)))
    assert summarize(QwenAdapter().parse(only_result)).errors == ["500 overloaded"]


def test_qwen_parse_failed_resume_reports_qwen_own_words(tmp_path: Path):
    outcome = outcome_of(QwenAdapter(), f'No saved session found with title "{QSID}".\n', 1, tmp_path)
    assert outcome.reason == "failed" and outcome.detail == f'error: No saved session found with title "{QSID}".'


def test_claude_parse_failed_resume_reads_result_errors(tmp_path: Path):
    text = jl({"type": "result", "subtype": "error_during_execution", "is_error": True, "num_turns": 0,
               "session_id": SID, "total_cost_usd": 0, "usage": {"input_tokens": 0, "output_tokens": 0},
               "permission_denials": [], "errors": [f"No conversation found with session ID: {SID}"]})
    outcome = outcome_of(ClaudeAdapter(), text, 1, tmp_path)
    assert outcome.detail == f"error: No conversation found with session ID: {SID}"


# ============================================================================ real binaries

ADAPTERS: dict[str, CLIAdapter] = {"claude": ClaudeAdapter(), "codex": CodexAdapter(), "qwen": QwenAdapter()}
TIMEOUT = {"claude": 90, "codex": 90, "qwen": 180}


class RealRun:
    """One agent worktree and its isolated home, driven through several sessions."""

    def __init__(self, realcli: RealCLI) -> None:
        self.realcli, self.name, self.tmp = realcli, realcli.name, realcli.tmp
        self.adapter = ADAPTERS[realcli.name]
        self.worktree = make_repo(self.tmp / "wt")
        self.runs = 0

    def session(self, scenario: dict, *, prompt: str, message: str | None = None,
                resume: str | None = None) -> tuple[SessionOutcome, list[dict], str]:
        """Run one session; returns its outcome, the fake server's request records and the log."""
        self.runs += 1
        run = self.tmp / f"run{self.runs}"
        run.mkdir()
        (run / "prompt.md").write_text(prompt)
        message_file = None
        if message is not None:
            message_file = run / "message.md"
            message_file.write_text(message)
        request = SessionRequest(
            sprint="sprint-01", agent="alpha", role="DATA", branch="main", base_branch="main",
            worktree=self.worktree, prompt_file=run / "prompt.md", report_path="report.md", attempt=self.runs,
            message_file=message_file, resume_session=resume, state_home=self.realcli.home,
            model=self.realcli.model, base_url=self.realcli.base_url, api_key=PLACEHOLDER_KEY)
        done = self.realcli.session(self.adapter, request, scenario, timeout=TIMEOUT[self.name])
        return done.outcome, done.requests, done.log


def basic_scenario() -> dict:
    """Run 1: write hello.txt with the CLI's write tool (codex: its shell), run a shell command.
    Run 2, the follow-up: append a correction by shell."""
    return {"rules": [
        {"match": "CORRECTION", "steps": [{"shell": "echo corrected >> hello.txt"}, {"text": "applied"}]},
        {"match": None, "steps": [{"write": "hello.txt", "content": "hello\n"},
                                  {"shell": "echo bash-ran > bash_out.txt"},
                                  {"text": "all done"}]},
    ]}


def check_edit_shell_resume(realcli: RealCLI) -> tuple[SessionSummary, SessionSummary]:
    """The shared acceptance: a file written in the cwd, a shell command run, the session id
    parsed, the follow-up applied by resuming that session, and usage read from the stream."""
    real = RealRun(realcli)
    first, records, log = real.session(basic_scenario(), prompt="PROMPT-1: create hello.txt")
    assert first.reason == "ended", (first.detail, log)
    assert (real.worktree / "hello.txt").read_text() == "hello\n", log
    assert (real.worktree / "bash_out.txt").read_text() == "bash-ran\n", log
    assert first.cli_session, log
    assert first.summary.input_tokens > 0 and first.summary.output_tokens > 0, log
    assert any("PROMPT-1" in (r.get("human_text") or "") for r in records), records
    second, records, log = real.session(basic_scenario(), prompt="PROMPT-1: create hello.txt",
                                        message="-- CORRECTION: append a line", resume=first.cli_session)
    assert second.reason == "ended", (second.detail, log)
    assert second.cli_session == first.cli_session, log  # the very same session continued
    assert (real.worktree / "hello.txt").read_text() == "hello\ncorrected\n", log
    humans = [r.get("human_text") or "" for r in records if r.get("api")]
    assert humans and all("CORRECTION" in h and "PROMPT-1" not in h for h in humans), humans
    assert second.summary.input_tokens > 0, log
    return first.summary, second.summary


API_ERROR_SCENARIO = {"rules": [{"match": None, "steps": [{"error": 500, "message": "fake overload"}]}]}
# How the pinned CLIs exit on an API error (measured: 400, 401 and 500 alike): 1, where Qwen exits 0.
# Asserted so that an upgrade that starts exiting 0 shows here; the session fails either way because
# the adapters read the error from the stream (the `detail` assertions), never from the exit status.
EXIT_ON_API_ERROR = {"claude": 1, "codex": 1}


# -- Claude Code -----------------------------------------------------------------------------

@pytest.mark.realcli("claude")
def test_claude_real_edit_shell_resume_usage(tmp_path: Path, realcli: RealCLI):
    first, _ = check_edit_shell_resume(realcli)
    assert first.cost_usd and first.cost_usd > 0
    assert first.files_changed == [str(tmp_path / "wt" / "hello.txt")]


@pytest.mark.realcli("claude")
def test_claude_real_denials_fail_the_session_although_exit_0(tmp_path: Path, realcli: RealCLI):
    """A territory PreToolUse hook denies one write; acceptEdits denies a write outside the cwd."""
    real = RealRun(realcli)
    guard = tmp_path / "guard.py"
    guard.write_text("import json, sys\n"
                     "path = json.load(sys.stdin).get('tool_input', {}).get('file_path', '')\n"
                     "if 'forbidden' in path:\n"
                     "    print(json.dumps({'hookSpecificOutput': {'hookEventName': 'PreToolUse',\n"
                     "        'permissionDecision': 'deny',\n"
                     "        'permissionDecisionReason': path + ' is outside'}}))\n")
    settings = real.worktree / ".claude" / "settings.local.json"  # where `workspaces up` puts it
    settings.parent.mkdir()
    settings.write_text(json.dumps({"hooks": {"PreToolUse": [{"matcher": "Write|Edit|MultiEdit|NotebookEdit",
                                   "hooks": [{"type": "command", "command": f"{sys.executable} {guard}"}]}]}}))
    outside = tmp_path / "outside.txt"
    scenario = {"rules": [{"match": None, "steps": [
        {"write": "ok.txt", "content": "fine\n"}, {"write": "forbidden.txt", "content": "no\n"},
        {"tool": "Write", "input": {"file_path": str(outside), "content": "no\n"}}, {"text": "tried"}]}]}
    outcome, _, log = real.session(scenario, prompt="write three files")
    assert outcome.exit_code == 0, log
    assert outcome.reason == "failed", (outcome.detail, log)
    assert outcome.summary.denied_tools == ["Write", "Write"], log
    assert (real.worktree / "ok.txt").exists()
    assert not (real.worktree / "forbidden.txt").exists() and not outside.exists()


@pytest.mark.realcli("claude")
def test_claude_real_api_error_fails_the_session(tmp_path: Path, realcli: RealCLI):
    real = RealRun(realcli)
    outcome, records, log = real.session(API_ERROR_SCENARIO, prompt="hello")
    assert outcome.exit_code == EXIT_ON_API_ERROR["claude"], log
    assert outcome.reason == "failed", log
    assert outcome.detail.startswith("error: API Error: 500"), outcome.detail  # from the stream
    assert outcome.summary.retries == 2 and len(records) == 3, log  # CLAUDE_CODE_MAX_RETRIES=2


# -- Codex -----------------------------------------------------------------------------------

APPLY_PATCH = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: patched.txt\n+patched\n*** End Patch\nEOF"


@pytest.mark.realcli("codex")
def test_codex_real_edit_shell_resume_usage(tmp_path: Path, realcli: RealCLI):
    first, second = check_edit_shell_resume(realcli)
    assert first.cost_usd is None
    assert second.input_tokens > first.input_tokens  # codex reports the thread's running total


@pytest.mark.realcli("codex")
def test_codex_real_apply_patch_is_a_file_change(tmp_path: Path, realcli: RealCLI):
    real = RealRun(realcli)
    scenario = {"rules": [{"match": None, "steps": [{"tool": "exec_command", "input": {"cmd": APPLY_PATCH}},
                                                    {"text": "patched"}]}]}
    outcome, _, log = real.session(scenario, prompt="patch it")
    assert outcome.reason == "ended", (outcome.detail, log)
    assert (real.worktree / "patched.txt").read_text() == "patched\n"
    assert outcome.summary.files_changed == [str(real.worktree / "patched.txt")], log


@pytest.mark.realcli("codex")
def test_codex_real_policy_rejection_fails_the_session_although_exit_0(tmp_path: Path, realcli: RealCLI):
    """An execpolicy rule in the isolated CODEX_HOME forbids `rm`: codex refuses the command."""
    real = RealRun(realcli)
    rules = tmp_path / "home" / ".codex" / "rules" / "default.rules"
    rules.parent.mkdir(parents=True)
    rules.write_text('prefix_rule(pattern=["rm"], decision="forbidden")\n')
    (real.worktree / "keep.txt").write_text("keep\n")
    scenario = {"rules": [{"match": None, "steps": [{"shell": "rm keep.txt"}, {"text": "tried"}]}]}
    outcome, _, log = real.session(scenario, prompt="remove keep.txt")
    assert outcome.exit_code == 0, log
    assert outcome.reason == "failed" and outcome.summary.denied_tools == ["shell"], (outcome.detail, log)
    assert (real.worktree / "keep.txt").exists()


@pytest.mark.realcli("codex")
def test_codex_real_api_error_fails_the_session(tmp_path: Path, realcli: RealCLI):
    real = RealRun(realcli)
    outcome, records, log = real.session(API_ERROR_SCENARIO, prompt="hello")
    assert outcome.exit_code == EXIT_ON_API_ERROR["codex"], log
    assert outcome.reason == "failed" and outcome.detail.startswith("error:"), (outcome.detail, log)
    # (1 + stream_max_retries) attempts of (1 + request_max_retries) requests; the defaults make 30.
    assert outcome.summary.retries == 2 and len(records) <= 9, log


# -- Qwen Code -------------------------------------------------------------------------------

@pytest.mark.realcli("qwen")
def test_qwen_real_edit_shell_resume_usage(tmp_path: Path, realcli: RealCLI):
    first, _ = check_edit_shell_resume(realcli)
    assert first.files_changed == [str(tmp_path / "wt" / "hello.txt")]


@pytest.mark.realcli("qwen")
def test_qwen_real_denial_fails_the_session_although_exit_0(tmp_path: Path, realcli: RealCLI):
    """A project deny rule still applies under --yolo."""
    real = RealRun(realcli)
    (real.worktree / ".qwen").mkdir()
    (real.worktree / ".qwen" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["Bash(rm *)"]}}))
    (real.worktree / "keep.txt").write_text("keep\n")
    scenario = {"rules": [{"match": None, "steps": [{"shell": "rm keep.txt"}, {"text": "tried"}]}]}
    outcome, _, log = real.session(scenario, prompt="remove keep.txt")
    assert outcome.exit_code == 0, log
    assert outcome.reason == "failed" and outcome.summary.denied_tools == ["run_shell_command"], log
    assert (real.worktree / "keep.txt").exists()


@pytest.mark.realcli("qwen")
def test_qwen_real_api_error_fails_the_session_although_exit_0(tmp_path: Path, realcli: RealCLI):
    """A 400 is not retried, so this stays quick; a 500 takes Qwen ~70 s of its own retries."""
    real = RealRun(realcli)
    scenario = {"rules": [{"match": None, "steps": [{"error": 400, "message": "bad request"}]}]}
    outcome, _, log = real.session(scenario, prompt="hello")
    assert outcome.exit_code == 0, log
    assert outcome.reason == "failed" and outcome.detail.startswith("error: 400"), (outcome.detail, log)
