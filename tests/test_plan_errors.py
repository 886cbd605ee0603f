"""Bad plans: one clear ``file:line:col: field: message`` per problem, exit 2, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.errors import PlanError
from agent_dispatch.plan.loader import load_text
from agent_dispatch.plan.validate import validate
from conftest import EXAMPLE_PLAN

GOOD = """\
sprint:
  id: sprint-01
  theme: Fix stock handling
  base_branch: main
  build_command: python -m compileall -q bookshop
  test_command: python -m unittest discover -s tests -q
agents:
  - name: data
    role: DATA
    territory:
      include: [bookshop/store.py]
    chains:
      - id: chain-1
        priority: P1
        title: Stock can go negative
        vector: "api.sell() → Inventory.remove()"
        signal: "selling 5 of 3 leaves -2"
        fix_site: bookshop/store.py Inventory.remove()
        verify: "`python -m unittest` passes"
  - name: backend
    role: BACKEND
    territory:
      include: [bookshop/api.py]
    chains:
      - id: chain-1
        priority: P2
        title: sell() accepts negative quantities
        vector: "cli.main() → api.sell()"
        signal: "sell(inv, '1', -2) adds stock"
        fix_site: bookshop/api.py sell()
        verify: "`python -m unittest` passes"
waves:
  - number: 1
    agents: [data]
  - number: 2
    agents: [backend]
    depends_on: [1]
