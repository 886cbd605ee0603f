"""dispatch workspaces up|list|down on real repositories: parallel idempotent creation, the pool,
the status snapshot, and a main checkout left without hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.commands.workspaces import list_workspaces, workspaces_down, workspaces_up
from agent_dispatch.present import show
from conftest import EXAMPLE, EXAMPLE_PLAN, GIT_ENV, git, make_repo

AGENTS = ["data", "qa", "services", "backend", "frontend", "lead"]


def sprint_repo(tmp_path: Path, *, setup_command: str | None = None, extra: str = "") -> tuple[Path, Path]:
    """A committed bookshop repository whose plan optionally has a setup command; (root, plan)."""
    root = tmp_path / "bookshop"
    make_repo(root, EXAMPLE)
    plan = root / EXAMPLE_PLAN
    text = plan.read_text()
    if setup_command:
        text = text.replace("  wave_base: merged\n", f"  wave_base: merged\n  setup_command: {json.dumps(setup_command)}\n")
    plan.write_text(text + extra)
    git(root, "commit", "-q", "--allow-empty", "-am", "plan")
    return root, plan


def worktree(root: Path, agent: str, sprint: str = "sprint-01") -> Path:
    return root.parent / f"{root.name}-{sprint}-{agent}"


def run_cli(cwd: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=cwd, capture_output=True,
                            text=True, env={**os.environ, **GIT_ENV})
    if check and result.returncode:
        raise AssertionError(result.stdout + result.stderr)
    return result


def test_up_finishes_the_rest_after_an_injected_failure_and_leaves_finished_ones_alone(tmp_path: Path, capsys):
    log = tmp_path / "setup.log"
    root, plan = sprint_repo(tmp_path, setup_command=f"echo $DISPATCH_AGENT >> {log}")
    obstacle = worktree(root, "backend")
    obstacle.mkdir()
    (obstacle / "not-a-worktree.txt").write_text("in the way\n")

    assert workspaces_up(plan, jobs=3) == 1
    out, err = capsys.readouterr()
    assert "[backend]" in err and "exists and is not a worktree" in err
    created = [a for a in AGENTS if a != "backend"]
    for agent in created:
        assert git(worktree(root, agent), "branch", "--show-current").strip() == f"sprint-01/{agent}"
    marker = worktree(root, "data") / "scratch.txt"
    marker.write_text("the agent's file\n")

    (obstacle / "not-a-worktree.txt").unlink()
    assert workspaces_up(plan, jobs=3) == 0
    out, _ = capsys.readouterr()
    assert "backend   created" in out and "data      exists" in out
    assert marker.read_text() == "the agent's file\n"  # a finished worktree was not touched
    assert sorted(log.read_text().split()) == sorted(AGENTS)  # setup ran once per worktree
    listed = {Path(line.split()[1]).name for line in git(root, "worktree", "list", "--porcelain").splitlines()
              if line.startswith("worktree ")}
    assert {worktree(root, a).name for a in AGENTS} <= listed


def test_recycling_leaves_a_clean_worktree_on_the_new_branch(tmp_path: Path, capsys):
    root, plan = sprint_repo(tmp_path)
    assert workspaces_up(plan) == 0
    data = worktree(root, "data")
    (data / "bookshop" / "store.py").write_text("# rewritten\n")
    git(data, "commit", "-q", "-am", "data: work")
    (data / "bookshop" / "models.py").write_text("# uncommitted\n")
    (data / "notes.txt").write_text("untracked\n")
    (data / "bookshop" / "__pycache__").mkdir()
    (data / "bookshop" / "__pycache__" / "x.pyc").write_text("ignored build output\n")
    data_tip = git(root, "rev-parse", "sprint-01/data").strip()

    assert workspaces_down(plan) == 1  # refuses to discard data's uncommitted work
    assert "uncommitted changes" in capsys.readouterr().err
    assert workspaces_down(plan, force=True) == 0
    pooled = sorted(p.name for p in tmp_path.iterdir() if "-pool-" in p.name)
    assert len(pooled) == len(AGENTS)

    plan.write_text(plan.read_text().replace("id: sprint-01", "id: sprint-02"))
    assert workspaces_up(plan) == 0
    assert "6 recycled" in capsys.readouterr().out
    base = git(root, "rev-parse", "main").strip()
    for agent in AGENTS:
        wt = worktree(root, agent, "sprint-02")
        assert git(wt, "branch", "--show-current").strip() == f"sprint-02/{agent}"
        assert git(wt, "rev-parse", "HEAD").strip() == base
        # Nothing left from the previous agent; the only ignored file is our own Claude Code settings.
        assert git(wt, "status", "--porcelain", "--ignored", "--untracked-files=all") == "!! .claude/settings.local.json\n"
        assert git(wt, "config", "--get", "dispatch.agent").strip() == agent
    assert git(root, "rev-parse", "sprint-01/data").strip() == data_tip  # the old work is kept


def test_list_reports_branch_ahead_uncommitted_and_report(tmp_path: Path, capsys):
    root, plan = sprint_repo(tmp_path)
    assert workspaces_up(plan) == 0
    capsys.readouterr()
    qa = worktree(root, "qa")
    (qa / "tests" / "test_guards.py").write_text("import unittest\n")
    git(qa, "add", "-A")
    git(qa, "commit", "-q", "-m", "qa: guards")
    report = qa / "docs/agent-dispatch/sprints/sprint-01/agent-E-completion.md"
    report.write_text("# report\n")
    assert show(list_workspaces(plan), as_json=True) == 0
    rows = {row["agent"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(AGENTS)
    assert rows["qa"]["ahead"] == 1 and rows["qa"]["uncommitted"] == 1
    assert rows["qa"]["report"] == "docs/agent-dispatch/sprints/sprint-01/agent-E-completion.md"
    assert rows["qa"]["report_present"] is True and rows["qa"]["state"] == "DONE"
    assert rows["data"]["ahead"] == 0 and rows["data"]["report_present"] is False
    assert rows["data"]["branch"] == "sprint-01/data" and rows["data"]["worktree"] == str(worktree(root, "data"))


def test_the_main_checkout_gets_no_hooks(tmp_path: Path):
    root, plan = sprint_repo(tmp_path)
    hooks_before = sorted(p.name for p in (root / ".git" / "hooks").iterdir())
    run_cli(root, "workspaces", "up", str(plan), check=True)
    assert sorted(p.name for p in (root / ".git" / "hooks").iterdir()) == hooks_before
    assert subprocess.run(["git", "config", "--get", "core.hooksPath"], cwd=root).returncode == 1
    assert git(root, "config", "--get", "extensions.worktreeConfig").strip() == "true"
    assert (root / ".git" / "objects" / "info" / "commit-graph").exists()
    # The user works as before: any file, any ref.
    (root / "bookshop" / "api.py").write_text("# the user's edit\n")
    git(root, "commit", "-q", "-am", "the user edits backend's file")
    git(root, "branch", "-f", "user-branch", "HEAD")
    git(root, "tag", "user-tag")
    # An agent worktree does have them, in its own git dir.
    hooks_path = Path(git(worktree(root, "qa"), "config", "--get", "core.hooksPath").strip())
    assert hooks_path.is_relative_to(root / ".git" / "worktrees")
    assert (hooks_path / "pre-commit").exists() and (hooks_path / "reference-transaction").exists()


def test_each_agent_commits_under_its_own_identity(tmp_path: Path):
    root, plan = sprint_repo(tmp_path)
    plan.write_text(plan.read_text().replace("  - name: qa\n", "  - name: qa\n    git_author: QA Bot <qa-bot@example.com>\n"))
    git(root, "commit", "-q", "-am", "qa signs its own commits")
    run_cli(root, "workspaces", "up", str(plan), check=True)
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}

    def commit(agent: str) -> str:
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", f"{agent} works"], cwd=worktree(root, agent),
                       env=bare, check=True)
        return subprocess.run(["git", "log", "-1", "--format=%an <%ae>"], cwd=worktree(root, agent), env=bare,
                              capture_output=True, text=True, check=True).stdout.strip()

    # What the QA agent ran in its worktree: it writes the repository's shared config.
    for key, value in (("user.name", "qa"), ("user.email", "qa@example.com")):
        subprocess.run(["git", "config", key, value], cwd=worktree(root, "qa"), env=bare, check=True)
    assert commit("data") == "data <data@sprint-01.agents>"  # not "qa": its worktree's own identity wins
    assert commit("qa") == "QA Bot <qa-bot@example.com>"  # the plan's git_author
    assert git(worktree(root, "data"), "config", "--worktree", "--get", "user.email").strip() == "data@sprint-01.agents"


@pytest.mark.parametrize("remove", [True, False])
def test_down_keeps_branches(tmp_path: Path, remove: bool):
    root, plan = sprint_repo(tmp_path)
    run_cli(root, "workspaces", "up", str(plan), "--jobs", "1", check=True)
    result = run_cli(root, "workspaces", "down", str(plan), *(["--remove"] if remove else []), "--json")
    assert result.returncode == 0, result.stderr
    actions = {o["agent"]: o["action"] for o in json.loads(result.stdout)}
    assert set(actions.values()) == {"removed" if remove else "parked"}
    assert not worktree(root, "data").exists()
    assert git(root, "branch", "--list", "sprint-01/*").split() == sorted(f"sprint-01/{a}" for a in AGENTS)


def test_worktrees_copied_from_the_template_are_real_clean_checkouts(tmp_path: Path):
    from agent_dispatch.workspace import worktrees
    from agent_dispatch.workspace.layout import AgentSpace

    root, _ = sprint_repo(tmp_path)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    git(root, "add", "run.sh")
    git(root, "commit", "-q", "-m", "an executable")
    spaces = [AgentSpace(a, f"s/{a}", tmp_path / f"copy-{a}") for a in ("one", "two", "three")]
    outcomes = worktrees.bring_up(root, spaces, base="main", copy=True)
    assert [o.action for o in outcomes] == ["created"] * 3, outcomes
    template = tmp_path / ".bookshop-dispatch-template"
    assert git(template, "status", "--porcelain", "--ignored") == ""
    archives = list(Path(git(template, "rev-parse", "--absolute-git-dir").strip()).glob("files-*.tar"))
    assert [a.name for a in archives] == [f"files-{git(root, 'rev-parse', 'main').strip()}.tar"]
    assert os.access(spaces[0].worktree / "run.sh", os.X_OK)
    tracked = git(root, "ls-files").split()
    for space in spaces:
        wt = space.worktree
        assert git(wt, "branch", "--show-current").strip() == space.branch
        assert git(wt, "status", "--porcelain", "--ignored", "--untracked-files=all") == ""
        assert git(wt, "ls-files").split() == tracked
        assert git(wt, "config", "--get", "core.checkStat").strip() == "minimal"
    # Same-size edits are still seen, and commits land on the worktree's own branch.
    store = spaces[0].worktree / "bookshop" / "store.py"
    text = store.read_text()
    store.write_text(text.replace("def ", "dex ", 1))
    assert git(spaces[0].worktree, "status", "--porcelain").strip() == "M bookshop/store.py"
    git(spaces[0].worktree, "commit", "-q", "-am", "edit")
    assert git(root, "log", "-1", "--format=%s", "s/one").strip() == "edit"
    assert (template / "bookshop" / "store.py").read_text() == text


def test_a_run_that_died_midway_is_finished_by_the_next_one(tmp_path: Path):
    """Kill -9 between registering a worktree and writing its files, or in the middle of a recycle:
    the next `up` completes both instead of leaving an empty or half-switched checkout."""
    from agent_dispatch.workspace import pool, worktrees
    from agent_dispatch.workspace.layout import AgentSpace

    root, _ = sprint_repo(tmp_path)
    registered = AgentSpace("one", "s/one", tmp_path / "one")
    git(root, "worktree", "add", "-q", "--no-checkout", "-b", "s/one", str(registered.worktree), "main")
    switching = AgentSpace("two", "s/two", tmp_path / "two")
    git(root, "worktree", "add", "-q", "--detach", str(tmp_path / "parked"), "main")
    (tmp_path / "parked" / "bookshop" / "store.py").write_text("# the previous agent's edit\n")
    git(root, "branch", "s/two", "main")
    (pool._recycling(tmp_path / "parked")).parent.mkdir(parents=True)
    pool._recycling(tmp_path / "parked").touch()  # died right after moving it to its new path:
    git(root, "worktree", "move", str(tmp_path / "parked"), str(switching.worktree))

    outcomes = worktrees.bring_up(root, [registered, switching], base="main")
    assert [(o.action, o.error) for o in outcomes] == [("exists", None), ("exists", None)]
    for space in (registered, switching):
        assert git(space.worktree, "branch", "--show-current").strip() == space.branch
        assert git(space.worktree, "status", "--porcelain", "--untracked-files=all") == ""
        assert (space.worktree / "bookshop" / "store.py").read_text() == (root / "bookshop" / "store.py").read_text()
    assert not pool.is_recycling(switching.worktree)


def test_only_landed_clean_worktrees_are_freed_for_the_next_agents(tmp_path: Path):
    from agent_dispatch.workspace import worktrees
    from agent_dispatch.workspace.layout import AgentSpace

    root, _ = sprint_repo(tmp_path)
    spaces = [AgentSpace(a, f"s/{a}", tmp_path / a) for a in ("landed", "dirty", "open")]
    assert all(o.ok for o in worktrees.bring_up(root, spaces, base="main"))
    for space in spaces:
        (space.worktree / f"{space.agent}.txt").write_text("work\n")
        git(space.worktree, "add", "-A")
        git(space.worktree, "commit", "-q", "--no-verify", "-m", space.agent)
    git(root, "merge", "-q", "--no-edit", "s/landed", "s/dirty")  # "open" has not landed
    (spaces[1].worktree / "dirty.txt").write_text("more work, not committed\n")

    outcomes = worktrees.free_landed(root, spaces, base="main")
    assert [(o.agent, o.action) for o in outcomes] == [("landed", "parked")]
    assert not spaces[0].worktree.exists() and spaces[1].worktree.exists() and spaces[2].worktree.exists()
    later = AgentSpace("later", "s/later", tmp_path / "later")
    assert [o.action for o in worktrees.bring_up(root, [later], base="main")] == ["recycled"]
    assert (later.worktree / "landed.txt").exists()  # main has the landed work; the branch starts there


def test_the_plan_can_put_worktrees_elsewhere(tmp_path: Path):
    from agent_dispatch.naming.context import build_context
    from agent_dispatch.plan.loader import load_plan

    root, plan = sprint_repo(tmp_path)
    plan.write_text(plan.read_text().replace("  wave_base: merged\n",
                                             "  wave_base: merged\n  worktree_dir: ../trees/{sprint}/{agent}\n"))
    git(root, "commit", "-q", "-am", "worktree_dir")
    assert workspaces_up(plan, jobs=2) == 0
    expected = tmp_path / "trees" / "sprint-01" / "data"
    assert git(expected, "branch", "--show-current").strip() == "sprint-01/data"
    context = build_context(load_plan(plan).plan, root)
    assert context.agent("data").worktree == expected  # the engine's sessions run in the same place


def test_a_finished_agents_worktree_goes_back_to_the_pool(tmp_path: Path, capsys):
    root, plan = sprint_repo(tmp_path)
    run_cli(root, "workspaces", "up", str(plan), check=True)
    result = run_cli(root, "workspaces", "down", str(plan), "--agent", "data", "--json", check=True)
    assert [(o["agent"], o["action"]) for o in json.loads(result.stdout)] == [("data", "parked")]
    assert not worktree(root, "data").exists() and worktree(root, "qa").exists()
    assert "no worktree for agent(s) 'nobody'" in run_cli(root, "workspaces", "down", str(plan), "--agent", "nobody").stderr
    assert workspaces_up(plan) == 0  # the next agent needing a worktree (here data again) gets it from the pool
    out = capsys.readouterr().out
    assert "data      recycled" in out and "qa        exists" in out
