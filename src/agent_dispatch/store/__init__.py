"""The sprint's state: an append-only event log (SQLite WAL) and the projections computed from it."""

from __future__ import annotations

from agent_dispatch.store.events import (
    AgentState,
    ChainState,
    Event,
    EventType,
    Health,
    NewEvent,
    ParkReason,
    WaveState,
)
from agent_dispatch.store.log import EventLog, events_path
from agent_dispatch.store.projections import project
from agent_dispatch.store.status import AgentStatus, ChainStatus, Status

__all__ = ["AgentState", "AgentStatus", "ChainState", "ChainStatus", "Event", "EventLog", "EventType",
           "Health", "NewEvent", "ParkReason", "Status", "WaveState", "events_path", "project"]
