"""Stack detection: the language and tools of a repository and the build, test, lint and setup
commands every agent runs from the root of its worktree (REQ-1.41, REQ-2.03, REQ-2.04).

Only tracked files are read: manifests, lockfiles, test configuration and Makefile targets.
Which stack wins:

- one manifest at the root decides (checked in this order: Go, Rust, Elixir, Java, Ruby, PHP,
  Python, Node, CMake; a repository with only ``.py`` files is Python);
- services in sub-folders (``backend/go.mod``, ``web/package.json``, one or two levels deep) are
  *components*; a root ``Makefile`` with a ``test`` or ``build`` target then drives them all
  (``make build`` / ``make test``), otherwise each component runs in a ``(cd <dir> && ...)``
  sub-shell, joined with ``&&``;
- a command that cannot be detected is written as a failing placeholder (never a silent ``true``)
  and explained in ``notes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

# Folders whose manifests are samples or vendored code, not services of this repository.
IGNORED_DIRS = frozenset({"examples", "example", "samples", "sample", "docs", "vendor", "third_party",
                          "node_modules", "testdata", "fixtures", "test", "tests", "spec", ".github"})
PY_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "Pipfile")


def placeholder(what: str) -> str:
    """A command that fails and says what to set: used when ``what`` could not be detected."""
    return f"echo 'dispatch init found no {what}: set sprint.{what} in dispatch.yaml' >&2; exit 1"


def is_placeholder(command: str) -> bool:
    """True for a command written by :func:`placeholder`."""
    return command.startswith("echo 'dispatch init found no ")


@dataclass(frozen=True)
class Stack:
    """What ``dispatch init`` detected; commands run from the repository root."""

    name: str  # preset key: go node python rails ruby rust elixir java php cmake make multi unknown
    language: str  # for people: "Python (unittest)", "TypeScript (pnpm)"
    build: str
    test: str
    lint: str | None = None
    setup: str | None = None
    path: str = ""  # folder of a component ("backend/"), "" for the root
    evidence: tuple[str, ...] = ()  # the files the decision rests on
    notes: tuple[str, ...] = ()  # what the operator should check or set
    components: tuple[Stack, ...] = ()  # services in sub-folders (multi-service repositories)


@dataclass(frozen=True)
class _Dir:
    """The tracked files under one folder, with paths relative to it."""

    root: Path
    prefix: str
    files: frozenset[str]

    def has(self, *names: str) -> bool:
        return any(n in self.files for n in names)

    def first(self, *names: str) -> str | None:
        return next((n for n in names if n in self.files), None)

    def read(self, name: str, limit: int = 200_000) -> str:
        try:
            with (self.root / self.prefix / name).open(encoding="utf-8", errors="replace") as handle:
                return handle.read(limit)
        except OSError:
            return ""


def _go(d: _Dir) -> Stack:
    golangci = d.first(".golangci.yml", ".golangci.yaml", ".golangci.toml")
    lint = "golangci-lint run" if golangci else "go vet ./..."
    return Stack("go", "Go", "go build ./...", "go test -race ./...", lint, "go mod download",
                 evidence=("go.mod",))


def _rust(d: _Dir) -> Stack:
    return Stack("rust", "Rust", "cargo build", "cargo test", "cargo clippy --all-targets", "cargo fetch",
                 evidence=("Cargo.toml",))


def _elixir(d: _Dir) -> Stack:
    lint = "mix format --check-formatted" + (" && mix credo" if ":credo" in d.read("mix.exs") else "")
    return Stack("elixir", "Elixir", "mix compile --warnings-as-errors", "mix test", lint, "mix deps.get",
                 evidence=("mix.exs",))


def _java(d: _Dir) -> Stack:
    if d.has("pom.xml"):
        mvn = "./mvnw" if d.has("mvnw") else "mvn"
        return Stack("java", "Java (Maven)", f"{mvn} -B -q compile", f"{mvn} -B -q test",
                     evidence=("pom.xml",))
    gradle = "./gradlew" if d.has("gradlew") else "gradle"
    marker = d.first("build.gradle.kts", "build.gradle") or "build.gradle"
    language = "Kotlin (Gradle)" if any(f.endswith(".kt") for f in d.files) else "Java (Gradle)"
    return Stack("java", language, f"{gradle} assemble", f"{gradle} test", evidence=(marker,))


def _ruby(d: _Dir) -> Stack:
    gemfile = d.read("Gemfile")
    rails = d.has("config/application.rb") or bool(re.search(r"""gem\s+['"]rails['"]""", gemfile))
    rspec = "rspec" in gemfile or any(f.startswith("spec/") for f in d.files)
    test = "bundle exec rspec" if rspec else "bundle exec rails test" if rails else "bundle exec rake test"
    lint = "bundle exec rubocop" if d.has(".rubocop.yml") else None
    build = "bundle exec rails db:migrate" if rails else "bundle check"
    return Stack("rails" if rails else "ruby", "Ruby on Rails" if rails else "Ruby", build, test, lint,
                 "bundle install", evidence=("Gemfile",))


