"""Stack detection for `dispatch init`: commands from manifests, lockfiles, test config, Makefiles."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent_dispatch import git as agit
from agent_dispatch.plan.stack import Stack, detect_stack, make_targets
from conftest import make_repo


def detect(tmp_path: Path, files: dict[str, str]) -> Stack:
    """Commit ``files`` in a fresh repository and detect its stack from the tracked files."""
    repo = tmp_path / "repo"
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    make_repo(repo)
    return detect_stack(repo, agit.list_tracked_files(repo))


UNITTEST_CASE = "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
PACKAGE = {"scripts": {"build": "vite build", "test": "vitest run", "lint": "eslint ."}}

CASES = {
    "python-pytest": (
        {"pyproject.toml": "[tool.pytest.ini_options]\n[tool.ruff]\n[tool.mypy]\n", "app/__init__.py": "",
         "tests/test_a.py": "def test_a():\n    assert True\n"},
        ("python", "python -m compileall -q app tests", "python -m pytest -q", "ruff check . && mypy .")),
    "python-unittest": (
        {"setup.py": "", "lib/__init__.py": "", "tests/__init__.py": "", "tests/test_a.py": UNITTEST_CASE},
        ("python", "python -m compileall -q lib tests", "python -m unittest discover -s tests -q", None)),
    "python-pytest-by-import": (
        {"requirements.txt": "requests\n", "svc.py": "", "test/test_svc.py": "import pytest\n"},
        ("python", "python -m compileall -q svc.py test", "python -m pytest -q", None)),
    "python-src-layout-uv": (
        {"pyproject.toml": "[project]\nname='x'\n[dependency-groups]\ndev=['pytest']\n", "uv.lock": "",
         "src/pkg/__init__.py": "", "tests/test_pkg.py": ""},
        ("python", "uv run python -m compileall -q src tests", "PYTHONPATH=src uv run python -m pytest -q",
         None)),
    "node-npm": (
        {"package.json": json.dumps(PACKAGE), "package-lock.json": "{}", "src/index.js": ""},
        ("node", "npm run build", "npm test", "npm run lint")),
    "node-pnpm-typescript": (
        {"package.json": json.dumps({"scripts": {"test": "jest"}, "devDependencies": {"typescript": "5"}}),
         "pnpm-lock.yaml": "", "tsconfig.json": "{}", "src/a.ts": ""},
        ("node", "pnpm exec tsc --noEmit", "pnpm test", None)),
    "node-yarn": (
        {"package.json": json.dumps(PACKAGE), "yarn.lock": ""},
        ("node", "yarn run build", "yarn test", "yarn run lint")),
    "go": ({"go.mod": "module x\n", "main.go": "package main\n"},
           ("go", "go build ./...", "go test -race ./...", "go vet ./...")),
    "rust": ({"Cargo.toml": "[package]\nname='x'\n", "src/main.rs": "fn main(){}\n"},
             ("rust", "cargo build", "cargo test", "cargo clippy --all-targets")),
    "elixir": ({"mix.exs": "defmodule X.MixProject do\nend\n"},
               ("elixir", "mix compile --warnings-as-errors", "mix test", "mix format --check-formatted")),
    "maven-wrapper": ({"pom.xml": "<project/>", "mvnw": ""},
                      ("java", "./mvnw -B -q compile", "./mvnw -B -q test", None)),
    "gradle": ({"build.gradle.kts": "", "src/main/kotlin/A.kt": ""},
               ("java", "gradle assemble", "gradle test", None)),
    "php": ({"composer.json": "{}", "phpunit.xml": ""},
            ("php", "composer install --no-interaction", "./vendor/bin/phpunit", None)),
    "cmake": ({"CMakeLists.txt": "", "src/main.cpp": ""},
              ("cmake", "cmake -S . -B build && cmake --build build",
               "cd build && ctest --output-on-failure", None)),
    "rails": ({"Gemfile": "gem 'rails'\ngem 'rspec-rails'\n", "config/application.rb": "",
               "spec/a_spec.rb": ""},
              ("rails", "bundle exec rails db:migrate", "bundle exec rspec", None)),
    "makefile": ({"Makefile": ".PHONY: build test lint\nbuild:\n\tcc -o x x.c\ntest: build\n\t./x\n"
                              "lint:\n\ttrue\n",
                  "x.c": "int main(){return 0;}\n"},
                 ("make", "make build", "make test", "make lint")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_detect_stack(tmp_path: Path, case: str):
    files, (name, build, test, lint) = CASES[case]
    stack = detect(tmp_path, files)
    assert (stack.name, stack.build, stack.test, stack.lint) == (name, build, test, lint)


def test_setup_commands_follow_the_lockfiles(tmp_path: Path):
    assert detect(tmp_path / "a", {"package.json": "{}", "package-lock.json": "{}"}).setup == "npm ci"
    assert detect(tmp_path / "b", {"package.json": "{}", "pnpm-lock.yaml": ""}).setup == "pnpm install"
    requirements = detect(tmp_path / "c", {"requirements.txt": "", "a.py": ""})
    assert requirements.setup == "pip install -r requirements.txt"
    assert detect(tmp_path / "d", {"go.mod": "module x\n"}).setup == "go mod download"
    editable = detect(tmp_path / "e", {"pyproject.toml": "[project]\n", "a.py": ""})
    assert editable.setup is None and "editable install" in editable.notes[0]


def test_missing_test_script_is_a_failing_placeholder_with_a_note(tmp_path: Path):
    default_test = 'echo "Error: no test specified" && exit 1'
    stack = detect(tmp_path, {"package.json": json.dumps({"scripts": {"test": default_test}})})
    assert "no test script" in stack.notes[-1]
    result = subprocess.run(["bash", "-c", stack.test], capture_output=True, text=True)
    assert result.returncode == 1 and "test_command" in result.stderr
    assert stack.build == "true" and "no build script" in stack.notes[0]


def test_unknown_stack_fails_loudly(tmp_path: Path):
    stack = detect(tmp_path, {"notes.txt": "hello\n"})
    assert stack.name == "unknown" and stack.notes
    assert subprocess.run(["bash", "-c", stack.build], capture_output=True).returncode == 1


def test_makefile_drives_a_multi_service_repository(tmp_path: Path):
    stack = detect(tmp_path, {
        "Makefile": "build:\n\tmake -C api build\ntest:\n\tmake -C api test\nsetup:\n\ttrue\n",
        "api/go.mod": "module api\n", "web/package.json": json.dumps(PACKAGE), "web/yarn.lock": "",
        "examples/demo/Cargo.toml": "",  # a sample, not a service
    })
    assert (stack.name, stack.build, stack.test) == ("make", "make build", "make test")
    assert stack.setup == "make setup"
    assert [(c.path, c.name) for c in stack.components] == [("api/", "go"), ("web/", "node")]


def test_services_without_a_makefile_run_in_their_folders(tmp_path: Path):
    stack = detect(tmp_path, {"api/go.mod": "module api\n", "web/package.json": json.dumps(PACKAGE),
                              "web/package-lock.json": "{}"})
    assert stack.name == "multi"
    assert stack.build == "(cd api && go build ./...) && (cd web && npm run build)"
    assert stack.test == "(cd api && go test -race ./...) && (cd web && npm test)"
    assert stack.setup == "(cd api && go mod download) && (cd web && npm ci)"


def test_one_service_in_a_folder_keeps_its_stack(tmp_path: Path):
    stack = detect(tmp_path, {"server/Cargo.toml": "", "README.md": ""})
    assert (stack.name, stack.path, stack.build) == ("rust", "server/", "(cd server && cargo build)")


def test_root_language_beats_its_own_makefile_and_workspaces(tmp_path: Path):
    stack = detect(tmp_path, {"go.mod": "module x\n", "Makefile": "build:\n\tgo build\ntest:\n\tgo test\n",
                              "tools/go.mod": "module tools\n"})
    assert (stack.name, stack.build) == ("go", "go build ./...")


def test_make_targets():
    text = ".PHONY: all check\nall: x\nx.o: x.c\n\tcc -c x.c\nVAR := 1\ncheck:\n\ttrue\n"
    assert make_targets(text) == {"all", "check", "x.o"}


def test_stray_python_files_do_not_make_a_python_project(tmp_path: Path):
    make = detect(tmp_path / "a", {"Makefile": "test:\n\t./run\n", "main.c": "", "docs/conf.py": "",
                                   "tools/gen.py": ""})
    assert (make.name, make.test) == ("make", "make test")
    web = detect(tmp_path / "b", {"web/package.json": json.dumps(PACKAGE), "scripts/deploy.py": ""})
    assert (web.name, web.path, web.test) == ("node", "web/", "(cd web && npm test)")
