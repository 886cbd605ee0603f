"""The merge train: modes and their validation counts, additive resolution, returned culprits,
and the base branch only ever on validated trees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_dispatch.merge.chain import Candidate, build_chain
from agent_dispatch.merge.resolve import resolve_additive
from agent_dispatch.merge.train import Train
from agent_dispatch.merge.validation import ValidationPool
from conftest import assert_base_moves_validated, git, make_repo
from test_engine import PLAN, dispatch, events, sprint_repo, write_value

CHECK = """import pathlib, sys
for f in pathlib.Path("parts").glob("*.txt"):
    t = f.read_text()
    if t.startswith("clash:") and (f.parent / (t[6:].strip() + ".txt")).exists():
        sys.exit(f"{f.name} clashes with {t[6:].strip()}")
"""


def parts_repo(tmp_path: Path, n: int, bad: dict[int, int]) -> tuple[Path, list[Candidate]]:
    repo = tmp_path / "parts-repo"
    (repo / "parts").mkdir(parents=True)
    (repo / "check.py").write_text(CHECK)
    (repo / "parts" / "base.txt").write_text("ok\n")
    make_repo(repo)
    candidates = []
    for i in range(n):
        git(repo, "checkout", "-q", "-b", f"s/b{i}", "main")
        (repo / "parts" / f"b{i}.txt").write_text(f"clash:b{bad[i]}\n" if i in bad else "ok\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"b{i}")
        candidates.append(Candidate(f"b{i}", "BACKEND", f"s/b{i}"))
    git(repo, "checkout", "-q", "main")
    return repo, candidates


@pytest.mark.parametrize("mode,slots", [("serial", 1), ("batch", 1), ("batch", 2), ("strict", 2)])
def test_train_modes_find_the_same_culprits(tmp_path: Path, mode: str, slots: int):
    repo, candidates = parts_repo(tmp_path, 12, {5: 2, 9: 7})
    pool = ValidationPool(repo, tmp_path / "validate", build="python -c pass", test="python check.py", slots=slots)
    start = git(repo, "rev-parse", "main").strip()
    result = Train(str(repo), pool, sprint="s").run(start, candidates, mode)
    assert sorted(result.culprits) == ["b5", "b9"]
    assert [link.candidate.agent for link in result.accepted] == [f"b{i}" for i in range(12) if i not in (5, 9)]
    tree = git(repo, "ls-tree", "--name-only", result.tip, "parts/").split()
    assert "parts/b5.txt" not in tree and "parts/b11.txt" in tree
    if mode == "serial":
        assert result.runs == 12
    if mode == "batch" and slots == 1:
        assert result.runs <= 1 + 2 * (4 + 1)  # 1 + k(ceil(log2 N) + 1)
    if mode == "strict":
        assert result.rounds <= 12 // 2 + 2


def test_additive_resolution_of_json_and_lines():
    merged = resolve_additive("package.json", '{"dependencies": {"a": "1"}}\n',
                              '{"dependencies": {"a": "1", "b": "2"}}\n', '{"dependencies": {"a": "1", "c": "3"}}\n')
    assert json.loads(merged)["dependencies"] == {"a": "1", "b": "2", "c": "3"}
    assert resolve_additive("package.json", '{"dependencies": {}}', '{"dependencies": {"x": "1"}}',
                            '{"dependencies": {"x": "2"}}') is None  # same package, two versions
    assert resolve_additive("requirements.txt", "a\n", "a\nb\n", "a\nc\n").splitlines() == ["a", "c", "b"]
    assert resolve_additive("requirements.txt", "a\nb\n", "a\n", "a\nb\nc\n") is None  # one side removed b


def test_textual_conflict_outside_dependency_files_drops_the_later_branch(tmp_path: Path):
    repo = make_repo(tmp_path / "r")
    (repo / "x.py").write_text("v = 0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "x")
    for name, value in (("first", 1), ("second", 2)):
        git(repo, "checkout", "-q", "-b", name, "main")
        (repo / "x.py").write_text(f"v = {value}\n")
        git(repo, "commit", "-q", "-am", name)
    git(repo, "checkout", "-q", "main")
    chain = build_chain(str(repo), git(repo, "rev-parse", "main").strip(),
                        [Candidate("first", "DATA", "first"), Candidate("second", "BACKEND", "second")], sprint="s")
    assert [link.candidate.agent for link in chain.links] == ["first"]
    assert chain.conflicts == {"second": ["x.py"]}


def _validated_trees(repo: Path, log: list[dict]) -> set[str]:
    return {git(repo, "rev-parse", f"{e['data']['commit']}^{{tree}}").strip()
            for e in log if e["type"] == "merge_validation" and e["data"]["ok"]}


def test_shared_dependency_file_conflict_resolved_additively(tmp_path: Path):
    scripts = {
        "alpha": {"default": [{"write": "requirements.txt", "content": "base-lib\nrequests\n"}, *write_value(2)]},
        "beta": {"default": [{"write": "requirements.txt", "content": "base-lib\nrich\n"},
                             {"commit": "add rich"}, {"report": "COMPLETE"}, {"commit": "report"}]},
    }
    extra = {"shared_files": [{"path": "requirements.txt", "owner": "alpha", "policy": "add-only"}]}
    repo = sprint_repo(tmp_path, scripts, extra=extra, same_wave=True, files={"requirements.txt": "base-lib\n"})
    dispatch(repo, "run", str(repo / PLAN), "--yes", check=True)
    assert set(git(repo, "show", "main:requirements.txt").split()) == {"base-lib", "requests", "rich"}
    log = events(repo)
    assert any(e["type"] == "merge_step" and e["data"].get("resolved") == ["requirements.txt"] for e in log)
    head_tree = git(repo, "rev-parse", "main^{tree}").strip()
    assert head_tree in _validated_trees(repo, log)
    assert assert_base_moves_validated(repo, log)


def test_branches_that_break_only_together_return_the_later_one(tmp_path: Path):
    clash = [{"write": "app/b.py", "content": "from app.a import VALUE\nassert VALUE != 2, 'b needs VALUE != 2'\n"},
             {"commit": "b relies on VALUE"}, {"report": "COMPLETE"}, {"commit": "report"}]
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}, "beta": {"default": clash}},
                       same_wave=True, test_command="python -c 'import app.a, app.b'")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1  # partial: beta did not land
    log = events(repo)
    returned = [e for e in log if e["type"] == "agent_returned"]
    assert [e["agent"] for e in returned] == ["beta"]
    message = next(e for e in log if e["type"] == "message_queued" and e["data"]["kind"] == "merge_failed")
    assert "b needs VALUE != 2" in Path(message["data"]["file"]).read_text()
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")  # the earlier one landed
    assert "assert VALUE" not in git(repo, "show", "main:app/b.py")
    assert log[-1]["data"]["outcome"] == "partial"
    # Every move of the base branch went to a validated tree.
    validated = _validated_trees(repo, log)
    for update in (e for e in log if e["type"] == "ref_updated" and e["data"]["new"]):
        assert git(repo, "rev-parse", f"{update['data']['new']}^{{tree}}").strip() in validated
    assert assert_base_moves_validated(repo, log)  # the reflog too: no brief detour either
