"""Operator and agent actions on a running sprint, for every front end (CLI, TUI, web dashboard).

Plain functions: each validates its input (raising `errors.FatalError` with a hint), appends its
event through `EventLog.append`, and returns a typed, frozen result; none of them prints. Each
takes the sprint as ``log=`` (an `EventLog` the caller opened) or finds it from ``start`` (any
directory of the repository, main checkout or agent worktree) and ``sprint``.
"""

from __future__ import annotations

from agent_dispatch.operations.findings import FindingAccepted, accept_finding, parse_finding_id
from agent_dispatch.operations.gates import GATES, GateApproved, GateOverridden, approve, check_gate, override
from agent_dispatch.operations.locate import find_log, main_checkout
from agent_dispatch.operations.messages import MessageQueued, message_path, send_message
from agent_dispatch.operations.reports import ChainReported, P0Reported, parse_chain_state, report_chain, report_p0

__all__ = [
    "GATES", "ChainReported", "FindingAccepted", "GateApproved", "GateOverridden", "MessageQueued", "P0Reported",
    "accept_finding", "approve", "check_gate", "find_log", "main_checkout", "message_path", "override",
    "parse_chain_state", "parse_finding_id", "report_chain", "report_p0", "send_message",
]