def _php(d: _Dir) -> Stack:
    composer = d.read("composer.json")
    test = ("php artisan test" if d.has("artisan") else
            "./vendor/bin/pest" if "pestphp/pest" in composer else "./vendor/bin/phpunit")
    lint = "./vendor/bin/phpstan analyse" if d.first("phpstan.neon", "phpstan.neon.dist") else None
    return Stack("php", "PHP (Laravel)" if d.has("artisan") else "PHP", "composer install --no-interaction",
                 test, lint, "composer install", evidence=("composer.json",))


def _cmake(d: _Dir) -> Stack:
    cpp = any(f.endswith((".cpp", ".cc", ".cxx", ".hpp")) for f in d.files)
    return Stack("cmake", "C++ (CMake)" if cpp else "C (CMake)",
                 "cmake -S . -B build && cmake --build build", "cd build && ctest --output-on-failure",
                 evidence=("CMakeLists.txt",))


def _python_targets(d: _Dir) -> list[str]:
    """Top-level folders and files holding tracked Python code (what compileall should see)."""
    tops = {f.split("/", 1)[0] for f in d.files if f.endswith(".py")}
    return sorted(t for t in tops if not t.startswith(".") and t not in {"docs", "examples", "setup.py"})


def _uses_pytest(d: _Dir, config: str, requirements: str) -> bool:
    if "pytest" in config or "pytest" in requirements or d.has("pytest.ini"):
        return True
    if any(PurePosixPath(f).name == "conftest.py" for f in d.files):
        return True
    tests = [f for f in sorted(d.files) if re.search(r"(^|/)(test_[^/]*|[^/]*_test)\.py$", f)][:20]
    return any(re.search(r"^\s*(import|from) pytest\b", d.read(f), re.M) for f in tests)


def _python(d: _Dir) -> Stack:
    config = d.read("pyproject.toml") + d.read("setup.cfg") + d.read("tox.ini")
    requirement_files = sorted(f for f in d.files if re.fullmatch(r"requirements[\w.-]*\.txt", f))
    requirements = " ".join(d.read(f) for f in requirement_files)
    runner = "uv run " if d.has("uv.lock") else "poetry run " if d.has("poetry.lock") else ""
    src_layout = any(re.fullmatch(r"src/[^/]+/__init__\.py", f) for f in d.files)
    env = "PYTHONPATH=src " if src_layout else ""
    if _uses_pytest(d, config, requirements):
        test, kind = f"{env}{runner}python -m pytest -q", "pytest"
    else:
        start = next((t for t in ("tests", "test") if any(f.startswith(t + "/") for f in d.files)), None)
        test = f"{env}{runner}python -m unittest discover {f'-s {start} ' if start else ''}-q"
        kind = "unittest"
    targets = _python_targets(d) or ["."]
    build = f"{runner}python -m compileall -q {' '.join(targets)}"
    lints = []
    if "[tool.ruff" in config or d.first("ruff.toml", ".ruff.toml") or "ruff" in requirements:
        lints.append(f"{runner}ruff check .")
    if "[tool.mypy" in config or "[mypy" in config or d.first("mypy.ini", ".mypy.ini"):
        lints.append(f"{runner}mypy .")
    setup = ("uv sync" if runner.startswith("uv") else "poetry install" if runner else
             " && ".join(f"pip install -r {f}" for f in requirement_files) or None)
    notes: tuple[str, ...] = ()
    if d.first("pyproject.toml", "setup.py") and not runner:
        notes = ("agents share your Python environment: install the project's dependencies there once; "
                 "an editable install (pip install -e .) would point every worktree at one checkout",)
    evidence = tuple(m for m in PY_MARKERS if d.has(m)) or ("*.py",)
    return Stack("python", f"Python ({kind})", build, test, " && ".join(lints) or None, setup,
                 evidence=evidence, notes=notes)


