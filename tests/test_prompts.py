"""Unit tests for prompt building blocks: sub-agent table, chain independence, lint, letters."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_dispatch.naming import paths
from agent_dispatch.naming.context import assign_letters, build_context, codename_of
from agent_dispatch.plan.model import Chain, Plan
from agent_dispatch.prompts.activation import render_activation
from agent_dispatch.prompts.chains import chain_waves, path_tokens, task_ids
from agent_dispatch.prompts.environment import make_environment
from agent_dispatch.prompts.lint import (
    PART_NAMES,
    STYLE_BLOCKS,
    lint_counts,
    lint_prompt,
    part_header,
    placeholders,
    split_parts,
)
from agent_dispatch.prompts.team import (
    independent_groups,
    plan_team,
    sub_agent_count,
    sub_agent_name,
)


def chain(
    cid: str, fix: str, *, priority: str = "P1", depends_on: tuple[str, ...] = (), title: str = ""
) -> Chain:
    return Chain(
        id=cid,
        priority=priority,
        title=title or f"Fix {cid}",
        vector="a.b() → c.d()",
        signal="broken",
        fix_site=fix,
        verify="`true` exits 0",
        depends_on=depends_on,
    )


def independent(n: int) -> list[Chain]:
    return [chain(f"chain-{i}", f"src/mod{i}.py f()") for i in range(1, n + 1)]


# --- sub-agent count table (REQ-3.19) -------------------------------------------------------


@pytest.mark.parametrize(
    ("chains", "groups", "expected"),
    [
        (1, 1, 0),
        (2, 2, 0),  # 1-2 chains: the agent works alone
        (3, 1, 0),
        (3, 2, 2),
        (3, 3, 3),
        (4, 4, 3),  # 3-4: >=2 independent -> 2-3
        (5, 2, 0),
        (5, 3, 3),
        (8, 8, 6),  # 5-8: >=3 -> 3-6
        (9, 4, 0),
        (9, 5, 5),
        (14, 14, 10),  # 9-14: >=5 -> 5-10
        (15, 15, 0),  # 15+ (REQ-3.19): split the role instead
        (30, 30, 0),
    ],
)
def test_sub_agent_count_table(chains: int, groups: int, expected: int) -> None:
    assert sub_agent_count(chains, groups) == expected


def test_dependencies_and_shared_fix_files_join_groups() -> None:
    chains = [
        chain("chain-1", "src/a.py f()"),
        chain("chain-2", "src/b.py g()", depends_on=("chain-1",)),
        chain("chain-3", "src/c.py h()", depends_on=("chain-2",)),  # transitively on chain-1
        chain("chain-4", "src/d.py (CREATE — new file)"),
        chain("chain-5", "src/d.py other()"),  # same file as chain-4
        chain("chain-6", "src/e.py k()"),
    ]
    groups = [[c.id for c in g] for g in independent_groups(chains)]
    assert groups == [["chain-1", "chain-2", "chain-3"], ["chain-4", "chain-5"], ["chain-6"]]


def test_groups_follow_priority_order() -> None:
    chains = [
        chain("chain-1", "a.py x()", priority="P3"),
        chain("chain-2", "b.py y()", priority="P0"),
    ]
    assert [g[0].id for g in independent_groups(chains)] == ["chain-2", "chain-1"]


def test_plan_team_names_one_sub_agent_per_group() -> None:
    chains = independent(3)
    chains[1] = chain("chain-2", "src/mod2.py f()", title="Fix webhook timeout!")
    team = plan_team(chains, tool="claude", sub_agents_enabled=True)
    assert team.enabled
    assert [s.name for s in team.sub_agents] == [
        "chain-1-fix-chain-1",
        "chain-2-fix-webhook-timeout",
        "chain-3-fix-chain-3",
    ]


def test_plan_team_caps_at_table_maximum_and_deals_the_rest() -> None:
    team = plan_team(independent(8), tool="claude", sub_agents_enabled=True)
    assert len(team.sub_agents) == 6
    assert sorted(cid for s in team.sub_agents for cid in s.chain_ids) == sorted(
        f"chain-{i}" for i in range(1, 9)
    )
    assert team.sub_agents[0].chain_ids == ("chain-1", "chain-7")


@pytest.mark.parametrize(
    ("tool", "enabled", "n"),
    [
        ("codex", True, 3),
        ("command", True, 5),
        ("claude", False, 3),
        ("claude", True, 2),
    ],
)
def test_plan_team_off(tool: str, enabled: bool, n: int) -> None:
    assert not plan_team(independent(n), tool=tool, sub_agents_enabled=enabled).enabled


def test_plan_team_advises_split_from_fifteen_chains() -> None:
    team = plan_team(independent(15), tool="claude", sub_agents_enabled=True)
    assert team.split_advised and not team.enabled and "split" in team.reason


def test_sub_agent_name_trims_long_titles() -> None:
    name = sub_agent_name(chain("chain-12", "x.py f()", title="A very long title " * 5))
    assert name.startswith("chain-12-a-very-long-title") and len(name) <= len("chain-12-") + 40


# --- chain helpers -------------------------------------------------------------------------


def test_path_tokens_skip_calls() -> None:
    assert path_tokens("bookshop/store.py Inventory.remove()") == ["bookshop/store.py"]
    assert path_tokens("api.sell() → pricing.line_total() → app/x.go, main.rs") == [
        "app/x.go",
        "main.rs",
    ]


def test_chain_waves_and_task_ids_follow_priority_and_dependencies() -> None:
    chains = [
        chain("c1", "a.py f()", priority="P2"),
        chain("c2", "b.py g()", priority="P1", depends_on=("c1",)),
        chain("c3", "c.py h()", priority="P0"),
    ]
    assert [[c.id for c in w] for w in chain_waves(chains)] == [["c3", "c1"], ["c2"]]
    assert task_ids("F", chains) == {"c3": "F-01", "c2": "F-02", "c1": "F-03"}


# --- letters and paths ---------------------------------------------------------------------


def _plan(agents: list[dict], **sprint: object) -> Plan:
    return Plan.model_validate(
        {
            "sprint": {
                "id": "sprint-07",
                "theme": "Theme",
                "base_branch": "main",
                "build_command": "make build",
                "test_command": "make test",
                **sprint,
            },
            "agents": agents,
            "waves": [{"number": 1, "agents": [a["name"] for a in agents]}],
            "merge_order": [a["name"] for a in agents if a["role"] not in ("RED TEAM",)],
        }
    )


def _agent(name: str, role: str, include: str, chains: list[Chain] = (), **extra: object) -> dict:
    return {
        "name": name,
        "role": role,
        "territory": {"include": [include]},
        "chains": [c.model_dump() for c in chains],
        **extra,
    }


def test_letters_plan_then_roster_then_next_free_deterministically() -> None:
    plan = _plan(
        [
            _agent("api-1", "BACKEND", "a/", [chain("c1", "a/x.py f()")]),
            _agent("api-2", "BACKEND", "b/", [chain("c1", "b/x.py f()")]),
            _agent("search", "SEARCH", "s/", [chain("c1", "s/x.py f()")]),
            _agent("db", "DATA", "d/", [chain("c1", "d/x.py f()")], letter="A"),
            _agent("db2", "DATA", "e/", [chain("c1", "e/x.py f()")], letter="A"),
        ]
    )
    letters, notes = assign_letters(plan)
    # db keeps its plan letter; api-1/api-2 lose roster default A to it; db2's clashing plan
    # letter is replaced by the next free one, in plan order.
    assert letters == {"db": "A", "api-1": "B", "api-2": "C", "search": "D", "db2": "E"}
    assert notes and "db2" in notes[0] and "'A'" in notes[0]
    assert assign_letters(plan) == (letters, notes)


def test_letter_defaults_and_codenames() -> None:
    plan = _plan(
        [
            _agent("data", "DATA", "d/", [chain("c1", "d/x.py f()")]),
            _agent("ml", "ML-TRAINING", "m/", [chain("c1", "m/x.py f()")], codename="hawk"),
        ]
    )
    ctx = build_context(plan, Path("/work/proj"))
    assert (ctx.agent("data").letter, ctx.agent("data").codename) == ("F", "FOXTROT")
    assert (ctx.agent("ml").letter, ctx.agent("ml").codename) == ("A", "HAWK")
    assert codename_of("B2") == "BRAVO-2"


def test_context_paths() -> None:
    plan = _plan([_agent("data", "DATA", "d/", [chain("c1", "d/x.py f()")])])
    a = build_context(plan, Path("/work/proj")).agent("data")
    assert a.branch == "sprint-07/data" == paths.branch_name("sprint-07", "data")
    assert a.worktree == Path("/work/proj-sprint-07-data")
    assert a.task_doc == "docs/agent-dispatch/sprints/sprint-07/agent-F-data.md"
    assert a.report == "docs/agent-dispatch/sprints/sprint-07/agent-F-completion.md"
    assert a.prompt == "docs/agent-dispatch/sprints/sprint-07/activation-prompts/agent-F-data.md"


# --- prompt lint ---------------------------------------------------------------------------


def _good_prompt() -> str:
    out = []
    for n in range(1, 8):
        out.append(part_header(n))
        if n == 6:
            out += [f"=== {b} ===\ntext" for b in STYLE_BLOCKS]
        out.append("body")
    out.append("Run `make build` and `make test`; report to docs/r.md")
    return "\n".join(out) + "\n"


def _lint(text: str) -> list[str]:
    return lint_prompt(
        text, build_command="make build", test_command="make test", report_path="docs/r.md"
    )


def test_lint_accepts_complete_prompt() -> None:
    assert _lint(_good_prompt()) == []
    assert [p.name for p in split_parts(_good_prompt())] == list(PART_NAMES)


def test_lint_catches_missing_part() -> None:
    text = _good_prompt().replace(part_header(3) + "\n", "")
    assert any("missing PART 3: DOMAIN" in p for p in _lint(text))


def test_lint_catches_parts_out_of_order() -> None:
    text = (
        _good_prompt()
        .replace(part_header(2), "@@")
        .replace(part_header(3), part_header(2))
        .replace("@@", part_header(3))
    )
    assert any("out of order" in p for p in _lint(text))


def test_lint_catches_missing_style_block_and_commands() -> None:
    text = _good_prompt().replace("=== OPTIMAL PATH ===", "").replace("`make test`", "")
    problems = _lint(text)
    assert any("OPTIMAL PATH" in p for p in problems)
    assert any("test command" in p for p in problems)


@pytest.mark.parametrize("token", ["[XX]", "[AGENT]", "{{ sprint }}", "TODO", "[placeholder]"])
def test_lint_catches_unfilled_placeholder(token: str) -> None:
    assert any(token in p for p in _lint(_good_prompt() + f"Branch: sprint-{token}/x\n"))


def test_placeholders_ignore_priorities_links_and_plan_text() -> None:
    assert placeholders("Chain c1 [P1]: see [docs](http://x)") == []
    assert placeholders("Fix TODO in [ID] handler", allowed=["Fix TODO in [ID] handler"]) == []


def test_lint_counts() -> None:
    assert lint_counts(agents=3, prompts=3, task_docs=3) == []
    assert lint_counts(agents=3, prompts=2, task_docs=3)


# --- rendering without a repository ----------------------------------------------------------


@pytest.mark.parametrize("tone", ["professional", "collaborative", "maximum"])
def test_tone_changes_only_the_intensity_and_closing(tone: str) -> None:
    plan = _plan([_agent("data", "DATA", "d/", [chain("c1", "d/x.py f()")])], tone=tone)
    ctx = build_context(plan, Path("/work/proj"))
    text = render_activation(make_environment(None), plan, ctx, "data").text
    assert _lint_real(text, ctx) == []
    intensity = text.split("=== INTENSITY PROTOCOL ===")[1].split("=== EXECUTION PROTOCOL ===")[0]
    marker = {
        "professional": "production-ready work on the first pass",
        "collaborative": "pace is yours to judge",
        "maximum": "FULL-OUTPUT MODE",
    }
    assert marker[tone] in intensity
    assert all(m not in intensity for t, m in marker.items() if t != tone)


def test_codex_prompt_uses_absolute_paths_and_numbered_steps() -> None:
    plan = _plan([_agent("data", "DATA", "d/", [chain("c1", "d/x.py f()")], tool="codex")])
    ctx = build_context(plan, Path("/work/proj"))
    text = render_activation(make_environment(None), plan, ctx, "data").text
    assert (
        "/work/proj-sprint-07-data/docs/agent-dispatch/sprints/sprint-07/agent-F-completion.md"
        in text
    )
    assert "Steps:\n    1. Read the vector" in text
    assert "=== TEAM MODE ===" not in text


def _lint_real(text: str, ctx) -> list[str]:
    return lint_prompt(
        text,
        build_command="make build",
        test_command="make test",
        report_path=ctx.agent("data").report,
    )
