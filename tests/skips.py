"""Skips that hide capabilities: fail them in CI, list them locally.

A skipped test proves nothing, and most skips here mean the machine lacks a capability the tool
relies on (PID or network namespaces, IPv6 loopback, an installed agent CLI). With
``DISPATCH_NO_SKIP=1`` (``.ci/run`` sets it) every skip, however it was made (a ``skipif``
mark, ``pytest.skip()``, the ``realcli`` fixture), is reported as a failure instead. Without it the
run ends with a short list of what was skipped and why. ``DISPATCH_REQUIRE_REALCLI=1``, the older
name, means the same.

tests/conftest.py imports the two hooks, so pytest finds them there.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator

import pytest

NO_SKIP_ENV = "DISPATCH_NO_SKIP"
LEGACY_ENV = "DISPATCH_REQUIRE_REALCLI"  # the earlier, real-CLI-only name: still honoured


def no_skips() -> bool:
    """True when a skip must fail the run (CI)."""
    return "1" in (os.environ.get(NO_SKIP_ENV), os.environ.get(LEGACY_ENV))


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """With ``DISPATCH_NO_SKIP=1``, turn a skip (not an expected failure) into a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and no_skips():
        report.outcome = "failed"
        report.longrepr = (f"skipped, and {NO_SKIP_ENV}=1 forbids skips (a capability would go "
                           f"untested): {_reason(report)}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """End the run with what was skipped and why, grouped by reason."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if not hasattr(r, "wasxfail")]
    if not skipped:
        return
    reasons = Counter(_reason(r) for r in skipped)
    terminalreporter.section("skipped here (untested capabilities)")
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:4d} × {reason}")
    terminalreporter.line(f"{NO_SKIP_ENV}=1 (CI) makes each of these a failure.")
