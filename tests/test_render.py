"""``dispatch render`` end to end on a committed copy of the bookshop example: the files it
writes, and each activation prompt parsed back part by part."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent_dispatch.commands.render import render_plan
from agent_dispatch.errors import FatalError, PlanError
from agent_dispatch.plan.roster import base_role
from agent_dispatch.plan.territory import parse_pattern
from agent_dispatch.prompts.lint import PART_NAMES, STYLE_BLOCKS, block_names, split_parts
from conftest import EXAMPLE_PLAN

SPRINT_DIR = EXAMPLE_PLAN.parent
OVERRIDES = Path("docs/agent-dispatch/config/templates")
_DENY = re.compile(r"^DO NOT touch (\S+) \(([a-z0-9-]+) / (.+) territory\)$", re.M)
_CAN = re.compile(r"^CAN modify: (.+?)(?: \(.*\))?$", re.M)


def load_plan_data(repo: Path) -> dict:
    return YAML(typ="safe").load((repo / EXAMPLE_PLAN).read_text(encoding="utf-8"))


def edit_plan(repo: Path, change: Callable[[dict], None]) -> dict:
    data = load_plan_data(repo)
    change(data)
    (repo / EXAMPLE_PLAN).write_text(json.dumps(data, indent=2), encoding="utf-8")  # JSON is YAML
    return data


def render(repo: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert render_plan(repo / EXAMPLE_PLAN, as_json=True) == 0
    return json.loads(capsys.readouterr().out)


def agent_named(summary: dict, name: str) -> dict:
    return next(a for a in summary["agents"] if a["name"] == name)


def prompt_of(summary: dict, name: str) -> str:
    return Path(agent_named(summary, name)["prompt"]).read_text(encoding="utf-8")


def add_independent_chains(data: dict, agent: str = "data", count: int = 3) -> None:
    """Give ``agent`` ``count`` chains whose fix sites are different files."""
    entry = next(a for a in data["agents"] if a["name"] == agent)
    template = dict(entry["chains"][0])
    fix_sites = [
        "bookshop/store.py Inventory.remove()",
        "bookshop/models.py Book.price()",
        "bookshop/audit.py (CREATE — new file)",
        "bookshop/ledger.py (CREATE — new file)",
    ]
    entry["chains"] = [
        {
            **template,
            "id": f"chain-{i + 1}",
            "title": f"Data fix number {i + 1}",
            "fix_site": fix_sites[i],
        }
        for i in range(count)
    ]
    entry["territory"]["include"] += [
        "bookshop/audit.py (CREATE — new file)",
        "bookshop/ledger.py (CREATE — new file)",
    ]


# --- what render writes ------------------------------------------------------------------------


def test_render_writes_every_document(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = render(example_repo, capsys)
    folder = example_repo / SPRINT_DIR
    names = {"data": "F", "qa": "E", "services": "D", "backend": "A", "frontend": "B", "lead": "G"}
    assert [a["name"] for a in summary["agents"]] == list(names)  # wave order
    expected = {folder / "DISPATCH.md", folder / "DISPATCH-PROMPTS.md"}
    for name, letter in names.items():
        agent = agent_named(summary, name)
        assert agent["letter"] == letter
        assert agent["branch"] == f"sprint-01/{name}"
        assert agent["worktree"] == str(example_repo.parent / f"bookshop-sprint-01-{name}")
        assert agent["report"] == f"{SPRINT_DIR.as_posix()}/agent-{letter}-completion.md"
        expected.add(folder / "activation-prompts" / f"agent-{letter}-{name}.md")
    expected |= {
        folder / f"agent-{letter}-{domain}.md"
        for letter, domain in [
            ("F", "data"),
            ("E", "qa"),
            ("D", "services"),
            ("A", "backend"),
            ("B", "frontend"),
            ("G", "lead"),
        ]
    }
    assert {Path(f) for f in summary["files"]} == expected
    assert all(p.is_file() for p in expected)
    assert not list(folder.rglob("*.tmp"))
    archive = (folder / "DISPATCH-PROMPTS.md").read_text(encoding="utf-8")
    assert archive.count("=== PART 1: IDENTITY ===") == 6


def test_every_prompt_parses_into_its_seven_parts(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = render(example_repo, capsys)
    plan = load_plan_data(example_repo)
    sprint = plan["sprint"]
    for agent in plan["agents"]:
        text = prompt_of(summary, agent["name"])
        parts = split_parts(text)
        assert [(p.number, p.name) for p in parts] == list(enumerate(PART_NAMES, start=1)), agent[
            "name"
        ]
        body = {p.name: p.body for p in parts}
        assert [b for b in block_names(body["EXECUTION"]) if b in STYLE_BLOCKS] == list(
            STYLE_BLOCKS
        )
        for chain in agent["chains"]:
            assert (
                f"Chain {chain['id']} [{chain['priority']}]: {chain['title']}"
                in body["TASK SUMMARY"]
            )
            for field in ("vector", "signal", "fix_site", "verify"):
                assert chain[field] in body["TASK SUMMARY"]
        own = {parse_pattern(p).pattern for p in agent["territory"]["include"]}
        assert set(_CAN.findall(body["TERRITORY"])) >= own
        assert "read every file" in body["TERRITORY"]
        expected_deny = {
            (p, other["name"], other["role"])
            for other in plan["agents"]
            if other["name"] != agent["name"] and base_role(other["role"]) != "RED TEAM"
            for p in other["territory"]["include"]
        }
        assert set(_DENY.findall(body["TERRITORY"])) == expected_deny
        report = agent_named(summary, agent["name"])["report"]
        assert report in body["COMPLETION"]
        assert f"`{sprint['build_command']}`" in body["COMPLETION"]
        assert f"`{sprint['test_command']}`" in body["COMPLETION"]
        for section in (
            "## Summary",
            "## Tasks Completed",
            "## P0 Discoveries",
            "## Issues for Other Agents",
            "## Files Modified",
            "## Verification Results",
            "## Metrics",
        ):
            assert section in body["COMPLETION"]


def test_identity_and_lead_and_qa_specifics(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = render(example_repo, capsys)
    data = prompt_of(summary, "data")
    assert "You are FOXTROT, Agent F, the DATA agent" in data
    assert f"Working directory: {example_repo.parent / 'bookshop-sprint-01-data'}" in data
    assert "Branch: sprint-01/data" in data
    lead = prompt_of(summary, "lead")
    assert "You do not merge branches: the tool's merge train lands every agent branch" in lead
    assert "merge-only" not in lead and "Merge in this order" not in lead
    merges = re.findall(r"^ {3}\d\. (sprint-01/\S+)", lead, re.M)
    assert merges == [
        f"sprint-01/{n}" for n in ["data", "backend", "services", "frontend", "qa", "lead"]
    ]
    assert "create and change tests only" in prompt_of(summary, "qa")


def test_dispatch_md_and_task_doc_sections(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    render(example_repo, capsys)
    folder = example_repo / SPRINT_DIR
    dispatch = (folder / "DISPATCH.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", dispatch, re.M)
    assert headings == [
        "Sprint Goals",
        "Codebase Conventions",
        "Agents and Codenames",
        "Execution Traces",
        "Territory Map",
        "Wave Assignments",
        "Merge Order",
        "Success Criteria",
        "Worktree Setup",
        "Post-Sprint Cleanup",
    ]
    assert dispatch.startswith("# Sprint 01 Dispatch — Correct stock and money handling\n")
    assert "| F | FOXTROT | data | DATA | 1 |" in dispatch
    assert "### Chain 1: Stock can go negative (P1) — Agent: F (data)" in dispatch
    assert "1. DATA (data, `sprint-01/data`) → main (validate after)" in dispatch
    assert "Not merged: ORCHESTRATOR" in dispatch
    worktree = example_repo.parent / "bookshop-sprint-01-frontend"
    assert f"add_worktree sprint-01/frontend {worktree}" in dispatch
    assert f"git worktree remove {worktree}" in dispatch
    doc = (folder / "agent-A-backend.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", doc, re.M) == [
        "Sprint 01 | Branch: sprint-01/backend",
        f"Working Directory: {example_repo.parent / 'bookshop-sprint-01-backend'}",
        "Role",
        "Context — Read Before Coding",
        "Files Owned",
        "Tasks",
        "Wave Organization",
        "Territory",
        "Per-Chain Verification",
        "Final Verification Checklist",
        "Commit Strategy",
        "Completion",
    ]
    assert doc.startswith("# Agent A — ALPHA: BACKEND\n")
    assert "### A-01: sell() accepts zero and negative quantities (P1)" in doc
    assert "- Do NOT touch: `bookshop/store.py` (data / DATA territory)" in doc


def test_red_team_owns_nothing_and_never_merges(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(d: dict) -> None:
        d["agents"].append(
            {
                "name": "red-team",
                "role": "RED TEAM",
                "chains": [],
                "territory": {"include": ["tests/adversarial/ (CREATE)"]},
            }
        )
        d["waves"].insert(3, {"number": 4, "agents": ["red-team"], "depends_on": [3]})

    edit_plan(example_repo, change)
    summary = render(example_repo, capsys)
    assert agent_named(summary, "red-team")["letter"] == "R"
    text = prompt_of(summary, "red-team")
    territory = {p.name: p.body for p in split_parts(text)}["TERRITORY"]
    assert (
        "CAN modify: tests/adversarial/ (CREATE; new adversarial tests only; you own nothing)"
        in territory
    )
    assert (
        f"CAN modify: {SPRINT_DIR.as_posix()}/red-team-findings.md (your findings report)"
        in territory
    )
    assert "DO NOT touch tests/ (qa / QA territory)" in territory
    assert "  - sprint-01/backend (backend, BACKEND)" in text  # branches to review
    assert "DO NOT touch tests/adversarial/" not in prompt_of(summary, "qa")  # owns nothing
    dispatch = (example_repo / SPRINT_DIR / "DISPATCH.md").read_text(encoding="utf-8")
    assert "RED TEAM (red-team; findings only)" in dispatch
    assert "sprint-01/red-team` →" not in dispatch


# --- tone, TEAM MODE, tools ------------------------------------------------------------------


def _intensity(text: str) -> str:
    return text.split("=== INTENSITY PROTOCOL ===")[1].split("=== EXECUTION PROTOCOL ===")[0]


def test_tone_switch_changes_the_intensity_block(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    professional = _intensity(prompt_of(render(example_repo, capsys), "data"))
    edit_plan(example_repo, lambda d: d["sprint"].update(tone="maximum"))
    maximum = _intensity(prompt_of(render(example_repo, capsys), "data"))
    assert "production-ready work on the first pass" in professional
    assert "FULL-OUTPUT MODE" in maximum and "FULL-OUTPUT MODE" not in professional


def test_team_mode_for_claude_agent_with_three_independent_chains(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(example_repo, add_independent_chains)
    summary = render(example_repo, capsys)
    data = agent_named(summary, "data")
    assert data["team_mode"] is True
    assert data["sub_agents"] == [
        "chain-1-data-fix-number-1",
        "chain-2-data-fix-number-2",
        "chain-3-data-fix-number-3",
    ]
    text = prompt_of(summary, "data")
    team = text.split("=== TEAM MODE ===")[1].split("=== PART 7")[0]
    assert all(f'"{name}"' in team for name in data["sub_agents"])
    assert (
        text.index("=== OPTIMAL PATH ===")
        < text.index("=== TEAM MODE ===")
        < text.index("=== PART 7")
    )
    assert "=== TEAM MODE ===" not in prompt_of(summary, "qa")  # one chain
    assert not agent_named(summary, "backend")["team_mode"]


def test_dependent_chains_share_a_sub_agent(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(d: dict) -> None:
        add_independent_chains(d, count=4)
        d["agents"][0]["chains"][3]["depends_on"] = ["chain-1"]

    edit_plan(example_repo, change)
    data = agent_named(render(example_repo, capsys), "data")
    assert data["sub_agents"] == [
        "chain-1-data-fix-number-1",
        "chain-2-data-fix-number-2",
        "chain-3-data-fix-number-3",
    ]
    assert "Chain chain-1 (Data fix number 1), then Chain chain-4" in prompt_of(
        render(example_repo, capsys), "data"
    )


@pytest.mark.parametrize("tool", ["codex", "command"])
def test_no_team_mode_for_tools_without_sub_agents(
    example_repo: Path, capsys: pytest.CaptureFixture[str], tool: str
) -> None:
    def change(d: dict) -> None:
        add_independent_chains(d)
        d["agents"][0]["tool"] = tool
        if tool == "command":
            d["agents"][0]["command"] = [sys.executable, "agent.py"]

    edit_plan(example_repo, change)
    summary = render(example_repo, capsys)
    assert agent_named(summary, "data")["team_mode"] is False
    text = prompt_of(summary, "data")
    assert "=== TEAM MODE ===" not in text
    if tool == "codex":
        assert (
            str(
                example_repo.parent
                / "bookshop-sprint-01-data"
                / SPRINT_DIR
                / "agent-F-completion.md"
            )
            in text
        )
        assert "Steps:" in text


def test_no_team_mode_when_sub_agents_disabled(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(
        example_repo,
        lambda d: (add_independent_chains(d), d["scaling"].update(sub_agents_enabled=False)),
    )
    assert agent_named(render(example_repo, capsys), "data")["team_mode"] is False


# --- overrides, lint refusal, invalid plans, re-rendering -------------------------------------


def test_project_template_overrides_the_packaged_one(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = example_repo / OVERRIDES
    overrides.mkdir(parents=True)
    (overrides / "intensity-professional.md.j2").write_text(
        "HOUSE RULE: ship only what `{{ test_command }}` proves.\n", encoding="utf-8"
    )
    (overrides / "dispatch.md.j2").write_text(
        "# Our own dispatch for {{ sprint.id }}\n", encoding="utf-8"
    )
    summary = render(example_repo, capsys)
    assert summary["template_overrides"] == ["dispatch.md.j2", "intensity-professional.md.j2"]
    assert (
        "HOUSE RULE: ship only what `python -m unittest discover -s tests -q` proves."
        in _intensity(prompt_of(summary, "backend"))
    )
    assert (example_repo / SPRINT_DIR / "DISPATCH.md").read_text(
        encoding="utf-8"
    ) == "# Our own dispatch for sprint-01\n"


def test_render_refuses_when_the_prompt_lint_fails(example_repo: Path) -> None:
    packaged = (
        resources.files("agent_dispatch.prompts")
        .joinpath("templates/activation.md.j2")
        .read_text(encoding="utf-8")
    )
    broken = packaged.replace("=== PART 3: DOMAIN ===\n", "").replace(
        "Branch: {{ a.branch }}", "Branch: [XX]"
    )
    (example_repo / OVERRIDES).mkdir(parents=True)
    (example_repo / OVERRIDES / "activation.md.j2").write_text(broken, encoding="utf-8")
    with pytest.raises(FatalError) as caught:
        render_plan(example_repo / EXAMPLE_PLAN)
    message = str(caught.value)
    assert "missing PART 3: DOMAIN" in message and "'[XX]'" in message and "[data]" in message
    assert not (example_repo / SPRINT_DIR / "DISPATCH.md").exists()
    assert not (example_repo / SPRINT_DIR / "activation-prompts").exists()


def test_invalid_plan_is_a_plan_error(example_repo: Path) -> None:
    edit_plan(example_repo, lambda d: d["waves"][0]["agents"].append("ghost"))
    with pytest.raises(PlanError) as caught:
        render_plan(example_repo / EXAMPLE_PLAN)
    assert caught.value.exit_code == 2 and "ghost" in str(caught.value)
    assert not (example_repo / SPRINT_DIR / "DISPATCH.md").exists()


def test_rerender_replaces_stale_prompts_and_reports_letter_clashes(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    render(example_repo, capsys)
    prompts = example_repo / SPRINT_DIR / "activation-prompts"
    assert (prompts / "agent-F-data.md").exists()

    def change(d: dict) -> None:
        d["agents"][0]["letter"] = "A"  # data takes backend's default letter
        d["agents"][3]["letter"] = "A"  # backend asks for it too, and loses

    edit_plan(example_repo, change)
    summary = render(example_repo, capsys)
    assert agent_named(summary, "data")["letter"] == "A"
    assert agent_named(summary, "backend")["letter"] == "C"
    assert any("'backend'" in w and "'A'" in w for w in summary["warnings"])
    assert not (prompts / "agent-F-data.md").exists()
    assert sorted(p.name for p in prompts.iterdir()) == sorted(
        [
            "agent-A-data.md",
            "agent-C-backend.md",
            "agent-E-qa.md",
            "agent-D-services.md",
            "agent-B-frontend.md",
            "agent-G-lead.md",
        ]
    )


def test_cli_render(example_repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_dispatch", "render", str(EXAMPLE_PLAN), "--json"],
        cwd=example_repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["sprint"] == "sprint-01"
    assert len(summary["agents"]) == 6 and len(summary["files"]) == 14
    assert all(Path(a["prompt"]).is_file() for a in summary["agents"])


def test_prompts_fit_the_project_wave_and_layers(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 9: a wave-2 agent's task section was headed "Wave 1 (start immediately)", and BACKEND
    owning one api.py was told its domain is "handlers, routes, services, middleware, request
    validation"."""
    summary = render(example_repo, capsys)
    backend = prompt_of(summary, "backend")
    assert "Wave 2 (starts once wave 1 is done):" in backend
    assert "Wave 1 (start immediately)" not in backend
    assert "YOUR DOMAIN: the backend code in bookshop/api.py. You own bookshop/api.py." in backend
    assert "middleware" not in backend and "handlers, routes" not in backend
    data = prompt_of(summary, "data")
    assert "Wave 1 (start immediately):" in data
    assert "YOUR DOMAIN: models, stores. You own bookshop/models.py, bookshop/store.py." in data
    doc = (example_repo / SPRINT_DIR / "agent-A-backend.md").read_text(encoding="utf-8")
    assert "Wave 2 (starts once wave 1 is done)." in doc and "(start immediately)" not in doc
    assert "the backend code in bookshop/api.py" in doc


