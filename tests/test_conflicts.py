"""The conflict matrix (one merge-tree --stdin process, touched-path prefilter) against per-pair
merges and real trial merges, and the planned overlap report."""

from __future__ import annotations

import json
import subprocess
from itertools import combinations
from pathlib import Path

import pytest

from agent_dispatch.plan.loader import load_plan
from agent_dispatch.workspace.conflicts import conflict_matrix
from agent_dispatch.workspace.overlap import fix_site_paths, planned_overlaps
from conftest import EXAMPLE_PLAN, GIT_ENV, git, make_repo
from test_workspaces import run_cli, sprint_repo

LINES = "".join(f"line {i}\n" for i in range(1, 11))


def commit_on(repo: Path, branch: str, start: str, edits: dict[str, str | None], moves=()) -> None:
    git(repo, "checkout", "-q", "-B", branch, start)
    for source, target in moves:
        git(repo, "mv", source, target)
    for path, text in edits.items():
        file = repo / path
        if text is None:
            file.unlink()
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", branch)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for path in ("a/x.txt", "b/y.txt", "c/z.txt", "d/w.txt"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(LINES)
    make_repo(repo)
    edit = lambda n, text: LINES.replace(f"line {n}\n", f"{text}\n")  # noqa: E731
    commit_on(repo, "s/one", "main", {"a/x.txt": edit(2, "one")})
    commit_on(repo, "s/two", "main", {"a/x.txt": edit(2, "two")})  # same line as s/one
    commit_on(repo, "s/nine", "main", {"a/x.txt": edit(9, "nine")})  # same file, other end: clean
    git(repo, "branch", "s/nine-again", "s/nine")  # identical tip
    commit_on(repo, "s/file-e", "main", {"e": "a file\n"})
    commit_on(repo, "s/dir-e", "main", {"e/f.txt": "a file in a directory\n"})  # file/directory conflict
    commit_on(repo, "s/rename-c", "main", {"c2/new.txt": "from the renamer\n"}, moves=[("c", "c2")])
    commit_on(repo, "s/add-in-c", "main", {"c/new.txt": "from the adder\n"})  # lands in c2/ by dir rename
    commit_on(repo, "s/idle", "main", {})
    git(repo, "checkout", "-q", "main")
    (repo / "b/y.txt").write_text(edit(5, "main moved"))
    git(repo, "commit", "-q", "-am", "main moves on")
    commit_on(repo, "s/merged-main", "s/one", {"d/w.txt": edit(3, "merged")})
    git(repo, "merge", "-q", "--no-edit", "main")  # forked differently: never prefiltered
    commit_on(repo, "s/b-line5", "main~1", {"b/y.txt": edit(5, "b-line5")})  # conflicts with main's move
    git(repo, "checkout", "-q", "main")
    git(repo, "commit-graph", "write", "--reachable")
    return repo


BRANCHES = ["s/one", "s/two", "s/nine", "s/nine-again", "s/file-e", "s/dir-e", "s/rename-c", "s/add-in-c",
            "s/idle", "s/merged-main", "s/b-line5"]


def per_pair(repo: Path, a: str, b: str) -> tuple[str, ...]:
    result = subprocess.run(["git", "merge-tree", "--write-tree", "--name-only", "--no-messages", a, b],
                            cwd=repo, capture_output=True, text=True)
    assert result.returncode in (0, 1), result.stderr
    return tuple(sorted({aside(f) for f in result.stdout.splitlines()[1:]})) if result.returncode else ()


def aside(path: str) -> str:
    """A file moved aside by a file/directory conflict (``e~<label>``) under its own name."""
    return path.split("~", 1)[0]


def trial_merge(repo: Path, a: str, b: str) -> tuple[str, ...]:
    wt = repo.parent / "trial"
    if not wt.exists():
        git(repo, "worktree", "add", "-q", "--detach", str(wt), "main")
    git(wt, "checkout", "-q", "--detach", a)
    merge = subprocess.run(["git", "merge", "-q", "--no-commit", "--no-ff", b], cwd=wt, capture_output=True,
                           text=True, env=GIT_ENV)
    files = tuple(sorted({aside(f) for f in git(wt, "diff", "--name-only", "--diff-filter=U").split()})) if merge.returncode else ()
    subprocess.run(["git", "merge", "--abort"], cwd=wt, capture_output=True)
    git(wt, "reset", "-q", "--hard")
    return files


