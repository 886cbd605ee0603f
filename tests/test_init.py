"""`dispatch init`: stack detection, territory proposal, a starter plan that validates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_dispatch.plan.loader import load_plan
from agent_dispatch.plan.starter import detect_stack
from agent_dispatch.plan.validate import errors_only, validate
from conftest import EXAMPLE, git, make_repo

STACKS = {
    "go": ({"go.mod": "module x\n", "main.go": "package main\n"}, "go build ./...", "go test -race ./..."),
    "rust": ({"Cargo.toml": "[package]\n", "src/main.rs": "fn main(){}\n"}, "cargo build", "cargo test"),
    "node": ({"package.json": json.dumps({"scripts": {"build": "tsc", "test": "vitest"}}), "yarn.lock": ""},
             "yarn run build", "yarn test"),
    "pytest": ({"pyproject.toml": "[tool.pytest.ini_options]\n", "app/__init__.py": "", "tests/test_a.py": ""},
               "python -m compileall -q app", "python -m pytest -q"),
    "unittest": ({"setup.py": "", "lib/__init__.py": "", "tests/test_a.py": ""},
                 "python -m compileall -q lib", "python -m unittest discover -s tests -q"),
    "make": ({"Makefile": "build:\n\ttrue\n"}, "make build", "make test"),
}


@pytest.mark.parametrize("name", list(STACKS))
def test_detect_stack(tmp_path: Path, name: str):
    files, build, test = STACKS[name]
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    stack = detect_stack(tmp_path, list(files))
    assert (stack.build, stack.test) == (build, test)


@pytest.fixture
def bare_example(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", "agent-dispatch"))
    return make_repo(repo)


def run_init(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_dispatch", "init", *args], cwd=repo, capture_output=True,
                          text=True)


def test_init_writes_a_plan_that_validates(bare_example: Path):
    result = run_init(bare_example, "--json", "--goal", "fix stock handling")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    plan_path = bare_example / "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml"
    assert summary["plan"] == str(plan_path)
    loaded = load_plan(plan_path)
    assert errors_only(validate(loaded, git(bare_example, "ls-files").split())) == []
    roles = {a.name: a for a in loaded.plan.agents}
    assert {"data", "backend", "frontend", "qa", "lead"} <= set(roles)
    assert "**/store.py" in roles["data"].territory.include
    assert "**/api.py" in roles["backend"].territory.include
    assert "bookshop/pricing.py" in summary["unassigned"]
    assert loaded.plan.sprint.goal == "fix stock handling"
    assert loaded.plan.sprint.test_command == "python -m unittest discover -s tests -q"
    # coding agents get a chain naming a real file; LEAD gets none
    assert all(a.chains for a in loaded.plan.agents if a.role != "LEAD")
    assert (bare_example / roles["data"].chains[0].fix_site).exists()
    render = subprocess.run([sys.executable, "-m", "agent_dispatch", "render", str(plan_path)], cwd=bare_example,
                            capture_output=True, text=True)
    assert render.returncode == 0, render.stderr


def test_init_scan_seeds_chains_from_markers(bare_example: Path):
    (bare_example / "bookshop" / "api.py").write_text("def sell():\n    # TODO: refuse negative quantities\n    pass\n")
    git(bare_example, "commit", "-qam", "todo")
    assert run_init(bare_example).returncode == 0
    plan = load_plan(bare_example / "docs/agent-dispatch/sprints/sprint-01/dispatch.yaml").plan
    chain = plan.agent("backend").chains[0]
    assert chain.fix_site == "bookshop/api.py:2" and "refuse negative quantities" in chain.signal


def test_init_refuses_to_overwrite_without_force(bare_example: Path):
    assert run_init(bare_example).returncode == 0
    again = run_init(bare_example)
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    assert run_init(bare_example, "--force").returncode == 0


def test_init_outside_a_repository(tmp_path: Path):
    result = run_init(tmp_path)
    assert result.returncode == 1 and "not inside a git repository" in result.stderr
    assert "Traceback" not in result.stderr
