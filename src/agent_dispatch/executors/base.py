"""Where agent sessions run: the interface every executor implements.

An executor starts one long-running agent session (a process tree), waits for it, stops it,
re-attaches to it after the controller restarts, and hands back a finished session's output. The engine only talks to this interface, so a
distributed backend (a Ray actor per session, a Kubernetes Job, ...) can replace the local one.

Everything that crosses the interface is plain data: `SessionSpec` goes in, `SessionRecord` is
what the engine persists in the event log (``agent_session_started``), `SessionResult` comes out
(``agent_session_ended``). A backend keeps its live objects inside its own `SessionHandle`.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_dispatch.errors import FatalError

# exited: the session's main process ended by itself (any exit code, see ``exit_code``)
# timeout: the executor stopped it because ``timeout_s`` ran out
# killed: someone called ``stop()``
# lost: it is gone and nobody knows how it ended (e.g. the host rebooted)
EndReason = Literal["exited", "timeout", "killed", "lost"]
Containment = Literal["pidns", "pgroup"]


class SessionStartError(FatalError):
    """A session could not be started (bad working directory, unwritable log, ...)."""


@dataclass(frozen=True)
class Sandbox:
    """Where a sandboxed session may write; everything else it sees read-only (or not at all).

    ``writable``: directories and files the session may change, each bind-mounted read-write at
    its own path (they must exist). ``visible``: paths the session must still read although they
    lie under its private, empty ``/tmp`` (its repository, interpreter, scripts); anything of the
    host's ``/tmp`` named nowhere here is absent inside. ``protected``: paths inside a writable
    directory that stay read-only.
    """

    writable: tuple[str, ...]
    visible: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("writable", "visible", "protected"):
            object.__setattr__(self, name, tuple(str(p) for p in getattr(self, name)))


@dataclass(frozen=True)
class SessionSpec:
    """Everything needed to start one session; plain data so it can cross a process boundary.

    ``env`` is the complete environment (nothing is inherited from the controller). ``argv`` is
    executed directly, never through a shell. ``timeout_s`` of None means no time limit.
    ``sandbox``: confine the session's writes (see `Sandbox`); None runs it unconfined.
    """

    session_id: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    timeout_s: float | None = None
    sandbox: Sandbox | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError(f"session {self.session_id!r}: argv is empty")
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "cwd", Path(self.cwd))
        object.__setattr__(self, "log_path", Path(self.log_path))
        object.__setattr__(self, "env", dict(self.env))


@dataclass(frozen=True)
class SessionRecord:
    """What must be persisted to find a running session again after a controller restart.

    ``pid`` is the session's top process and ``start_time`` its start time in clock ticks since
    boot (field 22 of ``/proc/<pid>/stat``): together they identify the process even if the pid
    number is later reused. ``status_path`` is where the session writes its exit status, so the
    exit code is known even when the controller was not its parent. ``marker`` is a unique value
    put in the session's environment (``DISPATCH_EXECUTOR_SESSION``) to find stray descendants.
    """

    session_id: str
    pid: int
    pgid: int
    start_time: int
    started_at: float  # wall clock (time.time())
    log_path: str
    status_path: str
    timeout_s: float | None
    containment: Containment
    marker: str
    backend: str = "local"

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the ``agent_session_started`` event)."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SessionRecord:
        """The record back from ``as_data()`` output; unknown keys are ignored."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class SessionResult:
    """How a session ended. ``exit_code`` is negative when a signal ended the main process."""

    session_id: str
    reason: EndReason
    exit_code: int | None
    started_at: float
    ended_at: float
    log_path: str

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the ``agent_session_ended`` event)."""
        return asdict(self)


@dataclass(eq=False)
class SessionHandle:
    """A started or adopted session. Backends subclass it to keep their live objects."""

    record: SessionRecord
    stop_reason: EndReason | None = field(default=None, init=False)
    result: SessionResult | None = field(default=None, init=False)

    @property
    def session_id(self) -> str:
        return self.record.session_id


class Executor(abc.ABC):
    """Runs agent sessions. Implementations: `LocalExecutor`; later Ray, Kubernetes, tmux.

    Sync methods are the contract; the async ones default to running the sync ones in a thread,
    and a backend overrides them when it can wait natively (the local one uses pidfds).
    """

    @abc.abstractmethod
    def start(self, spec: SessionSpec) -> SessionHandle:
        """Start the session and return at once. Raises `SessionStartError` if it cannot start."""

    @abc.abstractmethod
    def poll(self, handle: SessionHandle) -> SessionResult | None:
        """The result if the session has ended, else None. Never blocks, never kills."""

    @abc.abstractmethod
    def wait(self, handle: SessionHandle) -> SessionResult:
        """Block until the session ends; stop it with reason ``timeout`` once ``timeout_s`` runs out."""

    @abc.abstractmethod
    def stop(self, handle: SessionHandle, grace: float = 3.0) -> SessionResult:
        """Stop the whole session tree: interrupt, then terminate, then kill, ``grace`` s apart."""

    @abc.abstractmethod
    def is_alive(self, handle: SessionHandle) -> bool:
        """True while the session's main process is running (and is still the same process)."""

    @abc.abstractmethod
    def adopt(self, record: SessionRecord | Mapping[str, Any]) -> SessionHandle:
        """Re-attach to a session started by an earlier controller, from its persisted record.

        Never fails: if the process is gone (or its pid now belongs to another process), the
        handle's result is read from the session's status file, else reported as ``lost``.
        """

    def session_alive(self, record: SessionRecord | Mapping[str, Any]) -> bool:
        """True while any process of the session ``record`` describes still runs (after it ended:
        something left behind). Backends that can see more than the main process override it."""
        return self.is_alive(self.adopt(record))

    @abc.abstractmethod
    def read_output(self, result: SessionResult) -> bytes:
        """A finished session's output (stdout and stderr together), wherever the backend kept it.

        Adapters read how a session ended from this, never from ``result.log_path`` directly: a
        remote backend's log path names a file on another machine. Empty when there was no output.
        """

    async def wait_async(self, handle: SessionHandle) -> SessionResult:
        """`wait` for asyncio code; many sessions can be awaited at once."""
        return await asyncio.to_thread(self.wait, handle)

    async def stop_async(self, handle: SessionHandle, grace: float = 3.0) -> SessionResult:
        """`stop` for asyncio code."""
        return await asyncio.to_thread(self.stop, handle, grace)
