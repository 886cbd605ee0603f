"""The smaller honesty defects of issue 11: help text, errors outside a repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from agent_dispatch.cli import app


def dispatch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_help_shows_flags_without_a_bool_type() -> None:
    """Defect 11: `--help` showed `--json <bool>`, as if the flag took a value."""
    group = typer.main.get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert "status" in names and "run" in names
    for name in ["status", "run", "init", "validate"]:
        result = dispatch(Path.cwd(), name, "--help")
        assert result.returncode == 0, result.stderr
        assert "--json" in result.stdout or name == "run"
        assert "<bool>" not in result.stdout, name
    assert "<path>" in dispatch(Path.cwd(), "status", "--help").stdout  # value types still shown


def test_status_outside_a_repository_says_so(tmp_path: Path) -> None:
    """Defect 11: a raw `git rev-parse` failure was all the user got."""
    result = dispatch(tmp_path, "status")
    assert result.returncode == 1
    assert "rev-parse" not in result.stderr and "Traceback" not in result.stderr
    assert f"{tmp_path} is not inside a git repository, so there is no sprint here" in result.stderr
    assert "hint: run dispatch from the repository of the sprint" in result.stderr


def test_summary_without_success_criteria_has_no_empty_results_table() -> None:
    """Defect 11: SPRINT-SUMMARY.md showed a "Results" table with a header and no rows."""
    from agent_dispatch.artifacts.summary import ShipDecision, render_summary
    from agent_dispatch.plan.loader import load_plan
    from agent_dispatch.store.projections import new_state
    from agent_dispatch.store.status import to_status
    from conftest import EXAMPLE, EXAMPLE_PLAN

    plan = load_plan(EXAMPLE / EXAMPLE_PLAN).plan
    status = to_status(new_state())
    decision = ShipDecision("NO-SHIP", (("every agent's work landed (0/5)", False),))

    def text(p) -> str:
        return render_summary(p, status, decision=decision, merge_log=[], facts={}, accepted=[], overrides={},
                              base_commit=None)

    with_criteria = text(plan)
    assert plan.sprint.success_criteria and "| Goal | Status |" in with_criteria
    bare = plan.model_copy(update={"sprint": plan.sprint.model_copy(update={"success_criteria": ()})})
    without = text(bare)
    assert "| Goal | Status |" not in without
    results = without.split("## Results\n", 1)[1].split("\n## ", 1)[0]
    assert "The plan has no success criteria" in results
