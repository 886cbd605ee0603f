"""What a session was last doing, for the message that resumes the work of one that died.

Real CLIs: the last tool calls, assistant text and errors of its typed event stream (each
adapter's ``parse``, agents/events.py). A `command` agent has no stream: the last lines of its
output. Bounded in lines and characters, secrets redacted.
"""

from __future__ import annotations

import json
from typing import Any

from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.agents.base import SessionOutput, output_text
from agent_dispatch.agents.cli import CLIAdapter
from agent_dispatch.agents.events import AgentEvent, Kind
from agent_dispatch.redact import redact

ACTIVITY_LINES = 8  # what a model needs to pick up the thread, not a transcript
LINE_CHARS = 200
TAIL_BYTES = 512 * 1024  # only the end of the output is read: a log may hold 64 MiB
# Tool inputs that say best what a call did, in this order; else the input as JSON.
_INPUT_KEYS = ("command", "file_path", "path", "pattern", "url", "query")


def recent_activity(tool: str, output: SessionOutput, *, limit: int = ACTIVITY_LINES) -> list[str]:
    """The last ``limit`` things the ``tool`` session whose output is ``output`` did, one line each."""
    text = _tail(output_text(output))
    adapter = get_adapter(tool)
    if isinstance(adapter, CLIAdapter):
        lines = [line for line in (_describe(e) for e in adapter.parse(text)) if line]
    else:
        lines = [line for line in text.splitlines() if line.strip()]
    return [_clip(redact(line)) for line in lines[-limit:]] if limit > 0 else []


def _tail(text: str) -> str:
    """The last `TAIL_BYTES` of ``text``, from a line start (a cut line would parse as garbage)."""
    if len(text) <= TAIL_BYTES:
        return text
    tail = text[-TAIL_BYTES:]
    return tail[tail.find("\n") + 1:]


def _describe(event: AgentEvent) -> str | None:
    """One line for an event worth quoting: a tool call, the model's words, an error."""
    if event.kind is Kind.TOOL_USE:
        return f"tool {event.tool or '?'}: {_input_text(event.input)}"
    if event.kind is Kind.TEXT and event.text.strip():
        return f"said: {event.text.strip()}"
    if event.kind is Kind.ERROR and event.text.strip():
        return f"error: {event.text.strip()}"
    return None


def _input_text(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    for key in _INPUT_KEYS:
        if isinstance(value.get(key), str):
            return f"{key}={value[key]}"
    return json.dumps(value, ensure_ascii=False, default=str)


def _clip(line: str) -> str:
    """One line of at most `LINE_CHARS` characters (whitespace runs, newlines included, collapsed)."""
    line = " ".join(line.split())
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…"
