"""Skips cannot hide a capability in CI (tests/skips.py): with ``DISPATCH_NO_SKIP=1`` every kind of
skip fails the run; without it the run ends with what was skipped and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import conftest
import skips

TESTS = Path(__file__).resolve().parent

# One of each way a test here gets skipped, plus an expected failure that must stay one.
SAMPLE = '''
import pytest

@pytest.mark.skipif(True, reason="no PID namespaces here")
def test_decorator_skip():
    pass

def test_skip_call():
    pytest.skip("no IPv6 loopback here")

@pytest.fixture
def capability():
    pytest.skip("cannot create a loopback-only network namespace here")

def test_fixture_skip(capability):
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
'''


def run_sample(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    clean = {k: v for k, v in os.environ.items() if k not in (skips.NO_SKIP_ENV, skips.LEGACY_ENV)}
    clean["PYTHONPATH"] = os.pathsep.join([str(TESTS), clean.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "skips", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_sample.py")],
                          cwd=tmp_path, capture_output=True, text=True, env={**clean, **env}, timeout=120)


def test_every_skip_fails_when_skips_are_forbidden(tmp_path: Path) -> None:
    for env in ({skips.NO_SKIP_ENV: "1"}, {skips.LEGACY_ENV: "1"}):
        result = run_sample(tmp_path, **env)
        out = result.stdout
        assert result.returncode == 1, out
        assert "1 passed" in out and "1 xfailed" in out and "skipped" not in out.splitlines()[-1], out
        for name in ("test_decorator_skip", "test_skip_call", "test_fixture_skip"):
            assert name in out, out
        assert out.count("forbids skips") >= 3, out
        assert "no PID namespaces here" in out and "no IPv6 loopback here" in out, out


def test_a_local_run_ends_with_what_was_skipped_and_why(tmp_path: Path) -> None:
    result = run_sample(tmp_path)
    out = result.stdout
    assert result.returncode == 0, out
    section = out[out.index("skipped here (untested capabilities)"):]
    for reason in ("no PID namespaces here", "no IPv6 loopback here",
                   "cannot create a loopback-only network namespace here"):
        assert f"1 × {reason}" in section, out
    assert "known" not in section  # an expected failure is not an untested capability
    assert "3 skipped" in out.splitlines()[-1], out


def test_the_suite_and_ci_use_it() -> None:
    assert conftest.pytest_runtest_makereport is skips.pytest_runtest_makereport
    assert conftest.pytest_terminal_summary is skips.pytest_terminal_summary
    ci = (TESTS.parent / ".ci" / "run").read_text()
    assert f"export {skips.NO_SKIP_ENV}=1" in ci
