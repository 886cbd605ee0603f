"""Executors by name: the plan's ``sprint.executor`` and ``--executor NAME`` pick one.

Each backend is imported only when it is asked for, so a run loads nothing it does not use and a
backend with heavy dependencies (Ray, a Kubernetes client) costs nothing until it is chosen.
"""

from __future__ import annotations

import importlib
from typing import Any

from agent_dispatch.errors import FatalError
from agent_dispatch.executors.base import Executor

# name → "module:Class". Planned: "tmux" (sessions in tmux windows), "ray" (other machines).
# plan/model.py keeps the same names in KNOWN_EXECUTORS so `dispatch validate` can check them
# without importing executors (tests/test_session_runner.py checks that both lists agree).
_EXECUTORS: dict[str, str] = {
    "local": "agent_dispatch.executors.local:LocalExecutor",
}


def executor_names() -> list[str]:
    """The names `get_executor` accepts, sorted."""
    return sorted(_EXECUTORS)


def get_executor(name: str, **options: Any) -> Executor:
    """A new executor of backend ``name``, built with ``options`` (e.g. ``containment="pgroup"``).

    Raises FatalError naming the known backends when ``name`` is not one of them.
    """
    target = _EXECUTORS.get(name)
    if target is None:
        raise FatalError(f"unknown executor {name!r} (known: {', '.join(executor_names())})\n"
                         "hint: set `sprint.executor` in the plan or `--executor` to one of them")
    module, _, cls = target.partition(":")
    executor = getattr(importlib.import_module(module), cls)(**options)
    assert isinstance(executor, Executor), target
    return executor
