"""Claude Code (``claude -p ... --output-format stream-json``), verified with 2.1.197.

Permissions: ``--permission-mode acceptEdits --allowedTools Bash Read ...``. Why not bypass mode:
as root it needs ``IS_SANDBOX=1`` (a claim we cannot make about the user's machine), and
acceptEdits keeps Claude's own check that edits stay inside the cwd (the worktree). Both modes
honour a territory PreToolUse hook's ``deny`` (verified with 2.1.197); either way the denial is
listed in ``result.permission_denials`` and the session counts as failed although Claude exits 0.
Edits inside the worktree and any shell command run without asking.

The stream parser here is shared with Qwen Code, whose stream-json is Claude-compatible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.agents.cli import (
    CLIAdapter,
    api_root,
    int_or_zero,
    json_lines,
    key_to_set,
    prompt_arg,
    with_complaint,
)
from agent_dispatch.agents.events import AgentEvent, Kind, as_dict

# Allowed without asking, on top of acceptEdits (Write/Edit inside the cwd). Everything here is
# something Bash could do anyway, so only file edits stay scoped to the worktree: an edit outside
# it is denied and shows up in permission_denials. Reading outside the cwd (e.g. library sources)
# would otherwise be denied too and fail the session for nothing.
ALLOWED_TOOLS = ("Bash", "Read", "Glob", "Grep", "WebFetch", "WebSearch")
# Removed from the model's tool set: an agent must stay in the worktree it was given.
DISALLOWED_TOOLS = ("EnterWorktree", "ExitWorktree")

# Tools whose successful result means the file in their input changed (Claude and Qwen names).
EDIT_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit",
                        "write_file", "edit", "replace"})

# Quiet and offline: the first one alone stops every non-API lookup.
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    # The default is 10 retries over ~3 minutes; a dead endpoint should fail the session quickly.
    "CLAUDE_CODE_MAX_RETRIES": "2",
}


def _content_text(content: Any) -> str:
    """A tool_result's content (a string or a list of text blocks) as plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def _denials(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry of every ``result.permission_denials`` in the stream."""
    found: list[dict[str, Any]] = []
    for line in lines:
        if line.get("type") == "result" and isinstance(line.get("permission_denials"), list):
            found.extend(d for d in line["permission_denials"] if isinstance(d, dict))
    return found


