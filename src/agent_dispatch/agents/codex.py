"""OpenAI Codex CLI (``codex exec --json``), verified with 0.171.0.

Sandbox: ``danger-full-access`` with ``approval_policy = "never"``. Why not ``workspace-write``:
its bwrap sandbox only lets the agent write inside the worktree, but a git worktree keeps its
index and refs in the main repository's ``.git/worktrees/<name>``, so the agent cannot commit
(verified: ``git commit`` failed with "index.lock: Read-only file system"); and bwrap needs
namespaces that the session's own PID-namespace containment may not allow. Territory is
enforced by our git hooks and the diff audit instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.agents.cli import (
    PLACEHOLDER_KEY,
    CLIAdapter,
    api_v1,
    env_value,
    int_or_zero,
    json_lines,
    prompt_arg,
    with_complaint,
)
from agent_dispatch.agents.events import AgentEvent, Kind, as_dict
from agent_dispatch.files import write_if_changed

SANDBOX = "danger-full-access"
PROVIDER = "dispatch"  # our custom provider id when the plan overrides the endpoint
PROVIDER_KEY_ENV = "OPENAI_API_KEY"  # the custom provider's env_key
MAX_RETRIES = 2  # a dead endpoint should fail the session quickly
# A command refused by an execpolicy rule (``$CODEX_HOME/rules/*.rules``, ``decision="forbidden"``)
# produces no JSON item at all, only this log line on stderr (which shares the session log).
_REJECTED = re.compile(r"codex_core::tools::router: error=(?P<tool>\w+) failed: .*?"
                       r"rejected: (?P<why>[^\"\\]+)")
# Transport hiccups arrive as top-level errors like "Reconnecting... 2/5 (stream disconnected ...)".
_RECONNECT = re.compile(r"^\s*Reconnecting\.*\s*(\d+)?", re.IGNORECASE)


def toml_str(value: str) -> str:
    """A TOML basic string (JSON string escaping is valid TOML for these values)."""
    return json.dumps(value)


def config_toml(request: SessionRequest) -> str:
    """``$CODEX_HOME/config.toml``: no approvals, full access, nothing phoning home."""
    lines = [
        "# Written by agent-dispatch for this agent's own CODEX_HOME; rewritten every session.",
        'approval_policy = "never"',
        f"sandbox_mode = {toml_str(SANDBOX)}",
        "check_for_update_on_startup = false",
    ]
    if request.base_url:
        lines.append(f"model_provider = {toml_str(PROVIDER)}")
    lines += ["", "[features]", "plugins = false", "remote_plugin = false", "apps = false",
              "", "[analytics]", "enabled = false", "", "[feedback]", "enabled = false"]
    if request.base_url:
        # The built-in provider ignores OPENAI_BASE_URL in 0.171 and tries WebSockets first.
        lines += ["", f"[model_providers.{PROVIDER}]", 'name = "agent-dispatch endpoint"',
                  f"base_url = {toml_str(api_v1(request.base_url))}",
                  f"env_key = {toml_str(PROVIDER_KEY_ENV)}", 'wire_api = "responses"',
                  # The defaults (4 request, 5 stream retries with backoff) take ~30 s to give up.
                  f"request_max_retries = {MAX_RETRIES}", f"stream_max_retries = {MAX_RETRIES}"]
    return "\n".join(lines) + "\n"


class CodexAdapter(CLIAdapter):
    """``codex exec`` one turn per process; a follow-up is ``exec resume <thread_id>``."""

    usage_spans_resumes = True  # turn.completed totals cover the whole thread, earlier runs included

    name = "codex"
    env_allow = ("OPENAI_*", "CODEX_*")  # its keys, endpoint and settings
    binary = "codex"
    supports_sub_agents = True  # the multi_agent tools are offered to the model

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """Exec options go before ``resume``: that subcommand has no ``--sandbox`` of its own."""
        argv = [exe, "exec", "--json", "--skip-git-repo-check", "--sandbox", SANDBOX]
        if request.model:
            argv += ["--model", request.model]
        if request.resuming and request.resume_session:
            argv += ["resume", request.resume_session]
        return argv + prompt_arg(request.turn_text())

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """``CODEX_HOME`` in the isolated home, and the key for whichever provider is used."""
        env = {"CODEX_HOME": str(home / ".codex")}
        if request.base_url:
            key = (request.api_key or env_value(request, PROVIDER_KEY_ENV)
                   or env_value(request, "CODEX_API_KEY"))
            env[PROVIDER_KEY_ENV] = key or PLACEHOLDER_KEY
        else:
            # `codex exec` reads CODEX_API_KEY for the built-in provider.
            key = (request.api_key or env_value(request, "CODEX_API_KEY")
                   or env_value(request, "OPENAI_API_KEY"))
            if key:
                env["CODEX_API_KEY"] = key
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """Rewrite ``config.toml`` when it differs; the ``sessions/`` store beside it stays."""
        write_if_changed(home / ".codex" / "config.toml", config_toml(request))

    def parse(self, text: str) -> list[AgentEvent]:
        """Codex ``--json`` JSONL mapped to events."""
        return with_complaint(CodexParser().feed(text), text)


class CodexParser:
    """Stateful reading of one codex JSONL log (item ids tie ``started`` to ``completed``)."""

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self.session: str | None = None
        self.started: set[str | None] = set()
        self.last_message = ""

    def feed(self, text: str) -> list[AgentEvent]:
        """Read a whole log: JSONL events on stdout, plus codex's own log lines on stderr."""
        for raw in text.splitlines():
            rejected = _REJECTED.search(raw) if not raw.startswith("{") else None
            if rejected:
                self._emit(Kind.TOOL_RESULT, tool="shell", ok=False, denied=True,
                           text=f"{rejected['tool']} rejected: {rejected['why'].strip()}")
            for line in json_lines(raw):
                self._line(line)
        return self.events

    def _emit(self, kind: Kind, **fields: Any) -> None:
        self.events.append(AgentEvent(kind, session_id=self.session, **fields))

    def _line(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "thread.started":
            self.session = line.get("thread_id") or self.session
            self._emit(Kind.SESSION_STARTED)
        elif kind in ("item.started", "item.updated", "item.completed"):
            item = line.get("item")
            if isinstance(item, dict):
                self._item(item, done=kind == "item.completed")
        elif kind == "turn.completed":
            usage = as_dict(line.get("usage"))
            # These are the thread's running totals (a resumed run includes the runs before it),
            # hence cumulative. output_tokens already includes reasoning_output_tokens.
            self._emit(Kind.USAGE, input_tokens=int_or_zero(usage.get("input_tokens")),
                       output_tokens=int_or_zero(usage.get("output_tokens")), cumulative=True)
            self._emit(Kind.FINISHED, success=True, text=self.last_message)
        elif kind == "turn.failed":
            message = _message(line.get("error")) or "turn failed"
            if not self.events or self.events[-1].text != message:  # often repeats the last error
                self._emit(Kind.ERROR, text=message, fatal=True)
            self._emit(Kind.FINISHED, success=False, text=self.last_message)
        elif kind == "error":
            message = _message(line) or "error"
            retry = _RECONNECT.match(message)
            if retry:
                attempt = int(retry.group(1)) if retry.group(1) else None
                self._emit(Kind.API_RETRY, text=message, attempt=attempt)
            else:
                self._emit(Kind.ERROR, text=message, fatal=True)

    def _item(self, item: dict[str, Any], *, done: bool) -> None:
        item_id, kind = item.get("id"), item.get("type")
        if kind == "agent_message" and done:
            self.last_message = str(item.get("text") or "")
            if self.last_message:
                self._emit(Kind.TEXT, text=self.last_message)
        elif kind == "error" and done:
            # e.g. "Model metadata for `x` not found": codex carries on, so it is only a warning.
            self._emit(Kind.ERROR, text=_message(item) or "error", fatal=False)
        elif kind in _TOOLS:
            tool, describe = _TOOLS[kind]
            if item_id is None or item_id not in self.started:
                self.started.add(item_id)
                self._emit(Kind.TOOL_USE, tool=tool, tool_id=item_id, input=describe(item))
            if done:
                self._tool_done(kind, tool, item)

    def _tool_done(self, kind: str, tool: str, item: dict[str, Any]) -> None:
        status = item.get("status")
        ok = status not in ("failed", "declined")  # web_search items carry no status at all
        text = ""
        if kind == "command_execution":
            ok = ok and item.get("exit_code") in (0, None)
            text = str(item.get("aggregated_output") or "")
        elif kind == "mcp_tool_call":
            text = _message(item.get("error")) or ""
        self._emit(Kind.TOOL_RESULT, tool=tool, tool_id=item.get("id"), ok=ok,
                   denied=status == "declined", text=text)
        if kind == "file_change" and ok:
            for change in item.get("changes") or []:
                if isinstance(change, dict) and change.get("path"):
                    self._emit(Kind.FILE_CHANGE, path=str(change["path"]))


def _message(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("message") or "")
    return "" if value is None else str(value)


# item type -> (tool name reported, the tool's input as a dict)
_TOOLS: dict[str, tuple[str, Any]] = {
    "command_execution": ("shell", lambda item: {"command": item.get("command")}),
    "file_change": ("apply_patch", lambda item: {"changes": item.get("changes")}),
    "mcp_tool_call": ("mcp", lambda item: {"server": item.get("server"), "tool": item.get("tool"),
                                            "arguments": item.get("arguments")}),
    "web_search": ("web_search", lambda item: {"query": item.get("query")}),
}
