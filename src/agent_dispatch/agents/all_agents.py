"""The registry of adapters by tool name."""

from __future__ import annotations

from agent_dispatch.agents.base import Adapter
from agent_dispatch.agents.command import CommandAdapter
from agent_dispatch.errors import FatalError

ADAPTERS: dict[str, Adapter] = {"command": CommandAdapter()}


def get_adapter(tool: str) -> Adapter:
    """The adapter for ``tool``; a clear error when it is not available yet."""
    try:
        return ADAPTERS[tool]
    except KeyError:
        raise FatalError(f"no adapter for tool {tool!r} (available: {', '.join(sorted(ADAPTERS))})\n"
                         "hint: set `tool: command` with a `command:` argv for the agent") from None
