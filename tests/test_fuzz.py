"""Fuzzing the inputs the tool reads from people and agents: no traceback ever, and every error
names the file, the line and the field.

Targets: the plan loader (dispatch.yaml), the completion-report parser, the reviewer's findings
parser, `dispatch chain` arguments, and the fake model server's scenario files. Each runs
FUZZ_CASES cases in the default run and LONG_CASES in the long run (``pytest --long -m long``,
which `.ci/run` runs with the `ci` hypothesis profile and a printed seed).
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from agent_dispatch.artifacts.completion import parse_report
from agent_dispatch.cli import app
from agent_dispatch.errors import PlanError
from agent_dispatch.plan.loader import load_text
from agent_dispatch.plan.validate import validate
from agent_dispatch.review.report import parse_findings
from agent_dispatch.store.events import ChainState
from agent_dispatch.store.log import EventLog
from agent_dispatch.testing.fakellm.scenario import ScenarioError, load_scenario
from conftest import make_repo
from test_plan_properties import plan_data

FUZZ_CASES = 500
LONG_CASES = 2000
RUNS = [pytest.param(FUZZ_CASES, id="default"), pytest.param(LONG_CASES, id="long", marks=pytest.mark.long)]
PLAN_PATH = "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml"

# Text as people and agents type it: any printable character, newlines, no NUL (a command line
# cannot carry one, and files with one are not text).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), ANY_TEXT,
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def fuzz(cases: int) -> settings:
    """``cases`` examples, no deadline (the machine is shared and loaded), and no complaint about
    slow data generation or fixtures reused between examples (each example is independent)."""
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def run_fuzz(cases: int, strategy: st.SearchStrategy[Any], check: Any) -> None:
    given(strategy)(fuzz(cases)(check))()


# -- plan loader ------------------------------------------------------------------------------------

@st.composite
def mutated_plan(draw: st.DrawFn) -> str:
    """A valid plan with one to three values replaced by junk, or a key dropped, as YAML text."""
    data = draw(plan_data())
    for _ in range(draw(st.integers(1, 3))):
        node: Any = data
        path: list[Any] = []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            path.append(key)
            node = node[key]
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JUNK)
    out = io.StringIO()
    YAML().dump(copy.deepcopy(data), out)
    return out.getvalue()


PLAN_TEXT = st.one_of(mutated_plan(), ANY_TEXT,
                      st.lists(st.sampled_from(["sprint:", "  id: s", "agents:", "- name: a", "  - x",
                                                "waves: [", "]", "merge_order: {", "&a x", "*a", "? : ",
                                                "\t", "key: 'unclosed", "!!python/object:os.system x"]),
                               max_size=8).map("\n".join))


def check_plan(text: str) -> None:
    try:
        loaded = load_text(text, PLAN_PATH)
        problems = validate(loaded, ["app/a.py"])
    except PlanError as e:
        problems = e.problems
    for problem in problems:
        assert problem.path == PLAN_PATH and problem.line >= 1 and problem.field, problem
        assert str(problem).startswith(f"{PLAN_PATH}:{problem.line}:")


@pytest.mark.parametrize("cases", RUNS)
def test_plan_loader_never_crashes_and_names_file_line_field(cases: int) -> None:
    run_fuzz(cases, PLAN_TEXT, check_plan)


def test_plan_with_a_complex_mapping_key_is_a_plan_error() -> None:
    # Found by the long fuzz run: ruamel.yaml raised TypeError (unhashable key) for this text.
    with pytest.raises(PlanError) as raised:
        load_text("? : -", PLAN_PATH)
    assert str(raised.value) == (f"{PLAN_PATH}:1:1: (yaml): YAML error: a mapping key must be a plain value, "
                                 "not a list or a mapping")


# -- completion reports ------------------------------------------------------------------------------

REPORT_LINES = st.sampled_from([
    "# Agent — DATA: Sprint 01 Completion Report", "Status: COMPLETE", "Status: partial", "**Status:**",
    "## Tasks Completed", "| Task ID | Title | Priority | Status |", "|---|---|---|---|", "| chain-1 | x | P1 |",
    "## Files Modified", "CREATED  app/a.py", "MODIFIED", "DELETED  ", "## P0 Discoveries", "| — | — |",
    "## Verification Results", "- Build: PASS", "- Tests: FAIL", "- Tests:", "##", "#", "|", "||||", "",
])
MARKDOWN = st.lists(st.one_of(REPORT_LINES, ANY_TEXT), max_size=25).map("\n".join)


def check_report(text: str) -> None:
    report = parse_report(text)
    assert report.status is None or report.status.upper() in text.upper()  # read from the text, or absent
    assert all(path for _, path in report.files)


@pytest.mark.parametrize("cases", RUNS)
def test_completion_report_parser_never_crashes(cases: int) -> None:
    run_fuzz(cases, MARKDOWN, check_report)


# -- reviewer findings -----------------------------------------------------------------------------

FINDING_LINES = st.sampled_from([
    "## Findings", "### RT-AL-001: SQL injection", "### RT-[XX]-NNN: example", "- **Severity:** CRITICAL",
    "- **Severity:** huge", "- **File:** app/a.py:12", "- **File:** :", "- **Line:** 7", "- **Branch:** sprint-01/alpha",
    "- **Agent:** beta", "- **Reproduction:** `curl x`", "- **Test:** `pytest -k x`", "| ID | Severity | File | Agent |",
    "|----|----|----|----|", "| RT-1 | HIGH | app/b.py:3 | alpha |", "| | | | |", "**Category:** security", "",
])
FINDINGS = st.lists(st.one_of(FINDING_LINES, ANY_TEXT), max_size=30).map("\n".join)


def check_findings(text: str) -> None:
    parsed = parse_findings(text, sprint_id="sprint-01", agents={"alpha": "alpha", "beta": "beta"})
    lines = len(text.splitlines()) + 1
    for invalid in parsed.invalid:  # what the reviewer is told: the line and what is missing there
        assert 1 <= invalid.line <= lines and invalid.reason, invalid
    for finding in parsed.findings:
        assert finding.agent in {"alpha", "beta"} and finding.file


@pytest.mark.parametrize("cases", RUNS)
def test_findings_parser_never_crashes_and_names_the_line(cases: int) -> None:
    run_fuzz(cases, FINDINGS, check_findings)


# -- dispatch chain arguments --------------------------------------------------------------------------

STATES = st.one_of(st.sampled_from([s.name for s in ChainState]), st.sampled_from([s.name.lower() for s in ChainState]),
                   ANY_TEXT)
CHAIN_ARGS = st.tuples(st.one_of(st.sampled_from(["chain-1", "chain-2", "-x", "--", "--note"]), ANY_TEXT), STATES,
                       st.lists(st.one_of(st.sampled_from(["--note", "--agent", "--sprint", "--help", "-n"]), ANY_TEXT),
                                max_size=3))


@pytest.fixture(scope="module")
def chain_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_repo(tmp_path_factory.mktemp("chain") / "repo")
    EventLog.for_sprint(repo, "sprint-01").close()
    return repo


@pytest.mark.parametrize("cases", RUNS)
def test_dispatch_chain_arguments_never_crash(cases: int, chain_repo: Path) -> None:
    runner = CliRunner()
    states = {s.name for s in ChainState}

    def check(args: tuple[str, str, list[str]]) -> None:
        chain_id, state, extra = args
        argv = ["chain", chain_id, state, *extra]
        result = runner.invoke(app, argv, env={"DISPATCH_AGENT": "alpha", "DISPATCH_SPRINT": "sprint-01"})
        assert result.exception is None or isinstance(result.exception, SystemExit), (argv, result.exception)
        assert "Traceback" not in result.output, (argv, result.output)
        if result.exit_code != 0:
            assert result.output.strip(), argv  # an error always says what is wrong
        if result.exit_code == 0 and "--help" not in extra:
            assert state.upper() in states, argv  # only a known state is ever recorded

    cwd = os.getcwd()
    os.chdir(chain_repo)
    try:
        run_fuzz(cases, CHAIN_ARGS, check)
    finally:
        os.chdir(cwd)


def test_dispatch_chain_bad_state_names_the_argument(chain_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(chain_repo)
    result = CliRunner().invoke(app, ["chain", "chain-1", "DONE-ISH"], env={"DISPATCH_AGENT": "alpha"})
    assert result.exit_code != 0 and "unknown chain state 'DONE-ISH'" in result.output


# -- fake model server scenarios -------------------------------------------------------------------------

STEP = st.dictionaries(st.sampled_from(["text", "tool", "input", "write", "content", "shell", "read", "tools",
                                        "done", "bogus"]), JUNK, max_size=3)
RULE = st.dictionaries(st.sampled_from(["match", "steps", "notools", "purpose", "extra"]),
                       st.one_of(JUNK, st.lists(STEP, max_size=3)), max_size=4)
ERROR = st.dictionaries(st.sampled_from(["match", "status", "message", "times", "x"]), JUNK, max_size=4)
SCENARIO = st.one_of(
    st.fixed_dictionaries({}, optional={"rules": st.one_of(st.lists(RULE, max_size=3), JUNK),
                                        "errors": st.one_of(st.lists(ERROR, max_size=2), JUNK),
                                        "other": JUNK}),
    JUNK,
).map(lambda data: json.dumps(data, indent=st_indent(data)))


def st_indent(data: Any) -> int | None:
    return 2 if isinstance(data, dict) and len(json.dumps(data)) % 2 else None  # one-line and multi-line files


SCENARIO_TEXT = st.one_of(SCENARIO, SCENARIO.map(lambda t: t[: len(t) // 2]), ANY_TEXT)


@pytest.mark.parametrize("cases", RUNS)
def test_scenario_files_never_crash_and_errors_name_file_line_field(cases: int, tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"

    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8")
        try:
            load_scenario(path)
        except ScenarioError as e:
            found = re.match(rf"{re.escape(str(path))}:(\d+): ([^:]+): .+", str(e))
            assert found, str(e)
            lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1  # as read_text sees them
            assert 1 <= int(found[1]) <= lines, str(e)

    run_fuzz(cases, SCENARIO_TEXT, check)


def test_scenario_error_names_the_line_of_the_bad_rule(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text('{"rules": [\n  {"steps": [{"text": "hi"}]},\n  {"steps": [{"write": 3}]}\n]}\n')
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value) == f"{path}:3: rules[1].steps[0].write: 'write' must be a str"
