"""A starter plan for any repository: stack and commands (REQ-1.41), territories from the paths that
exist (role presets, then generic defaults, then module names), candidate chains from scans (REQ-2.09).

Ownership when several roles' patterns match one file (REQ-1.23): an exact file beats a glob, a glob
beats a directory, a deeper directory beats a shallower one; the losing role gets the winner's
pattern as an ``exclude`` so the plan has exactly one owner per file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from agent_dispatch.plan.roster import DESIGN_PRESET, INFRA_PRESET, LEAD_PRESET, ROLES, STACK_PRESETS

ROLE_ORDER = ("DATA", "DESIGN", "QA", "INFRA", "BACKEND", "SERVICES", "FRONTEND", "LEAD")

# Module names that say which layer a file is, for flat layouts (app/models.py, shop/api.py ...).
MODULE_HINTS = {
    "DATA": ("**/models.py", "**/model.py", "**/store.py", "**/db.py", "**/database.py", "**/repository.py",
             "**/repositories.py", "**/schema.py", "**/migrations/"),
    "BACKEND": ("**/api.py", "**/views.py", "**/routes.py", "**/handlers.py", "**/controllers.py",
                "**/serializers.py", "**/urls.py", "**/server.py"),
    "SERVICES": ("**/integrations/", "**/workers/", "**/tasks.py", "**/jobs/", "**/clients/", "**/services/"),
    "FRONTEND": ("**/cli.py", "**/ui/", "**/templates/", "**/static/", "**/components/", "**/pages/"),
    "QA": ("tests/", "test/", "**/test_*.py", "**/*_test.py", "**/*_test.go", "**/*.test.ts", "**/*.spec.ts",
           "**/*.test.js", "**/__tests__/"),
}

_SCAN = re.compile(r"\b(TODO|FIXME|HACK|XXX)\b[:\s]*(.*)|raise NotImplementedError|not implemented", re.I)
_SCANNABLE = (".py", ".go", ".ts", ".tsx", ".js", ".jsx", ".rs", ".rb", ".java", ".php", ".ex", ".c", ".cpp")


@dataclass(frozen=True)
class Stack:
    name: str
    build: str
    test: str
    lint: str | None = None
    setup: str | None = None


@dataclass
class Proposal:
    stack: Stack
    territories: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # role → include/exclude
    owners: dict[str, str] = field(default_factory=dict)  # file → role
    unassigned: list[str] = field(default_factory=list)
    hits: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)  # role → (file, line, text)


def _read(root: Path, name: str) -> str:
    try:
        return (root / name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _python_stack(root: Path, files: set[str]) -> Stack:
    config = _read(root, "pyproject.toml") + _read(root, "setup.cfg") + _read(root, "tox.ini")
    requirements = " ".join(_read(root, f) for f in files if PurePosixPath(f).name.startswith("requirements"))
    uses_pytest = ("pytest" in config or "pytest.ini" in files or any(f.endswith("conftest.py") for f in files)
                   or "pytest" in requirements)
    test = "python -m pytest -q" if uses_pytest else (
        "python -m unittest discover -s tests -q" if any(f.startswith("tests/") for f in files) else "python -m unittest -q")
    packages = sorted({f.split("/", 1)[0] for f in files if f.endswith("/__init__.py") and f.count("/") == 1})
    build = f"python -m compileall -q {' '.join(packages)}" if packages else "python -m compileall -q ."
    lint = "ruff check ." if "ruff" in config else None
    setup = "pip install -e ." if "pyproject.toml" in files or "setup.py" in files else (
        "pip install -r requirements.txt" if "requirements.txt" in files else None)
    return Stack("python", build, test, lint, setup)


def _node_stack(root: Path, files: set[str]) -> Stack:
    manager = "pnpm" if "pnpm-lock.yaml" in files else "yarn" if "yarn.lock" in files else "npm"
    try:
        scripts = json.loads(_read(root, "package.json") or "{}").get("scripts", {})
    except json.JSONDecodeError:
        scripts = {}
    build = f"{manager} run build" if "build" in scripts else f"{manager} install"
    test = f"{manager} test" if "test" in scripts else f"{manager} run build"
    lint = f"{manager} run lint" if "lint" in scripts else None
    setup = {"npm": "npm ci" if "package-lock.json" in files else "npm install", "pnpm": "pnpm install",
             "yarn": "yarn install"}[manager]
    return Stack("node", build, test, lint, setup)


def detect_stack(root: Path, files: Sequence[str]) -> Stack:
    """The project's stack and its build/test/lint/setup commands (they run from any worktree root)."""
    present = set(files)
    if "go.mod" in present:
        return Stack("go", "go build ./...", "go test -race ./...", "go vet ./...")
    if "Cargo.toml" in present:
        return Stack("rust", "cargo build", "cargo test", "cargo clippy")
    if "package.json" in present:
        return _node_stack(root, present)
    if present & {"pyproject.toml", "setup.py", "setup.cfg", "requirements.txt"} or any(f.endswith(".py") for f in files):
        return _python_stack(root, present)
    if "mix.exs" in present:
        return Stack("elixir", "mix compile --warnings-as-errors", "mix test", setup="mix deps.get")
    if "pom.xml" in present:
        return Stack("java", "mvn -q compile", "mvn -q test")
    if present & {"build.gradle", "build.gradle.kts"}:
        return Stack("java", "./gradlew build -x test", "./gradlew test")
    if "composer.json" in present:
        return Stack("php", "composer install", "./vendor/bin/phpunit")
    if "Gemfile" in present:
        rails = "config/application.rb" in present
        return Stack("rails" if rails else "ruby", "bundle install", "bundle exec rspec" if "spec" in " ".join(files)
                     else "bundle exec rake test", setup="bundle install")
    if "CMakeLists.txt" in present:
        return Stack("cmake", "cmake -S . -B build && cmake --build build", "ctest --test-dir build")
    if "Makefile" in present:
        return Stack("make", "make build", "make test")
    return Stack("unknown", "true", "true")


