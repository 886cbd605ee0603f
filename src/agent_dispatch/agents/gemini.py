"""Gemini CLI (``@google/gemini-cli``, verified with 0.61.0) run headless.

    gemini --output-format stream-json --skip-trust --yolo [--model=M] [--resume=ID] --prompt=TEXT

Its ``stream-json`` stream (one JSON object a line): ``init{session_id}``,
``message{role,content,delta}``, ``tool_use{tool_name,tool_id,parameters}``,
``tool_result{tool_id,status,output,error{type,message}}``, ``error{severity,message}`` and a
final ``result{status,error?,stats{input_tokens,output_tokens,...}}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import SessionOutcome, SessionOutput, SessionRequest
from agent_dispatch.agents.cli import CLIAdapter, json_lines, key_to_set, merge_json_file
from agent_dispatch.agents.events import AgentEvent, Kind, as_dict

# Tool errors that mean "not allowed" rather than "went wrong". In headless default mode the
# write and shell tools are not even registered, so a call fails with `Tool "x" not found`.
DENIED_ERROR_TYPES = frozenset({"tool_not_registered", "policy_violation"})
_NOT_FOUND = re.compile(r'Tool "[^"]+" not found')
# Tools whose successful call changed the named file.
FILE_TOOLS = {"write_file": "file_path", "replace": "file_path"}
# Documented exit status for "turn limit reached"; the engine continues in a new session.
TURN_LIMIT_EXIT = 53
_TURN_LIMIT = re.compile(r"max(imum)? session turns", re.IGNORECASE)


class GeminiAdapter(CLIAdapter):
    """Gemini CLI: one ``--prompt`` per process, follow-ups by ``--resume <session uuid>``."""

    name = "gemini"
    env_allow = ("GEMINI_*", "GOOGLE_*")  # its keys, endpoint and settings
    binary = "gemini"

    def __init__(self, *, approval_mode: str = "yolo", max_attempts: int | None = None) -> None:
        """``approval_mode``: yolo lets the agent edit and run shell commands in its worktree (the
        headless default mode hides those tools). ``max_attempts``: API attempts per model call
        (the CLI's default is 10 with backoff, minutes against a failing endpoint)."""
        self.approval_mode = approval_mode
        self.max_attempts = max_attempts

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """Start or resume a session. ``--opt=value`` forms so a prompt starting with "-" (YAML
        front matter, a "---" separator) is not read as an option."""
        argv = [exe, "--output-format", "stream-json", "--skip-trust"]
        yolo = self.approval_mode == "yolo"
        argv.append("--yolo" if yolo else f"--approval-mode={self.approval_mode}")
        if request.model:
            argv.append(f"--model={request.model}")
        if request.resuming:
            argv.append(f"--resume={request.resume_session}")
        argv.append(f"--prompt={request.turn_text()}")
        return argv

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """Endpoint and key; the key falls back to the user's own GEMINI_API_KEY."""
        # GEMINI_CLI_NO_RELAUNCH: no second node process just for a bigger heap.
        env = {"GEMINI_CLI_NO_RELAUNCH": "true"}
        if request.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = request.base_url.rstrip("/")
        key = key_to_set(request, "GEMINI_API_KEY")  # api-key auth needs one set
        if key:
            env["GEMINI_API_KEY"] = key
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """``~/.gemini/settings.json``: no telemetry, usage stats or update checks, API-key auth.
        Merged into what is there, so other settings and the session store are kept."""
        path = home / ".gemini" / "settings.json"
        ours: dict[str, Any] = {
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "security": {"auth": {"selectedType": "gemini-api-key"}},
        }
        if self.max_attempts is not None:
            ours["general"]["maxAttempts"] = self.max_attempts
        merge_json_file(path, ours)

    def parse(self, text: str) -> list[AgentEvent]:
        """The ``stream-json`` lines mapped to events; other lines (stderr notices) are skipped."""
        events: list[AgentEvent] = []
        tools: dict[str, tuple[str, dict[str, Any]]] = {}  # tool_id -> (name, parameters)
        reply: list[str] = []  # assistant text since the last tool call: the final message
        for obj in json_lines(text):
            kind = obj.get("type")
            if kind == "init":
                events.append(AgentEvent(Kind.SESSION_STARTED, session_id=obj.get("session_id")))
            elif kind == "message" and obj.get("role") == "assistant":
                content = str(obj.get("content") or "")
                reply.append(content)
                events.append(AgentEvent(Kind.TEXT, text=content))
            elif kind == "tool_use":
                name, tool_id = str(obj.get("tool_name") or ""), obj.get("tool_id")
                params = as_dict(obj.get("parameters"))
                tools[str(tool_id)] = (name, params)
                reply.clear()
                events.append(AgentEvent(Kind.TOOL_USE, tool=name, tool_id=tool_id, input=params))
            elif kind == "tool_result":
                events += _tool_result(obj, tools)
            elif kind == "error":
                events.append(AgentEvent(Kind.ERROR, text=str(obj.get("message") or ""),
                                         fatal=obj.get("severity") == "error"))
            elif kind == "result":
                events += _result(obj, "".join(reply))
        return events

    def outcome(self, exit_code: int | None, output: SessionOutput, *, timed_out: bool,
                killed: bool) -> SessionOutcome:
        """As for every CLI, except that a turn limit is "limit": the engine continues the work."""
        out = super().outcome(exit_code, output, timed_out=timed_out, killed=killed)
        errors = out.summary.errors if out.summary else []
        if out.reason == "failed" and (exit_code == TURN_LIMIT_EXIT
                                       or any(_TURN_LIMIT.search(e) for e in errors)):
            return SessionOutcome("limit", exit_code, "turn limit reached", out.summary)
        return out


def _tool_result(obj: dict[str, Any], tools: dict[str, tuple[str, dict[str, Any]]]
                 ) -> list[AgentEvent]:
    tool_id = obj.get("tool_id")
    name, params = tools.get(str(tool_id), (None, {}))
    error = as_dict(obj.get("error"))
    message = str(error.get("message") or "")
    ok = obj.get("status") == "success"
    denied = not ok and (error.get("type") in DENIED_ERROR_TYPES
                         or bool(_NOT_FOUND.search(message)))
    events = [AgentEvent(Kind.TOOL_RESULT, tool=name, tool_id=tool_id, ok=ok, denied=denied,
                         text=str(obj.get("output") or message))]
    path = params.get(FILE_TOOLS.get(name or "", ""))
    if ok and isinstance(path, str) and path:
        events.append(AgentEvent(Kind.FILE_CHANGE, path=path))
    return events


def _result(obj: dict[str, Any], final_text: str) -> list[AgentEvent]:
    events = []
    stats = as_dict(obj.get("stats"))
    if stats:
        events.append(AgentEvent(Kind.USAGE, input_tokens=int(stats.get("input_tokens") or 0),
                                 output_tokens=int(stats.get("output_tokens") or 0),
                                 cumulative=True))
    error = obj.get("error") if isinstance(obj.get("error"), dict) else None
    if error:
        text = str(error.get("message") or error.get("type") or "error")
        events.append(AgentEvent(Kind.ERROR, text=text, fatal=True))
    success = obj.get("status") == "success"
    events.append(AgentEvent(Kind.FINISHED, success=success, text=final_text))
    return events
