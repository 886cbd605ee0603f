"""An agent's territory as a self-contained snapshot on disk: what the installed hooks evaluate.

Hooks must be fast, so they do not load the plan: ``workspaces up`` writes the rules of each agent
(``ownership.TerritoryRules``, built from the plan by ``workspace.territory.rules_from_plan``) as
JSON into the worktree's own git directory, and the hooks read them back here. Matching itself is
``agent_dispatch.ownership``, the same code gate 3 and the RED TEAM checks use.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent_dispatch.ownership import TerritoryRules


def write_rules(path: Path, rules: TerritoryRules) -> None:
    """Store ``rules`` at ``path`` (atomically: hooks may read it at any time)."""
    from agent_dispatch.files import write_atomic  # not at the top: the hooks import this module

    write_atomic(path, json.dumps(rules.as_data(), indent=1) + "\n")


def read_rules(path: Path) -> TerritoryRules:
    """Load rules written by :func:`write_rules`."""
    return TerritoryRules.from_data(json.loads(path.read_text(encoding="utf-8")))
