"""One typed event model for every agent CLI.

Each adapter maps its CLI's machine-readable stream (stream-json, JSONL, or aider's plain
transcript) into these events; the engine only ever reads ``AgentEvent`` values and the
``SessionSummary`` folded from them. No screen scraping: a CLI without a structured stream
(aider) is read from its own history files and exit status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    SESSION_STARTED = "session_started"  # session_id
    TEXT = "text"  # text (assistant prose)
    TOOL_USE = "tool_use"  # tool, tool_id, input
    TOOL_RESULT = "tool_result"  # tool_id, ok, denied, text (output or error)
    FILE_CHANGE = "file_change"  # path
    USAGE = "usage"  # input_tokens, output_tokens, cost_usd (per turn or cumulative, see ``cumulative``)
    API_RETRY = "api_retry"  # text (why), attempt
    ERROR = "error"  # text; fatal=True when the CLI gave up (API error, crash), False for a warning
    FINISHED = "finished"  # success (the CLI's own verdict, not its exit code), text (final message)


@dataclass(frozen=True)
class AgentEvent:
    """One thing that happened in an agent session, in CLI-neutral terms."""

    kind: Kind
    session_id: str | None = None
    text: str = ""
    tool: str | None = None
    tool_id: str | None = None
    input: dict[str, Any] | None = None
    ok: bool | None = None
    denied: bool = False
    path: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cumulative: bool = False  # usage totals for the whole session rather than one turn
    attempt: int | None = None
    fatal: bool = False
    success: bool | None = None
    limit: bool = False  # FINISHED because the CLI's own turn or context limit ran out

    def as_data(self) -> dict[str, Any]:
        """A JSON-ready dict without empty fields (for the event log)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, "", False, 0) or k == "kind"}


@dataclass
class SessionSummary:
    """What a whole session amounted to, folded from its events."""

    session_id: str | None = None
    finished: bool = False
    success: bool | None = None
    final_text: str = ""
    tool_uses: int = 0
    failed_tools: list[str] = field(default_factory=list)
    denied_tools: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # fatal errors only
    warnings: list[str] = field(default_factory=list)
    retries: int = 0
    files_changed: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    limit_reached: bool = False  # the CLI stopped at its turn/context limit: continue, don't judge

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def failure_reason(self) -> str | None:
        """Why this session counts as failed although its CLI may have exited 0; None when it succeeded."""
        if self.errors:
            return "error: " + self.errors[-1]
        if self.denied_tools:
            return "permission denied: " + ", ".join(self.denied_tools)
        if self.success is False:
            return "the CLI reported failure" + (f": {self.final_text[:200]}" if self.final_text else "")
        if not self.finished:
            return "no completion event in the session's stream"
        return None

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


def summarize(events: Iterable[AgentEvent]) -> SessionSummary:
    """Fold a session's events into a summary (usage: cumulative totals replace, per-turn ones add)."""
    s = SessionSummary()
    turn_in = turn_out = 0
    turn_cost: float | None = None
    total: AgentEvent | None = None
    for e in events:
        if e.session_id and not s.session_id:
            s.session_id = e.session_id
        if e.kind is Kind.TOOL_USE:
            s.tool_uses += 1
        elif e.kind is Kind.TOOL_RESULT:
            label = e.tool or e.tool_id or "tool"
            if e.denied:
                s.denied_tools.append(label)
            elif e.ok is False:
                s.failed_tools.append(label)
        elif e.kind is Kind.FILE_CHANGE and e.path and e.path not in s.files_changed:
            s.files_changed.append(e.path)
        elif e.kind is Kind.USAGE:
            if e.cumulative:
                total = e
            else:
                turn_in += e.input_tokens
                turn_out += e.output_tokens
                if e.cost_usd is not None:
                    turn_cost = (turn_cost or 0.0) + e.cost_usd
        elif e.kind is Kind.API_RETRY:
            s.retries += 1
        elif e.kind is Kind.ERROR:
            (s.errors if e.fatal else s.warnings).append(e.text)
        elif e.kind is Kind.FINISHED:
            s.finished = True
            s.success = e.success
            s.final_text = e.text
            s.limit_reached = s.limit_reached or e.limit
    if total is not None:
        s.input_tokens, s.output_tokens = total.input_tokens, total.output_tokens
        s.cost_usd = total.cost_usd if total.cost_usd is not None else turn_cost
    else:
        s.input_tokens, s.output_tokens, s.cost_usd = turn_in, turn_out, turn_cost
    return s


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when a CLI's JSON gave an object there, else an empty dict."""
    return value if isinstance(value, dict) else {}
