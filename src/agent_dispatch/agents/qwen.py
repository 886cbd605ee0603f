"""Qwen Code (``qwen --output-format stream-json``), verified with 0.15.10.

Permissions: ``--yolo``. Headless ``default`` denies write_file and run_shell_command, and
``auto-edit`` still denies the shell; yolo is the only mode where an agent can test its work.
``permissions.deny`` rules in settings still apply under yolo (the denial is listed in
``result.permission_denials``, exit 0), so the session then counts as failed.

Its stream-json is Claude-compatible, so the Claude parser reads it (there is no cost field).
Two quirks handled here: a failed API call ends the run with ``is_error: false``, exit 0 and the
text ``[API Error: ...]``; and ``result.usage`` counts the runs before a resume too, so usage is
summed per assistant message instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.agents.claude import parse_claude_stream
from agent_dispatch.agents.cli import (
    CLIAdapter,
    api_v1,
    key_to_set,
    merge_json_file,
    with_complaint,
)
from agent_dispatch.agents.events import AgentEvent, Kind

# Qwen reports a failed API call as assistant text (and a `result` with is_error false, exit 0).
API_ERROR = re.compile(r"^\s*\[API Error: (?P<message>.*)\]\s*$", re.DOTALL)

# Merged into ~/.qwen/settings.json: no telemetry or usage statistics (the Aliyun RUM lookup),
# no update checks, and the OpenAI-compatible auth so no login flow starts.
SETTINGS: dict[str, Any] = {
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "security": {"auth": {"selectedType": "openai"}},
    # The OpenAI SDK's own retries (default 3) sit inside Qwen's 7 backed-off attempts on 429/5xx.
    "model": {"generationConfig": {"maxRetries": 0}},
}


def flag_api_errors(events: Iterable[AgentEvent]) -> Iterator[AgentEvent]:
    """Turn Qwen's ``[API Error: ...]`` text into a fatal error and an unsuccessful finish."""
    flagged = False
    for event in events:
        match = API_ERROR.match(event.text) if event.kind in (Kind.TEXT, Kind.FINISHED) else None
        if match is None:
            yield event
            continue
        sid = event.session_id
        error = AgentEvent(Kind.ERROR, session_id=sid, text=match["message"], fatal=True)
        if event.kind is Kind.TEXT:
            yield event
            yield error
            flagged = True
        else:
            if not flagged:
                yield error
            yield AgentEvent(Kind.FINISHED, session_id=sid, text=event.text, success=False)


def positional(text: str) -> str:
    """The prompt as a positional argument that yargs cannot mistake for an option.

    Qwen's yargs does not treat words after ``--`` as the prompt, so a text starting with ``-``
    gets a leading newline instead (invisible to the model).
    """
    return "\n" + text if text.startswith("-") else text


class QwenAdapter(CLIAdapter):
    """Qwen Code one-shot with a positional prompt; a follow-up resumes with ``-r <session_id>``."""

    name = "qwen"
    env_allow = ("OPENAI_*", "QWEN_*", "DASHSCOPE_*")  # its keys, endpoint and settings
    binary = "qwen"
    supports_sub_agents = True  # the `agent` tool starts sub-agents

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """``qwen --output-format stream-json --yolo --auth-type openai [--resume id] <text>``."""
        argv = [exe, "--output-format", "stream-json", "--yolo", "--auth-type", "openai"]
        if request.model:
            argv += ["--model", request.model]
        if request.resuming and request.resume_session:
            argv += ["--resume", request.resume_session]
        return argv + [positional(request.turn_text())]

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """The OpenAI-compatible endpoint and key when the plan overrides them."""
        # Qwen re-executes node only to raise its heap limit to half the machine's RAM; that second
        # start-up costs 2-5 s per session, and the default heap is ample for one agent.
        env: dict[str, str] = {"QWEN_CODE_NO_RELAUNCH": "true"}
        if request.base_url:
            env["OPENAI_BASE_URL"] = api_v1(request.base_url)
        key = key_to_set(request, "OPENAI_API_KEY")
        if key:
            env["OPENAI_API_KEY"] = key
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """Merge our settings into ``~/.qwen/settings.json``; chats under ``projects/`` stay."""
        merge_json_file(home / ".qwen" / "settings.json", SETTINGS)

    def parse(self, text: str) -> list[AgentEvent]:
        """Qwen's Claude-compatible stream-json mapped to events (no cost)."""
        events = parse_claude_stream(text, with_cost=False, message_usage=True)
        return with_complaint(list(flag_api_errors(events)), text)
