"""The ref guard: from an agent worktree only the agent's own branch moves; the tool's merge step
(from the main checkout) still works."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent_dispatch import git as gitlib
from agent_dispatch.commands.workspaces import workspaces_up
from agent_dispatch.engine.landing import move_base
from agent_dispatch.workspace import guard
from conftest import GIT_ENV, git
from test_workspaces import sprint_repo, worktree


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})})


@pytest.fixture(params=["main checked out", "main not checked out"])
def guarded(request, tmp_path: Path) -> tuple[Path, Path]:
    root, plan = sprint_repo(tmp_path)
    assert workspaces_up(plan) == 0
    if request.param == "main not checked out":
        git(root, "checkout", "-q", "--detach")  # so only the guard stands between the agent and main
    return root, worktree(root, "data")


def refs(root: Path) -> str:
    return git(root, "for-each-ref", "--format=%(objectname) %(refname)")


def test_only_the_agents_own_branch_moves(guarded):
    root, data = guarded
    (data / "bookshop" / "store.py").write_text("# data's work\n")
    assert run(data, "git", "commit", "-qam", "data: work").returncode == 0  # HEAD is now ahead of main
    before = refs(root)
    for args in (["git", "branch", "-f", "main", "HEAD"],
                 ["git", "update-ref", "refs/heads/sprint-01/qa", "HEAD"],
                 ["git", "tag", "x"],
                 ["git", "push", ".", "HEAD:main"],
                 ["git", "push", ".", "HEAD:refs/heads/sprint-01/lead-copy"],
                 # By path, receive-pack runs in the main checkout (no hooks there): the pre-push guard.
                 ["git", "push", str(root), "HEAD:main"],
                 ["git", "push", f"file://{root}", "HEAD:refs/tags/pushed"],
                 ["git", "push", os.path.relpath(root, data), "HEAD:refs/heads/sprint-01/lead-copy"],
                 ["git", "checkout", "-q", "-b", "side-branch"],
                 ["git", "update-ref", "-d", "refs/heads/sprint-01/qa"]):
        result = run(data, *args)
        assert result.returncode != 0, args
    assert refs(root) == before
    refused = run(data, "git", "update-ref", "refs/heads/sprint-01/qa", "HEAD")
    assert "only your own branch (sprint-01/data) may move here" in refused.stderr.lower()
    refused = run(data, "git", "push", str(root), "HEAD:refs/tags/pushed")
    assert "refused to push refs/tags/pushed into this repository" in refused.stderr
    assert run(data, "git", "push", str(root), "HEAD:refs/heads/sprint-01/data").returncode == 0  # its own

    assert run(data, "git", "commit", "-q", "--amend", "-m", "data: work, amended").returncode == 0
    assert run(data, "git", "reset", "-q", "--hard", "HEAD~1").returncode == 0
    (data / "bookshop" / "models.py").write_text("# more\n")
    assert run(data, "git", "commit", "-qam", "data: more").returncode == 0
    assert run(data, "git", "rebase", "-q", "main").returncode == 0  # moves HEAD and its own branch only
    assert git(data, "branch", "--show-current").strip() == "sprint-01/data"
    mine = "refs/heads/sprint-01/data"
    assert [r for r in refs(root).splitlines() if not r.endswith(mine)] == [
        r for r in before.splitlines() if not r.endswith(mine)]
    assert git(root, "log", "-1", "--format=%s", "sprint-01/data").strip() == "data: more"


def test_the_stash_is_refused_because_every_worktree_shares_it(guarded):
    _, data = guarded
    (data / "bookshop" / "store.py").write_text("# wip\n")
    result = run(data, "git", "stash")
    assert result.returncode != 0 and "refs/stash" in result.stderr
    assert (data / "bookshop" / "store.py").read_text() == "# wip\n"


def test_the_tools_merge_step_still_works(guarded):
    root, data = guarded
    (data / "bookshop" / "store.py").write_text("# data's work\n")
    assert run(data, "git", "commit", "-qam", "data: work").returncode == 0
    tip = git(root, "rev-parse", "sprint-01/data").strip()
    old = git(root, "rev-parse", "main").strip()
    events = []
    assert move_base(root, "main", old, tip, tip, lambda kind, data: events.append((kind, data)))
    assert git(root, "rev-parse", "main").strip() == tip
    # The escape hatch: the tool may move other refs from inside a worktree with the repo's token.
    result = run(data, "git", "tag", "landed", env=guard.bypass_env(root))
    assert result.returncode == 0, result.stderr
    assert run(data, "git", "tag", "nope", env={guard.TOKEN_ENV: "wrong"}).returncode != 0


def test_agent_worktrees_do_not_pack_refs_on_their_own(guarded):
    root, data = guarded
    assert gitlib.get_config(data, "gc.auto") == "0"
    assert gitlib.get_config(root, "gc.auto") is None