def _specificity(pattern: str) -> tuple[int, int]:
    depth = pattern.strip("/").count("/")
    if any(c in pattern for c in "*?["):
        return (2, depth)
    return (1, depth) if pattern.endswith("/") else (3, depth)


def _candidates(stack: Stack) -> dict[str, list[str]]:
    preset = STACK_PRESETS.get(stack.name, {})
    out: dict[str, list[str]] = {}
    for role in ROLE_ORDER:
        patterns = list(preset.get(role, ())) + list(ROLES[role].territory) + list(MODULE_HINTS.get(role, ()))
        patterns += {"INFRA": INFRA_PRESET, "LEAD": LEAD_PRESET, "DESIGN": DESIGN_PRESET}.get(role, ())
        out[role] = list(dict.fromkeys(patterns))
    return out


def propose(root: Path, files: Sequence[str], stack: Stack) -> Proposal:
    """Territories that give every matched file exactly one owner; the rest is left unassigned."""
    proposal = Proposal(stack)
    specs = {(role, p): pathspec.GitIgnoreSpec.from_lines([p]) for role, ps in _candidates(stack).items() for p in ps}
    winners: dict[str, tuple[str, str]] = {}
    for path in files:
        if path.startswith("docs/agent-dispatch/"):
            continue
        matches = [(_specificity(p), -ROLE_ORDER.index(role), role, p) for (role, p), spec in specs.items()
                   if spec.match_file(path)]
        if matches:
            _, _, role, pattern = max(matches)
            winners[path] = (role, pattern)
            proposal.owners[path] = role
        else:
            proposal.unassigned.append(path)
    used = {(role, p) for role, p in winners.values()}
    for role in ROLE_ORDER:
        include = [p for r, p in used if r == role]
        if not include:
            continue
        include.sort()
        spec = pathspec.GitIgnoreSpec.from_lines(include)
        exclude = sorted({p for path, (r, p) in winners.items() if r != role and spec.match_file(path)})
        proposal.territories[role] = {"include": include, "exclude": exclude}
    proposal.hits = scan(root, proposal.owners)
    return proposal


def scan(root: Path, owners: dict[str, str], *, limit: int = 3) -> dict[str, list[tuple[str, int, str]]]:
    """Candidate signals per role (TODO/FIXME/HACK/XXX, NotImplementedError) with file and line."""
    hits: dict[str, list[tuple[str, int, str]]] = {}
    for path, role in sorted(owners.items()):
        if not path.endswith(_SCANNABLE) or len(hits.get(role, [])) >= limit:
            continue
        for number, line in enumerate(_read(root, path).splitlines(), start=1):
            if _SCAN.search(line):
                hits.setdefault(role, []).append((path, number, line.strip()[:100]))
                break
    return hits
