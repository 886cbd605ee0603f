"""`dispatch clean`: a sprint's landed agent worktrees and branches go; unlanded or uncommitted work
stays unless --force. Real repositories, real worktrees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent_dispatch.store.log import EventLog
from conftest import git, make_repo

PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")


def dispatch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


PLAN_TEXT = """\
sprint: {id: sprint-01, theme: clean test, base_branch: main, tool: command,
         build_command: "true", test_command: "true"}
agents:
  - {name: alpha, role: DATA, command: ["true"], territory: {include: [a.txt]},
     chains: [{id: chain-1, priority: P1, title: alpha work, vector: "a.load() → a.save()",
               signal: wrong, fix_site: a.txt, verify: "`true`"}]}
waves: [{number: 1, agents: [alpha]}]
"""


def sprint_repo(tmp_path: Path, *, finished: bool = True) -> Path:
    """A repository whose sprint-01 left three agent branches with worktrees: alpha landed on main,
    beta with a commit main lacks, gamma with an uncommitted file."""
    repo = tmp_path / "proj"
    (repo / PLAN.parent).mkdir(parents=True)
    (repo / PLAN).write_text(PLAN_TEXT)
    (repo / "a.txt").write_text("a\n")
    make_repo(repo)
    git(repo, "config", "user.name", "t")
    git(repo, "config", "user.email", "t@t")
    for name in ("alpha", "beta", "gamma"):
        git(repo, "worktree", "add", "-q", "-b", f"sprint-01/{name}", str(tmp_path / f"proj-sprint-01-{name}"), "main")
    alpha = tmp_path / "proj-sprint-01-alpha"
    (alpha / "a.txt").write_text("alpha\n")
    git(alpha, "commit", "-qam", "alpha work")
    git(repo, "merge", "-q", "--ff-only", "sprint-01/alpha")  # landed
    beta = tmp_path / "proj-sprint-01-beta"
    (beta / "b.txt").write_text("beta\n")
    git(beta, "add", "b.txt")
    git(beta, "commit", "-qm", "beta work, never landed")
    (tmp_path / "proj-sprint-01-gamma" / "g.txt").write_text("not committed\n")
    git(repo, "worktree", "add", "-q", "-b", "sprint-02/other", str(tmp_path / "proj-sprint-02-other"), "main")
    state = repo / ".dispatch" / "sprint-01"
    state.mkdir(parents=True)
    git(repo, "worktree", "add", "-q", "--detach", str(state / "validate" / "slot-0"), "main")  # the merge train's
    with EventLog(state / "events.db") as log:
        log.append("sprint_started", data={"plan": str(repo / PLAN)})
        if finished:
            log.append("sprint_finished", data={"outcome": "partial", "not_landed": ["beta"]})
    (repo / ".git" / "info" / "exclude").write_text("/.dispatch/\n")
    return repo


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").split()


def test_clean_removes_landed_work_and_refuses_to_drop_the_rest(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path)
    result = dispatch(repo, "clean", "--sprint", "sprint-01")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"removed sprint-01/alpha ({tmp_path / 'proj-sprint-01-alpha'}): landed" in out
    assert "kept    sprint-01/beta" in out and "1 commit(s) not on main (unlanded work)" in out
    assert "kept    sprint-01/gamma" in out and "1 uncommitted file(s)" in out and "g.txt" in out
    assert "hint: land or save that work first; `dispatch clean --sprint sprint-01 --force`" in out
    assert branches(repo) == ["main", "sprint-01/beta", "sprint-01/gamma", "sprint-02/other"]
    assert not (tmp_path / "proj-sprint-01-alpha").exists()
    slot = repo / ".dispatch" / "sprint-01" / "validate" / "slot-0"
    assert f"removed validation worktree {slot}" in out and not slot.exists()
    assert str(slot) not in git(repo, "worktree", "list")
    assert (tmp_path / "proj-sprint-01-gamma" / "g.txt").read_text() == "not committed\n"

    forced = dispatch(repo, "clean", "--sprint", "sprint-01", "--force", "--json")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    data = json.loads(forced.stdout)
    assert [(i["branch"], i["removed"]) for i in data["items"]] == [("sprint-01/beta", True),
                                                                   ("sprint-01/gamma", True)]
    assert branches(repo) == ["main", "sprint-02/other"]  # another sprint's branch is not touched
    assert not (tmp_path / "proj-sprint-01-gamma").exists()
    assert (tmp_path / "proj-sprint-02-other").is_dir()
    assert (repo / ".dispatch" / "sprint-01" / "events.db").exists()  # the record stays
    assert data["scratch"] == []  # the first clean removed it


def test_clean_keeps_everything_of_a_sprint_that_has_not_finished(tmp_path: Path) -> None:
    repo = sprint_repo(tmp_path, finished=False)
    result = dispatch(repo, "clean")
    assert result.returncode == 1
    assert result.stdout.count("the sprint has not finished") == 3
    assert branches(repo) == ["main", "sprint-01/alpha", "sprint-01/beta", "sprint-01/gamma", "sprint-02/other"]
