"""The findings report's "Regression Test Results" (REQ-8.05), from the test runs the tool made.

The engine runs the sprint's test command on every agent branch's committed tip before gate 3
decides, and records each run as a ``verification`` event (kind ``test``). A branch's row is the
latest such run of its agent: the command, whether it passed, and the counts when the output has a
summary line the tool recognises (pytest, unittest, jest/vitest, cargo, go); a branch the tool has
not tested says "not run".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent_dispatch.store.events import Event, EventType

# "3 passed, 1 failed" (pytest), "Tests: 1 failed, 3 passed, 4 total" (jest), "test result: ok. 3
# passed; 0 failed" (cargo), "Ran 4 tests" + "FAILED (failures=1)" (unittest).
_PASSED = re.compile(r"\b(\d+) passed\b")
_FAILED = re.compile(r"\b(\d+) failed\b|failures=(\d+)")
_RAN = re.compile(r"\bRan (\d+) tests?\b")


def summary_counts(output: str) -> tuple[int | None, int | None]:
    """(passed, failed) from a test run's output tail, None where the output does not say."""
    passed = [int(m) for m in _PASSED.findall(output)]
    failed = [int(a or b) for a, b in _FAILED.findall(output)]
    ran = [int(m) for m in _RAN.findall(output)]
    fail = failed[-1] if failed else None
    if passed:
        return passed[-1], fail if fail is not None else 0
    if ran:
        return ran[-1] - (fail or 0), fail if fail is not None else 0
    return None, fail


def latest_test_runs(events: Iterable[Event]) -> dict[str, Mapping[str, Any]]:
    """Agent → the data of its latest ``verification`` event of kind ``test``."""
    runs: dict[str, Mapping[str, Any]] = {}
    for event in events:
        if event.type == EventType.VERIFICATION and event.agent and event.data.get("kind") == "test":
            runs[event.agent] = event.data
    return runs


def regression_rows(events: Iterable[Event], branches: Sequence[tuple[str, str]]) -> list[dict[str, object]]:
    """One row per (agent, branch) the tool tested: branch, run, passed, failed, new_failures."""
    runs = latest_test_runs(events)
    rows: list[dict[str, object]] = []
    for agent, branch in branches:
        run = runs.get(agent)
        if run is None:
            continue
        ok = bool(run.get("ok"))
        passed, failed = summary_counts(str(run.get("output") or ""))
        total = (passed or 0) + (failed or 0) if passed is not None else None
        rows.append({
            "branch": branch,
            "run": f"{total} (`{run.get('command')}`)" if total is not None else f"`{run.get('command')}`",
            "passed": passed if passed is not None else ("all" if ok else "no"),
            "failed": failed if failed is not None else (0 if ok else f"exit {run.get('returncode')}"),
            "new_failures": "none" if ok else "yes: the branch's tests fail (the tool's gate-3 run)",
        })
    return rows
