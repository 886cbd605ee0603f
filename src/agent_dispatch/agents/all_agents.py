"""The registry of adapters by tool name."""

from __future__ import annotations

import importlib

from agent_dispatch.agents.base import Adapter
from agent_dispatch.agents.command import CommandAdapter
from agent_dispatch.errors import FatalError

# tool name → "module:Class"; imported on first use so a run only loads the adapters it needs.
_REAL_CLIS = {
    "claude": "agent_dispatch.agents.claude:ClaudeAdapter",
    "codex": "agent_dispatch.agents.codex:CodexAdapter",
    "aider": "agent_dispatch.agents.aider:AiderAdapter",
    "opencode": "agent_dispatch.agents.opencode:OpenCodeAdapter",
    "gemini": "agent_dispatch.agents.gemini:GeminiAdapter",
    "qwen": "agent_dispatch.agents.qwen:QwenAdapter",
}
ADAPTERS: dict[str, Adapter] = {"command": CommandAdapter()}


def get_adapter(tool: str) -> Adapter:
    """The adapter for ``tool``; a clear error for a tool we have no adapter for."""
    if tool not in ADAPTERS and tool in _REAL_CLIS:
        module, _, name = _REAL_CLIS[tool].partition(":")
        ADAPTERS[tool] = getattr(importlib.import_module(module), name)()
    try:
        return ADAPTERS[tool]
    except KeyError:
        known = ", ".join(sorted({"command", *_REAL_CLIS}))
        raise FatalError(f"no adapter for tool {tool!r} (known: {known})\n"
                         "hint: set `tool:` to one of them, or `tool: command` with a `command:` argv") from None


def rehearsal_models() -> dict[str, str]:
    """tool → the model a rehearsal gives that CLI when the plan names none: one for which the
    real CLI offers its tools in a form the fake model server can call (`CLIAdapter.rehearsal_model`)."""
    models = {}
    for tool in _REAL_CLIS:
        model = getattr(get_adapter(tool), "rehearsal_model", None)
        if model:
            models[tool] = model
    return models
