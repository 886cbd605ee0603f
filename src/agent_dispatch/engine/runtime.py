"""The running sprint: plan, names, event log, executor and options in one place."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_dispatch.engine.state import ENGINE, EngineState
from agent_dispatch.errors import FatalError
from agent_dispatch.executors.base import Executor
from agent_dispatch.executors.sandbox import bwrap_problem
from agent_dispatch.naming.context import AgentContext, SprintContext
from agent_dispatch.plan.loader import LoadedPlan
from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog
from agent_dispatch.store.spine import Spine, Subscription


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
    # tool → model for agents whose plan names none (a rehearsal's choice per CLI)
    default_models: Mapping[str, str] = field(default_factory=dict)
    executor: str | None = None  # where sessions run, overriding the plan's ``sprint.executor``


# Test-only crash hook, off unless set: "<event_type>:<n>" makes the engine SIGKILL its own process
# right after it records its n-th event of that type, so the crash tests (tests/test_kill_points.py)
# die at a state named by the log, not by timing; "any:<n>" after its n-th event of any type (the
# chaos bench, bench/chaos.py). Events other processes append, and agents' claims the engine
# ingests from their inboxes, do not count.
KILL_AFTER_ENV = "DISPATCH_TEST_KILL_AFTER"
ANY_EVENT = "any"  # the kill point's type that counts every event the engine records


class _KillPoint:
    """Counts the engine's events of one type and kills this process at the configured one."""

    def __init__(self, spec: str | None) -> None:
        self.type: str | None = None
        self.nth = 0
        if spec:
            type_, _, nth = spec.partition(":")
            self.type, self.nth = type_, int(nth or "1")
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()  # the engine records from worker threads too

    def recorded(self, type_: EventType) -> None:
        if self.type not in (type_.value, ANY_EVENT):
            return
        with self._lock:
            self._seen[self.type] += 1
            if self._seen[self.type] == self.nth:
                os.kill(os.getpid(), signal.SIGKILL)


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
    _spine: Spine | None = field(default=None, init=False, repr=False)
    _kill_point: _KillPoint = field(default_factory=lambda: _KillPoint(os.environ.get(KILL_AFTER_ENV)),
                                    init=False, repr=False)
    _sandboxed: bool | None = field(default=None, init=False, repr=False)

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    @property
    def state_dir(self) -> Path:
        return dispatch_dir(self.root, self.plan.sprint.id)

    @property
    def sandboxed(self) -> bool:
        """True when agent sessions run in a bubblewrap sandbox (`sessions.sandbox`).

        ``sprint.sandbox``: ``none`` never; ``bwrap`` always (a FatalError naming why when
        bwrap cannot work here); unset: where bwrap works, else sessions run unconfined and the
        operator is warned once.
        """
        if self._sandboxed is None:
            setting = self.plan.sprint.sandbox
            problem = None if setting == "none" else bwrap_problem()
            if setting == "bwrap" and problem is not None:
                raise FatalError(f"sprint.sandbox is 'bwrap', but {problem}\n"
                                 "hint: install bubblewrap, or set `sprint.sandbox: none` to run agents unconfined")
            if setting is None and problem is not None:
                self.say(f"warning: agent sessions run WITHOUT a sandbox ({problem}); they can write "
                         "anywhere you can\nhint: install bubblewrap, or set `sprint.sandbox: none` "
                         "to silence this")
            self._sandboxed = setting != "none" and problem is None
        return self._sandboxed

    def agent(self, name: str) -> tuple[Agent, AgentContext]:
        return self.plan.agent(name), self.context.agent(name)

    def subscribe(self, since_seq: int = 0) -> Subscription:
        """Every event of the sprint after ``since_seq``, as it is appended (by this engine, by
        agents' ``dispatch chain``/``p0``, by operator commands): in order, once each. Call it
        from the event loop the sprint runs in."""
        if self._spine is None:
            self._spine = Spine(self.log.path, log=self.log)
        return self._spine.subscribe(since_seq)

    def record(self, type_: EventType, *, agent: str | None = None, chain: str | None = None, **data: Any) -> int:
        """Append one event to the sprint's log (validated against its type's payload model)."""
        seq = self.log.append(type_, agent=agent, chain=chain, data=data)
        self._kill_point.recorded(type_)
        return seq

    def state(self) -> EngineState:
        """The engine's view of the log, after every event appended so far (by any process).

        Folded incrementally and snapshotted (`engine.state.ENGINE`): the cost is the events
        appended since the last call, not the length of the log. The copy returned never changes.
        """
        state: EngineState = self.log.live(ENGINE).get()
        return state
