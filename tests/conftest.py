from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from realcli import RealCLI, cli_path, require

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "bookshop"
EXAMPLE_PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")

# Hypothesis profiles: `ci` is what .ci/run uses for the long fuzz run (with a seed it prints).
settings.register_profile("ci", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False,
                     help="also run the tests marked `long` (the 2,000-case fuzz run)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="a long run: pass --long (CI does)")
    for item in items:
        if item.get_closest_marker("long"):
            item.add_marker(skip)


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def make_repo(path: Path, source: Path | None = None) -> Path:
    """A committed git repository at ``path`` (a copy of ``source`` when given)."""
    if source is not None:
        shutil.copytree(source, path, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    return path


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A committed copy of the bookshop example in its own repository."""
    return make_repo(tmp_path / "bookshop", EXAMPLE)


@pytest.fixture
def realcli(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> RealCLI:
    """A ready runner (tests/realcli.py) for the real CLI that the test's mark names:
    ``@pytest.mark.realcli("claude")``, or a ``pytest.param(..., marks=...)``. Without a name only
    the loopback-only namespace is required. Skips the test when the CLI or the namespace is
    missing, or fails it with ``DISPATCH_REQUIRE_REALCLI=1``."""
    cli = next((mark.args[0] for mark in request.node.iter_markers("realcli") if mark.args), None)
    monkeypatch.setenv("PATH", cli_path())  # adapters find their binary on this process's PATH
    return RealCLI(tmp_path, cli, require(cli))
