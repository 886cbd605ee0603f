from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings

from realcli import RealCLI, cli_path, require
from skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401  (hooks: CI fails skips)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "bookshop"
EXAMPLE_PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")

# Hypothesis: a fixed profile in CI (seed 0, no example database: every run draws the same
# examples), random locally; the seed is printed in the header either way, and
# `HYPOTHESIS_SEED=<n>` repeats a run.
IN_CI = bool(os.environ.get("CI")) or os.environ.get("DISPATCH_REQUIRE_REALCLI") == "1"
hypothesis_settings.register_profile("ci", database=None, print_blob=True, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
hypothesis_settings.register_profile("dev", print_blob=True)
# bench/mutations.py: the first failing example is enough (no shrinking, which can take minutes).
hypothesis_settings.register_profile("mutation", parent=hypothesis_settings.get_profile("ci"),
                                     phases=[Phase.explicit, Phase.reuse, Phase.generate])
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)
HYPOTHESIS_SEED = int(os.environ.get("HYPOTHESIS_SEED") or (0 if IN_CI else random.randrange(2**32)))
HYPOTHESIS_SEED_NOTE = f"seed {HYPOTHESIS_SEED}; repeat with HYPOTHESIS_SEED={HYPOTHESIS_SEED}"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Hand the seed to Hypothesis's pytest plugin unless --hypothesis-seed names one."""
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(HYPOTHESIS_SEED)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", default=False,
                     help="also run the tests marked `long` (the 2,000-case fuzz run, the 20-point chaos run)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --long, tests marked `long` are deselected (not skipped: in CI every skip fails)."""
    if config.getoption("--long"):
        return
    long = [item for item in items if item.get_closest_marker("long")]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if not item.get_closest_marker("long")]


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
    missing, or fails it with ``DISPATCH_NO_SKIP=1``."""
    cli = next((mark.args[0] for mark in request.node.iter_markers("realcli") if mark.args), None)
    monkeypatch.setenv("PATH", cli_path())  # adapters find their binary on this process's PATH
    return RealCLI(tmp_path, cli, require(cli))


def base_reflog(repo: Path, branch: str = "main") -> list[tuple[str, str]]:
    """Every value the branch ever had, newest first, as (commit, reflog message)."""
    out = git(repo, "log", "-g", "--format=%H %gs", f"refs/heads/{branch}")
    return [(line[:40], line[41:]) for line in out.splitlines() if line]


def assert_base_moves_validated(repo: Path, log: list[dict], branch: str = "main") -> list[str]:
    """Check every move of ``branch`` in its reflog against the validation events, not the
    ``ref_updated`` claims: each commit the tool moved it to has the tree of a commit whose
    ``merge_validation`` passed. Entries written by ``git commit`` (the test's own setup) are the
    only ones left out. Returns the commits checked."""
    passed = {git(repo, "rev-parse", f"{e['data']['commit']}^{{tree}}").strip()
              for e in log if e["type"] == "merge_validation" and e["data"]["ok"]}
    moves = [commit for commit, message in base_reflog(repo, branch) if not message.startswith("commit")]
    for commit in moves:
        tree = git(repo, "rev-parse", f"{commit}^{{tree}}").strip()
        assert tree in passed, f"{branch} pointed at {commit}, whose tree no validation passed"
    landed = [e for e in log if e["type"] == "ref_updated" and e["data"]["new"]]
    assert len(moves) >= len(landed), (moves, landed)  # each landing is in the reflog
    return moves


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which source tree the tests and the territory hooks (``python -I``) exercise, and the
    Hypothesis profile with its seed, so that a run can be repeated."""
    import agent_dispatch

    return [f"agent_dispatch under test: {Path(agent_dispatch.__file__).parent} (hooks run `python -I`: "
            "the installed package; tests/test_territory_hooks.py checks they are the same)",
            f"hypothesis profile: {HYPOTHESIS_PROFILE} ({HYPOTHESIS_SEED_NOTE})"]