def _node_manager(d: _Dir, package: dict) -> str:
    declared = str(package.get("packageManager", "")).split("@", 1)[0]
    if declared in {"npm", "pnpm", "yarn", "bun"}:
        return declared
    if d.has("pnpm-lock.yaml"):
        return "pnpm"
    if d.has("yarn.lock"):
        return "yarn"
    return "bun" if d.first("bun.lockb", "bun.lock") else "npm"


def _node(d: _Dir) -> Stack:
    try:
        package = json.loads(d.read("package.json") or "{}")
    except json.JSONDecodeError:
        package = {}
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    if "no test specified" in str(scripts.get("test", "")):
        scripts = {k: v for k, v in scripts.items() if k != "test"}
    deps = {**(package.get("dependencies") or {}), **(package.get("devDependencies") or {})}
    manager = _node_manager(d, package)
    run = f"{manager} run"
    execute = {"npm": "npx", "pnpm": "pnpm exec", "yarn": "yarn", "bun": "bunx"}[manager]
    typescript = d.has("tsconfig.json") or "typescript" in deps
    notes: list[str] = []
    if "build" in scripts:
        build = f"{run} build"
    elif typescript:
        build = f"{execute} tsc --noEmit"
    else:
        build = "true"
        notes.append("package.json has no build script: build_command does nothing")
    if "test" in scripts:
        test = f"{run} test" if manager == "bun" else f"{manager} test"
    elif "vitest" in deps or "jest" in deps:
        test = f"{execute} vitest run" if "vitest" in deps else f"{execute} jest"
    else:
        test = placeholder("test_command")
        notes.append("package.json has no test script: set sprint.test_command")
    lint = " && ".join(f"{run} {s}" for s in ("lint", "typecheck", "type-check") if s in scripts) or None
    setup = {"npm": "npm ci" if d.has("package-lock.json") else "npm install", "pnpm": "pnpm install",
             "yarn": "yarn install", "bun": "bun install"}[manager]
    language = f"{'TypeScript' if typescript else 'JavaScript'} ({manager})"
    return Stack("node", language, build, test, lint, setup, evidence=("package.json",), notes=tuple(notes))


DETECTORS: tuple[tuple[tuple[str, ...], Callable[[_Dir], Stack]], ...] = (
    (("go.mod",), _go),
    (("Cargo.toml",), _rust),
    (("mix.exs",), _elixir),
    (("pom.xml", "build.gradle", "build.gradle.kts"), _java),
    (("Gemfile",), _ruby),
    (("composer.json",), _php),
    (PY_MARKERS, _python),
    (("package.json",), _node),
    (("CMakeLists.txt",), _cmake),
)
MANIFESTS = frozenset(m for markers, _ in DETECTORS for m in markers)


def _detect_dir(d: _Dir) -> Stack | None:
    for markers, detector in DETECTORS:
        if d.has(*markers):
            return detector(d)
    return None


def _loose_python(d: _Dir) -> Stack | None:
    """Python without a manifest: ``.py`` files outside docs, examples, tests and vendored code."""
    if any(f.endswith(".py") and not set(f.split("/")[:-1]) & IGNORED_DIRS for f in d.files):
        return _python(d)
    return None


