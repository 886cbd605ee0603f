"""The running sprint: plan, names, event log, executor and options in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_dispatch.engine.state import EngineState, fold
from agent_dispatch.executors.base import Executor
from agent_dispatch.naming.context import AgentContext, SprintContext
from agent_dispatch.plan.loader import LoadedPlan
from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.store.log import EventLog


@dataclass(frozen=True)
class Options:
    """Operator settings for one ``dispatch run`` / ``dispatch resume``."""

    yes: bool = False  # approve gates that wait for the operator
    session_timeout: float | None = 3600.0
    check_timeout: float | None = 1800.0
    max_sessions: int = 12  # per agent, all kinds of follow-ups included
    max_nudges: int = 2  # "write your report" / "commit your work" follow-ups per agent
    base_url: str | None = None  # model endpoint for every agent (a rehearsal's fake model server)
    api_key: str | None = None  # placeholder key that goes with ``base_url``


def dispatch_dir(root: Path, sprint: str) -> Path:
    """Where the tool keeps a sprint's state in the main checkout: ``.dispatch/<sprint>``."""
    return root / ".dispatch" / sprint


@dataclass
class Runtime:
    loaded: LoadedPlan
    plan_path: Path
    root: Path
    context: SprintContext
    log: EventLog
    executor: Executor
    options: Options
    say: Callable[[str], None] = field(default=lambda text: None)

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    @property
    def state_dir(self) -> Path:
        return dispatch_dir(self.root, self.plan.sprint.id)

    def agent(self, name: str) -> tuple[Agent, AgentContext]:
        return self.plan.agent(name), self.context.agent(name)

    def record(self, type_: str, *, agent: str | None = None, chain: str | None = None, **data: Any) -> int:
        """Append one event to the sprint's log."""
        return self.log.append(type_, agent=agent, chain=chain, data=data)

    def state(self) -> EngineState:
        """The engine's view, replayed from the log (the log is the only source of truth)."""
        return fold(self.log.read())
