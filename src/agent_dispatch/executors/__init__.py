"""Where agent sessions run. `Executor` is the interface; `LocalExecutor` runs them on this machine."""

from __future__ import annotations

from agent_dispatch.executors.base import (
    EndReason,
    Executor,
    SessionHandle,
    SessionRecord,
    SessionResult,
    SessionSpec,
    SessionStartError,
)
from agent_dispatch.executors.local import LocalExecutor, LocalHandle, namespace_prefix

__all__ = ["EndReason", "Executor", "LocalExecutor", "LocalHandle", "SessionHandle", "SessionRecord",
           "SessionResult", "SessionSpec", "SessionStartError", "namespace_prefix"]
