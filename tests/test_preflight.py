"""Gate 1 checks every agent's tool and the sprint's commands before any branch or worktree exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_dispatch.agents.preflight import check_tool
from agent_dispatch.checkrun import command_programs, missing_programs
from conftest import git
from test_engine import PLAN, dispatch, sprint_repo


def fake_cli(folder: Path, name: str, version_line: str, code: int = 0) -> Path:
    """An executable that answers ``--version`` like a real CLI would."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho '{version_line}'\nexit {code}\n")
    exe.chmod(0o755)
    return exe


def test_command_programs_reads_every_simple_command():
    assert command_programs("ruff check . && mypy .") == ["ruff", "mypy"]
    assert command_programs("FOO=1 make test | tee out; ./gradlew build") == ["make", "tee", "./gradlew"]
    assert command_programs("cd app && env X=1 pytest -q 2>&1 > log") == ["pytest"]
    assert command_programs("if true; then go test ./...; fi") == ["go"]
    assert command_programs("echo 'a && b'") == []


def test_missing_programs_checks_path_and_repository_files(tmp_path: Path):
    fake_cli(tmp_path / "bin", "build.sh", "ok")
    assert missing_programs("bin/build.sh && no-such-tool-xyz --all", tmp_path) == ["no-such-tool-xyz"]
    assert missing_programs("./missing.sh", tmp_path) == ["./missing.sh"]


def test_check_tool_finds_the_cli_and_prints_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing = check_tool("alpha", "codex", None, tmp_path)
    assert not missing.ok and "'codex'" in missing.problem and "is not on PATH" in missing.problem
    monkeypatch.setenv("PATH", f"{fake_cli(tmp_path / 'bin', 'codex', 'codex-cli 9.9.9').parent}{os.pathsep}/usr/bin:/bin")
    found = check_tool("alpha", "codex", None, tmp_path)
    assert found.ok and found.version == "codex-cli 9.9.9"
    assert found.line() == f"alpha: codex {tmp_path / 'bin' / 'codex'} (codex-cli 9.9.9)"
    fake_cli(tmp_path / "bin", "codex", "segfault", code=3)
    broken = check_tool("alpha", "codex", None, tmp_path)
    assert not broken.ok and "failed `--version` (exit 3: segfault)" in broken.problem


def test_gate1_refuses_missing_tools_and_commands_before_creating_anything(tmp_path: Path):
    """Defect 4: a CLI that is not installed was found only after branches and worktrees existed."""
    repo = sprint_repo(tmp_path, {}, commands={"beta": ["no-such-agent-cli", "--go"]},
                       test_command="no-such-test-runner -q")
    result = dispatch(repo, "run", str(PLAN), "--yes")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "gate 1 (preflight) failed; nothing was created" in out
    assert "beta: command program 'no-such-agent-cli' is not installed" in out
    assert "sprint.test_command `no-such-test-runner -q` runs no-such-test-runner, which is not installed" in out
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert len(git(repo, "worktree", "list", "--porcelain").split("worktree ")) == 2  # the main checkout only
    assert not any(p.name.startswith("proj-") for p in tmp_path.iterdir() if p.is_dir())


def test_the_tools_checks_leave_no_bytecode_in_the_worktree(tmp_path: Path):
    """Defect 10: a build (`compileall`) or test run of the tool's own left __pycache__/*.pyc in the
    agent's worktree, blamed on the agent as uncommitted work outside its territory."""
    from agent_dispatch.checkrun import run_check

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "m.py").write_text("X = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_m.py").write_text("import unittest\nimport pkg.m\n\n\nclass T(unittest.TestCase):\n"
                                                  "    def test_x(self):\n        self.assertEqual(pkg.m.X, 1)\n")
    build = run_check("build", "build", "python -m compileall -q pkg tests", tmp_path, timeout=60)
    test = run_check("test", "test", "python -m unittest discover -s tests -q", tmp_path, timeout=60)
    assert build.ok and test.ok, build.output + test.output
    assert [p for p in tmp_path.rglob("*") if "__pycache__" in p.parts] == []


def test_package_data_ships_every_file_of_the_example():
    """Defect 10: the wheel lacked the example's .gitignore (package-data globs skip dotfiles)."""
    import glob
    import tomllib

    from conftest import ROOT

    package = ROOT / "src" / "agent_dispatch"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in patterns["agent_dispatch"] for p in glob.glob(pattern, root_dir=package, recursive=True)}
    example = package / "examples"
    files = {str(p.relative_to(package)) for p in example.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert ".gitignore" in {Path(f).name for f in files}
    assert files - shipped == set()
