"""What a chain's ``verify`` text asks the tool to run: a command, or prose only.

In the plan layer so that validation can warn about prose verification and the engine can run the
same command it finds.
"""

from __future__ import annotations

import re

from agent_dispatch.plan.model import Chain

BACKTICKED = re.compile(r"`([^`]+)`")
_COMMAND_START = re.compile(
    r"^(python3?|pytest|make|npm|npx|pnpm|yarn|go|cargo|mvn|gradle|\./|bash|sh|node|ruby|bundle|"
    r"mix|php|composer|ctest|curl|dotnet|uv|tox|nox)\b"
)


def verify_command(chain: Chain) -> str | None:
    """The runnable command in a chain's ``verify`` text, or None when it is prose only.

    The first backticked span wins; otherwise the whole text counts when it starts like a command.
    """
    found = BACKTICKED.search(chain.verify)
    if found:
        return found.group(1).strip()
    text = chain.verify.strip()
    return text if _COMMAND_START.match(text) and "\n" not in text else None
