"""`dispatch init`: territory proposal, scan-seeded chains, and a written plan that validates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest

from agent_dispatch import git as agit
from agent_dispatch.commands.init import init_project
from agent_dispatch.errors import FatalError
from agent_dispatch.plan.lint import placeholder_chains
from agent_dispatch.plan.loader import load_plan
from agent_dispatch.plan.propose import FileIndex
from agent_dispatch.plan.territory import TerritoryMatcher, owners_by_file
from agent_dispatch.plan.validate import errors_only, validate
from conftest import EXAMPLE, make_repo

PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")


def commit_all(repo: Path, message: str = "initial") -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd=repo,
                   check=True)


@pytest.fixture
def bookshop(tmp_path: Path) -> Path:
    """A committed copy of the bookshop example without its hand-written sprint plans."""
    repo = tmp_path / "shop"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(repo / "docs" / "agent-dispatch" / "sprints")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    commit_all(repo)
    return repo


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=cwd, capture_output=True,
                          text=True)


def check_plan(repo: Path):
    """The written plan, after asserting it validates with no errors but its placeholder chains (the
    STARTER chains the user must rewrite) and one owner per file."""
    loaded = load_plan(repo / PLAN)
    files = agit.list_tracked_files(repo)
    assert set(errors_only(validate(loaded, files))) == set(placeholder_chains(loaded))
    assert all(len(owners) <= 1 for owners in owners_by_file(loaded.plan, files).values())
    return loaded.plan


def owner(plan, path: str) -> str | None:
    names = owners_by_file(plan, [path])[path]
    return names[0] if names else None


def test_cli_init_on_the_bookshop_writes_a_plan_that_validates(bookshop: Path):
    result = run_cli(bookshop, "init", "--json", "--goal", "Selling more copies than stocked must fail")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["plan"] == str(bookshop / PLAN)
    # data, backend, services and frontend got STARTER chains: the plan is not valid until it is rewritten
    assert summary["valid"] is False and summary["placeholders"] == 4
    plan = check_plan(bookshop)

    # layers of the flat package are assigned by module name
    expected = {"bookshop/models.py": "data", "bookshop/store.py": "data", "bookshop/api.py": "backend",
                "bookshop/pricing.py": "services", "bookshop/cli.py": "frontend",
                "tests/test_store.py": "qa", "tests/checks.py": "qa", "README.md": "lead",
                "docs/architecture.md": "lead"}
    assert {path: owner(plan, path) for path in expected} == expected
    assert summary["unassigned"] == [".gitignore", "bookshop/__init__.py"]
    assert all(owner(plan, path) is None for path in summary["unassigned"])

    sprint = plan.sprint
    assert (sprint.id, sprint.base_branch, sprint.tool) == ("sprint-01", "main", "claude")
    assert sprint.goal == "Selling more copies than stocked must fail"
    assert sprint.test_command == "python -m unittest discover -s tests -q"
    assert sprint.build_command == "python -m compileall -q bookshop tests"
    assert [(w.number, w.agents, w.depends_on) for w in plan.waves] == [
        (1, ("data", "qa"), ()), (2, ("backend", "services"), (1,)), (3, ("frontend",), (2,)),
        (5, ("lead",), (3,))]
    assert plan.merge_order == ("data", "backend", "services", "frontend", "qa", "lead")
    assert plan.scaling.max_agents_per_wave == 8

    # every coding agent has a chain naming a real file (or a test file QA creates); LEAD has none
    for agent in plan.agents:
        assert bool(agent.chains) == (agent.role != "LEAD")
        for chain in agent.chains:
            site = chain.fix_site.split()[0].split(":")[0]
            assert (bookshop / site).exists() or "CREATE" in chain.fix_site
    assert plan.agent("data").chains[0].title.startswith("STARTER")
    qa_chain = plan.agent("qa").chains[0]
    assert qa_chain.title == "Add tests for bookshop/pricing.py"
    assert "pricing.apply_discount()" in qa_chain.vector and owner(plan, "tests/test_pricing.py") == "qa"

    validate_run = run_cli(bookshop, "validate", str(PLAN))
    assert validate_run.returncode == 2, validate_run.stdout
    assert "placeholder written by `dispatch init`" in validate_run.stdout + validate_run.stderr


def rewrite_starters(repo: Path) -> None:
    """Replace the STARTER chains of the plan at ``repo`` with a real one, as a user would."""
    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load((repo / PLAN).read_text())
    for agent in data["agents"]:
        for chain in agent["chains"]:
            if chain["title"].startswith("STARTER"):
                chain.update(title="Selling more copies than stocked succeeds",
                             vector="api.sell() → store.Store.remove() lets stock go negative",
                             signal="sell 3 of a book with 2 in stock: succeeds, stock is -1",
                             fix_site="bookshop/store.py Store.remove()",
                             verify="`python -m unittest discover -s tests -q` passes")
    with (repo / PLAN).open("w") as f:
        yaml.dump(data, f)


def test_starter_chains_are_a_validation_error_until_rewritten(bookshop: Path):
    """Defect 4: dispatching the unedited starter plan sends an agent a made-up task."""
    assert init_project(bookshop, as_json=True) == 0
    result = run_cli(bookshop, "validate", str(PLAN))
    assert result.returncode == 2
    text = result.stdout + result.stderr
    assert "chains[0].title" in text and "hint: rewrite its title" in text
    rewrite_starters(bookshop)
    again = run_cli(bookshop, "validate", str(PLAN))
    assert again.returncode == 0, again.stdout + again.stderr


def test_human_summary_names_stack_agents_and_next_steps(bookshop: Path, capsys):
    assert init_project(bookshop, theme="Stock and money") == 0
    out = capsys.readouterr().out
    assert "stack: Python (unittest)" in out and "test   python -m unittest discover -s tests -q" in out
    assert "data" in out and "**/store.py" in out and "unassigned: 2 file(s): .gitignore" in out
    assert f"dispatch validate {bookshop / PLAN}" in out and f"dispatch render {bookshop / PLAN}" in out
    assert "4 STARTER chain(s) to rewrite before it validates" in out
    text = (bookshop / PLAN).read_text()
    assert text.startswith("# Starter sprint plan written by `dispatch init`")
    assert "theme: Stock and money" in text


def test_scan_hits_seed_chains_with_file_and_line(bookshop: Path, capsys):
    api = bookshop / "bookshop" / "api.py"
    api.write_text(api.read_text() + "\n\ndef refund(sale):\n    # FIXME: refunds never restock\n"
                   "    raise NotImplementedError\n")
    store = bookshop / "bookshop" / "store.py"
    store.write_text(store.read_text() + "\n\ndef load(path):\n    try:\n        return open(path).read()\n"
                     "    except Exception:\n        pass\n")
    commit_all(bookshop, "markers")
    init_project(bookshop)
    plan = check_plan(bookshop)
    backend = plan.agent("backend").chains
    lines = api.read_text().splitlines()
    stub = lines.index("    raise NotImplementedError") + 1
    assert backend[0].priority == "P1" and backend[0].fix_site == f"bookshop/api.py:{stub} refund()"
    assert "raise NotImplementedError" in backend[0].signal
    data = plan.agent("data").chains[0]
    assert data.title.startswith("Error silently ignored at bookshop/store.py:")
    assert "load()" in data.fix_site


def test_init_refuses_to_overwrite_without_force(bookshop: Path):
    assert init_project(bookshop, as_json=True) == 0
    first = (bookshop / PLAN).read_text()
    again = run_cli(bookshop, "init", "--theme", "other")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "--force" in again.stderr and "--sprint sprint-02" in again.stderr
    assert (bookshop / PLAN).read_text() == first
    forced = run_cli(bookshop, "init", "--force", "--theme", "other")
    assert forced.returncode == 0, forced.stderr
    assert "theme: other" in (bookshop / PLAN).read_text()


def test_init_outside_a_repository_fails_with_a_hint(tmp_path: Path):
    result = run_cli(tmp_path, "init")
    assert result.returncode == 1 and "not inside a git repository" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "docs").exists()


def test_bad_options_are_refused_before_anything_is_written(bookshop: Path, capsys):
    with pytest.raises(FatalError, match="invalid --sprint"):
        init_project(bookshop, sprint="../x")
    with pytest.raises(FatalError, match="unknown --tool 'vim'"):
        init_project(bookshop, tool="vim")
    assert not (bookshop / "docs" / "agent-dispatch" / "sprints").exists()
    init_project(bookshop, sprint="sprint-07", tool="codex", as_json=True)
    summary = json.loads(capsys.readouterr().out)
    assert summary["plan"].endswith("sprints/sprint-07/dispatch.yaml")
    assert load_plan(summary["plan"]).plan.sprint.tool == "codex"


def test_go_layers_carve_tests_out_for_qa_and_share_manifests(tmp_path: Path, capsys):
    repo = tmp_path / "svc"
    files = {"go.mod": "module svc\n", "go.sum": "", "cmd/svc/main.go": "package main\n\nfunc main() {}\n",
             "internal/handler/orders.go": "package handler\n\n// TODO: check the order id\n"
                                           "func Create() {}\n",
             "internal/store/orders.go": "package store\n\nfunc Insert() {}\n",
             "internal/store/orders_test.go": "package store\n",
             "Dockerfile": "FROM scratch\n", "README.md": "# svc\n"}
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    make_repo(repo)
    init_project(repo, as_json=True)
    summary = json.loads(capsys.readouterr().out)
    plan = check_plan(repo)
    assert {a.name for a in plan.agents} == {"data", "qa", "infra", "backend", "lead"}
    assert "**/*_test.go" in plan.agent("data").territory.exclude
    assert owner(plan, "internal/store/orders_test.go") == "qa"
    assert owner(plan, "internal/handler/orders_test.go") == "qa"  # a test QA adds later has one owner too
    assert {(s.path, s.owner, s.policy) for s in plan.shared_files} == {("go.mod", "infra", "add-only"),
                                                                         ("go.sum", "infra", "any")}
    assert plan.agent("backend").chains[0].fix_site == "internal/handler/orders.go:3"
    assert summary["stack"]["test_command"] == "go test -race ./..." and summary["unassigned"] == []


def test_code_without_layers_goes_to_one_backend_agent(tmp_path: Path, capsys):
    repo = tmp_path / "tool"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    (repo / "src" / "parse.c").write_text("int parse(void) { return 1; }\n")
    make_repo(repo)
    init_project(repo, as_json=True)
    summary = json.loads(capsys.readouterr().out)
    plan = check_plan(repo)
    assert [a.name for a in plan.agents] == ["backend", "lead"]
    assert plan.agent("backend").territory.include == ("src/",)
    assert any("BACKEND owns all the source code" in n for n in summary["notes"])


def test_repository_with_nothing_to_own_is_refused(tmp_path: Path):
    repo = make_repo(tmp_path / "bare")
    with pytest.raises(FatalError, match="no territory could be proposed"):
        init_project(repo)


@pytest.mark.parametrize("pattern", ["tests/", "**/store.py", "internal/store/", "**/*_test.go", "Makefile",
                                     "*.test.*", "docs/", "src/app/", "test_*.py", ".env*", "a/**/b/"])
def test_file_index_matches_like_pathspec(pattern: str):
    paths = ["tests/a.py", "pkg/tests/b.py", "store.py", "x/store.py", "internal/store/s.go",
             "a/internal/store/x", "x_test.go", "m/x_test.go", "Makefile", "sub/Makefile", "a.test.ts",
             "docs/r.md", "src/app/x.ts",
             "test_a.py", "q/test_b.py", ".env.example", "a/x/b/c", "a/b/c"]
    spec = pathspec.GitIgnoreSpec.from_lines([pattern])
    assert FileIndex(paths).matches(pattern) == [p for p in paths if spec.match_file(p)]
    assert TerritoryMatcher((pattern,), ()).outside(FileIndex(paths).matches(pattern)) == []


def test_scan_skips_abstract_methods_and_documented_fallbacks(tmp_path: Path):
    """Defect 9: init proposed P1 chains for an abstract method's `raise NotImplementedError()` and
    for an intentional, commented fallback. The interface methods of pathspec's `_Backend` and
    `Pattern` (plain `object` bases, the raise's message says "must be implemented" / "must
    override") count as abstract too."""
    from agent_dispatch.plan.propose import scan_file

    (tmp_path / "signer.py").write_text('''import abc


class Signer(abc.ABC):
    """Signs payloads."""

    def sign(self, data: bytes) -> bytes:
        """Return the signature of ``data``.

        Long explanation of the contract, over many lines,
        so that no decorator is near the raise below.
        More words.
        Even more words.
        """
        raise NotImplementedError()


class Base:
    @abc.abstractmethod
    def verify(self, data):
        """Check it.

        Lines.
        More lines.
        Even more lines.
        And more.
        """
        raise NotImplementedError


class Plugin:
    def load(self):
        """Subclasses override this to load their key."""
        raise NotImplementedError


class Backend(object):
    """The abstract base class of the matching backends."""

    def match(self, path):
        """Check one path.

        Returns a tuple, explained here at length
        over several lines.
        Still more.
        """
        raise NotImplementedError((
            f"{self.__class__.__qualname__}.match() "
            f"must be implemented."
        ))


class Pattern(object):
    def match_file(self, file):
        """Match one file."""
        raise NotImplementedError((
            "{cls.__qualname__} must override match_file()."
        ).format(cls=self.__class__))


def fast_hash(data):
    try:
        import xxhash
        return xxhash.xxh64(data).hexdigest()
    except Exception:  # optional accelerator: fall back to hashlib below
        pass
    try:
        return data.hex()
    except Exception:
        # documented fallback: the caller retries with the pure-Python path
        pass


def unfinished(x):
    raise NotImplementedError


def careless(path):
    try:
        return open(path).read()
    except Exception:
        pass
''')
    hits = [(h.kind, h.function) for h in scan_file(tmp_path, "signer.py")]
    assert hits == [("stub", "unfinished"), ("swallowed", "careless")]


def test_init_leaves_out_a_lint_command_that_is_not_installed(bookshop: Path, monkeypatch, capsys):
    """Defect 9: PART 7 said `ruff check . && mypy .` "must pass" although neither was installed."""
    (bookshop / "pyproject.toml").write_text("[project]\nname = 'bookshop'\n\n[tool.ruff]\n\n[tool.mypy]\n")
    commit_all(bookshop, "tool config")
    tools = bookshop.parent / "bin"
    tools.mkdir()
    for name in ("git", "python"):
        (tools / name).symlink_to(shutil.which(name))
    monkeypatch.setenv("PATH", str(tools))
    assert init_project(bookshop) == 0
    out = capsys.readouterr().out
    assert "lint command `ruff check . && mypy .` not written into the plan: ruff, mypy not installed" in out
    assert load_plan(bookshop / PLAN).plan.sprint.lint_command is None
    for name in ("ruff", "mypy"):
        (tools / name).write_text("#!/bin/sh\nexit 0\n")
        (tools / name).chmod(0o755)
    assert init_project(bookshop, force=True) == 0
    assert load_plan(bookshop / PLAN).plan.sprint.lint_command == "ruff check . && mypy ."
    assert "not installed" not in capsys.readouterr().out