merge_order: [data, backend]
"""

LINE_RE = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<field>[^:]+): (?P<message>.+)$")


def problems_of(text: str, files: list[str] | None = None) -> list:
    try:
        loaded = load_text(text, "plan.yaml")
    except PlanError as e:
        return [p for p in e.problems if p.severity == "error"]
    return [p for p in validate(loaded, files) if p.severity == "error"]


def only(text: str, files: list[str] | None = None):
    found = problems_of(text, files)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_good_plan_has_no_errors():
    assert problems_of(GOOD, ["bookshop/store.py", "bookshop/api.py"]) == []


def test_yaml_syntax_error_points_at_line():
    bad = GOOD.replace("  theme: Fix stock handling", "  theme: [unclosed")
    p = only(bad)
    assert p.field == "(yaml)" and "YAML syntax error" in p.message
    assert p.line in (3, 4)


def test_missing_required_field():
    p = only(GOOD.replace("  base_branch: main\n", ""))
    assert (p.field, p.message) == ("sprint.base_branch", "required field is missing")
    assert p.line == 1  # the enclosing 'sprint' key


def test_duplicate_agent_name():
    bad = GOOD.replace("  - name: backend\n", "  - name: data\n").replace("agents: [backend]", "agents: []")
    bad = bad.replace("merge_order: [data, backend]", "merge_order: [data]")
    p = only(bad)
    assert p.field == "agents[1].name" and "duplicate agent name 'data'" in p.message
    assert p.line == GOOD.splitlines().index("  - name: backend") + 1


def test_unknown_agent_in_wave():
    p = only(GOOD.replace("agents: [backend]", "agents: [backend, ghost]"))
    assert p.field == "waves[1].agents[1]" and "unknown agent 'ghost'" in p.message


def test_unknown_agent_in_merge_order():
    p = only(GOOD.replace("merge_order: [data, backend]", "merge_order: [data, backend, ghost]"))
    assert p.field == "merge_order[2]" and "unknown agent 'ghost'" in p.message


def test_wave_cycle_names_the_cycle():
    bad = GOOD.replace("  - number: 1\n    agents: [data]\n",
                       "  - number: 1\n    agents: [data]\n    depends_on: [2]\n")
    p = only(bad)
    assert "wave dependency cycle: 1 -> 2 -> 1" in p.message


def test_overlapping_territories():
    bad = GOOD.replace("include: [bookshop/api.py]", "include: [bookshop/]")
    p = only(bad, ["bookshop/store.py", "bookshop/api.py"])
    assert p.field == "agents[1].territory.include"
    assert "overlaps 'data'" in p.message and "bookshop/store.py" in p.message


def test_overlap_allowed_for_shared_files():
    bad = GOOD.replace("include: [bookshop/api.py]", "include: [bookshop/]")
    bad += "shared_files:\n  - path: bookshop/store.py\n    owner: data\n"
    assert problems_of(bad, ["bookshop/store.py", "bookshop/api.py"]) == []


@pytest.mark.parametrize("path", ["../outside/", "/etc/passwd", "bookshop/../../x"])
def test_escaping_territory_paths(path):
    p = only(GOOD.replace("include: [bookshop/api.py]", f"include: ['{path}']"))
    assert p.field == "agents[1].territory.include[0]"
    assert ("absolute" in p.message) or ("'..'" in p.message)


def test_bad_priority():
    p = only(GOOD.replace("priority: P2", "priority: P7"))
    assert p.field == "agents[1].chains[0].priority"
    assert "'P7'" in p.message and "P0" in p.message


def test_empty_chain_list_for_coding_agent():
    lines = GOOD.splitlines(keepends=True)
    start = lines.index("    chains:\n", 20)
    bad = "".join(lines[:start]) + "    chains: []\n" + "".join(lines[start + 8:])
    p = only(bad)
    assert p.field == "agents[1].chains" and "has no chains" in p.message


def test_lead_may_have_no_chains():
    bad = GOOD.replace("role: BACKEND", "role: LEAD")
    lines = bad.splitlines(keepends=True)
    start = lines.index("    chains:\n", 20)
    bad = "".join(lines[:start]) + "    chains: []\n" + "".join(lines[start + 8:])
    assert problems_of(bad) == []


def test_many_problems_reported_at_once():
    bad = GOOD.replace("priority: P2", "priority: P9").replace("  base_branch: main\n", "")
    assert len(problems_of(bad)) == 2


def test_max_agents_per_wave():
    bad = GOOD.replace("agents: [data]", "agents: [data, backend]").replace(
        "  - number: 2\n    agents: [backend]\n    depends_on: [1]\n", "")
    bad += "scaling:\n  max_agents_per_wave: 1\n"
    p = only(bad)
    assert "max_agents_per_wave is 1" in p.message


def test_merge_order_missing_dispatched_agent():
    p = only(GOOD.replace("merge_order: [data, backend]", "merge_order: [data]"))
    assert "'backend' is missing from merge_order" in p.message


def test_red_team_never_merges():
    bad = GOOD.replace("role: BACKEND", "role: RED TEAM")
    p = only(bad)
    assert p.field == "merge_order[1]" and "never merges" in p.message


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("  theme: Fix stock handling", "  theme: [unclosed"),
        lambda t: t.replace("  base_branch: main\n", ""),
        lambda t: t.replace("agents: [backend]", "agents: [backend, ghost]"),
        lambda t: t.replace("merge_order: [data, backend]", "merge_order: [data, backend, ghost]"),
        lambda t: t.replace("  - name: backend\n", "  - name: data\n").replace("agents: [backend]", "agents: []").replace("[data, backend]", "[data]"),
        lambda t: t.replace("include: [bookshop/api.py]", "include: [bookshop/]"),
        lambda t: t.replace("include: [bookshop/api.py]", "include: [../x]"),
        lambda t: t.replace("priority: P2", "priority: high"),
        lambda t: t.replace("  - number: 1\n    agents: [data]\n", "  - number: 1\n    agents: [data]\n    depends_on: [2]\n"),
    ],
)
def test_cli_reports_each_problem_and_exits_2(example_repo: Path, mutate):
    plan = example_repo / EXAMPLE_PLAN
    plan.write_text(mutate(GOOD))
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "validate", str(plan)],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(str(plan))]
    errors = [ln for ln in lines if ": warning: " not in ln]
    assert len(errors) == 1, result.stderr
    assert LINE_RE.match(errors[0]), errors[0]


def test_cli_missing_file_exits_2(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", "validate", str(tmp_path / "nope.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "plan file not found" in result.stderr and "Traceback" not in result.stderr


def test_unknown_key_is_a_warning_not_an_error():
    loaded = load_text(GOOD.replace("  theme: Fix", "  colour: blue\n  theme: Fix"), "plan.yaml")
    assert [w.field for w in loaded.warnings] == ["sprint.colour"]