def _usage(line: dict[str, Any], *, with_cost: bool) -> AgentEvent | None:
    usage = line.get("usage")
    if not isinstance(usage, dict):
        return None
    # input_tokens excludes cached prompt tokens; count everything the model read.
    read = sum(int_or_zero(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens"))
    cost = line.get("total_cost_usd") if with_cost else None
    return AgentEvent(Kind.USAGE, input_tokens=read, output_tokens=int_or_zero(usage.get("output_tokens")),
                      cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
                      cumulative=True)


def _result_text(line: dict[str, Any]) -> str:
    text = line.get("result")
    if isinstance(text, str) and text:
        return text
    errors = line.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return str(line.get("subtype") or "")


def parse_claude_stream(text: str, *, with_cost: bool = True,
                        message_usage: bool = False) -> list[AgentEvent]:
    """Claude-style stream-json (Claude Code, Qwen Code) mapped to events.

    Denials are only listed in the final ``result``; a pre-pass collects them so the matching
    ``tool_result`` is reported as denied rather than merely failed. Usage comes from ``result``
    (Claude: this process's calls), or with ``message_usage`` from each assistant message (Qwen,
    whose ``result.usage`` also counts the runs before a resume).
    """
    lines = list(json_lines(text))
    denials = _denials(lines)
    denied_ids = {d.get("tool_use_id") for d in denials if d.get("tool_use_id")}
    tool_names: dict[str, str] = {}
    tool_inputs: dict[str, Any] = {}
    reported: set[str | None] = set()
    counted: set[Any] = set()  # message ids whose usage is already in (blocks share an id)
    events: list[AgentEvent] = []
    for line in lines:
        kind, sid = line.get("type"), line.get("session_id")
        sid = sid if isinstance(sid, str) and sid else None
        subtype = line.get("subtype")
        if kind == "system" and subtype == "init":
            events.append(AgentEvent(Kind.SESSION_STARTED, session_id=sid))
        elif kind == "system" and subtype == "api_retry":
            why = " ".join(str(line[k]) for k in ("error_status", "error") if line.get(k))
            attempt = line.get("attempt")
            events.append(AgentEvent(Kind.API_RETRY, session_id=sid,
                                     text=why or "API request failed",
                                     attempt=attempt if isinstance(attempt, int) else None))
        elif kind == "assistant":
            usage = _message_usage(line, counted) if message_usage else None
            if usage is not None:
                events.append(usage)
            for block in _blocks(line):
                if block.get("type") == "text" and block.get("text"):
                    events.append(AgentEvent(Kind.TEXT, session_id=sid, text=str(block["text"])))
                elif block.get("type") == "tool_use":
                    tool_id, name = block.get("id"), str(block.get("name") or "tool")
                    tool_input = block.get("input")
                    if isinstance(tool_id, str):
                        tool_names[tool_id] = name
                        tool_inputs[tool_id] = tool_input
                    events.append(AgentEvent(
                        Kind.TOOL_USE, session_id=sid, tool=name, tool_id=tool_id,
                        input=tool_input if isinstance(tool_input, dict) else None))
        elif kind == "user":
            for block in _blocks(line):
                if block.get("type") != "tool_result":
                    continue
                raw_id = block.get("tool_use_id")
                tool_id = raw_id if isinstance(raw_id, str) else None
                denied = tool_id in denied_ids
                reported.add(tool_id)
                events.append(AgentEvent(
                    Kind.TOOL_RESULT, session_id=sid, tool=tool_names.get(tool_id or ""), tool_id=tool_id,
                    ok=not block.get("is_error") and not denied, denied=denied,
                    text=_content_text(block.get("content"))))
                path = _edited_path(tool_names.get(tool_id or ""), tool_inputs.get(tool_id or ""))
                if path and not block.get("is_error") and not denied:
                    events.append(AgentEvent(Kind.FILE_CHANGE, session_id=sid, path=path))
        elif kind == "result":
            events.extend(_result_events(line, sid, denials, reported, with_cost=with_cost,
                                         with_usage=not counted))
    return events


def _blocks(line: dict[str, Any]) -> list[dict[str, Any]]:
    message = line.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _edited_path(tool: str | None, tool_input: Any) -> str | None:
    """The file an editing tool call targets (Claude Write/Edit, Qwen write_file/edit)."""
    if tool not in EDIT_TOOLS or not isinstance(tool_input, dict):
        return None
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    return path if isinstance(path, str) and path else None


def _message_usage(line: dict[str, Any], counted: set[Any]) -> AgentEvent | None:
    """One assistant message's own usage (per API call), once per message id."""
    message = as_dict(line.get("message"))
    usage = message.get("usage")
    if not isinstance(usage, dict) or message.get("id") in counted:
        return None
    counted.add(message.get("id"))
    return AgentEvent(Kind.USAGE, session_id=line.get("session_id"),
                      input_tokens=int_or_zero(usage.get("input_tokens")),
                      output_tokens=int_or_zero(usage.get("output_tokens")))


def _result_events(line: dict[str, Any], sid: str | None, denials: list[dict[str, Any]],
                   reported: set[Any], *, with_cost: bool, with_usage: bool) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    # A denial whose tool_result never appeared in the stream still has to count.
    for denial in line.get("permission_denials") or []:
        if isinstance(denial, dict) and denial.get("tool_use_id") not in reported:
            events.append(AgentEvent(Kind.TOOL_RESULT, session_id=sid,
                                     tool=str(denial.get("tool_name") or "tool"),
                                     tool_id=denial.get("tool_use_id"), ok=False, denied=True))
    usage = _usage(line, with_cost=with_cost) if with_usage else None
    if usage is not None:
        events.append(usage)
    text = _result_text(line)
    is_error = bool(line.get("is_error"))
    if is_error:
        events.append(AgentEvent(Kind.ERROR, session_id=sid, text=text, fatal=True))
    # `subtype` can say "success" while is_error is true (API errors): is_error decides.
    success = not is_error and not denials and line.get("subtype") in ("success", None)
    limit = line.get("subtype") == "error_max_turns"  # the engine continues in a new session
    events.append(AgentEvent(Kind.FINISHED, session_id=sid, text=text, success=success, limit=limit))
    return events


class ClaudeAdapter(CLIAdapter):
    """Claude Code in print mode, one process per turn, resumed by session id."""

    name = "claude"
    env_allow = ("ANTHROPIC_*", "CLAUDE_*")  # its keys, endpoint and settings
    binary = "claude"
    supports_sub_agents = True  # the Task/Agent tool

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """``claude -p`` with stream-json output; ``--resume <id>`` for a follow-up message."""
        argv = [exe, "-p", "--output-format", "stream-json", "--verbose",
                "--permission-mode", "acceptEdits", "--allowedTools", *ALLOWED_TOOLS,
                "--disallowedTools", *DISALLOWED_TOOLS]
        if request.model:
            argv += ["--model", request.model]
        if request.resuming and request.resume_session:
            # Sessions are cwd-scoped: this works because the worktree path never changes.
            argv += ["--resume", request.resume_session]
        return argv + prompt_arg(request.turn_text())

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """Isolated config dir, quiet flags, and the endpoint and key when overridden."""
        env = {"CLAUDE_CONFIG_DIR": str(home / ".claude"), **QUIET_ENV}
        if request.base_url:
            env["ANTHROPIC_BASE_URL"] = api_root(request.base_url)  # the client adds /v1/messages
        key = key_to_set(request, "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                         "CLAUDE_CODE_OAUTH_TOKEN")
        if key:
            env["ANTHROPIC_API_KEY"] = key
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """Only the config dir: no files needed (``-p`` has no onboarding or trust prompt)."""
        (home / ".claude").mkdir(parents=True, exist_ok=True)

    def parse(self, text: str) -> list[AgentEvent]:
        """Claude's stream-json mapped to events (see :func:`parse_claude_stream`)."""
        return with_complaint(parse_claude_stream(text, with_cost=True), text)