def test_rerender_removes_task_docs_of_agents_that_are_gone(
    example_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 11: `render` left the task doc of an agent removed from the plan."""
    render(example_repo, capsys)
    folder = example_repo / SPRINT_DIR
    assert (folder / "agent-B-frontend.md").exists()
    (folder / "agent-B-completion.md").write_text("# report\n")  # an agent's, never render's
    (folder / "agent-Z-notes.md").write_text("mine\n")  # the user's own file

    def drop_frontend(d: dict) -> None:
        d["agents"] = [a for a in d["agents"] if a["name"] != "frontend"]
        d["waves"] = [w for w in d["waves"] if w["number"] != 3]
        for w in d["waves"]:
            w["depends_on"] = [2 if n == 3 else n for n in w.get("depends_on", [])]
        if "merge_order" in d:
            d["merge_order"] = [n for n in d["merge_order"] if n != "frontend"]

    edit_plan(example_repo, drop_frontend)
    summary = render(example_repo, capsys)
    assert "frontend" not in [a["name"] for a in summary["agents"]]
    assert not (folder / "agent-B-frontend.md").exists()
    assert not (folder / "activation-prompts" / "agent-B-frontend.md").exists()
    assert (folder / "agent-B-completion.md").exists() and (folder / "agent-Z-notes.md").exists()
    assert (folder / "agent-A-backend.md").exists()
