"""The shared event model: how a session's events fold into a summary and an outcome."""

from __future__ import annotations

import json
from pathlib import Path

from agent_dispatch.agents.claude import ClaudeAdapter
from agent_dispatch.agents.events import AgentEvent, Kind, summarize


def test_per_turn_usage_adds_and_cumulative_usage_replaces():
    turns = [AgentEvent(Kind.USAGE, input_tokens=10, output_tokens=2, cost_usd=0.01),
             AgentEvent(Kind.USAGE, input_tokens=20, output_tokens=3, cost_usd=0.02)]
    s = summarize(turns)
    assert (s.input_tokens, s.output_tokens, round(s.cost_usd, 4)) == (30, 5, 0.03)
    total = summarize([*turns, AgentEvent(Kind.USAGE, input_tokens=100, output_tokens=9, cumulative=True)])
    assert (total.input_tokens, total.output_tokens) == (100, 9) and round(total.cost_usd, 4) == 0.03


def test_denied_tool_and_fatal_error_fail_a_finished_session():
    ok = [AgentEvent(Kind.SESSION_STARTED, session_id="s1"), AgentEvent(Kind.FINISHED, success=True)]
    assert summarize(ok).failure_reason() is None and summarize(ok).session_id == "s1"
    denied = summarize([*ok[:1], AgentEvent(Kind.TOOL_RESULT, tool="Write", denied=True), ok[1]])
    assert denied.failure_reason() == "permission denied: Write"
    broken = summarize([*ok[:1], AgentEvent(Kind.ERROR, text="API Error: 500", fatal=True), ok[1]])
    assert broken.failure_reason() == "error: API Error: 500"
    warned = summarize([*ok[:1], AgentEvent(Kind.ERROR, text="model metadata not found"), ok[1]])
    assert warned.failure_reason() is None and warned.warnings == ["model metadata not found"]
    assert summarize(ok[:1]).failure_reason() == "no completion event in the session's stream"


def test_claude_turn_limit_is_a_limit_not_a_failure(tmp_path: Path):
    lines = [{"type": "system", "subtype": "init", "session_id": "abc"},
             {"type": "result", "subtype": "error_max_turns", "is_error": True, "session_id": "abc",
              "result": "", "usage": {"input_tokens": 5, "output_tokens": 1}, "total_cost_usd": 0.001}]
    log = tmp_path / "session.log"
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    outcome = ClaudeAdapter().outcome(1, log, timed_out=False, killed=False)
    assert outcome.reason == "limit" and outcome.cli_session == "abc"