def _components(root: Path, files: Sequence[str]) -> list[Stack]:
    """Stacks of services living one or two folders deep (``backend/``, ``services/api/``)."""
    prefixes: set[str] = set()
    for f in files:
        parts = f.split("/")
        if 2 <= len(parts) <= 3 and parts[-1] in MANIFESTS and not set(parts[:-1]) & IGNORED_DIRS:
            prefixes.add("/".join(parts[:-1]) + "/")
    found: list[Stack] = []
    for prefix in sorted(prefixes, key=lambda p: (p.count("/"), p)):
        if any(prefix.startswith(c.path) for c in found):
            continue  # a package inside a service (workspaces) belongs to that service
        sub = _Dir(root, prefix, frozenset(f[len(prefix):] for f in files if f.startswith(prefix)))
        stack = _detect_dir(sub)
        if stack:
            found.append(replace(stack, path=prefix, evidence=tuple(prefix + e for e in stack.evidence)))
    return found


def make_targets(text: str) -> set[str]:
    """Target names defined in a Makefile (rules and ``.PHONY`` lists)."""
    targets = set(re.findall(r"^([A-Za-z0-9][\w.-]*)\s*:(?!=)", text, re.M))
    for phony in re.findall(r"^\.PHONY\s*:(.*)$", text, re.M):
        targets.update(phony.split())
    return targets


def _make(d: _Dir, name: str, components: Sequence[Stack]) -> Stack:
    targets = make_targets(d.read(name))
    build = "make build" if "build" in targets else "make"
    tests = next((f"make {t}" for t in ("test", "check") if t in targets), None)
    test = tests or placeholder("test_command")
    setup = next((f"make {t}" for t in ("setup", "deps", "bootstrap") if t in targets), None)
    setup = setup or _joined(components, "setup")
    notes = () if tests else (f"{name} has no test or check target: set sprint.test_command",)
    return Stack("make", "Makefile (multi-service)" if components else "Makefile", build, test,
                 "make lint" if "lint" in targets else None, setup, evidence=(name,), notes=notes,
                 components=tuple(components))


def _in_dir(stack: Stack, command: str) -> str:
    return f"({command})" if not stack.path else f"(cd {stack.path.rstrip('/')} && {command})"


def _joined(stacks: Sequence[Stack], attr: str) -> str | None:
    parts = [_in_dir(s, getattr(s, attr)) for s in stacks if getattr(s, attr)]
    if len(stacks) == 1 and parts and not stacks[0].path:
        return getattr(stacks[0], attr)
    return " && ".join(parts) or None


def _multi(stacks: Sequence[Stack]) -> Stack:
    if len(stacks) == 1:  # one service in a sub-folder: its own stack, run from there
        only = stacks[0]
        return replace(only, build=_joined(stacks, "build") or "", test=_joined(stacks, "test") or "",
                       lint=_joined(stacks, "lint"), setup=_joined(stacks, "setup"), components=(only,))
    language = " + ".join(f"{s.language} in {s.path or './'}" for s in stacks)
    return Stack("multi", language, _joined(stacks, "build") or "", _joined(stacks, "test") or "",
                 _joined(stacks, "lint"), _joined(stacks, "setup"),
                 evidence=tuple(e for s in stacks for e in s.evidence),
                 notes=tuple(n for s in stacks for n in s.notes), components=tuple(stacks))


def detect_stack(root: str | Path, files: Sequence[str]) -> Stack:
    """The repository's stack and its commands, from the tracked ``files`` under ``root``."""
    root = Path(root)
    top = _Dir(root, "", frozenset(files))
    main = _detect_dir(top)
    components = _components(root, files)
    if main is not None:  # workspaces of the same language are built by the root's tool
        components = [c for c in components if c.name != main.name]
    loose = _loose_python(top) if main is None and not components else None
    makefile = top.first("Makefile", "GNUmakefile", "makefile")
    if makefile and (main is None or components):
        targets = make_targets(top.read(makefile))
        if targets & {"build", "test", "check"} or not (main or components or loose):
            return _make(top, makefile, ([main] if main else []) + components)
    if components:
        return _multi(([main] if main else []) + components)
    found = main or loose
    if found is not None:
        return found
    return Stack("unknown", "unknown", placeholder("build_command"), placeholder("test_command"),
                 notes=("no manifest found (package.json, go.mod, pyproject.toml, Cargo.toml, ...): "
                        "set sprint.build_command and sprint.test_command",))
