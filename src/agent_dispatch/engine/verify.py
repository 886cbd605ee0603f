"""The tool's own checks in an agent's worktree: build, test and each chain's ``verify`` command.

Claims are never trusted: these runs decide whether a chain is done. The runner itself
(`run_check`, `CheckResult`) lives in ``agent_dispatch.checkrun``, shared with the merge train.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent_dispatch.checkrun import CheckResult, run_check, tail
from agent_dispatch.plan.model import Chain
from agent_dispatch.plan.verify import verify_command

_EXPECT_PRINT = re.compile(r"\bprints?\s+((?:'[^']+'|\"[^\"]+\")(?:\s*(?:,|and)\s*(?:'[^']+'|\"[^\"]+\"))*)", re.I)


def expected_prints(chain: Chain) -> list[str]:
    """Strings the verify text says the command prints (``prints 'x' and 'y'``)."""
    found = _EXPECT_PRINT.search(chain.verify)
    if not found:
        return []
    return [s[1:-1] for s in re.findall(r"'[^']+'|\"[^\"]+\"", found.group(1))]


def run_chain_verify(chain: Chain, worktree: Path, *, timeout: float | None) -> CheckResult | None:
    """Run a chain's verify command; also require every string it says the command prints."""
    command = verify_command(chain)
    if command is None:
        return None
    result = run_check("verify", chain.id, command, worktree, timeout=timeout)
    missing = [s for s in expected_prints(chain) if s not in result.output]
    if result.ok and missing:
        note = "\n".join(f"expected output to contain {s!r}" for s in missing)
        return CheckResult("verify", chain.id, command, False, result.returncode, tail(result.output + "\n" + note))
    return result