def test_matrix_matches_per_pair_merges_with_and_without_prefilter(planted: Path):
    truth = {(a, b): per_pair(planted, a, b) for a, b in combinations(BRANCHES, 2)}
    for prefilter in (True, False):
        matrix = conflict_matrix(str(planted), BRANCHES, base="main", prefilter=prefilter)
        assert {(p.a, p.b): p.files for p in matrix.pairs} == truth
    conflicting = {pair for pair, files in truth.items() if files}
    assert conflicting == {("s/one", "s/two"), ("s/file-e", "s/dir-e"), ("s/rename-c", "s/add-in-c"),
                           ("s/two", "s/merged-main"), ("s/merged-main", "s/b-line5")}
    matrix = conflict_matrix(str(planted), BRANCHES, base="main")
    proved = {(p.a, p.b) for p in matrix.pairs if p.method == "prefilter"}
    assert ("s/one", "s/nine") not in proved  # same file: merged
    assert ("s/one", "s/idle") in proved and ("s/file-e", "s/rename-c") in proved
    assert not any("s/merged-main" in pair for pair in proved)


@pytest.mark.parametrize("pair", [("s/one", "s/two"), ("s/file-e", "s/dir-e"), ("s/rename-c", "s/add-in-c"),
                                  ("s/one", "s/nine")])
def test_matrix_agrees_with_a_trial_merge(planted: Path, pair):
    matrix = conflict_matrix(str(planted), list(pair), base="main")
    assert matrix.pairs[0].files == trial_merge(planted, *pair)


def test_missing_branches_are_listed(planted: Path):
    matrix = conflict_matrix(str(planted), ["s/one", "s/nope", "s/two"], base="main")
    assert matrix.missing == ("s/nope",) and len(matrix.pairs) == 1 and matrix.conflicts


def test_dispatch_conflicts_on_agent_branches(tmp_path: Path):
    root, plan = sprint_repo(tmp_path)
    for agent, text in (("data", "# data\n"), ("backend", "# backend\n")):
        git(root, "checkout", "-q", "-b", f"sprint-01/{agent}", "main")
        (root / "bookshop" / "store.py").write_text(text)
        git(root, "commit", "-q", "-am", agent)
    git(root, "checkout", "-q", "main")
    result = run_cli(root, "conflicts", str(plan), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["conflicts"] == [{"a": "sprint-01/data", "b": "sprint-01/backend", "files": ["bookshop/store.py"]}]
    assert set(data["missing"]) == {"sprint-01/qa", "sprint-01/services", "sprint-01/frontend", "sprint-01/lead"}
    text = run_cli(root, "conflicts", str(plan)).stdout
    assert "CONFLICT  data × backend: bookshop/store.py" in text


def test_planned_overlaps_from_fix_sites_and_territories(tmp_path: Path):
    root, plan_path = sprint_repo(tmp_path)
    text = plan_path.read_text().replace("fix_site: bookshop/cli.py render_report()",
                                         "fix_site: bookshop/api.py stock_report() and bookshop/cli.py render_report()")
    plan_path.write_text(text.replace("fix_site: bookshop/api.py sell()", "fix_site: bookshop/api.py sell()"))
    result = run_cli(root, "conflicts", str(plan_path), "--planned", "--json")
    assert result.returncode == 0, result.stderr
    found = {(o["kind"], o["a"], o["b"], tuple(o["files"])) for o in json.loads(result.stdout)}
    assert found == {("fix-site-outside-territory", "frontend", "backend", ("bookshop/api.py",)),
                     ("same-fix-site", "backend", "frontend", ("bookshop/api.py",))}
    # Overlapping territories (which `validate` rejects) are reported too.
    plan = load_plan(root / EXAMPLE_PLAN).plan
    both = plan.model_copy(update={"agents": tuple(
        a.model_copy(update={"territory": a.territory.model_copy(update={"include": (*a.territory.include, "tests/checks.py")})})
        if a.name == "lead" else a for a in plan.agents)})
    overlaps = planned_overlaps(both, git(root, "ls-files").split())
    assert [(o.kind, o.a, o.b, o.files, o.same_wave) for o in overlaps if o.kind == "territory"] == [
        ("territory", "qa", "lead", ("tests/checks.py",), False)]


def test_fix_site_paths():
    assert fix_site_paths("bookshop/store.py Inventory.remove()") == ["bookshop/store.py"]
    assert fix_site_paths("tests/test_guards.py (CREATE — new file)") == ["tests/test_guards.py"]
    assert fix_site_paths("`app/a.go` handler() and README.md") == ["app/a.go", "README.md"]
    assert fix_site_paths("the handler in src/") == []
